//! The events API: `GET /events` (the original filters, a time range, cursor pages),
//! `GET /events/{event_id}` (one event and its Kafka position), `GET /stats` (counts by
//! type and by minute, and by page or component when asked), `GET /health`, the probes
//! `GET /livez` and `GET /readyz`, and `GET /metrics`. With `EVENTS_API_TOKEN` set, all
//! but `/health`, the probes and `/metrics` need `Authorization: Bearer <token>`.
//!
//! Layout:
//! - [`config`]: settings from flags and the environment (`--help` lists them), the pools.
//! - [`query`]: parsing and checking the query parameters.
//! - [`routes`]: the handlers and their SQL (always parameterised).
//! - [`auth`]: the bearer token (`EVENTS_API_TOKEN`).
//! - [`error`]: the error type and its status codes.

pub mod auth;
pub mod config;
pub mod error;
pub mod query;
pub mod routes;

use std::{future::Future, sync::Arc};

use anyhow::Context;
use auth::BearerToken;
use axum::{Router, routing::get};
pub use config::{ACQUIRE_TIMEOUT, Config};
use prometheus_client::registry::Registry;
use ptrack_common::{
    health::{Health, probes},
    metrics::{HttpMetrics, metrics_handler},
};
use sqlx::PgPool;
use tokio::net::TcpListener;

/// Every route: the API ([`routes::router`]), the probes `/livez` and `/readyz`
/// (PostgreSQL answers, asked on the health pool), `/metrics`, all measured by the
/// request-duration histogram.
pub fn app(queries: PgPool, health_pool: PgPool, token: Option<BearerToken>) -> Router {
    let mut registry = Registry::with_prefix("ptrack_events_api");
    let http_metrics = HttpMetrics::register(&mut registry);
    let health = Health::default();
    let probe = health_pool.clone();
    health.add_check("database", move || {
        let pool = probe.clone();
        async move { ptrack_common::db::ping(&pool).await }
    });
    let app = routes::router(queries, health_pool, token)
        .merge(probes(health))
        .merge(
            Router::new()
                .route("/metrics", get(metrics_handler))
                .with_state(Arc::new(registry)),
        );
    http_metrics.layer(app)
}

/// Serves until `shutdown` resolves. The pools connect lazily, so the API starts (and
/// says it is not ready) while PostgreSQL is still coming up.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (queries, health) = config.pools()?;
    if config.token.is_none() {
        tracing::warn!(
            "EVENTS_API_TOKEN is not set: anyone who reaches this port can read every event"
        );
    }
    let app = app(queries, health, config.token.clone());
    ptrack_common::http::serve(listener, app, config.http, shutdown)
        .await
        .context("serving HTTP")
}
