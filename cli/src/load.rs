//! `ptrack load`: realistic synthetic tracker traffic at an exact rate, with latencies
//! measured the honest way (from when each request was due), a report for people and
//! machines, and a check that every accepted event reached the table.
//!
//! [`run`] is the whole load (send, then verify) for any command: `ptrack load` parses
//! its arguments into a [`LoadConfig`] and prints the [`Report`]; a command that runs a
//! load in the background cancels it with its token. What happens meanwhile reaches the
//! caller through an [`Observer`]; this module prints nothing.
//!
//! Layout (each module depends only on the ones above it):
//! - [`plan`]: the timetable (`--rps`, `--ramp`, `--duration`, `--requests`).
//! - `site`: the shop the visitors browse: pages, components, event kinds.
//! - `json`: the tracker's JSON, written by hand in exactly serde's bytes.
//! - `visitor`: one virtual user browsing, on its own clock.
//! - [`tracker`]: the visitors' trackers and their batches (request bodies).
//! - `http1`: the workers' own HTTP/1.1 connections.
//! - `gzip`: `--gzip` request bodies, compressed with reused state.
//! - [`stats`]: HdrHistograms, percentiles, counters, the timeline, the live window.
//! - [`runner`]: the workers that send on schedule, and the recorder.
//! - [`live`]: `<data dir>/load-live.json`, the running load's figures for other
//!   processes.
//! - [`verify`]: lost and duplicated events, and the end-to-end delay.
//! - [`report`]: the final numbers, as text and JSON.
//! - [`threshold`]: `--threshold` pass/fail criteria on the report.
//! - [`hist`]: the latency histograms as `.hgrm` text and an HdrHistogram interval log.
//! - [`plot`]: the SVG / HTML picture.

mod gzip;
pub mod hist;
mod http1;
mod json;
pub mod live;
pub mod plan;
pub mod plot;
pub mod report;
pub mod runner;
mod site;
pub mod stats;
pub mod threshold;
pub mod tracker;
pub mod verify;
mod visitor;

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use ptrack_common::config::Secret;
use tokio_util::sync::CancellationToken;

use crate::client::EventsApi;
use live::LiveFile;
use report::{Report, Settings};
use runner::RunConfig;
use stats::Live;
use verify::Source;

/// Everything a load needs.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub run: RunConfig,
    /// How the run is described in the report.
    pub settings: Settings,
    /// After sending, check that every accepted event was stored exactly once.
    pub verify: Option<VerifyConfig>,
    /// The stack's data folder: while sending, `load-live.json` is kept there (only
    /// when the folder exists).
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct VerifyConfig {
    pub through: VerifyThrough,
    /// How long to wait for the pipeline to drain at most...
    pub timeout: Duration,
    /// ...stopping earlier when nothing new was stored for this long.
    pub settle: Duration,
    /// Check also when sending was stopped early (the demo's quit): what was accepted
    /// until then. `ptrack load`'s Ctrl-C reports at once instead.
    pub after_stop: bool,
}

/// Where `--verify` reads the stored events.
#[derive(Debug, Clone)]
pub enum VerifyThrough {
    /// PostgreSQL: exact and faster.
    Database(Secret),
    EventsApi(EventsApi),
}

/// What a running load tells its caller. Every method has a default that ignores it.
pub trait Observer: Send + 'static {
    /// The live numbers, four times a second while sending.
    fn live(&mut self, _live: &Live) {}
    /// Sending is over (done or cancelled).
    fn sent(&mut self) {}
    /// `--verify` has nothing to look for: no event was accepted.
    fn nothing_to_verify(&mut self) {}
    /// `--verify` found this many of the accepted events so far; after each look.
    fn verifying(&mut self, _found: u64, _expected: u64) {}
}

impl Observer for () {}

/// Runs the load: sends on the plan until it is done or `cancel` is cancelled, then,
/// when asked and not cancelled (or `after_stop`), verifies until done or cancelled. The
/// report has `interrupted` set after a cancel, and `verify` filled after a whole check
/// (`verify.lost > 0`: events were lost).
pub async fn run(
    config: LoadConfig,
    cancel: CancellationToken,
    observer: impl Observer,
) -> Result<Report> {
    let observer = Arc::new(Mutex::new(observer));
    let plan = config.run.plan.clone();
    let start = std::time::Instant::now();
    let mut live_file = config.data_dir.as_deref().and_then(LiveFile::start);
    let on_tick = {
        let observer = observer.clone();
        let plan = plan.clone();
        move |live: &Live| {
            lock(&observer).live(live);
            if let Some(file) = &mut live_file {
                file.update(live, plan.target_rps_at(start.elapsed()));
            }
        }
    };
    // The live file goes with `on_tick`: removed when sending ends, however it ends.
    let result = runner::run(config.run, cancel.clone(), on_tick).await?;
    lock(&observer).sent();

    let mut report = Report::new(config.settings, &plan, &result);
    let Some(verify) = config.verify else {
        return Ok(report);
    };
    if result.interrupted && !verify.after_stop {
        return Ok(report);
    }
    // After a stop, only dropping the future ends the check; else a cancel does.
    let abort = if result.interrupted {
        CancellationToken::new()
    } else {
        cancel.clone()
    };
    let ids = &result.stats.accepted_ids;
    if ids.is_empty() {
        lock(&observer).nothing_to_verify();
        return Ok(report);
    }
    let source = match verify.through {
        VerifyThrough::Database(url) => Source::Database(
            ptrack_common::db::connect(&url, 2, Duration::from_secs(10))
                .await
                .context("--verify connects to PostgreSQL (--database-url)")?,
        ),
        VerifyThrough::EventsApi(api) => {
            let now = Utc::now();
            let oldest = result
                .stats
                .oldest_event_ms
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or(now);
            Source::EventsApi {
                api,
                since: oldest - chrono::Duration::seconds(1),
                until: now + chrono::Duration::seconds(60),
            }
        }
    };
    let verifying = verify::verify(
        ids,
        &source,
        verify.timeout,
        verify.settle,
        |found, expected| lock(&observer).verifying(found, expected),
    );
    // A cancel while verifying (Ctrl-C) ends the check: the report without it.
    tokio::select! {
        verification = verifying => report.verify = Some(verification?),
        () = abort.cancelled() => report.interrupted = true,
    }
    Ok(report)
}

fn lock<O>(observer: &Mutex<O>) -> std::sync::MutexGuard<'_, O> {
    // A poisoned lock only means an observer call panicked; the observer is still usable.
    observer.lock().unwrap_or_else(|p| p.into_inner())
}
