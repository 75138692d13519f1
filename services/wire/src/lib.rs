//! `ptrack-wire`: every JSON body that crosses a service's HTTP boundary, defined once.
//! The services serialize these types and the `ptrack` CLI deserializes the same ones, so
//! the two cannot drift apart. Each type is both `Serialize` and `Deserialize`.
//!
//! Rules that keep old and new versions talking:
//! - a reader ignores fields it does not know (no `deny_unknown_fields` anywhere);
//! - a field added later is an `Option` with
//!   `#[serde(default, skip_serializing_if = "Option::is_none")]`, so an old server's
//!   body still reads and a new server's body is unchanged when the field is empty.
//!
//! Layout:
//! - [`track`]: the collector's `POST /track` request and response.
//! - [`events`]: the events-api's `GET /events` item and `GET /stats` body.
//! - [`processor`]: the processor's `GET /status`.
//! - [`health`]: the `GET /health` (and the collector's `GET /ready`) body.
//! - [`error`]: the `{"error": ...}` body of a refused request.

pub mod error;
pub mod events;
pub mod health;
pub mod processor;
pub mod track;

pub use error::ErrorBody;
pub use events::{MinuteCount, NEXT_CURSOR_HEADER, NO_VALUE, Stats, StoredEvent};
pub use health::{ComponentHealth, HealthBody, HealthState};
pub use processor::ProcessorStatus;
pub use track::{Rejected, TrackBatch, TrackResponse};

/// Serializes `value` and reads it back: what the round-trip tests of every module check.
#[cfg(test)]
fn round_trip<T>(value: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let text = serde_json::to_string(value).expect("serializes");
    serde_json::from_str(&text).expect("reads back")
}
