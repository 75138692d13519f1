//! `--verify`: after the run, wait for the pipeline to drain, then check that every
//! event id the collector accepted is stored exactly once, and how long events took
//! from the browser (`timestamp`) and from the collector (`received_at`) to the table
//! (`inserted_at`).
//!
//! The database is asked directly when a URL is given (exact, and cheap: one
//! `event_id = ANY($1)` query per chunk of ids); otherwise the events-api is paged
//! through over the run's time range.

use std::{
    collections::{HashMap, HashSet},
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use ptrack_wire::StoredEvent;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::stats::{Percentiles, histogram};
use crate::client::{EventsApi, EventsQuery};

/// Ids per query: a `uuid[]` parameter of this size is a few hundred kB.
const CHUNK: usize = 20_000;

/// Where the stored events are read.
#[derive(Debug, Clone)]
pub enum Source {
    Database(PgPool),
    /// The events-api, and the range of event times to page through.
    EventsApi {
        api: EventsApi,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    },
}

impl Source {
    fn name(&self) -> String {
        match self {
            Self::Database(_) => "the database (user_events)".into(),
            Self::EventsApi { api, .. } => format!("the events-api at {}", api.base()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub source: String,
    /// Event ids the collector accepted.
    pub expected: u64,
    /// Of those, how many are stored (once or more).
    pub found: u64,
    pub lost: u64,
    /// Extra copies of stored ids.
    pub duplicated: u64,
    /// A few lost ids, to look for in the logs.
    pub lost_examples: Vec<Uuid>,
    /// How long the check waited for the pipeline to drain.
    pub waited_s: f64,
    /// Event `timestamp` to `inserted_at`.
    pub end_to_end_ms: Option<Percentiles>,
    /// Collector `received_at` to `inserted_at`: the pipeline alone.
    pub pipeline_ms: Option<Percentiles>,
}

impl Verification {
    pub fn text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "  verify      through {}", self.source)?;
        writeln!(
            out,
            "              {} accepted, {} stored, {} lost, {} duplicated (waited {:.1}s)",
            self.expected, self.found, self.lost, self.duplicated, self.waited_s
        )?;
        if !self.lost_examples.is_empty() {
            let ids: Vec<String> = self.lost_examples.iter().map(Uuid::to_string).collect();
            writeln!(out, "              lost, for example: {}", ids.join(", "))?;
        }
        for (name, p) in [
            ("event time → stored", &self.end_to_end_ms),
            ("received → stored", &self.pipeline_ms),
        ] {
            if let Some(p) = p {
                writeln!(
                    out,
                    "  {name:<22} ms: p50 {:.1}, p90 {:.1}, p99 {:.1}, p99.9 {:.1}, max {:.1}",
                    p.p50, p.p90, p.p99, p.p99_9, p.max
                )?;
            }
        }
        Ok(())
    }
}

/// What was found for the ids: how often each is stored, and its times.
#[derive(Default)]
struct Found {
    copies: HashMap<Uuid, u64>,
    end_to_end: Vec<u64>,
    pipeline: Vec<u64>,
}

impl Found {
    fn add(
        &mut self,
        id: Uuid,
        timestamp_ms: i64,
        received: DateTime<Utc>,
        inserted: DateTime<Utc>,
    ) {
        *self.copies.entry(id).or_default() += 1;
        let inserted_ms = inserted.timestamp_micros();
        self.end_to_end
            .push((inserted_ms - timestamp_ms * 1000).max(1) as u64);
        self.pipeline
            .push((inserted_ms - received.timestamp_micros()).max(1) as u64);
    }
}

/// Waits until every id is stored, or until nothing new arrived for `settle`, or until
/// `timeout`; then counts. `progress` hears `(found, expected)` after each look.
pub async fn verify(
    ids: &[Uuid],
    source: &Source,
    timeout: Duration,
    settle: Duration,
    mut progress: impl FnMut(u64, u64),
) -> Result<Verification> {
    let started = Instant::now();
    let expected = ids.len() as u64;
    let mut last = 0;
    let mut last_change = Instant::now();
    loop {
        let found = count(ids, source).await?;
        progress(found, expected);
        if found != last {
            last = found;
            last_change = Instant::now();
        }
        if found >= expected || last_change.elapsed() >= settle || started.elapsed() >= timeout {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let waited_s = started.elapsed().as_secs_f64();
    let found = fetch(ids, source).await?;
    let lost: Vec<Uuid> = ids
        .iter()
        .filter(|id| !found.copies.contains_key(id))
        .copied()
        .collect();
    let duplicated = found.copies.values().map(|n| n - 1).sum();
    let percentiles = |values: &[u64]| {
        let mut h: Histogram<u64> = histogram();
        for v in values {
            h.saturating_record(*v);
        }
        (!h.is_empty()).then(|| Percentiles::of(&h))
    };
    Ok(Verification {
        source: source.name(),
        expected,
        found: found.copies.len() as u64,
        lost: lost.len() as u64,
        duplicated,
        lost_examples: lost.into_iter().take(5).collect(),
        waited_s,
        end_to_end_ms: percentiles(&found.end_to_end),
        pipeline_ms: percentiles(&found.pipeline),
    })
}

/// How many of the ids are stored.
async fn count(ids: &[Uuid], source: &Source) -> Result<u64> {
    match source {
        Source::Database(pool) => {
            let mut total = 0;
            for chunk in ids.chunks(CHUNK) {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(DISTINCT event_id) FROM user_events WHERE event_id = ANY($1)",
                )
                .bind(chunk)
                .fetch_one(pool)
                .await
                .context("cannot count the stored events in user_events")?;
                total += n as u64;
            }
            Ok(total)
        }
        Source::EventsApi { .. } => Ok(fetch(ids, source).await?.copies.len() as u64),
    }
}

async fn fetch(ids: &[Uuid], source: &Source) -> Result<Found> {
    let mut found = Found::default();
    match source {
        Source::Database(pool) => {
            for chunk in ids.chunks(CHUNK) {
                let rows: Vec<StoredTimes> = sqlx::query_as(
                    r#"SELECT event_id, "timestamp", received_at, inserted_at
                           FROM user_events WHERE event_id = ANY($1)"#,
                )
                .bind(chunk)
                .fetch_all(pool)
                .await
                .context("cannot read the stored events from user_events")?;
                for (id, timestamp, received, inserted) in rows {
                    found.add(id, timestamp.timestamp_millis(), received, inserted);
                }
            }
        }
        Source::EventsApi { api, since, until } => {
            let wanted: HashSet<Uuid> = ids.iter().copied().collect();
            page_events_api(api, *since, *until, |event| {
                if wanted.contains(&event.event_id) {
                    found.add(
                        event.event_id,
                        event.timestamp.timestamp_millis(),
                        event.received_at,
                        event.inserted_at,
                    );
                }
            })
            .await?;
        }
    }
    Ok(found)
}

/// `event_id`, `timestamp`, `received_at`, `inserted_at`.
type StoredTimes = (Uuid, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>);

/// Pages through `GET /events` over `[since, until)`, a page of 1000 at a time.
async fn page_events_api(
    api: &EventsApi,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    mut each: impl FnMut(StoredEvent),
) -> Result<()> {
    let mut pages = api.pages(EventsQuery {
        since: Some(since),
        until: Some(until),
        limit: Some(1000),
        ..EventsQuery::default()
    });
    while let Some(page) = pages.next_page().await.context(
        "--verify reads the stored events through the events-api: start the stack, set \
         --events-api / EVENTS_API_URL, or verify through --database-url",
    )? {
        page.events.into_iter().for_each(&mut each);
    }
    Ok(())
}
