//! The processor: consumes `user-tracking-events` in a consumer group, checks each
//! message, writes valid events to `user_events` in batches, and commits offsets only
//! after the database has committed. A batch is one `COPY`; a batch that repeats a stored
//! event (a replay) fails that `COPY` as a whole and is written again with one
//! `INSERT ... SELECT FROM UNNEST(...) ON CONFLICT (event_id) DO NOTHING`, which stores only
//! the new ones. Messages that are not valid events go to the dead-letter topic with the
//! reason. A crash anywhere loses nothing; a replay duplicates nothing.
//!
//! Layout:
//! - [`config`]: settings from flags and the environment (`--help` lists them).
//! - [`pipeline`]: the consume → batch → insert → commit loop; beside it in `pipeline/`,
//!   the consumer stage, the writer stage, the dead-letter producer and the group watch
//!   (lag, and rejoining when a partition is orphaned).
//! - [`store`]: the batch write (`COPY`, then `INSERT ... ON CONFLICT`) and the PostgreSQL
//!   error classification.
//! - [`http`]: `/health`, `/livez`, `/readyz`, `/metrics` and `/status` (partitions and
//!   lag).
//! - [`metrics`]: the processor's counters.

pub mod config;
pub mod http;
pub mod metrics;
pub mod pipeline;
pub mod store;

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
pub use config::Config;
use ptrack_common::health::Health;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Runs the HTTP endpoints and the pipeline until `shutdown` resolves; the batch in
/// hand is finished (or left uncommitted, to be read again) before returning.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    let health = Health::default();
    let metrics = Arc::new(metrics::Metrics::new());
    let status = http::SharedStatus::default();

    let app = http::app(health.clone(), metrics.clone(), status.clone());
    let http_cancel = cancel.clone();
    let limits = config.http.clone();
    let server = tokio::spawn(ptrack_common::http::serve(
        listener,
        app,
        limits,
        http_cancel.cancelled_owned(),
    ));
    let signal_cancel = cancel.clone();
    tokio::spawn(async move {
        shutdown.await;
        signal_cancel.cancel();
    });

    let result = pipeline::run(config, health, metrics, status, cancel.clone()).await;
    cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    result.context("the processor pipeline failed")
}
