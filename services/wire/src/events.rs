//! The events-api's bodies: the items of `GET /events` and the `GET /stats` answer.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The header of a `GET /events` page that may have a next one: its value is the
/// `cursor` parameter that asks for it.
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// One stored event, an item of `GET /events`. Scripts read this JSON: a field is never
/// renamed or removed. A new one is an `Option` that is left out when empty
/// (`#[serde(default, skip_serializing_if = "Option::is_none")]`), so old clients
/// ignore it and new clients read old servers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub event_id: Uuid,
    pub event_type: String,
    /// `COMPONENT` or `PAGE`.
    pub location_type: String,
    pub component_name: Option<String>,
    pub page_path: Option<String>,
    pub page_title: Option<String>,
    /// The event's time in the browser; Unix milliseconds in JSON, as the tracker sent it.
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub timestamp: DateTime<Utc>,
    pub user_metadata: Value,
    pub full_event_data: Value,
    /// When the collector received the batch.
    pub received_at: DateTime<Utc>,
    pub app_name: Option<String>,
    pub app_version: Option<String>,
    pub session_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// When the processor's insert committed.
    pub inserted_at: DateTime<Utc>,
    /// The Kafka partition the event was read from. Rows stored before the processor
    /// recorded it have none; the field is then left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_partition: Option<i32>,
    /// The message's offset in that partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_offset: Option<i64>,
    /// The message's Kafka timestamp: when the collector's producer wrote it (or when the
    /// broker appended it, on a topic with `LogAppendTime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_timestamp: Option<DateTime<Utc>>,
}

/// `GET /stats`: counts over `[since, until)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub total: i64,
    pub by_type: BTreeMap<String, i64>,
    /// Minutes with at least one event, oldest first.
    pub by_minute: Vec<MinuteCount>,
    /// Counts by page path, only when asked for (`by=page`); events without a page
    /// count under [`NO_VALUE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_page: Option<BTreeMap<String, i64>>,
    /// Counts by component name, only when asked for (`by=component`); events without a
    /// component (page views) count under [`NO_VALUE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_component: Option<BTreeMap<String, i64>>,
}

/// The key of `by_page` / `by_component` for events without a page or component.
pub const NO_VALUE: &str = "(none)";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteCount {
    /// The start of the minute.
    pub minute: DateTime<Utc>,
    pub total: i64,
    pub by_type: BTreeMap<String, i64>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event() -> StoredEvent {
        let at = |ms| DateTime::from_timestamp_millis(ms).unwrap();
        StoredEvent {
            event_id: Uuid::new_v4(),
            event_type: "CLICK".into(),
            location_type: "COMPONENT".into(),
            component_name: Some("SignupButton".into()),
            page_path: Some("/pricing".into()),
            page_title: None,
            timestamp: at(1_764_000_000_123),
            user_metadata: json!({"userAgent": "Mozilla/5.0"}),
            full_event_data: json!({"event_type": "CLICK"}),
            received_at: DateTime::from_timestamp_micros(1_764_000_000_200_345).unwrap(),
            app_name: Some("shop".into()),
            app_version: None,
            session_id: Some("s-1".into()),
            anonymous_id: None,
            inserted_at: DateTime::from_timestamp_micros(1_764_000_000_300_678).unwrap(),
            kafka_partition: None,
            kafka_offset: None,
            kafka_timestamp: None,
        }
    }

    #[test]
    fn a_stored_event_round_trips_with_its_timestamp_in_unix_ms() {
        let event = event();
        assert_eq!(crate::round_trip(&event), event);
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value["timestamp"], 1_764_000_000_123_i64);
        assert_eq!(value["received_at"], "2025-11-24T16:00:00.200345Z");
        // Empty optional fields are written as null, as they always were.
        assert!(value["page_title"].is_null());
        assert_eq!(value.as_object().unwrap().len(), 15);
    }

    #[test]
    fn a_stored_event_reads_with_fields_it_does_not_know() {
        let mut value = serde_json::to_value(event()).unwrap();
        value["stored_by"] = json!("processor-2");
        let read: StoredEvent = serde_json::from_value(value).unwrap();
        assert_eq!(read.event_type, "CLICK");
    }

    #[test]
    fn the_kafka_position_is_written_only_when_known() {
        let mut event = event();
        event.kafka_partition = Some(2);
        event.kafka_offset = Some(42);
        event.kafka_timestamp = DateTime::from_timestamp_millis(1_764_000_000_150);
        assert_eq!(crate::round_trip(&event), event);
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value.as_object().unwrap().len(), 18);
        assert_eq!(value["kafka_partition"], 2);
        assert_eq!(value["kafka_offset"], 42);
        assert_eq!(value["kafka_timestamp"], "2025-11-24T16:00:00.150Z");
        // An old server's body (15 fields) still reads, with no position.
        let mut old = value;
        for field in ["kafka_partition", "kafka_offset", "kafka_timestamp"] {
            old.as_object_mut().unwrap().remove(field);
        }
        let read: StoredEvent = serde_json::from_value(old).unwrap();
        assert_eq!(read.kafka_offset, None);
    }

    #[test]
    fn stats_round_trip() {
        let minute = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let stats = Stats {
            since: minute,
            until: minute + chrono::Duration::hours(1),
            total: 3,
            by_type: BTreeMap::from([("CLICK".into(), 2), ("PAGE_VIEW".into(), 1)]),
            by_minute: vec![MinuteCount {
                minute,
                total: 3,
                by_type: BTreeMap::from([("CLICK".into(), 2), ("PAGE_VIEW".into(), 1)]),
            }],
            by_page: None,
            by_component: None,
        };
        assert_eq!(crate::round_trip(&stats), stats);
        let value = serde_json::to_value(&stats).unwrap();
        assert!(value.get("by_page").is_none(), "left out unless asked for");
        let with_pages = Stats {
            by_page: Some(BTreeMap::from([("/".into(), 3)])),
            ..stats
        };
        assert_eq!(crate::round_trip(&with_pages), with_pages);
    }
}
