//! The event as trackers send it, checked into typed values, and the Kafka message that
//! carries it from the collector to the processor.
//!
//! The wire format is the original browser tracker's `POST /track` body:
//! `{"events": [...], "appName": "...", "appVersion": "..."}`. It must keep working
//! unchanged; `session_id` and `anonymous_id` are optional additions of the new tracker.

use std::{borrow::Cow, collections::BTreeMap};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

/// Bounds on what one request may carry. Anything larger is rejected with a reason,
/// never truncated.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_events_per_batch: usize,
    pub max_string_len: usize,
    pub max_metadata_depth: usize,
    pub max_metadata_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_events_per_batch: 500,
            max_string_len: 2048,
            max_metadata_depth: 8,
            max_metadata_bytes: 16 * 1024,
        }
    }
}

/// The body of `POST /track`. Events stay as raw JSON text here, borrowed from the body,
/// so that one bad event is reported by index instead of failing the whole batch, and an
/// accepted event travels on exactly as the tracker sent it.
#[derive(Debug, Deserialize)]
pub struct TrackRequest<'a> {
    #[serde(borrow)]
    pub events: Vec<&'a RawValue>,
    #[serde(rename = "appName", default, borrow)]
    pub app_name: Option<Cow<'a, str>>,
    #[serde(rename = "appVersion", default, borrow)]
    pub app_version: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LocationType {
    Component,
    Page,
}

impl LocationType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Component => "COMPONENT",
            Self::Page => "PAGE",
        }
    }
}

/// `dom_info` as the tracker sends it (`className` is camel case there).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DomInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "className", default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// One tracker event, in the tracker's own field names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub location_type: LocationType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_title: Option<String>,
    /// Unix milliseconds, as the browser's `Date.now()` gives it.
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dom_info: Option<DomInfo>,
    /// Kept as the tracker's JSON text: it is checked (an object, its depth and size)
    /// and stored as it came, never rebuilt.
    #[serde(default = "empty_object")]
    pub user_metadata: Box<RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("{} is JSON")
}

/// Earliest and latest event times accepted: 2000-01-01 and 2100-01-01. A timestamp
/// outside is a seconds/milliseconds mix-up or garbage.
const MIN_TIMESTAMP_MS: i64 = 946_684_800_000;
const MAX_TIMESTAMP_MS: i64 = 4_102_444_800_000;

impl TrackEvent {
    /// Parses and checks one event from its JSON text. The error is the reason a client
    /// is told.
    pub fn from_json(json: &str, limits: &Limits) -> Result<Self, String> {
        if !json.trim_start().starts_with('{') {
            return Err("an event must be a JSON object".into());
        }
        let event: Self = serde_json::from_str(json).map_err(|err| err.to_string())?;
        event.check(limits)?;
        Ok(event)
    }

