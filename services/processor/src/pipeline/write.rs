//! The writer stage: one batch into PostgreSQL, waiting out outages, and the rows the
//! database refuses for good picked out one by one for the dead-letter topic.

use std::time::Duration;

use ptrack_common::health::Reporter;
use rdkafka::{Message, message::OwnedMessage};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::{MAX_BACKOFF, Prepared};
use crate::{
    metrics::Metrics,
    store::{self, Columns},
};

/// Writes one batch; returns it with every message to dead-letter (not an event, or
/// refused by the database for good), or `None` when asked to stop first.
pub(super) async fn write_batch(
    pool: &PgPool,
    mut batch: Prepared,
    database: &Reporter,
    metrics: &Metrics,
    cancel: &CancellationToken,
) -> Option<(Prepared, Vec<(usize, String)>)> {
    let mut bad = std::mem::take(&mut batch.bad);
    let rows = std::mem::take(&mut batch.rows);
    if !rows.is_empty() {
        for (event_id, reason) in write(pool, rows, database, metrics, cancel).await? {
            if let Some(i) = batch
                .messages
                .iter()
                .position(|m| payload_has_event_id(m, &event_id))
            {
                bad.push((i, reason));
            }
        }
    }
    Some((batch, bad))
}

/// Writes the rows, waiting out a database outage. Returns the events the database
/// refuses for good (each with the reason), or `None` when asked to stop first.
async fn write(
    pool: &PgPool,
    rows: Columns,
    database: &Reporter,
    metrics: &Metrics,
    cancel: &CancellationToken,
) -> Option<Vec<(uuid::Uuid, String)>> {
    match insert_through_outages(pool, &rows, database, metrics, cancel).await? {
        Ok(inserted) => {
            database.healthy();
            metrics.rows_inserted.inc_by(inserted);
            metrics
                .duplicates_skipped
                .inc_by(rows.len() as u64 - inserted);
            Some(Vec::new())
        }
        Err(err) => {
            tracing::warn!(%err, "the batch was refused; writing its events one by one");
            write_one_by_one(pool, rows, database, metrics, cancel).await
        }
    }
}

/// The slow path after a permanent error: every event on its own, so that one row the
/// database will never take (a NUL byte in a string, say) does not hold up the others.
async fn write_one_by_one(
    pool: &PgPool,
    rows: Columns,
    database: &Reporter,
    metrics: &Metrics,
    cancel: &CancellationToken,
) -> Option<Vec<(uuid::Uuid, String)>> {
    let mut refused = Vec::new();
    for row in rows.into_rows() {
        match insert_through_outages(pool, &row, database, metrics, cancel).await? {
            Ok(inserted) => {
                metrics.rows_inserted.inc_by(inserted);
                metrics.duplicates_skipped.inc_by(1 - inserted.min(1));
            }
            Err(err) => {
                let reason = match &err {
                    sqlx::Error::Database(db) => {
                        format!("the database refused the event: {}", db.message())
                    }
                    other => format!("the database refused the event: {other}"),
                };
                refused.push((row.first_event_id(), reason));
            }
        }
    }
    database.healthy();
    Some(refused)
}

/// Inserts the rows, retrying with backoff while PostgreSQL is unavailable (reported
/// unhealthy meanwhile; the offsets stay put). `Err` is an error that retrying cannot fix;
/// `None` means asked to stop first.
async fn insert_through_outages(
    pool: &PgPool,
    rows: &Columns,
    database: &Reporter,
    metrics: &Metrics,
    cancel: &CancellationToken,
) -> Option<Result<u64, sqlx::Error>> {
    let mut delay = Duration::from_millis(100);
    loop {
        match store::insert_batch(pool, rows).await {
            Err(err) if store::is_transient(&err) => {
                metrics.database_errors.inc();
                database.unhealthy(format!("PostgreSQL unavailable, retrying: {err}"));
                tracing::warn!(%err, retry_in = ?delay, "writing to PostgreSQL failed; offsets stay put");
                tokio::select! {
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(MAX_BACKOFF);
            }
            Err(err) => {
                metrics.database_errors.inc();
                return Some(Err(err));
            }
            Ok(inserted) => return Some(Ok(inserted)),
        }
    }
}

fn payload_has_event_id(message: &OwnedMessage, event_id: &uuid::Uuid) -> bool {
    #[derive(serde::Deserialize)]
    struct Id {
        event_id: uuid::Uuid,
    }
    let Some(payload) = message.payload() else {
        return false;
    };
    serde_json::from_slice::<ptrack_common::event::EventMessage>(payload)
        .ok()
        .and_then(|m| serde_json::from_str::<Id>(m.event.get()).ok())
        .is_some_and(|m| m.event_id == *event_id)
}
