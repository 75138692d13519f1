//! The docker runtime: containers through the Docker Engine API (bollard).
//!
//! Not written yet: every command says so and points at the local runtime.

use anyhow::{Result, bail};

use super::{Context, Endpoint, LogsRequest, ReplicaStatus, Runtime};
use crate::progress::Progress;

#[derive(Debug)]
pub struct Docker {
    #[allow(dead_code)]
    context: Context,
}

impl Docker {
    pub fn new(context: Context) -> Result<Self> {
        Ok(Self { context })
    }
}

fn not_yet<T>() -> Result<T> {
    bail!("the docker runtime is not implemented yet: use `--runtime local` (the default)")
}

impl Runtime for Docker {
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
