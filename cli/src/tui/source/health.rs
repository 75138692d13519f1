//! The facts of `ptrack status` (each service and replica, the partitions each processor
//! holds), asked of the runtime the stack was started with.

use std::{path::PathBuf, time::Duration};

use anyhow::{Result, anyhow};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pause;
use crate::{
    runtime::{AnyRuntime, Context, Runtime},
    tui::event::{Event, HealthSnapshot, SourceId},
};

pub async fn run(
    data_dir: PathBuf,
    period: Duration,
    tx: mpsc::Sender<Event>,
    cancel: CancellationToken,
) {
    loop {
        let event = match read(&data_dir).await {
            Ok(replicas) => Event::Health(HealthSnapshot { replicas }),
            Err(err) => Event::SourceError {
                source: SourceId::Runtime,
                error: format!("{err:#}"),
            },
        };
        if tx.send(event).await.is_err() || !pause(period, &tx, &cancel).await {
            return;
        }
    }
}

async fn read(data_dir: &std::path::Path) -> Result<Vec<crate::runtime::ReplicaStatus>> {
    let context = Context::load(data_dir)?.ok_or_else(|| {
        anyhow!(
            "no stack was started with the data folder {}: start one with `ptrack up`",
            data_dir.display()
        )
    })?;
    AnyRuntime::new(context)?.status().await
}
