//! The generator: `connections` workers, each with its own connection, visitors and
//! share of the timetable, and one recorder that folds their outcomes into [`Stats`].
//!
//! Worker `w` sends requests `w`, `w + C`, `w + 2C`, ... of the plan (as wrk2 does):
//! it sleeps until a request is due, or sends at once when it is already late. A slow
//! answer delays that worker's next requests; their latency still counts from when they
//! were due, so the delay shows up in the corrected latency rather than vanishing.
//! Each worker's traffic depends only on the seed and its index, so a run is
//! reproducible for the same `--seed` and `--connections`.

use std::{
    error::Error as _,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result};
use reqwest::{Client, Url, header::CONTENT_TYPE};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    plan::Plan,
    session::{Batching, Visitors},
    stats::{Live, Outcome, Reply, Stats, Window},
};

/// How the live view is refreshed.
const TICK: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Where the batches are POSTed.
    pub url: Url,
    pub plan: Plan,
    pub connections: usize,
    pub timeout: Duration,
    /// Virtual users in all.
    pub users: usize,
    pub batching: Batching,
    pub seed: u64,
    pub app_name: String,
    /// Keep the accepted event ids, for `--verify`.
    pub keep_ids: bool,
}

#[derive(Debug)]
pub struct RunResult {
    pub stats: Stats,
    /// Stopped early (Ctrl-C).
    pub interrupted: bool,
    /// From the start of the timetable to the last answer.
    pub elapsed: Duration,
}

/// Runs the plan until it is done or `stop` is cancelled; `on_tick` gets the live
/// numbers four times a second.
pub async fn run(
    config: RunConfig,
    stop: CancellationToken,
    on_tick: impl FnMut(&Live) + Send + 'static,
) -> Result<RunResult> {
    let connections = config.connections.max(1);
    let client = Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(Duration::from_secs(5)))
        .build()
        .context("cannot build the HTTP client")?;
    let bucket = bucket_width(&config.plan);
    // A little head start so every worker is waiting when the first request is due.
    let start = Instant::now() + Duration::from_millis(20);
    let (tx, rx) = mpsc::unbounded_channel();
    let claimed = Arc::new(AtomicU64::new(0));
    let users_each = config.users.div_ceil(connections).max(1);
    let mut workers = Vec::with_capacity(connections);
    for index in 0..connections {
        let worker = Worker {
            index: index as u64,
            connections: connections as u64,
            client: client.clone(),
            url: config.url.clone(),
            plan: config.plan.clone(),
            visitors: Visitors::new(
                worker_seed(config.seed, index as u64),
                users_each,
                config.batching.clone(),
                &config.app_name,
            ),
            keep_ids: config.keep_ids,
            start,
            claimed: claimed.clone(),
            stop: stop.clone(),
            tx: tx.clone(),
        };
        workers.push(tokio::spawn(worker.run()));
    }
    drop(tx);

    // The recorder runs as a task of the runtime, next to the workers, rather than on
    // the caller's thread: handing outcomes across threads costs more than recording.
    let stats = tokio::spawn(record(rx, start, bucket, on_tick))
        .await
        .context("the load recorder panicked")?;
    for worker in workers {
        worker.await.context("a load worker panicked")?;
    }
    Ok(RunResult {
        elapsed: Duration::from_micros(stats.last_done_us),
        stats,
        interrupted: stop.is_cancelled(),
    })
}

/// Folds the workers' outcomes into [`Stats`] until every worker is done.
async fn record(
    mut rx: mpsc::UnboundedReceiver<Vec<Outcome>>,
    start: Instant,
    bucket: Duration,
    mut on_tick: impl FnMut(&Live),
) -> Stats {
    let mut stats = Stats::new(bucket.as_micros() as u64);
    let mut window = Window::new(0);
    let mut ticks = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            outcomes = rx.recv() => match outcomes {
                Some(outcomes) => {
                    for outcome in outcomes {
                        window.record(&outcome);
                        stats.record(outcome);
                    }
                }
                None => break,
            },
            _ = ticks.tick() => {
                let now = micros_since(start);
                on_tick(&window.live(now, &stats));
                if now.saturating_sub(window.started_us) >= 1_000_000 {
                    window = Window::new(now);
                }
            }
        }
    }
    stats
}

/// A worker hands its outcomes over in batches of this many, or older than [`HAND_OVER`]:
/// one wake-up of the recorder per request would cost more than the request.
const HAND_OVER_COUNT: usize = 64;
const HAND_OVER: Duration = Duration::from_millis(50);

/// About 150 slices over the run, each at least 100 ms.
fn bucket_width(plan: &Plan) -> Duration {
    let total = plan.planned_duration().unwrap_or(Duration::from_secs(60));
    (total / 150).max(Duration::from_millis(100))
}

