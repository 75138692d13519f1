//! What the run measured: one [`Outcome`] per request, folded into HdrHistograms,
//! counters and a timeline.
//!
//! Every time is in microseconds since the run started. `corrected` latency counts from
//! when the request was due on the timetable (so waiting for a free connection or a
//! late generator counts, as a user would feel it); `uncorrected` only from when it was
//! actually sent (the service time, what tools that suffer from coordinated omission
//! report).

use std::collections::{BTreeMap, VecDeque};

use hdrhistogram::Histogram;
use serde::Serialize;
use uuid::Uuid;

/// Latencies are recorded up to an hour, in microseconds, 3 significant digits.
const MAX_US: u64 = 3_600_000_000;

/// How one request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An HTTP answer; `accepted` is the collector's count when the body said so.
    Status {
        code: u16,
        accepted: Option<u64>,
        rejected: u64,
    },
    /// No HTTP answer: a short kind (`timeout`, `connect`, ...) for grouping.
    Error { kind: &'static str, detail: String },
}

/// One request, as a worker saw it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub due_us: u64,
    pub sent_us: u64,
    pub done_us: u64,
    pub events: u32,
    /// The earliest event time in the request, Unix ms.
    pub oldest_ms: i64,
    pub reply: Reply,
    /// The ids the collector accepted (only kept for `--verify`).
    pub accepted_ids: Vec<Uuid>,
}

pub fn histogram() -> Histogram<u64> {
    // 1 µs to an hour at 3 digits is a valid, fixed configuration.
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds")
}

/// One slice of the timeline.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Requests answered (or failed) in this slice.
    pub done: u64,
    pub errors: u64,
    pub latency: Histogram<u64>,
}

/// Everything the run measured.
#[derive(Debug, Clone)]
pub struct Stats {
    pub corrected: Histogram<u64>,
    pub uncorrected: Histogram<u64>,
    /// How late each request was sent compared to its slot on the timetable.
    pub send_lag: Histogram<u64>,
    pub requests: u64,
    pub events_sent: u64,
    pub events_accepted: u64,
    pub events_rejected: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: BTreeMap<&'static str, u64>,
    /// One message per error kind, to show what it looked like.
    pub error_examples: BTreeMap<&'static str, String>,
    pub first_sent_us: Option<u64>,
    pub last_sent_us: u64,
    pub last_done_us: u64,
    pub bucket_us: u64,
    pub timeline: Vec<Bucket>,
    pub accepted_ids: Vec<Uuid>,
    /// The earliest event time sent, Unix ms: where `--verify` starts looking.
    pub oldest_event_ms: Option<i64>,
}

impl Stats {
    /// `bucket_us` is the width of one timeline slice.
    pub fn new(bucket_us: u64) -> Self {
        Self {
            corrected: histogram(),
            uncorrected: histogram(),
            send_lag: histogram(),
            requests: 0,
            events_sent: 0,
            events_accepted: 0,
            events_rejected: 0,
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            error_examples: BTreeMap::new(),
            first_sent_us: None,
            last_sent_us: 0,
            last_done_us: 0,
            bucket_us: bucket_us.max(1),
            timeline: Vec::new(),
            accepted_ids: Vec::new(),
            oldest_event_ms: None,
        }
    }

    pub fn record(&mut self, outcome: Outcome) {
        let corrected = outcome.done_us.saturating_sub(outcome.due_us).max(1);
        let uncorrected = outcome.done_us.saturating_sub(outcome.sent_us).max(1);
        self.corrected.saturating_record(corrected);
        self.uncorrected.saturating_record(uncorrected);
        self.send_lag
            .saturating_record(outcome.sent_us.saturating_sub(outcome.due_us).max(1));
        self.requests += 1;
        self.events_sent += u64::from(outcome.events);
        self.first_sent_us = Some(
            self.first_sent_us
                .map_or(outcome.sent_us, |f| f.min(outcome.sent_us)),
        );
        self.last_sent_us = self.last_sent_us.max(outcome.sent_us);
        self.last_done_us = self.last_done_us.max(outcome.done_us);
        let failed = match outcome.reply {
            Reply::Status {
                code,
                accepted,
                rejected,
            } => {
                *self.statuses.entry(code).or_default() += 1;
                self.events_accepted += accepted.unwrap_or(0);
                self.events_rejected += rejected;
                !(200..300).contains(&code)
            }
            Reply::Error { kind, detail } => {
                *self.errors.entry(kind).or_default() += 1;
                self.error_examples.entry(kind).or_insert(detail);
                true
            }
        };
        self.accepted_ids.extend(outcome.accepted_ids);
        self.oldest_event_ms = Some(
            self.oldest_event_ms
                .map_or(outcome.oldest_ms, |o| o.min(outcome.oldest_ms)),
        );

        let slot = (outcome.done_us / self.bucket_us) as usize;
        while self.timeline.len() <= slot {
            self.timeline.push(Bucket {
                done: 0,
                errors: 0,
                latency: histogram(),
            });
        }
        let bucket = &mut self.timeline[slot];
        bucket.done += 1;
        bucket.errors += u64::from(failed);
        bucket.latency.saturating_record(corrected);
    }

