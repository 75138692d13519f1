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
    /// Nesting of the whole event, unknown fields included. The events-api reads
    /// `full_event_data` back with serde_json, whose recursion limit is 128: an event it
    /// could not read would break every page that holds it.
    pub max_event_depth: usize,
    /// The whole event's compact size, unknown fields included: it is stored as it came.
    pub max_event_bytes: usize,
    /// `appName` and `appVersion`, which are copied into every event's message.
    pub max_app_field_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_events_per_batch: 500,
            max_string_len: 2048,
            max_metadata_depth: 8,
            max_metadata_bytes: 16 * 1024,
            max_event_depth: 32,
            max_event_bytes: 64 * 1024,
            max_app_field_len: 256,
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
    /// The collector's write key, for `navigator.sendBeacon`, which cannot set the
    /// `X-Ptrack-Key` header. Checked by the collector, never copied into a message.
    #[serde(rename = "writeKey", default, borrow)]
    pub write_key: Option<Cow<'a, str>>,
}

impl TrackRequest<'_> {
    /// Checks `appName` and `appVersion`, which every accepted event carries: bounded,
    /// and storable as PostgreSQL text. The error is the reason a client is told.
    pub fn check_app_fields(&self, limits: &Limits) -> Result<(), String> {
        for (field, value) in [
            ("appName", self.app_name.as_deref()),
            ("appVersion", self.app_version.as_deref()),
        ] {
            let Some(value) = value else { continue };
            if value.len() > limits.max_app_field_len {
                return Err(format!(
                    "{field} is {} bytes; at most {} are accepted",
                    value.len(),
                    limits.max_app_field_len
                ));
            }
            if value.contains('\0') {
                return Err(format!(
                    "{field} contains a NUL character (\\u0000), which cannot be stored"
                ));
            }
        }
        Ok(())
    }
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
        // The whole text, unknown fields included, is stored as `full_event_data` and
        // read back by the events-api: what PostgreSQL or serde_json would refuse there
        // is refused here, with the reason.
        let shape = JsonShape::scan(json)?;
        if shape.depth > limits.max_event_depth {
            return Err(format!(
                "the event is nested {} levels deep; at most {} are accepted",
                shape.depth, limits.max_event_depth
            ));
        }
        if shape.compact_len > limits.max_event_bytes {
            return Err(format!(
                "the event is {} bytes; at most {} are accepted",
                shape.compact_len, limits.max_event_bytes
            ));
        }
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
        let JsonShape { depth, compact_len } = JsonShape::scan(self.user_metadata.get())?;
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

/// Longest number text accepted. JavaScript never writes more than 25 characters for a
/// number; a longer one carries digits that neither f64 nor a reader keeps, and a
/// number's digits are what PostgreSQL's `numeric` (inside `jsonb`) limits.
const MAX_NUMBER_LEN: usize = 40;

/// What the limits look at in a JSON text that serde has already checked.
#[derive(Debug, PartialEq)]
struct JsonShape {
    /// Nesting of objects and arrays: `{}` is 1, `{"a": [1]}` is 2, a scalar 0.
    depth: usize,
    /// Bytes without the whitespace between tokens, escapes counted as written.
    compact_len: usize,
}

impl JsonShape {
    /// Measures a JSON text that serde has already checked for syntax, and refuses what
    /// it holds that cannot be stored and read back: a NUL (`\u0000`, which PostgreSQL's
    /// `jsonb` and `text` refuse), a lone UTF-16 surrogate escape (`\ud800`, refused by
    /// `jsonb` and by serde_json when the events-api reads the row), and a number that
    /// is not a finite f64 (`1e400` is stored by `jsonb` but serde_json cannot read it
    /// back) or has more digits than [`MAX_NUMBER_LEN`].
    fn scan(json: &str) -> Result<Self, String> {
        let bytes = json.as_bytes();
        let (mut depth, mut max_depth, mut compact_len) = (0usize, 0, 0);
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b' ' | b'\t' | b'\n' | b'\r' => i += 1,
                b'"' => {
                    let end = scan_string(bytes, i + 1)?;
                    compact_len += end - i;
                    i = end;
                }
                b'-' | b'0'..=b'9' => {
                    let start = i;
                    while i < bytes.len()
                        && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                    {
                        i += 1;
                    }
                    check_number(&json[start..i])?;
                    compact_len += i - start;
                }
                byte => {
                    match byte {
                        b'{' | b'[' => {
                            depth += 1;
                            max_depth = max_depth.max(depth);
                        }
                        b'}' | b']' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    compact_len += 1;
                    i += 1;
                }
            }
        }
        Ok(Self {
            depth: max_depth,
            compact_len,
        })
    }
}

/// Checks the string that starts at `start` (after its opening quote) and returns the
/// index after its closing quote.
fn scan_string(bytes: &[u8], start: usize) -> Result<usize, String> {
    const LONE: &str =
        "the event contains a lone UTF-16 surrogate escape (like \\ud800), which cannot be stored";
    let mut i = start;
    // The previous escape was a high surrogate: a low one must follow at once.
    let mut awaiting_low = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' if !awaiting_low => return Ok(i + 1),
            b'\\' if bytes.get(i + 1) == Some(&b'u') => {
                let code = bytes
                    .get(i + 2..i + 6)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u16::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| "the event has a bad \\u escape".to_owned())?;
                match code {
                    0 => {
                        return Err("the event contains a NUL character (\\u0000), which \
                                    cannot be stored"
                            .into());
                    }
                    0xD800..=0xDBFF if !awaiting_low => awaiting_low = true,
                    0xDC00..=0xDFFF if awaiting_low => awaiting_low = false,
                    _ if awaiting_low => return Err(LONE.into()),
                    0xD800..=0xDFFF => return Err(LONE.into()),
                    _ => {}
                }
                i += 6;
            }
            _ if awaiting_low => return Err(LONE.into()),
            // Any other escape is two bytes; the escaped byte is never a quote's end.
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    Err("the event has an unterminated string".into())
}

