//! Burrow-style verdicts on consumer lag, per partition and for the group, each with its
//! reason in words and a symbol, so that no state is told by colour alone.
//!
//! The rules, first match wins, over the samples of the visible window:
//! - no sample yet: UNKNOWN;
//! - the committed offset went backwards: REWOUND;
//! - lag is positive now and the committed offset has not moved while it was positive for
//!   at least the window: STOPPED; for at least [`STALL_AFTER`] (or the window when shorter):
//!   STALLED;
//! - lag reached zero in the window: OK;
//! - lag rose across the window while commits moved (its later half stays above all of its
//!   earlier half, so the dips between commits at a steady rate do not count): LAGGING;
//! - otherwise (lag falling or level, commits moving): OK.

use std::time::{Duration, Instant};

use serde::Serialize;

/// How long positive lag may sit with no commit before the partition counts as stalled:
/// the processor commits after every batch (at most `BATCH_TIMEOUT_MS`, 200 ms), so ten
/// seconds without one is no batching pause.
pub const STALL_AFTER: Duration = Duration::from_secs(10);

/// One observation of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LagSample {
    pub at: Instant,
    pub lag: i64,
    pub committed: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Unknown,
    Ok,
    Lagging,
    Rewound,
    Stalled,
    Stopped,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Ok => "OK",
            Self::Lagging => "LAGGING",
            Self::Rewound => "REWOUND",
            Self::Stalled => "STALLED",
            Self::Stopped => "STOPPED",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Self::Unknown => "?",
            Self::Ok => "✔",
            Self::Lagging => "▲",
            Self::Rewound => "↺",
            Self::Stalled => "■",
            Self::Stopped => "✖",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.symbol(), self.label())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub status: Status,
    pub reason: String,
}

impl Verdict {
    fn new(status: Status, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }
}

/// The verdict of one partition from its samples (oldest first, possibly older than the
/// window: a stop is only told when the history covers the whole window).
pub fn partition(samples: &[LagSample], now: Instant, window: Duration) -> Verdict {
    let Some(last) = samples.last() else {
        return Verdict::new(Status::Unknown, "no offsets read yet");
    };
    let start = now.checked_sub(window);
    let in_window: Vec<&LagSample> = samples
        .iter()
        .filter(|s| start.is_none_or(|start| s.at >= start))
        .collect();
    let in_window = if in_window.is_empty() {
        vec![last]
    } else {
        in_window
    };

    for pair in in_window.windows(2) {
        if let (Some(before), Some(after)) = (pair[0].committed, pair[1].committed)
            && after < before
        {
            return Verdict::new(
                Status::Rewound,
                format!("committed offset went back from {before} to {after}"),
            );
        }
    }

    if last.lag > 0 {
        // Walk back while lag stayed positive and the committed offset stayed put.
        let mut since = last.at;
        for sample in samples.iter().rev() {
            if sample.lag <= 0 || sample.committed != last.committed {
                break;
            }
            since = sample.at;
        }
        let stuck = now.saturating_duration_since(since);
        if stuck >= window {
            return Verdict::new(
                Status::Stopped,
                format!(
                    "no commit for {} (longer than the window) with {} waiting",
                    short_duration(stuck),
                    last.lag
                ),
            );
        }
        if stuck >= STALL_AFTER.min(window) {
            return Verdict::new(
                Status::Stalled,
                format!(
                    "{} waiting and the committed offset has not moved for {}",
                    last.lag,
                    short_duration(stuck)
                ),
            );
        }
    }

    if in_window.iter().any(|s| s.lag == 0) {
        return Verdict::new(Status::Ok, "lag reached zero in the window");
    }
    let first = in_window[0];
    let moved = match (first.committed, last.committed) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    };
    // Rising, not wobbling: at a steady rate the lag goes up and down by a batch between
    // commits, so only a lag whose later half stays above all of its earlier half counts
    // (Burrow asks for a rise over every interval; this allows the dips between commits).
    let half = in_window.len() / 2;
    let rising = half > 0
        && in_window[half..].iter().map(|s| s.lag).min()
            > in_window[..half].iter().map(|s| s.lag).max();
    if rising && last.lag > first.lag {
        return Verdict::new(
            Status::Lagging,
            format!(
                "lag rose from {} to {} while commits moved {moved} offsets",
                first.lag, last.lag
            ),
        );
    }
    Verdict::new(
        Status::Ok,
        format!(
            "catching up: lag {} from {}, commits moved {moved} offsets",
            last.lag, first.lag
        ),
    )
}