    /// Requests that got no 2xx answer.
    pub fn failed(&self) -> u64 {
        let not_2xx: u64 = self
            .statuses
            .iter()
            .filter(|(code, _)| !(200..300).contains(*code))
            .map(|(_, n)| n)
            .sum();
        not_2xx + self.errors.values().sum::<u64>()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
}

impl Percentiles {
    /// From a histogram in microseconds, in milliseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        Self {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p99_9: ms(0.999),
            max: if h.is_empty() {
                0.0
            } else {
                h.max() as f64 / 1000.0
            },
        }
    }
}

/// The live view's numbers, for the last second or so.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub elapsed_us: u64,
    pub requests: u64,
    pub failed: u64,
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// How far behind the timetable the latest request was sent.
    pub behind_ms: f64,
    /// The corrected p99 over the last few seconds (steadier than `p99_ms`).
    pub recent_p99_ms: f64,
    /// Events the collector accepted so far.
    pub events_accepted: u64,
    pub events_rejected: u64,
}

/// How many finished one-second windows [`Live::recent_p99_ms`] looks back over.
const RECENT_WINDOWS: usize = 4;

/// Folds outcomes into a window that the live view reads and then resets.
#[derive(Debug)]
pub struct Window {
    pub started_us: u64,
    pub count: u64,
    pub latency: Histogram<u64>,
    pub behind_us: u64,
    /// The latencies of the last few windows, newest last.
    earlier: VecDeque<Histogram<u64>>,
}

impl Window {
    pub fn new(started_us: u64) -> Self {
        Self {
            started_us,
            count: 0,
            latency: histogram(),
            behind_us: 0,
            earlier: VecDeque::new(),
        }
    }

    /// The window that follows this one from `started_us`, keeping its recent latencies.
    pub fn next(self, started_us: u64) -> Self {
        let mut earlier = self.earlier;
        if earlier.len() == RECENT_WINDOWS {
            earlier.pop_front();
        }
        earlier.push_back(self.latency);
        Self {
            earlier,
            ..Self::new(started_us)
        }
    }

    pub fn record(&mut self, outcome: &Outcome) {
        self.count += 1;
        self.latency
            .saturating_record(outcome.done_us.saturating_sub(outcome.due_us).max(1));
        self.behind_us = outcome.sent_us.saturating_sub(outcome.due_us);
    }

    pub fn live(&self, now_us: u64, stats: &Stats) -> Live {
        let secs = (now_us.saturating_sub(self.started_us)) as f64 / 1e6;
        let ms = |q: f64| {
            if self.count == 0 {
                0.0
            } else {
                self.latency.value_at_quantile(q) as f64 / 1000.0
            }
        };
        let mut recent = self.latency.clone();
        for earlier in &self.earlier {
            // Every histogram here has the same bounds, so adding cannot fail.
            let _ = recent.add(earlier);
        }
        Live {
            recent_p99_ms: if recent.is_empty() {
                0.0
            } else {
                recent.value_at_quantile(0.99) as f64 / 1000.0
            },
            events_accepted: stats.events_accepted,
            events_rejected: stats.events_rejected,
            elapsed_us: now_us,
            requests: stats.requests,
            failed: stats.failed(),
            rate: if secs > 0.0 {
                self.count as f64 / secs
            } else {
                0.0
            },
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            behind_ms: self.behind_us as f64 / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(due: u64, sent: u64, done: u64, reply: Reply) -> Outcome {
        Outcome {
            due_us: due,
            sent_us: sent,
            done_us: done,
            events: 3,
            oldest_ms: 0,
            reply,
            accepted_ids: vec![],
        }
    }

    #[test]
    fn waiting_for_the_slot_counts_only_in_corrected_latency() {
        let mut stats = Stats::new(1_000_000);
        let ok = Reply::Status {
            code: 200,
            accepted: Some(3),
            rejected: 0,
        };
        stats.record(outcome(0, 40_000, 50_000, ok.clone()));
        stats.record(outcome(
            1_000_000,
            1_000_000,
            1_010_000,
            Reply::Error {
                kind: "timeout",
                detail: "x".into(),
            },
        ));
        assert!(stats.corrected.max() >= 49_900);
        assert!(stats.uncorrected.max() < 10_100);
        assert!(stats.send_lag.max() >= 39_900);
        assert_eq!(stats.events_accepted, 3);
        assert_eq!(stats.events_sent, 6);
        assert_eq!(stats.failed(), 1);
        assert_eq!(stats.timeline.len(), 2);
        assert_eq!(stats.timeline[1].errors, 1);
    }
}
