//! The final report: numbers computed once from the run's [`Stats`](super::stats::Stats)
//! and the [`Verification`], printed as text or JSON and drawn by [`super::plot`].

use std::{collections::BTreeMap, fmt::Write as _};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{
    plan::Plan, runner::RunResult, stats::Percentiles, threshold::Checked, verify::Verification,
};

/// The run's settings, shown in every form of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub target: String,
    pub plan: String,
    pub connections: usize,
    pub users: usize,
    /// `fixed N` or `up to N, flushed every D`.
    pub batching: String,
    pub seed: u64,
    pub timeout: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// From when each request was due on the timetable.
    pub corrected: Percentiles,
    /// From when it was actually sent (service time).
    pub uncorrected: Percentiles,
}

#[derive(Debug, Clone, Serialize)]
pub struct Behind {
    /// How late requests were sent compared to the timetable, in ms.
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Whether the generator could not hold the asked rate.
    pub fell_behind: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorCount {
    pub count: u64,
    pub example: String,
}

/// One slice of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// End of the slice, seconds since the start.
    pub t: f64,
    pub rps: f64,
    pub target_rps: Option<f64>,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// `(percentile, ms)` pairs as HdrHistogram's percentile output lists them.
pub type Curve = Vec<(f64, f64)>;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub settings: Settings,
    pub interrupted: bool,
    /// From the first due request to the last answer.
    pub duration_s: f64,
    pub target_rps: Option<f64>,
    /// The rate requests were actually sent at.
    pub sent_rps: f64,
    /// Answers per second over the whole run.
    pub answered_rps: f64,
    pub requests: u64,
    pub requests_ok: u64,
    pub requests_failed: u64,
    pub events_sent: u64,
    pub events_accepted: u64,
    pub events_rejected: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: BTreeMap<String, ErrorCount>,
    pub latency_ms: Latency,
    pub behind_schedule: Behind,
    pub timeline: Vec<Point>,
    pub curve_corrected: Curve,
    pub curve_uncorrected: Curve,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verification>,
    /// How each `--threshold` came out (filled by the command).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<Checked>,
    /// The run's latency histograms, for thresholds and `--hist-out` / `--hist-log`.
    #[serde(skip)]
    pub histograms: Histograms,
}

/// The histograms behind the report, in microseconds.
#[derive(Debug, Clone)]
pub struct Histograms {
    pub corrected: Histogram<u64>,
    pub uncorrected: Histogram<u64>,
    /// When the timetable started, Unix ms.
    pub started_unix_ms: i64,
    /// The width of one interval of `intervals`.
    pub interval: std::time::Duration,
    /// The corrected latency of the requests that ended in each interval, in order.
    pub intervals: Vec<Histogram<u64>>,
}

impl Default for Histograms {
    fn default() -> Self {
        Self {
            corrected: super::stats::histogram(),
            uncorrected: super::stats::histogram(),
            started_unix_ms: 0,
            interval: std::time::Duration::from_secs(1),
            intervals: Vec::new(),
        }
    }
}

