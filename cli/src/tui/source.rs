//! The background tasks that read the stack and send [`Event`]s: each reads once per
//! refresh, reports a failure as [`Event::SourceError`] and keeps retrying on its own.
//! Each ends when the TUI drops its receiver or cancels the token. Every HTTP call goes
//! through [`crate::client`].
//!
//! - [`lag`]: the topic's offsets and the group's commits, from the broker.
//! - [`postgres`]: inserted rows (PostgreSQL's statistics), the newest events, the delay.
//! - [`collectors`]: each collector replica's accepted and rejected counters.
//! - [`processors`]: each processor replica's partitions, lag and counters.
//! - [`events_api`]: the newest events through the events-api.
//! - [`health`]: the runtime's `ptrack status`.
//! - [`load`]: a running `ptrack load`'s `load-live.json`.
//! - [`prometheus`]: the bit of the Prometheus text format the metrics sources read.

pub mod collectors;
pub mod events_api;
pub mod health;
pub mod lag;
pub mod load;
pub mod postgres;
pub mod processors;
pub mod prometheus;

use std::{future::Future, path::PathBuf, time::Duration};

use reqwest::Url;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event::Event;
use crate::client::ClientError;

/// Where the sources read from; `None` or empty leaves that source out.
#[derive(Debug, Clone)]
pub struct Sources {
    pub brokers: Option<String>,
    pub topic: String,
    pub group: String,
    pub database_url: Option<String>,
    pub events_api: Option<Url>,
    /// Sent to the events-api as a bearer token (a `--secure` stack's, or
    /// `EVENTS_API_TOKEN`).
    pub events_api_token: Option<String>,
    pub collectors: Vec<Replica>,
    pub processors: Vec<Replica>,
    /// The data folder of a stack that was found there: the facts of `ptrack status`.
    pub stack_dir: Option<PathBuf>,
    /// Where a running `ptrack load` writes `load-live.json`.
    pub data_dir: Option<PathBuf>,
    pub refresh: Duration,
}

/// A replica of a service and where it is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// `collector`, `processor-2`...
    pub name: String,
    pub url: Url,
}

/// Starts every configured source.
pub fn spawn_all(sources: &Sources, tx: &mpsc::Sender<Event>, cancel: &CancellationToken) {
    let refresh = sources.refresh;
    if let Some(brokers) = &sources.brokers {
        lag::spawn(
            lag::LagConfig {
                brokers: brokers.clone(),
                topic: sources.topic.clone(),
                group: sources.group.clone(),
                refresh,
            },
            tx.clone(),
            cancel.clone(),
        );
    }
    if let Some(url) = &sources.database_url {
        tokio::spawn(postgres::run(
            url.clone(),
            refresh,
            tx.clone(),
            cancel.clone(),
        ));
    }
    if let Some(url) = &sources.events_api {
        tokio::spawn(events_api::run(
            url.clone(),
            sources.events_api_token.clone(),
            refresh,
            tx.clone(),
            cancel.clone(),
        ));
    }
    if !sources.collectors.is_empty() {
        tokio::spawn(collectors::run(
            sources.collectors.clone(),
            refresh,
            tx.clone(),
            cancel.clone(),
        ));
    }
    if !sources.processors.is_empty() {
        tokio::spawn(processors::run(
            sources.processors.clone(),
            refresh,
            tx.clone(),
            cancel.clone(),
        ));
    }
    if let Some(stack_dir) = &sources.stack_dir {
        // `ptrack status` probes every service: every other refresh is often enough.
        tokio::spawn(health::run(
            stack_dir.clone(),
            refresh * 2,
            tx.clone(),
            cancel.clone(),
        ));
    }
    if let Some(data_dir) = &sources.data_dir {
        tokio::spawn(load::run(
            data_dir.clone(),
            refresh,
            tx.clone(),
            cancel.clone(),
        ));
    }
}

/// Each HTTP call gives up after this long, so a hung service reads as silent within a
/// refresh or two (the client's own timeout is made for commands, and is longer).
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// One client call, bounded by [`CALL_TIMEOUT`]; its failure in a few words.
async fn call<T>(request: impl Future<Output = Result<T, ClientError>>) -> Result<T, String> {
    match tokio::time::timeout(CALL_TIMEOUT, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(err.brief()),
        Err(_) => Err(format!("no answer within {} s", CALL_TIMEOUT.as_secs())),
    }
}

/// Sleeps `period`; false when the TUI has ended meanwhile.
async fn pause(period: Duration, tx: &mpsc::Sender<Event>, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(period) => !tx.is_closed(),
        _ = cancel.cancelled() => false,
        _ = tx.closed() => false,
    }
}
