//! The body of `GET /health` (every service) and of the collector's `GET /ready`.
//!
//! The HTTP status is what a probe goes by (200 healthy, 503 not); the body says why.
//! Services that report per component (the processor's consumer and batcher, the
//! collector's server) fill `components`; the events-api gives one `reason`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthState {
    #[serde(rename = "ok")]
    Ok,
    #[serde(rename = "unhealthy")]
    Unhealthy,
    /// The collector's `/ready`: the broker answers and the topic exists.
    #[serde(rename = "ready")]
    Ready,
    #[serde(rename = "not ready")]
    NotReady,
}

impl HealthState {
    /// `ok` or `ready`.
    pub fn is_good(self) -> bool {
        matches!(self, Self::Ok | Self::Ready)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthBody {
    pub status: HealthState,
    /// Why it is not healthy, when the service says so in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Each component's own state, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<BTreeMap<String, ComponentHealth>>,
}

impl HealthBody {
    pub fn new(status: HealthState) -> Self {
        Self {
            status,
            reason: None,
            components: None,
        }
    }

    pub fn with_reason(status: HealthState, reason: impl Into<String>) -> Self {
        Self {
            reason: Some(reason.into()),
            ..Self::new(status)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentHealth {
    pub status: HealthState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_form_round_trips_in_the_services_shapes() {
        let components = HealthBody {
            status: HealthState::Unhealthy,
            reason: None,
            components: Some(BTreeMap::from([
                (
                    "consumer".to_owned(),
                    ComponentHealth {
                        status: HealthState::Unhealthy,
                        reason: Some("no progress report for 31 s".into()),
                    },
                ),
                (
                    "batcher".to_owned(),
                    ComponentHealth {
                        status: HealthState::Ok,
                        reason: None,
                    },
                ),
            ])),
        };
        assert_eq!(crate::round_trip(&components), components);
        assert_eq!(
            serde_json::to_value(&components).unwrap(),
            json!({"status": "unhealthy", "components": {
                "consumer": {"status": "unhealthy", "reason": "no progress report for 31 s"},
                "batcher": {"status": "ok"}}})
        );
        for (body, json) in [
            (HealthBody::new(HealthState::Ok), json!({"status": "ok"})),
            (
                HealthBody::new(HealthState::Ready),
                json!({"status": "ready"}),
            ),
            (
                HealthBody::with_reason(HealthState::NotReady, "no topic"),
                json!({"status": "not ready", "reason": "no topic"}),
            ),
        ] {
            assert_eq!(crate::round_trip(&body), body);
            assert_eq!(serde_json::to_value(&body).unwrap(), json);
        }
        assert!(HealthState::Ready.is_good() && !HealthState::NotReady.is_good());
    }
}
