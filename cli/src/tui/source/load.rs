//! A running `ptrack load`'s figures: it keeps `<data dir>/load-live.json` up to date once
//! a second ([`crate::load::live`] describes the file); this source reads it every
//! refresh and sends what it finds. No file, or a stale one (a load that ended or was
//! killed), sends nothing: the throughput panel then shows no load.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pause;
use crate::{
    load::live::{self, LiveFigures},
    tui::event::{Event, LoadFigures},
};

pub async fn run(
    data_dir: PathBuf,
    refresh: Duration,
    tx: mpsc::Sender<Event>,
    cancel: CancellationToken,
) {
    loop {
        if let Some(figures) = live::read(&data_dir)
            && tx
                .send(Event::Load(figures_at(&figures, Instant::now())))
                .await
                .is_err()
        {
            return;
        }
        if !pause(refresh, &tx, &cancel).await {
            return;
        }
    }
}

/// The figures, dated by when the load wrote them (`now` less their age), so a file read
/// twice does not count as two fresh readings.
pub fn figures_at(figures: &LiveFigures, now: Instant) -> LoadFigures {
    let age = chrono::Utc::now()
        .signed_duration_since(figures.updated_at)
        .to_std()
        .unwrap_or_default();
    LoadFigures {
        at: now.checked_sub(age).unwrap_or(now),
        pid: figures.pid,
        target_rps: figures.target_rps,
        sent_rps: figures.sent_rps,
        corrected_p99_ms: figures.corrected_p99_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_are_dated_by_when_the_load_wrote_them() {
        let now = Instant::now();
        let figures = LiveFigures {
            pid: 42,
            started_at: chrono::Utc::now() - chrono::Duration::seconds(30),
            updated_at: chrono::Utc::now() - chrono::Duration::seconds(2),
            target_rps: Some(500.0),
            sent_rps: 499.5,
            corrected_p99_ms: 8.25,
            accepted_events: 1000,
            rejected_events: 0,
            errors: 0,
        };
        let read = figures_at(&figures, now);
        assert_eq!(read.pid, 42);
        assert_eq!((read.target_rps, read.sent_rps), (Some(500.0), 499.5));
        assert_eq!(read.corrected_p99_ms, 8.25);
        let age = now - read.at;
        assert!(
            (Duration::from_millis(1900)..Duration::from_millis(2500)).contains(&age),
            "{age:?}"
        );
    }
}
