//! Health that comes from the loops themselves: each loop registers a component and
//! reports on every turn; a component that stops reporting, or reports a problem, makes
//! `/health` answer 503 with the reason.
//!
//! The two Kubernetes probes split that in two:
//! - `GET /livez` ([`livez_handler`]): the process works. 503 only when a component has
//!   fallen silent past its deadline (a loop that stopped beating); a problem it reports,
//!   like the database being away, does not count: restarting would not bring it back.
//! - `GET /readyz` ([`readyz_handler`]): the process can do its job. Every component
//!   reports no problem and every dependency check ([`Health::add_check`]: the broker,
//!   the database, asked now) passes; 503 with the reason otherwise.

use std::{
    collections::BTreeMap,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use ptrack_wire::{ComponentHealth, HealthBody, HealthState};

#[derive(Clone, Default)]
pub struct Health {
    components: Arc<Mutex<BTreeMap<&'static str, Component>>>,
    checks: Arc<Mutex<Vec<(&'static str, Check)>>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("components", &self.components)
            .finish_non_exhaustive()
    }
}

/// A dependency check for `/readyz`: `Err` says what is wrong.
type Check =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// The longest a dependency check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

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

    /// Adds a dependency check that `/readyz` runs on every call (at most 2 s).
    pub fn add_check<F, Fut>(&self, name: &'static str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let check: Check = Arc::new(move || Box::pin(check()));
        self.checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(n, _)| *n != name);
        self.checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name, check));
    }

    /// Liveness: `ok` unless a component has been silent past its deadline.
    pub fn live(&self) -> HealthBody {
        let now = Instant::now();
        let mut details = BTreeMap::new();
        let mut stalled = Vec::new();
        for (name, component) in self.lock().iter() {
            let silent = now.duration_since(component.last_report);
            let reason = (silent > component.deadline)
                .then(|| format!("no progress report for {} s", silent.as_secs()));
            if let Some(reason) = &reason {
                stalled.push(format!("{name}: {reason}"));
            }
            let status = match reason {
                None => HealthState::Ok,
                Some(_) => HealthState::Unhealthy,
            };
            details.insert((*name).to_owned(), ComponentHealth { status, reason });
        }
        HealthBody {
            status: if stalled.is_empty() {
                HealthState::Ok
            } else {
                HealthState::Unhealthy
            },
            reason: (!stalled.is_empty()).then(|| stalled.join("; ")),
            components: Some(details),
        }
    }

    /// Readiness: every component healthy ([`Health::check`]) and every dependency check
    /// passing; `reason` lists what is not.
    pub async fn ready(&self) -> HealthBody {
        let mut body = self.check();
        let checks: Vec<(&'static str, Check)> = self
            .checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let outcomes = checks.iter().map(|(name, check)| async move {
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
            };
            (*name, outcome)
        });
        let mut components = body.components.take().unwrap_or_default();
        for (name, outcome) in futures::future::join_all(outcomes).await {
            let entry = components
                .entry(name.to_owned())
                .or_insert(ComponentHealth {
                    status: HealthState::Ok,
                    reason: None,
                });
            if let Err(reason) = outcome {
                entry.status = HealthState::Unhealthy;
                entry.reason = Some(reason);
            }
        }
        let problems: Vec<String> = components
            .iter()
            .filter_map(|(name, c)| c.reason.as_ref().map(|r| format!("{name}: {r}")))
            .collect();
        HealthBody {
            status: if problems.is_empty() {
                HealthState::Ready
            } else {
                HealthState::NotReady
            },
            reason: (!problems.is_empty()).then(|| problems.join("; ")),
            components: Some(components),
        }
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

    /// The loop is alive but has nothing new to say (waiting on backpressure): resets its
    /// deadline and leaves its problem as it was.
    pub fn beat(&self) {
        if let Some(component) = self.health.lock().get_mut(self.name) {
            component.last_report = Instant::now();
        }
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

/// `GET /livez`: 200 while every loop beats, 503 with the reason otherwise.
pub async fn livez_handler(State(health): State<Health>) -> impl IntoResponse {
    answer(health.live())
}

/// `GET /readyz`: 200 when every component is healthy and every dependency answers, 503
/// with the reason otherwise.
pub async fn readyz_handler(State(health): State<Health>) -> impl IntoResponse {
    answer(health.ready().await)
}

fn answer(body: HealthBody) -> (StatusCode, Json<HealthBody>) {
    let status = if body.status.is_good() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// The probes as a router: `/livez` and `/readyz`, to merge into a service's app.
pub fn probes(health: Health) -> axum::Router {
    axum::Router::new()
        .route("/livez", axum::routing::get(livez_handler))
        .route("/readyz", axum::routing::get(readyz_handler))
        .with_state(health)
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

    #[tokio::test]
    async fn a_dependency_problem_is_not_ready_but_alive_and_silence_is_neither() {
        let health = Health::default();
        let database = health.register("database", Duration::from_secs(60));
        database.unhealthy("PostgreSQL unavailable");
        assert_eq!(health.live().status, HealthState::Ok);
        let ready = health.ready().await;
        assert_eq!(ready.status, HealthState::NotReady);
        assert_eq!(
            ready.reason.as_deref(),
            Some("database: PostgreSQL unavailable")
        );
        database.healthy();
        assert_eq!(health.ready().await.status, HealthState::Ready);

        health.add_check("broker", || async { Err("the broker is down".to_owned()) });
        assert_eq!(health.live().status, HealthState::Ok);
        let ready = health.ready().await;
        assert_eq!(ready.reason.as_deref(), Some("broker: the broker is down"));
        health.add_check("broker", || async { Ok(()) });
        assert_eq!(health.ready().await.status, HealthState::Ready);

        let _stalled = health.register("consumer", Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        let live = health.live();
        assert_eq!(live.status, HealthState::Unhealthy);
        assert!(live.reason.unwrap().starts_with("consumer: no progress"));
        assert_eq!(health.ready().await.status, HealthState::NotReady);
    }
}
