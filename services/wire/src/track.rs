//! The collector's `POST /track`.
//!
//! The collector itself does not parse requests with [`TrackBatch`]: it keeps each event
//! as raw JSON text borrowed from the body (`ptrack_common::event::TrackRequest`), which
//! is faster and lets it reject one bad event by index. [`TrackBatch`] is for clients
//! that build a batch; it serializes to the same shape.

use serde::{Deserialize, Serialize};

/// A tracker's batch: `{"events": [...], "appName": "...", "appVersion": "..."}`, the
/// original browser tracker's body. `E` is whatever a client holds an event as (a
/// `serde_json::Value` by default, or a typed event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackBatch<E = serde_json::Value> {
    pub events: Vec<E>,
    #[serde(rename = "appName", default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    #[serde(
        rename = "appVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub app_version: Option<String>,
}

/// What the collector answers to a batch (200, or 400 when no event was valid).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackResponse {
    /// Events the broker has acknowledged.
    pub accepted: usize,
    /// Events refused by validation, each with why.
    #[serde(default)]
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// The event's position in the batch's `events`, from 0.
    pub index: usize,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_response_round_trips_and_keeps_its_shape() {
        let response = TrackResponse {
            accepted: 2,
            rejected: vec![Rejected {
                index: 1,
                reason: "event_type must be 1 to 64 characters".into(),
            }],
        };
        assert_eq!(crate::round_trip(&response), response);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"accepted": 2, "rejected": [{"index": 1, "reason": "event_type must be 1 to 64 characters"}]})
        );
        // An answer without `rejected` reads as none rejected.
        let short: TrackResponse = serde_json::from_str(r#"{"accepted": 3}"#).unwrap();
        assert_eq!(short.accepted, 3);
        assert!(short.rejected.is_empty());
    }

    #[test]
    fn the_batch_round_trips_in_the_trackers_field_names() {
        let batch = TrackBatch {
            events: vec![json!({"event_id": "2f1c4f0e-8a3b-4c55-9d3e-1a2b3c4d5e6f"})],
            app_name: Some("shop".into()),
            app_version: Some("1.2.3".into()),
        };
        assert_eq!(crate::round_trip(&batch), batch);
        let value = serde_json::to_value(&batch).unwrap();
        assert_eq!(value["appName"], "shop");
        assert_eq!(value["appVersion"], "1.2.3");
        let bare: TrackBatch = serde_json::from_str(r#"{"events": []}"#).unwrap();
        assert_eq!(bare.app_name, None);
        assert_eq!(serde_json::to_string(&bare).unwrap(), r#"{"events":[]}"#);
    }
}
