//! From PostgreSQL: rows inserted into `user_events` as its own statistics count them
//! (`pg_stat_user_tables.n_tup_ins`, never a `count(*)` of the table), the newest stored
//! events (shown when the events-api does not answer), and the end-to-end delay of the
//! rows stored last (`inserted_at - received_at`: the collector's receive time to the
//! processor's insert, both server clocks).
//!
//! The rows stored last are chosen by when they were stored, not by the browser's
//! `timestamp` (a browser with its clock behind would make those stale). Neither stored
//! time has an index, and `ORDER BY inserted_at DESC` would read the whole table; but
//! the processor only appends, so the rows stored last sit in the table's last pages: a
//! TID range scan reads the last [`TAIL_BLOCKS`] pages (a few hundred kB, whatever the
//! table's size), keeps the rows stored in the last minute and takes the newest 100 of
//! them. (After deletes, PostgreSQL may reuse free space in earlier pages; those rows
//! are then missed, never old ones taken: the minute bounds them.)
//!
//! The statistics are flushed by each backend when its transaction ends, at most once a
//! second (PostgreSQL 15), so the inserted rate is right over a few seconds, not to the
//! tick. Each query runs in its own transaction, so the statistics snapshot is fresh
//! (`pg_stat_get_xact_*`, which only sees the current transaction, is not needed). One
//! connection, two small queries per refresh: the newest rows come from the `timestamp`
//! index, 100 of them.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pause;
use crate::tui::event::{
    DelayMethod, E2eDelay, Event, InsertedRows, RecentEvents, SourceId, StoredEvent,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RECENT: i64 = 100;
/// The table's last pages read for the delay: 32 pages of 8 kB, about 150 to 300 rows.
pub const TAIL_BLOCKS: i64 = 32;

pub async fn run(
    url: String,
    refresh: Duration,
    tx: mpsc::Sender<Event>,
    cancel: CancellationToken,
) {
    let mut conn: Option<PgConnection> = None;
    loop {
        let events = match read(&mut conn, &url).await {
            Ok(events) => events,
            Err(err) => {
                // Reconnect next time: the server may have restarted.
                conn = None;
                vec![Event::SourceError {
                    source: SourceId::Database,
                    error: format!("{err:#}"),
                }]
            }
        };
        for event in events {
            if tx.send(event).await.is_err() {
                return;
            }
        }
        if !pause(refresh, &tx, &cancel).await {
            return;
        }
    }
}

async fn read(conn: &mut Option<PgConnection>, url: &str) -> Result<Vec<Event>> {
    if conn.is_none() {
        let redacted = ptrack_common::config::redact_url(url);
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url))
            .await
            .map_err(|_| anyhow!("PostgreSQL at {redacted} did not answer within 5 s"))?
            .with_context(|| format!("PostgreSQL at {redacted}"))?;
        *conn = Some(connected);
    }
    let Some(conn) = conn.as_mut() else {
        unreachable!("set just above")
    };
    poll(conn).await
}

/// One reading: the inserted-rows counter, the newest events and their delay.
pub async fn poll(conn: &mut PgConnection) -> Result<Vec<Event>> {
    let stats: Option<(i64, i64)> = sqlx::query_as(
        "SELECT n_tup_ins, \
                pg_relation_size(relid) / current_setting('block_size')::bigint \
         FROM pg_stat_user_tables \
         WHERE relname = 'user_events' AND schemaname = current_schema()",
    )
    .fetch_optional(&mut *conn)
    .await
    .context("reading pg_stat_user_tables")?;
    let at = Instant::now();
    let Some((inserted, blocks)) = stats else {
        return Err(anyhow!(
            "the table user_events does not exist yet (the processor creates it)"
        ));
    };
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT \"timestamp\", event_type, page_path, component_name \
         FROM user_events ORDER BY \"timestamp\" DESC LIMIT $1",
    )
    .bind(RECENT)
    .fetch_all(&mut *conn)
    .await
    .context("reading the newest events")?;
    let tail = format!("({},0)", (blocks - TAIL_BLOCKS).max(0));
    let stored: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT received_at, inserted_at FROM user_events \
         WHERE ctid >= $1::text::tid AND inserted_at > now() - interval '60 seconds' \
         ORDER BY inserted_at DESC LIMIT $2",
    )
    .bind(tail)
    .bind(RECENT)
    .fetch_all(&mut *conn)
    .await
    .context("reading the rows stored last")?;
    let mut events = vec![Event::Inserted(InsertedRows {
        at,
        rows: inserted.max(0) as u64,
    })];
    if let Some(delay) = delay(&stored, at) {
        events.push(Event::Delay(delay));
    }
    events.push(Event::Recent(RecentEvents {
        from: SourceId::Database,
        events: rows
            .into_iter()
            .map(|r| StoredEvent {
                timestamp: r.timestamp,
                event_type: r.event_type,
                page_path: r.page_path,
                component_name: r.component_name,
            })
            .collect(),
    }));
    Ok(events)
}

#[derive(sqlx::FromRow)]
struct Row {
    timestamp: DateTime<Utc>,
    event_type: String,
    page_path: Option<String>,
    component_name: Option<String>,
}

/// The delay figures of `(received_at, inserted_at)` pairs.
fn delay(rows: &[(DateTime<Utc>, DateTime<Utc>)], at: Instant) -> Option<E2eDelay> {
    let mut delays: Vec<Duration> = rows
        .iter()
        .map(|(received, inserted)| (*inserted - *received).to_std().unwrap_or_default())
        .collect();
    if delays.is_empty() {
        return None;
    }
    delays.sort_unstable();
    let pick = |q: f64| delays[((delays.len() - 1) as f64 * q).round() as usize];
    Some(E2eDelay {
        at,
        from: SourceId::Database,
        method: DelayMethod::RowTimestamps,
        p50: pick(0.5),
        p99: pick(0.99),
        max: delays[delays.len() - 1],
        samples: delays.len(),
    })
}
