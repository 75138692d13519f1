//! The background tasks that read the stack and send [`Event`]s: each reads once per
//! refresh, reports a failure as [`Event::SourceError`] and keeps retrying on its own.
//! Each ends when the TUI drops its receiver or cancels the token.

pub mod health;
pub mod lag;
pub mod postgres;

use std::{path::PathBuf, time::Duration};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event::Event;

/// Where the sources read from; `None` leaves that source out.
#[derive(Debug, Clone)]
pub struct Sources {
    pub brokers: Option<String>,
    pub topic: String,
    pub group: String,
    pub database_url: Option<String>,
    /// The stack's data folder, for the facts of `ptrack status`.
    pub data_dir: Option<PathBuf>,
    pub refresh: Duration,
}

/// Starts every configured source.
pub fn spawn_all(sources: &Sources, tx: &mpsc::Sender<Event>, cancel: &CancellationToken) {
    if let Some(brokers) = &sources.brokers {
        lag::spawn(
            lag::LagConfig {
                brokers: brokers.clone(),
                topic: sources.topic.clone(),
                group: sources.group.clone(),
                refresh: sources.refresh,
            },
            tx.clone(),
            cancel.clone(),
        );
    }
    if let Some(url) = &sources.database_url {
        tokio::spawn(postgres::run(
            url.clone(),
            sources.refresh,
            tx.clone(),
            cancel.clone(),
        ));
    }
    if let Some(data_dir) = &sources.data_dir {
        // `ptrack status` probes every service: every other refresh is often enough.
        tokio::spawn(health::run(
            data_dir.clone(),
            sources.refresh * 2,
            tx.clone(),
            cancel.clone(),
        ));
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
