//! A running load's figures for other processes (`ptrack tui`): while it sends, a load
//! keeps `<data dir>/load-live.json` up to date, once a second, and removes it when it
//! stops sending.
//!
//! The file is one JSON object, [`LiveFigures`]:
//!
//! ```json
//! {"pid": 4242, "started_at": "2026-12-03T12:00:00Z", "updated_at": "2026-12-03T12:00:41Z",
//!  "target_rps": 5000.0, "sent_rps": 4998.0, "corrected_p99_ms": 7.1,
//!  "accepted_events": 1234567, "rejected_events": 0, "errors": 3}
//! ```
//!
//! - It is written to a temporary file and renamed over the old one, so a reader never
//!   sees half of it.
//! - It is written only when the data folder exists: a load never creates `.ptrack` in
//!   whatever folder it was started from.
//! - A file not updated for 5 s is stale (a load killed with -9 cannot remove it):
//!   [`read`] ignores it.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::stats::Live;

/// The file's name in the data folder.
pub const FILE: &str = "load-live.json";

/// How often the file is written.
const EVERY: Duration = Duration::from_secs(1);

/// Older than this, the figures are not live any more.
pub const STALE_AFTER: Duration = Duration::from_secs(5);

/// A running load, as it last reported itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveFigures {
    /// The `ptrack load` (or `ptrack demo`) process.
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The rate asked for right now; `None` for `--rps max`.
    pub target_rps: Option<f64>,
    /// Requests answered per second, over the last second.
    pub sent_rps: f64,
    /// The latency from when requests were due, p99 over the last few seconds.
    pub corrected_p99_ms: f64,
    /// Events the collector accepted since the start.
    pub accepted_events: u64,
    pub rejected_events: u64,
    /// Requests that failed (no answer, or not 2xx) since the start.
    pub errors: u64,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// The figures of the load running with this data folder, or `None` when there is none
/// (no file, an unreadable one, or one older than [`STALE_AFTER`]).
pub fn read(data_dir: &Path) -> Option<LiveFigures> {
    let text = std::fs::read(path(data_dir)).ok()?;
    let figures: LiveFigures = serde_json::from_slice(&text).ok()?;
    let age = Utc::now().signed_duration_since(figures.updated_at);
    (age.to_std().unwrap_or_default() <= STALE_AFTER).then_some(figures)
}

/// Keeps the file up to date while it lives, and removes it when dropped.
#[derive(Debug)]
pub struct LiveFile {
    path: PathBuf,
    tmp: PathBuf,
    started_at: DateTime<Utc>,
    last_write: Option<Instant>,
}

impl LiveFile {
    /// `None` when `data_dir` is not an existing folder.
    pub fn start(data_dir: &Path) -> Option<Self> {
        if !data_dir.is_dir() {
            return None;
        }
        let path = path(data_dir);
        let tmp = data_dir.join(format!(".{FILE}.{}.tmp", std::process::id()));
        Some(Self {
            path,
            tmp,
            started_at: Utc::now(),
            last_write: None,
        })
    }

    /// Writes the figures when a second has passed since the last write.
    pub fn update(&mut self, live: &Live, target_rps: Option<f64>) {
        if self.last_write.is_some_and(|at| at.elapsed() < EVERY) {
            return;
        }
        self.last_write = Some(Instant::now());
        let figures = LiveFigures {
            pid: std::process::id(),
            started_at: self.started_at,
            updated_at: Utc::now(),
            target_rps,
            sent_rps: live.rate,
            corrected_p99_ms: live.recent_p99_ms,
            accepted_events: live.events_accepted,
            rejected_events: live.events_rejected,
            errors: live.failed,
        };
        // The figures are a courtesy to other processes: a full disk or a folder removed
        // under the load must not stop it, so a failed write is skipped.
        let _ = self.write(&figures);
    }

    fn write(&self, figures: &LiveFigures) -> std::io::Result<()> {
        std::fs::write(&self.tmp, serde_json::to_vec(figures)?)?;
        std::fs::rename(&self.tmp, &self.path)
    }
}

impl Drop for LiveFile {
    fn drop(&mut self) {
        // Nothing to do when they are already gone.
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Live {
        Live {
            rate: 99.5,
            recent_p99_ms: 12.5,
            events_accepted: 1000,
            events_rejected: 2,
            failed: 3,
            ..Live::default()
        }
    }

    #[test]
    fn the_file_is_written_read_while_fresh_and_removed_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()), None);
        let mut file = LiveFile::start(dir.path()).unwrap();
        file.update(&live(), Some(100.0));
        let figures = read(dir.path()).expect("fresh figures");
        assert_eq!(figures.pid, std::process::id());
        assert_eq!(figures.target_rps, Some(100.0));
        assert_eq!(
            (
                figures.accepted_events,
                figures.rejected_events,
                figures.errors
            ),
            (1000, 2, 3)
        );
        assert_eq!(figures.corrected_p99_ms, 12.5);
        // Only the file itself is left in the folder: the temporary one was renamed.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        // Stale figures are not live.
        let mut old = figures.clone();
        old.updated_at = Utc::now() - chrono::Duration::seconds(6);
        std::fs::write(path(dir.path()), serde_json::to_vec(&old).unwrap()).unwrap();
        assert_eq!(read(dir.path()), None);

        drop(file);
        assert!(!path(dir.path()).exists());
    }

    #[test]
    fn nothing_is_written_without_the_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join(".ptrack");
        assert!(LiveFile::start(&missing).is_none());
        assert!(!missing.exists());
    }
}