impl Report {
    pub fn new(settings: Settings, plan: &Plan, run: &RunResult) -> Self {
        let stats = &run.stats;
        let duration_s = run.elapsed.as_secs_f64();
        let window_s = (stats.last_sent_us - stats.first_sent_us.unwrap_or(0)) as f64 / 1e6;
        let sent_rps = if stats.requests > 1 && window_s > 0.0 {
            (stats.requests - 1) as f64 / window_s
        } else {
            0.0
        };
        let target_rps = plan.target_rps();
        let behind = Percentiles::of(&stats.send_lag);
        // Whether the asked rate was held: sent within 1%, and no request waited long
        // for its turn (a stall is a failure to keep up even if the average is right).
        let fell_behind = target_rps.is_some_and(|t| sent_rps < 0.99 * t || behind.p99 > 50.0);
        let width = stats.bucket_us as f64 / 1e6;
        let timeline = stats
            .timeline
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let p = Percentiles::of(&b.latency);
                let mid = std::time::Duration::from_secs_f64((i as f64 + 0.5) * width);
                Point {
                    t: (i + 1) as f64 * width,
                    rps: b.done as f64 / width,
                    target_rps: plan.target_rps_at(mid),
                    errors: b.errors,
                    p50_ms: p.p50,
                    p99_ms: p.p99,
                    max_ms: p.max,
                }
            })
            .collect();
        let failed = stats.failed();
        Self {
            settings,
            interrupted: run.interrupted,
            duration_s,
            target_rps,
            sent_rps,
            answered_rps: if duration_s > 0.0 {
                stats.requests as f64 / duration_s
            } else {
                0.0
            },
            requests: stats.requests,
            requests_ok: stats.requests - failed,
            requests_failed: failed,
            events_sent: stats.events_sent,
            events_accepted: stats.events_accepted,
            events_rejected: stats.events_rejected,
            statuses: stats.statuses.clone(),
            errors: stats
                .errors
                .iter()
                .map(|(kind, count)| {
                    let example = stats.error_examples.get(kind).cloned().unwrap_or_default();
                    (
                        kind.to_string(),
                        ErrorCount {
                            count: *count,
                            example,
                        },
                    )
                })
                .collect(),
            latency_ms: Latency {
                corrected: Percentiles::of(&stats.corrected),
                uncorrected: Percentiles::of(&stats.uncorrected),
            },
            behind_schedule: Behind {
                p99_ms: behind.p99,
                max_ms: behind.max,
                fell_behind,
            },
            timeline,
            curve_corrected: curve(&stats.corrected),
            curve_uncorrected: curve(&stats.uncorrected),
            verify: None,
            thresholds: Vec::new(),
            histograms: Histograms {
                corrected: stats.corrected.clone(),
                uncorrected: stats.uncorrected.clone(),
                started_unix_ms: run.started_unix_ms,
                interval: std::time::Duration::from_micros(stats.bucket_us),
                intervals: stats.timeline.iter().map(|b| b.latency.clone()).collect(),
            },
        }
    }

    /// The report for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let s = &self.settings;
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut out, s);
        out
    }

    fn write_text(&self, out: &mut String, s: &Settings) -> std::fmt::Result {
        writeln!(out, "ptrack load: {} ", s.target)?;
        writeln!(
            out,
            "  plan        {}; {} connections, {} users, batches {}, seed {}",
            s.plan, s.connections, s.users, s.batching, s.seed
        )?;
        if self.interrupted {
            writeln!(out, "  INTERRUPTED: the numbers cover the run so far")?;
        }
        match self.target_rps {
            Some(target) => writeln!(
                out,
                "  rate        target {target:.1}/s, sent {:.1}/s ({:.1}%), answered {:.1}/s over {:.2}s",
                self.sent_rps,
                100.0 * self.sent_rps / target,
                self.answered_rps,
                self.duration_s
            )?,
            None => writeln!(
                out,
                "  rate        sent {:.1}/s, answered {:.1}/s over {:.2}s",
                self.sent_rps, self.answered_rps, self.duration_s
            )?,
        }
        writeln!(
            out,
            "  requests    {} sent, {} ok (2xx), {} failed",
            self.requests, self.requests_ok, self.requests_failed
        )?;
        writeln!(
            out,
            "  events      {} sent, {} accepted, {} rejected",
            self.events_sent, self.events_accepted, self.events_rejected
        )?;
        if !self.statuses.is_empty() {
            let statuses: Vec<String> = self
                .statuses
                .iter()
                .map(|(code, n)| format!("{code}: {n}"))
                .collect();
            writeln!(out, "  statuses    {}", statuses.join(", "))?;
        }
        for (kind, error) in &self.errors {
            writeln!(
                out,
                "  error       {kind}: {} (like: {})",
                error.count, error.example
            )?;
        }
        writeln!(
            out,
            "\n  latency ms       p50      p90      p99    p99.9      max"
        )?;
        for (name, p) in [
            ("corrected", &self.latency_ms.corrected),
            ("uncorrected", &self.latency_ms.uncorrected),
        ] {
            writeln!(
                out,
                "  {name:<12}{:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                p.p50, p.p90, p.p99, p.p99_9, p.max
            )?;
        }
        writeln!(
            out,
            "  (corrected counts from when a request was due, uncorrected from when it was sent)"
        )?;
        let behind = &self.behind_schedule;
        if behind.fell_behind {
            let rate = match self.target_rps {
                Some(target) if self.sent_rps < 0.99 * target => format!(
                    " and the sent rate is {:.1}/s, not the target {target:.1}/s",
                    self.sent_rps
                ),
                _ => String::new(),
            };
            writeln!(
                out,
                "\n  WARNING: the generator could not keep up: requests went out up to {:.1} ms \
                 late (p99 {:.1} ms){rate}. Raise --connections, or lower --rps (or give \
                 this machine fewer other things to do).",
                behind.max_ms, behind.p99_ms
            )?;
        } else if self.target_rps.is_some() {
            writeln!(
                out,
                "  on schedule: requests went out at most {:.1} ms late (p99 {:.2} ms)",
                behind.max_ms, behind.p99_ms
            )?;
        }
        if let Some(verify) = &self.verify {
            writeln!(out)?;
            out.push_str(&verify.text());
        }
        if !self.thresholds.is_empty() {
            writeln!(out, "\n  thresholds (latency: corrected)")?;
            for checked in &self.thresholds {
                writeln!(out, "  {checked}")?;
            }
        }
        Ok(())
    }
}

/// The percentile curve, up to the last recorded value.
fn curve(h: &Histogram<u64>) -> Curve {
    if h.is_empty() {
        return Vec::new();
    }
    let mut points: Curve = h
        .iter_quantiles(4)
        .map(|v| {
            (
                v.quantile_iterated_to() * 100.0,
                v.value_iterated_to() as f64 / 1000.0,
            )
        })
        .take_while(|(q, _)| *q < 99.9999)
        .collect();
    points.push((100.0, h.max() as f64 / 1000.0));
    points
}