/// The group's verdict: its worst partition's, naming the partitions in that state.
pub fn group(partitions: &[(i32, Verdict)]) -> Verdict {
    let Some(worst) = partitions.iter().map(|(_, v)| v.status).max() else {
        return Verdict::new(Status::Unknown, "no partitions known yet");
    };
    let named: Vec<&(i32, Verdict)> = partitions
        .iter()
        .filter(|(_, v)| v.status == worst)
        .collect();
    if worst == Status::Ok && named.len() == partitions.len() {
        return Verdict::new(Status::Ok, "every partition OK");
    }
    let (partition, verdict) = named[0];
    let reason = if named.len() == 1 {
        format!("partition {partition}: {}", verdict.reason)
    } else {
        let list: Vec<String> = named.iter().map(|(p, _)| p.to_string()).collect();
        format!(
            "partitions {} {}; partition {partition}: {}",
            list.join(","),
            worst.label(),
            verdict.reason
        )
    };
    Verdict::new(worst, reason)
}

/// `42s`, `3m05s`, `1h02m`.
pub fn short_duration(d: Duration) -> String {
    crate::runtime::human_duration(d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    /// Samples one second apart ending at `now`: (lag, committed).
    fn series(now: Instant, points: &[(i64, Option<i64>)]) -> Vec<LagSample> {
        let n = points.len() as u64;
        points
            .iter()
            .enumerate()
            .map(|(i, &(lag, committed))| LagSample {
                at: now - Duration::from_secs(n - 1 - i as u64),
                lag,
                committed,
            })
            .collect()
    }

    fn steady(now: Instant, seconds: usize, lag: i64, committed: i64) -> Vec<LagSample> {
        series(now, &vec![(lag, Some(committed)); seconds + 1])
    }

    fn base() -> Instant {
        Instant::now() + Duration::from_secs(10_000)
    }

    #[test]
    fn no_samples_is_unknown() {
        assert_eq!(partition(&[], base(), WINDOW).status, Status::Unknown);
    }

    #[test]
    fn zero_lag_in_the_window_is_ok() {
        let now = base();
        let v = partition(
            &series(now, &[(5, Some(10)), (0, Some(15)), (3, Some(15))]),
            now,
            WINDOW,
        );
        assert_eq!(v.status, Status::Ok);
        assert_eq!(v.reason, "lag reached zero in the window");
    }

    #[test]
    fn rising_lag_with_moving_commits_is_lagging() {
        let now = base();
        let v = partition(
            &series(now, &[(10, Some(100)), (20, Some(150)), (30, Some(200))]),
            now,
            WINDOW,
        );
        assert_eq!(v.status, Status::Lagging);
        assert_eq!(
            v.reason,
            "lag rose from 10 to 30 while commits moved 100 offsets"
        );
    }

    #[test]
    fn lag_wobbling_between_commits_at_a_steady_rate_is_ok() {
        // 200 events/s: the lag rises between commits and drops at each, never to zero.
        let now = base();
        let v = partition(
            &series(
                now,
                &[
                    (6, Some(100)),
                    (14, Some(140)),
                    (4, Some(190)),
                    (12, Some(230)),
                    (5, Some(280)),
                    (15, Some(320)),
                ],
            ),
            now,
            WINDOW,
        );
        assert_eq!(v.status, Status::Ok, "{}", v.reason);
    }

    #[test]
    fn falling_lag_with_moving_commits_is_ok() {
        let now = base();
        let v = partition(
            &series(now, &[(30, Some(100)), (20, Some(150)), (10, Some(200))]),
            now,
            WINDOW,
        );
        assert_eq!(v.status, Status::Ok);
        assert!(v.reason.starts_with("catching up"), "{}", v.reason);
    }

    #[test]
    fn a_committed_offset_going_back_is_rewound() {
        let now = base();
        let v = partition(
            &series(now, &[(0, Some(100)), (50, Some(50)), (0, Some(100))]),
            now,
            WINDOW,
        );
        assert_eq!(v.status, Status::Rewound);
        assert_eq!(v.reason, "committed offset went back from 100 to 50");
    }

    #[test]
    fn a_rewind_older_than_the_window_is_forgotten() {
        let now = base();
        let mut samples = vec![
            LagSample {
                at: now - Duration::from_secs(120),
                lag: 0,
                committed: Some(100),
            },
            LagSample {
                at: now - Duration::from_secs(119),
                lag: 0,
                committed: Some(50),
            },
        ];
        samples.extend(series(now, &[(0, Some(60)), (0, Some(70))]));
        assert_eq!(partition(&samples, now, WINDOW).status, Status::Ok);
    }

    #[test]
    fn lag_with_no_commit_for_ten_seconds_is_stalled() {
        let now = base();
        let v = partition(&steady(now, 10, 40, 500), now, WINDOW);
        assert_eq!(v.status, Status::Stalled);
        assert_eq!(
            v.reason,
            "40 waiting and the committed offset has not moved for 10s"
        );
        // Nine seconds is still a pause, not a stall.
        assert_ne!(
            partition(&steady(now, 9, 40, 500), now, WINDOW).status,
            Status::Stalled
        );
    }

    #[test]
    fn no_commit_for_longer_than_the_window_is_stopped() {
        let now = base();
        let v = partition(&steady(now, 60, 40, 500), now, WINDOW);
        assert_eq!(v.status, Status::Stopped);
        assert_eq!(
            v.reason,
            "no commit for 1m00s (longer than the window) with 40 waiting"
        );
    }

    #[test]
    fn a_stop_needs_history_covering_the_window() {
        // Watched for 30 s only: it cannot be said to have stopped for a minute.
        let now = base();
        assert_eq!(
            partition(&steady(now, 30, 40, 500), now, WINDOW).status,
            Status::Stalled
        );
    }

    #[test]
    fn stall_counts_only_since_lag_became_positive() {
        // Caught up (lag 0) until 5 s ago, then new messages and no commit: not stalled yet.
        let now = base();
        let mut points = vec![(0, Some(500)); 30];
        points.extend(vec![(7, Some(500)); 5]);
        let v = partition(&series(now, &points), now, WINDOW);
        assert_eq!(v.status, Status::Ok);
        // Ten seconds later it is.
        points.extend(vec![(9, Some(500)); 10]);
        assert_eq!(
            partition(&series(now, &points), now, WINDOW).status,
            Status::Stalled
        );
    }

    #[test]
    fn a_group_that_never_committed_with_waiting_messages_stalls() {
        let now = base();
        let v = partition(&series(now, &[(12, None); 15]), now, WINDOW);
        assert_eq!(v.status, Status::Stalled);
    }

    #[test]
    fn an_idle_topic_with_nothing_waiting_is_ok() {
        let now = base();
        let v = partition(&series(now, &[(0, None); 120]), now, WINDOW);
        assert_eq!(v.status, Status::Ok);
    }

    #[test]
    fn a_short_window_stalls_sooner() {
        let now = base();
        let v = partition(&steady(now, 5, 3, 9), now, Duration::from_secs(5));
        assert_eq!(v.status, Status::Stopped);
    }

    #[test]
    fn the_group_takes_its_worst_partition_and_names_it() {
        let ok = Verdict::new(Status::Ok, "lag reached zero in the window");
        let stalled = Verdict::new(Status::Stalled, "9 waiting");
        let v = group(&[(0, ok.clone()), (1, stalled.clone()), (2, ok.clone())]);
        assert_eq!(v.status, Status::Stalled);
        assert_eq!(v.reason, "partition 1: 9 waiting");
        let v = group(&[(0, stalled.clone()), (1, stalled), (2, ok.clone())]);
        assert_eq!(v.reason, "partitions 0,1 STALLED; partition 0: 9 waiting");
        assert_eq!(
            group(&[(0, ok.clone()), (1, ok)]).reason,
            "every partition OK"
        );
        assert_eq!(group(&[]).status, Status::Unknown);
    }

    #[test]
    fn every_status_has_text_and_a_symbol() {
        for s in [
            Status::Unknown,
            Status::Ok,
            Status::Lagging,
            Status::Rewound,
            Status::Stalled,
            Status::Stopped,
        ] {
            assert!(!s.label().is_empty() && !s.symbol().is_empty());
            assert!(s.to_string().contains(s.label()));
        }
    }
}