fn check_number(text: &str) -> Result<(), String> {
    if text.len() > MAX_NUMBER_LEN {
        return Err(format!(
            "the event has a number of {} characters; at most {MAX_NUMBER_LEN} are accepted",
            text.len()
        ));
    }
    let value: f64 = text
        .parse()
        .map_err(|_| format!("the event has a malformed number {text}"))?;
    if !value.is_finite() {
        return Err(format!(
            "the event has the number {text}, beyond what a 64-bit float holds (about 1.8e308)"
        ));
    }
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    if value == 0.0 && mantissa.bytes().any(|b| matches!(b, b'1'..=b'9')) {
        return Err(format!(
            "the event has the number {text}, too close to zero for a 64-bit float"
        ));
    }
    Ok(())
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
            JsonShape::scan(&pretty).unwrap(),
            JsonShape {
                depth: 2,
                compact_len: metadata.to_string().len()
            }
        );
        assert_eq!(JsonShape::scan("{}").unwrap().depth, 1);
        assert_eq!(
            JsonShape::scan(r#"{"a":"\\","b":[[{}]]}"#).unwrap().depth,
            4
        );
        let limits = Limits {
            max_metadata_bytes: metadata.to_string().len() - 1,
            ..Limits::default()
        };
        let mut event = original();
        event["user_metadata"] = metadata;
        assert!(from_value(&event, &limits).unwrap_err().contains("bytes"));
    }

    /// What PostgreSQL's `jsonb` or serde_json (reading the row back) refuse is refused
    /// here, with the reason; what both take is accepted.
    #[test]
    fn what_cannot_be_stored_or_read_back_is_refused_with_the_reason() {
        let limits = Limits::default();
        let with_metadata = |metadata: &str| {
            original().to_string().replace(
                r#""user_metadata":{"#,
                &format!(r#""user_metadata":{metadata},"old":{{"#),
            )
        };
        for (metadata, reason) in [
            (r#"{"n":1e400}"#, "64-bit float"),
            (r#"{"n":-1e309}"#, "64-bit float"),
            (r#"{"n":1e-400}"#, "too close to zero"),
            (&format!(r#"{{"n":1{}}}"#, "0".repeat(400)), "characters"),
            (r#"{"s":"a\u0000b"}"#, "NUL"),
            (r#"{"a\u0000":1}"#, "NUL"),
            (r#"{"s":"\ud800"}"#, "surrogate"),
            (r#"{"s":"\udc00x"}"#, "surrogate"),
            (r#"{"s":"\ud800\n"}"#, "surrogate"),
            (r#"{"s":"\ud800\u0041"}"#, "surrogate"),
        ] {
            let err = TrackEvent::from_json(&with_metadata(metadata), &limits).unwrap_err();
            assert!(err.contains(reason), "{metadata}: {err}");
        }
        for fine in [
            r#"{"n":1e300,"m":-1.7976931348623157e308,"z":0.0,"t":5e-324,"u":-0}"#,
            r#"{"s":"\ud83d\ude00 \\u0000 \"\\\" \u00e9"}"#,
        ] {
            let json = with_metadata(fine);
            assert!(TrackEvent::from_json(&json, &limits).is_ok(), "{json}");
        }

        // Unknown fields are stored too: their depth and size are bounded.
        let mut deep = original();
        deep["extra"] = (0..40).fold(json!(1), |inner, _| json!([inner]));
        assert!(
            from_value(&deep, &limits)
                .unwrap_err()
                .contains("nested 41 levels")
        );
        let mut big = original();
        big["extra"] = json!(vec!["x".repeat(1000); 70]);
        assert!(from_value(&big, &limits).unwrap_err().contains("bytes"));
        let mut nul = original();
        nul["page_title"] = json!("a\u{0}b");
        assert!(from_value(&nul, &limits).unwrap_err().contains("NUL"));
    }

    #[test]
    fn app_fields_are_bounded_and_storable() {
        let limits = Limits::default();
        let body = |app: &str| format!(r#"{{"events": [], "appName": {app}}}"#);
        let check = |body: &str| {
            serde_json::from_str::<TrackRequest>(body)
                .unwrap()
                .check_app_fields(&limits)
        };
        assert!(check(&body(r#""shop""#)).is_ok());
        assert!(check(&body(r#""sh\u0000op""#)).unwrap_err().contains("NUL"));
        let long = format!("\"{}\"", "x".repeat(257));
        assert!(
            check(&body(&long))
                .unwrap_err()
                .contains("appName is 257 bytes")
        );
        // serde_json refuses a lone surrogate in a string it decodes: the body is a 400.
        assert!(serde_json::from_str::<TrackRequest>(&body(r#""\ud800""#)).is_err());
    }
}
