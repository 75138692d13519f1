//! Without a terminal (CI logs, a pipe): a summary of the same state, as one line of text
//! or one JSON object, every few seconds.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::{
    app::{App, Drain},
    panel::{duration, rate},
    verdict::{Status, Verdict},
};

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub at: DateTime<Utc>,
    pub group: Verdict,
    pub total_lag: Option<i64>,
    /// Seconds to drain at the current rate; `None` when drained, rising or unknown.
    pub drain_secs: Option<f64>,
    pub draining: Option<bool>,
    pub partitions: Vec<PartitionSummary>,
    pub accepted_per_sec: Option<f64>,
    pub rejected_per_sec: Option<f64>,
    pub inserted_per_sec: Option<f64>,
    pub dead_lettered_per_sec: Option<f64>,
    pub dlq_depth: Option<i64>,
    pub delay_p99_ms: Option<f64>,
    pub load_sent_per_sec: Option<f64>,
    /// Sources that do not answer, with why.
    pub errors: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartitionSummary {
    pub partition: i32,
    pub lag: Option<i64>,
    pub status: Status,
    pub reason: String,
}

pub fn summary(app: &App, at: DateTime<Utc>) -> Summary {
    let t = &app.throughput;
    let drain = app.drain();
    Summary {
        at,
        group: app.group_verdict(),
        total_lag: app.total_lag(),
        drain_secs: match drain {
            Drain::In(d) => Some(d.as_secs_f64()),
            _ => None,
        },
        draining: match drain {
            Drain::In(_) | Drain::Drained => Some(true),
            Drain::NotDraining => Some(false),
            Drain::Unknown => None,
        },
        partitions: app
            .partitions()
            .into_iter()
            .map(|(partition, last, v)| PartitionSummary {
                partition,
                lag: last.map(|s| s.lag),
                status: v.status,
                reason: v.reason,
            })
            .collect(),
        accepted_per_sec: t.accepted.last(),
        rejected_per_sec: t.rejected.last(),
        inserted_per_sec: app.inserted().0.last(),
        dead_lettered_per_sec: app.dead_lettered().0.last(),
        dlq_depth: app.lag.dlq.map(|d| d.depth),
        delay_p99_ms: app.delay.map(|d| d.p99.as_secs_f64() * 1000.0),
        load_sent_per_sec: app.live_load().map(|l| l.sent_rps),
        errors: app
            .sources
            .iter()
            .filter_map(|(s, state)| Some((s.to_string(), state.error.clone()?)))
            .collect(),
    }
}

/// `12:00:05Z ■ STALLED lag 42, not draining (partition 1: ...) | accepted 800/s ...`.
pub fn line(s: &Summary) -> String {
    let lag = s
        .total_lag
        .map_or_else(|| "-".to_owned(), |l| l.to_string());
    let drain = match (s.draining, s.drain_secs) {
        (Some(true), Some(secs)) => {
            format!(
                ", drains in {}",
                duration(std::time::Duration::from_secs_f64(secs))
            )
        }
        (Some(true), None) => ", drained".to_owned(),
        (Some(false), _) => ", not draining".to_owned(),
        (None, _) => String::new(),
    };
    let mut text = format!(
        "{} {} lag {lag}{drain} ({}) | accepted {} rejected {} inserted {} dead-lettered {} | dlq {}",
        s.at.to_rfc3339_opts(SecondsFormat::Secs, true),
        s.group.status,
        s.group.reason,
        rate(s.accepted_per_sec),
        rate(s.rejected_per_sec),
        rate(s.inserted_per_sec),
        rate(s.dead_lettered_per_sec),
        s.dlq_depth
            .map_or_else(|| "-".to_owned(), |d| d.to_string()),
    );
    if let Some(p99) = s.delay_p99_ms {
        text.push_str(&format!(" | delay p99 {p99:.0}ms"));
    }
    if let Some(sent) = s.load_sent_per_sec {
        text.push_str(&format!(" | load sent {}", rate(Some(sent))));
    }
    for (source, error) in &s.errors {
        text.push_str(&format!(" | {source}: no answer: {error}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use chrono::TimeZone;

    use super::*;
    use crate::tui::event::{
        Event, InsertedRows, LagOrigin, LagSnapshot, PartitionOffsets, SourceId,
    };

    #[test]
    fn the_summary_line_says_verdict_lag_rates_and_silent_sources() {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(60), Duration::from_secs(1), t0);
        for i in 0..=12u64 {
            let at = t0 + Duration::from_secs(i);
            app.update(Event::Lag(LagSnapshot {
                at,
                partitions: vec![PartitionOffsets {
                    partition: 0,
                    low_watermark: 0,
                    high_watermark: 50,
                    committed: Some(8),
                }],
                dlq: None,
                origin: LagOrigin::Broker,
            }));
            app.update(Event::Inserted(InsertedRows { at, rows: 250 * i }));
        }
        app.update(Event::SourceError {
            source: SourceId::Collectors,
            error: "connection refused".into(),
        });
        let at = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 5).unwrap();
        let text = line(&summary(&app, at));
        assert_eq!(
            text,
            "2026-12-03T12:00:05Z ■ STALLED lag 42, not draining (partition 0: 42 waiting and \
             the committed offset has not moved for 12s) | accepted - rejected - inserted 250/s \
             dead-lettered - | dlq - | collectors: no answer: connection refused"
        );
        let json = serde_json::to_value(summary(&app, at)).unwrap();
        assert_eq!(json["group"]["status"], "STALLED");
        assert_eq!(json["total_lag"], 42);
        assert_eq!(json["inserted_per_sec"], 250.0);
    }
}
