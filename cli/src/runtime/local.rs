//! The local runtime: the embedded broker (`ptrack broker`), a private PostgreSQL cluster
//! made with `initdb` under the data folder, and the services, all as background
//! processes with pid and log files in the data folder.

use anyhow::{Result, bail};

use super::{Context, Endpoint, LogsRequest, ReplicaStatus, Runtime};
use crate::progress::Progress;

#[derive(Debug)]
pub struct Local {
    #[allow(dead_code)]
    context: Context,
}

impl Local {
    pub fn new(context: Context) -> Self {
        Self { context }
    }
}

fn not_yet<T>() -> Result<T> {
    bail!("the local runtime is being written")
}

impl Runtime for Local {
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
