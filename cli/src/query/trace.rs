//! `ptrack query trace`: one event's journey through the pipeline, each stage with its
//! time and the delay from the stage before.
//!
//! The stages and where their times come from:
//! 1. created in the browser: the event's `timestamp` (the tracker's clock);
//! 2. received by the collector: `received_at` (the collector's clock, when the batch
//!    arrived);
//! 3. written to Kafka: the message's timestamp, partition and offset, recorded by the
//!    processor (rows stored before it did say "not recorded");
//! 4. stored by the processor: `inserted_at` (PostgreSQL's clock, when the batch was
//!    written).
//!
//! The clocks differ (the browser's is the user's), so a delay can be negative.

use std::io::Write;

use chrono::{DateTime, Utc};
use ptrack_wire::StoredEvent;
use serde::Serialize;

use super::time::rfc3339;

/// One stage of the journey.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// `browser`, `collector`, `kafka`, `processor`.
    pub stage: &'static str,
    /// What happened there, in words.
    pub what: &'static str,
    /// UTC RFC 3339 with milliseconds; `None` when the pipeline did not record it.
    pub at: Option<String>,
    /// Milliseconds since the previous known stage.
    pub delay_ms: Option<i64>,
    /// Kafka: `partition 1, offset 42`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip)]
    time: Option<DateTime<Utc>>,
}

/// The JSON of `trace -o json`.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub event_id: uuid::Uuid,
    pub event_type: String,
    pub page_path: Option<String>,
    pub component_name: Option<String>,
    pub kafka_partition: Option<i32>,
    pub kafka_offset: Option<i64>,
    pub stages: Vec<Stage>,
    /// From the browser to the database, in milliseconds.
    pub total_ms: i64,
}

impl Trace {
    pub fn new(event: &StoredEvent) -> Self {
        let kafka_detail = match (event.kafka_partition, event.kafka_offset) {
            (Some(p), Some(o)) => Some(format!("partition {p}, offset {o}")),
            _ => None,
        };
        let raw = [
            (
                "browser",
                "created in the browser",
                Some(event.timestamp),
                None,
            ),
            (
                "collector",
                "received by the collector",
                Some(event.received_at),
                None,
            ),
            (
                "kafka",
                "written to Kafka",
                event.kafka_timestamp,
                kafka_detail,
            ),
            (
                "processor",
                "stored by the processor",
                Some(event.inserted_at),
                None,
            ),
        ];
        let mut previous: Option<DateTime<Utc>> = None;
        let stages = raw
            .into_iter()
            .map(|(stage, what, time, detail)| {
                let delay_ms = match (previous, time) {
                    (Some(p), Some(t)) => Some(t.signed_duration_since(p).num_milliseconds()),
                    _ => None,
                };
                if time.is_some() {
                    previous = time;
                }
                Stage {
                    stage,
                    what,
                    at: time.map(rfc3339),
                    delay_ms,
                    detail,
                    time,
                }
            })
            .collect();
        Self {
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            page_path: event.page_path.clone(),
            component_name: event.component_name.clone(),
            kafka_partition: event.kafka_partition,
            kafka_offset: event.kafka_offset,
            stages,
            total_ms: event
                .inserted_at
                .signed_duration_since(event.timestamp)
                .num_milliseconds(),
        }
    }

    /// The journey as aligned text.
    pub fn write_text(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut about = format!("event {} {}", self.event_id, self.event_type);
        if let Some(page) = &self.page_path {
            about.push_str(&format!(" on {page}"));
        }
        if let Some(component) = &self.component_name {
            about.push_str(&format!(" ({component})"));
        }
        writeln!(out, "{about}")?;
        let what_width = self.stages.iter().map(|s| s.what.len()).max().unwrap_or(0);
        writeln!(
            out,
            "  {:<what_width$}  {:<24}  {:>9}",
            "STAGE", "TIME (UTC)", "DELAY"
        )?;
        for stage in &self.stages {
            let at = stage.at.as_deref().unwrap_or("not recorded");
            let delay = stage.delay_ms.map(signed_ms).unwrap_or_default();
            let mut line = format!("  {:<what_width$}  {at:<24}  {delay:>9}", stage.what);
            if let Some(detail) = &stage.detail {
                line.push_str(&format!("  {detail}"));
            } else if stage.time.is_none() {
                line.push_str("  (stored before the processor recorded it)");
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        writeln!(
            out,
            "  {:<what_width$}  {:<24}  {:>9}",
            "browser to database",
            "",
            signed_ms(self.total_ms)
        )?;
        Ok(())
    }
}

/// `+12ms`, `-3ms`, `+1.250s`.
fn signed_ms(ms: i64) -> String {
    let sign = if ms < 0 { '-' } else { '+' };
    let abs = ms.unsigned_abs();
    if abs < 10_000 {
        format!("{sign}{abs}ms")
    } else {
        format!("{sign}{}.{:03}s", abs / 1000, abs % 1000)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(kafka: bool) -> StoredEvent {
        let at = |ms| DateTime::from_timestamp_millis(ms).unwrap();
        StoredEvent {
            event_id: uuid::Uuid::nil(),
            event_type: "CLICK".into(),
            location_type: "COMPONENT".into(),
            component_name: Some("Buy".into()),
            page_path: Some("/pricing".into()),
            page_title: None,
            timestamp: at(1_764_756_000_000),
            user_metadata: json!({}),
            full_event_data: json!({}),
            received_at: at(1_764_756_000_012),
            app_name: None,
            app_version: None,
            session_id: None,
            anonymous_id: None,
            inserted_at: at(1_764_756_000_140),
            kafka_partition: kafka.then_some(1),
            kafka_offset: kafka.then_some(42),
            kafka_timestamp: kafka.then(|| at(1_764_756_000_015)),
        }
    }

    #[test]
    fn each_stage_has_its_time_and_the_delay_from_the_one_before() {
        let trace = Trace::new(&event(true));
        let delays: Vec<Option<i64>> = trace.stages.iter().map(|s| s.delay_ms).collect();
        assert_eq!(delays, [None, Some(12), Some(3), Some(125)]);
        assert_eq!(trace.total_ms, 140);
        let mut out = Vec::new();
        trace.write_text(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for needle in [
            "CLICK on /pricing (Buy)",
            "2025-12-03T10:00:00.015Z",
            "+3ms  partition 1, offset 42",
            "+125ms",
            "+140ms",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }

    #[test]
    fn an_old_row_says_the_kafka_stage_was_not_recorded() {
        let trace = Trace::new(&event(false));
        assert_eq!(trace.stages[2].at, None);
        assert_eq!(trace.stages[3].delay_ms, Some(128), "from the collector");
        let mut out = Vec::new();
        trace.write_text(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("not recorded"), "{text}");
        assert_eq!(signed_ms(-7), "-7ms");
        assert_eq!(signed_ms(12_345), "+12.345s");
    }
}
