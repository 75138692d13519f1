//! `/health` (from the pipeline's own reports), `/livez` (the loops beat) and `/readyz`
//! (and PostgreSQL answers now), `/metrics`, and `/status`: which partitions this replica
//! holds and how far behind it is, for `ptrack status`.

use std::sync::{Arc, Mutex};

use axum::{Json, Router, extract::State, routing::get};
use ptrack_common::{
    health::{Health, health_handler, probes},
    metrics::metrics_handler,
};
pub use ptrack_wire::ProcessorStatus as Status;

use crate::metrics::Metrics;

#[derive(Debug, Clone, Default)]
pub struct SharedStatus(Arc<Mutex<Status>>);

impl SharedStatus {
    pub fn update(&self, f: impl FnOnce(&mut Status)) {
        // A poisoned lock only means a writer panicked; the status is still readable.
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub fn get(&self) -> Status {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

pub fn app(health: Health, metrics: Arc<Metrics>, status: SharedStatus) -> Router {
    let app = Router::new()
        .route("/health", get(health_handler))
        .with_state(health.clone())
        .merge(probes(health))
        .merge(
            Router::new()
                .route("/metrics", get(metrics_handler))
                .with_state(metrics.registry.clone()),
        )
        .merge(
            Router::new()
                .route("/status", get(status_json))
                .with_state(status),
        );
    metrics.http.layer(app)
}

async fn status_json(State(status): State<SharedStatus>) -> Json<Status> {
    Json(status.get())
}