/// Spreads the seed over the workers (SplitMix64), so neighbours are unrelated.
fn worker_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add((index + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn micros_since(start: Instant) -> u64 {
    Instant::now().saturating_duration_since(start).as_micros() as u64
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

struct Worker {
    index: u64,
    connections: u64,
    client: Client,
    url: Url,
    plan: Plan,
    visitors: Visitors,
    keep_ids: bool,
    start: Instant,
    claimed: Arc<AtomicU64>,
    stop: CancellationToken,
    tx: mpsc::UnboundedSender<Vec<Outcome>>,
}

impl Worker {
    async fn run(mut self) {
        let mut turn = 0;
        let mut pending = Vec::with_capacity(HAND_OVER_COUNT);
        let mut handed = Instant::now();
        while let Some(due) = self.next_due(turn) {
            turn += 1;
            let at = self.start + due;
            let now = Instant::now();
            // A long wait: hand over what is done first, so the live view keeps up.
            if at > now + HAND_OVER && !pending.is_empty() {
                handed = now;
                let full = std::mem::replace(&mut pending, Vec::with_capacity(HAND_OVER_COUNT));
                if self.tx.send(full).is_err() {
                    return;
                }
            }
            if at > now {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = self.stop.cancelled() => break,
                }
            }
            let batch = self.visitors.next_batch(unix_ms());
            let sent_us = micros_since(self.start);
            let events = batch.ids.len() as u32;
            let oldest_ms = batch.oldest_ms;
            let (reply, rejected) = tokio::select! {
                reply = send(&self.client, &self.url, batch.body) => reply,
                _ = self.stop.cancelled() => break,
            };
            let done_us = micros_since(self.start);
            let accepted_ids = match &reply {
                Reply::Status {
                    code: 200..=299,
                    accepted: Some(_),
                    ..
                } if self.keep_ids => accepted(batch.ids, &rejected),
                _ => Vec::new(),
            };
            let outcome = Outcome {
                due_us: (due.as_micros() as u64).min(sent_us),
                sent_us,
                done_us,
                events,
                oldest_ms,
                reply,
                accepted_ids,
            };
            pending.push(outcome);
            if pending.len() >= HAND_OVER_COUNT || handed.elapsed() >= HAND_OVER {
                handed = Instant::now();
                let full = std::mem::replace(&mut pending, Vec::with_capacity(HAND_OVER_COUNT));
                if self.tx.send(full).is_err() {
                    return;
                }
            }
        }
        if !pending.is_empty() {
            let _ = self.tx.send(pending);
        }
    }

    /// When this worker's `turn`-th request is due, or `None` when it is done.
    fn next_due(&self, turn: u64) -> Option<Duration> {
        if self.stop.is_cancelled() {
            return None;
        }
        match &self.plan {
            Plan::Open { .. } => self.plan.due(self.index + turn * self.connections),
            Plan::Max { requests, duration } => {
                let now = Instant::now().saturating_duration_since(self.start);
                if duration.is_some_and(|d| now >= d) {
                    return None;
                }
                if let Some(n) = requests
                    && self.claimed.fetch_add(1, Ordering::Relaxed) >= *n
                {
                    return None;
                }
                // Closed model: a request is due when the previous one answered.
                Some(now)
            }
        }
    }
}

#[derive(Deserialize)]
struct TrackReply {
    accepted: u64,
    #[serde(default)]
    rejected: Vec<Rejected>,
}

#[derive(Deserialize)]
struct Rejected {
    index: usize,
}

/// The ids of a batch less the ones the collector rejected (by index).
fn accepted(ids: Vec<uuid::Uuid>, rejected: &[usize]) -> Vec<uuid::Uuid> {
    if rejected.is_empty() {
        return ids;
    }
    ids.into_iter()
        .enumerate()
        .filter(|(i, _)| !rejected.contains(i))
        .map(|(_, id)| id)
        .collect()
}

/// Sends one batch; the answer, and the indices of the events the collector rejected.
async fn send(client: &Client, url: &Url, body: Vec<u8>) -> (Reply, Vec<usize>) {
    let response = client
        .post(url.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(err) => return (error_reply(&err), Vec::new()),
    };
    let code = response.status().as_u16();
    match response.bytes().await {
        Ok(bytes) => match serde_json::from_slice::<TrackReply>(&bytes) {
            Ok(reply) => (
                Reply::Status {
                    code,
                    accepted: Some(reply.accepted),
                    rejected: reply.rejected.len() as u64,
                },
                reply.rejected.into_iter().map(|r| r.index).collect(),
            ),
            Err(_) => (
                Reply::Status {
                    code,
                    accepted: None,
                    rejected: 0,
                },
                Vec::new(),
            ),
        },
        Err(err) => (error_reply(&err), Vec::new()),
    }
}

fn error_reply(err: &reqwest::Error) -> Reply {
    let kind = if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect"
    } else if err.is_body() || err.is_decode() {
        "body"
    } else if err.is_request() {
        "request"
    } else {
        "other"
    };
    let mut detail = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    Reply::Error { kind, detail }
}
