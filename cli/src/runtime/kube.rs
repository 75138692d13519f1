//! The kube runtime: `kubectl` against the current context, applying `kube/`.
//!
//! Not written yet: every command says so and points at the local runtime.

use anyhow::{Result, bail};

use super::{Context, Endpoint, LogsRequest, ReplicaStatus, Runtime};
use crate::progress::Progress;

#[derive(Debug)]
pub struct Kube {
    #[allow(dead_code)]
    context: Context,
}

impl Kube {
    pub fn new(context: Context) -> Result<Self> {
        Ok(Self { context })
    }
}

fn not_yet<T>() -> Result<T> {
    bail!("the kube runtime is not implemented yet: use `--runtime local` (the default)")
}

impl Runtime for Kube {
    async fn up(&self, _progress: &mut Progress) -> Result<Vec<Endpoint>> {
        not_yet()
    }

    async fn down(&self) -> Result<()> {
        not_yet()
    }

    async fn clean(&self) -> Result<()> {
        not_yet()
    }

    async fn status(&self) -> Result<Vec<ReplicaStatus>> {
        not_yet()
    }

    async fn logs(&self, _request: &LogsRequest) -> Result<()> {
        not_yet()
    }
}
