//! Health that comes from the loops themselves: each loop registers a component and
//! reports on every turn; a component that stops reporting, or reports a problem, makes
//! `/health` answer 503 with the reason.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use ptrack_wire::{ComponentHealth, HealthBody, HealthState};

#[derive(Debug, Clone, Default)]
pub struct Health {
    components: Arc<Mutex<BTreeMap<&'static str, Component>>>,
}

#[derive(Debug)]
struct Component {
    last_report: Instant,
    /// A component silent for longer than this is stalled.
    deadline: Duration,
    problem: Option<String>,
}

/// The handle a loop keeps to report on its own health.
#[derive(Debug, Clone)]
pub struct Reporter {
    name: &'static str,
    health: Health,
}

impl Health {
    /// Adds a component, healthy until it says otherwise or falls silent for `deadline`.
    pub fn register(&self, name: &'static str, deadline: Duration) -> Reporter {
        self.lock().insert(
            name,
            Component {
                last_report: Instant::now(),
                deadline,
                problem: None,
            },
        );
        Reporter {
            name,
            health: self.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Component>> {
        // A poisoned lock only means a reporter panicked mid-update; the map is still usable.
        self.components.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every component's state, and `ok` only when all are.
    pub fn check(&self) -> HealthBody {
        let now = Instant::now();
        let mut all_ok = true;
        let mut details = BTreeMap::new();
        for (name, component) in self.lock().iter() {
            let silent = now.duration_since(component.last_report);
            let reason = match &component.problem {
                Some(problem) => Some(problem.clone()),
                None if silent > component.deadline => {
                    Some(format!("no progress report for {} s", silent.as_secs()))
                }
                None => None,
            };
            all_ok &= reason.is_none();
            let status = match reason {
                None => HealthState::Ok,
                Some(_) => HealthState::Unhealthy,
            };
            details.insert((*name).to_owned(), ComponentHealth { status, reason });
        }
        HealthBody {
            status: if all_ok {
                HealthState::Ok
            } else {
                HealthState::Unhealthy
            },
            reason: None,
            components: Some(details),
        }
    }
}

impl Reporter {
    pub fn healthy(&self) {
        self.set(None);
    }

    pub fn unhealthy(&self, problem: impl Into<String>) {
        self.set(Some(problem.into()));
    }

    /// Whether this component last reported no problem.
    pub fn is_healthy(&self) -> bool {
        self.health
            .lock()
            .get(self.name)
            .is_some_and(|c| c.problem.is_none())
    }

    fn set(&self, problem: Option<String>) {
        if let Some(component) = self.health.lock().get_mut(self.name) {
            component.last_report = Instant::now();
            component.problem = problem;
        }
    }
}

/// `GET /health`: 200 when every component is healthy, 503 otherwise.
pub async fn health_handler(State(health): State<Health>) -> impl IntoResponse {
    let body = health.check();
    let status = if body.status.is_good() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_or_failing_component_is_unhealthy() {
        let health = Health::default();
        let fast = health.register("consumer", Duration::from_secs(60));
        let stalled = health.register("batcher", Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            health.check().status,
            HealthState::Unhealthy,
            "a component past its deadline is unhealthy"
        );
        stalled.healthy();
        let _ = stalled;
        fast.unhealthy("database unreachable");
        let body = health.check();
        assert_eq!(body.status, HealthState::Unhealthy);
        let details = body.components.unwrap();
        assert_eq!(
            details["consumer"].reason.as_deref(),
            Some("database unreachable")
        );
        fast.healthy();
        // `batcher` has a zero deadline, so it is stalled again by now.
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(health.check().status, HealthState::Unhealthy);
    }
}