    fn check(&self, limits: &Limits) -> Result<(), String> {
        let name = &self.event_type;
        if name.is_empty() || name.len() > 64 {
            return Err("event_type must be 1 to 64 characters".into());
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        {
            return Err("event_type may hold only letters, digits, '_', '-', '.' and ':'".into());
        }
        let strings = [
            ("component_name", self.component_name.as_deref()),
            ("page_path", self.page_path.as_deref()),
            ("page_title", self.page_title.as_deref()),
            ("session_id", self.session_id.as_deref()),
            ("anonymous_id", self.anonymous_id.as_deref()),
        ];
        let dom = self.dom_info.as_ref();
        let dom_strings = [
            ("dom_info.tag", dom.and_then(|d| d.tag.as_deref())),
            ("dom_info.id", dom.and_then(|d| d.id.as_deref())),
            (
                "dom_info.className",
                dom.and_then(|d| d.class_name.as_deref()),
            ),
            ("dom_info.text", dom.and_then(|d| d.text.as_deref())),
        ];
        for (field, value) in strings.into_iter().chain(dom_strings) {
            if let Some(value) = value
                && value.len() > limits.max_string_len
            {
                return Err(format!(
                    "{field} is {} bytes; at most {} are accepted",
                    value.len(),
                    limits.max_string_len
                ));
            }
        }
        if !(MIN_TIMESTAMP_MS..MAX_TIMESTAMP_MS).contains(&self.timestamp) {
            return Err(format!(
                "timestamp {} is not Unix milliseconds between 2000 and 2100",
                self.timestamp
            ));
        }
        if !self.user_metadata.get().starts_with('{') {
            return Err("user_metadata must be a JSON object".into());
        }
        let JsonShape { depth, compact_len } = JsonShape::of(self.user_metadata.get());
        if depth > limits.max_metadata_depth {
            return Err(format!(
                "user_metadata is nested {depth} levels deep; at most {} are accepted",
                limits.max_metadata_depth
            ));
        }
        if compact_len > limits.max_metadata_bytes {
            return Err(format!(
                "user_metadata is {compact_len} bytes; at most {} are accepted",
                limits.max_metadata_bytes
            ));
        }
        Ok(())
    }

    /// The Kafka key: one session's (or one user's) events land on one partition and so
    /// stay in order. Events of the original tracker carry neither; their order is by
    /// `timestamp` only.
    pub fn partition_key(&self) -> String {
        self.session_id
            .clone()
            .or_else(|| self.anonymous_id.clone())
            .or_else(|| self.metadata_user_key())
            .unwrap_or_else(|| self.event_id.to_string())
    }

    /// The first string among the metadata's session or user id fields.
    fn metadata_user_key(&self) -> Option<String> {
        let fields: BTreeMap<Cow<'_, str>, &RawValue> =
            serde_json::from_str(self.user_metadata.get()).ok()?;
        ["sessionId", "session_id", "userId", "user_id"]
            .iter()
            .filter_map(|key| fields.get(*key))
            .find_map(|value| serde_json::from_str::<String>(value.get()).ok())
    }
}

/// What the limits look at in a JSON text that serde has already checked.
#[derive(Debug, PartialEq)]
struct JsonShape {
    /// Nesting of objects and arrays: `{}` is 1, `{"a": [1]}` is 2, a scalar 0.
    depth: usize,
    /// Bytes without the whitespace between tokens, escapes counted as written.
    compact_len: usize,
}

impl JsonShape {
    fn of(json: &str) -> Self {
        let (mut depth, mut max_depth, mut compact_len) = (0usize, 0, 0);
        let (mut in_string, mut escaped) = (false, false);
        for &byte in json.as_bytes() {
            if in_string {
                match byte {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
            } else {
                match byte {
                    b' ' | b'\t' | b'\n' | b'\r' => continue,
                    b'"' => in_string = true,
                    b'{' | b'[' => {
                        depth += 1;
                        max_depth = max_depth.max(depth);
                    }
                    b'}' | b']' => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
            compact_len += 1;
        }
        Self {
            depth: max_depth,
            compact_len,
        }
    }
}

/// What the collector writes to Kafka for each accepted event, and the processor reads.
/// It borrows from the bytes it is read from, so the event's text is never copied.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventMessage<'a> {
    /// The event exactly as the tracker sent it; it becomes `full_event_data`.
    #[serde(borrow)]
    pub event: &'a RawValue,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<Cow<'a, str>>,
    /// When the collector accepted it, Unix milliseconds.
    pub received_at: i64,
}

/// A message read back from Kafka, checked again: anything can be written to a topic.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    pub event: TrackEvent,
    /// The event's JSON text as the tracker sent it.
    pub full_event_data: String,
    pub app_name: Option<String>,
    pub app_version: Option<String>,
    pub received_at: i64,
}

impl ReceivedEvent {
    pub fn decode(payload: &[u8], limits: &Limits) -> Result<Self, String> {
        let message: EventMessage = serde_json::from_slice(payload)
            .map_err(|err| format!("not an event message: {err}"))?;
        let full_event_data = message.event.get();
        let event = TrackEvent::from_json(full_event_data, limits)?;
        Ok(Self {
            event,
            full_event_data: full_event_data.to_owned(),
            app_name: message.app_name.map(Cow::into_owned),
            app_version: message.app_version.map(Cow::into_owned),
            received_at: message.received_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn from_value(value: &Value, limits: &Limits) -> Result<TrackEvent, String> {
        TrackEvent::from_json(&value.to_string(), limits)
    }

    fn original() -> Value {
        json!({
            "event_id": "2f1c4f0e-8a3b-4c55-9d3e-1a2b3c4d5e6f",
            "event_type": "CLICK",
            "location_type": "COMPONENT",
            "component_name": "SignupButton",
            "page_path": "/pricing",
            "page_title": "Pricing",
            "timestamp": 1_732_000_000_000_i64,
            "dom_info": {"tag": "BUTTON", "id": "signup", "className": "btn primary", "text": "Sign up"},
            "user_metadata": {"userAgent": "Mozilla/5.0", "screen": {"w": 1920, "h": 1080}}
        })
    }

    #[test]
    fn the_original_tracker_event_parses_with_every_field() {
        let event = from_value(&original(), &Limits::default()).unwrap();
        assert_eq!(event.event_type, "CLICK");
        assert_eq!(event.location_type, LocationType::Component);
        assert_eq!(event.component_name.as_deref(), Some("SignupButton"));
        assert_eq!(
            event.dom_info.unwrap().class_name.as_deref(),
            Some("btn primary")
        );
        let metadata: Value = serde_json::from_str(event.user_metadata.get()).unwrap();
        assert_eq!(metadata, original()["user_metadata"]);
    }

    #[test]
    fn bad_events_say_why() {
        let limits = Limits::default();
        let mut no_id = original();
        no_id.as_object_mut().unwrap().remove("event_id");
        assert!(
            from_value(&no_id, &limits)
                .unwrap_err()
                .contains("event_id")
        );

        let mut bad_location = original();
        bad_location["location_type"] = json!("WINDOW");
        assert!(
            from_value(&bad_location, &limits)
                .unwrap_err()
                .contains("WINDOW")
        );

        let mut seconds = original();
        seconds["timestamp"] = json!(1_732_000_000);
        assert!(
            from_value(&seconds, &limits)
                .unwrap_err()
                .contains("milliseconds")
        );

        let mut deep = original();
        deep["user_metadata"] = json!({"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}});
        assert!(from_value(&deep, &limits).unwrap_err().contains("nested"));

        let mut long = original();
        long["page_title"] = json!("x".repeat(5000));
        assert!(
            from_value(&long, &limits)
                .unwrap_err()
                .contains("page_title")
        );

        assert!(from_value(&json!([1]), &limits).is_err());

        let mut list = original();
        list["user_metadata"] = json!([{"a": 1}]);
        assert!(from_value(&list, &limits).unwrap_err().contains("object"));
        let spaced = original()
            .to_string()
            .replace(r#""user_metadata":"#, "\"user_metadata\":\n  ");
        assert!(TrackEvent::from_json(&spaced, &limits).is_ok(), "{spaced}");
    }

    #[test]
    fn a_session_keeps_its_partition_key() {
        let mut event = original();
        event["session_id"] = json!("s-1");
        let parsed = from_value(&event, &Limits::default()).unwrap();
        assert_eq!(parsed.partition_key(), "s-1");
        let anonymous = from_value(&original(), &Limits::default()).unwrap();
        assert_eq!(anonymous.partition_key(), anonymous.event_id.to_string());
        let mut in_metadata = original();
        in_metadata["user_metadata"] = json!({"sessionId": 7, "userId": "u-9"});
        let parsed = from_value(&in_metadata, &Limits::default()).unwrap();
        assert_eq!(
            parsed.partition_key(),
            "u-9",
            "the first id that is a string"
        );
    }

    #[test]
    fn a_message_round_trips_and_garbage_is_refused() {
        let event = serde_json::value::to_raw_value(&original()).unwrap();
        let message = EventMessage {
            event: &event,
            app_name: Some("shop".into()),
            app_version: Some("1.2.3".into()),
            received_at: 1_732_000_000_500,
        };
        let bytes = serde_json::to_vec(&message).unwrap();
        let received = ReceivedEvent::decode(&bytes, &Limits::default()).unwrap();
        let stored: Value = serde_json::from_str(&received.full_event_data).unwrap();
        assert_eq!(stored, original());
        assert_eq!(received.app_name.as_deref(), Some("shop"));
        assert!(ReceivedEvent::decode(b"\xff garbage", &Limits::default()).is_err());
    }

    #[test]
    fn the_tracker_text_travels_unchanged_and_metadata_size_is_its_compact_length() {
        let sent = r#"{ "event_id": "2f1c4f0e-8a3b-4c55-9d3e-1a2b3c4d5e6f", "event_type": "PAGE_VIEW",
            "location_type": "PAGE", "timestamp": 1732000000000, "user_metadata": {"a": [1, 2]} }"#;
        let body = format!(r#"{{"events": [{sent}], "appName": "sh\"op"}}"#);
        let request: TrackRequest = serde_json::from_str(&body).unwrap();
        assert_eq!(request.events[0].get(), sent);
        assert_eq!(request.app_name.as_deref(), Some("sh\"op"));

        let metadata = json!({"a": [1, 2], "b": {"c": "d\"e { ["}});
        let pretty = serde_json::to_string_pretty(&metadata).unwrap();
        assert_eq!(
            JsonShape::of(&pretty),
            JsonShape {
                depth: 2,
                compact_len: metadata.to_string().len()
            }
        );
        assert_eq!(JsonShape::of("{}").depth, 1);
        assert_eq!(JsonShape::of(r#"{"a":"\\","b":[[{}]]}"#).depth, 4);
        let limits = Limits {
            max_metadata_bytes: metadata.to_string().len() - 1,
            ..Limits::default()
        };
        let mut event = original();
        event["user_metadata"] = metadata;
        assert!(from_value(&event, &limits).unwrap_err().contains("bytes"));
    }
}
