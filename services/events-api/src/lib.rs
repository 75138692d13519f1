//! The events API: `GET /events` (the original filters, a time range, cursor pages),
//! `GET /events/{event_id}` (one event and its Kafka position), `GET /stats` (counts by
//! type and by minute, and by page or component when asked), `GET /health`, the probes
//! `GET /livez` and `GET /readyz`, and `GET /metrics`.
//!
//! Layout:
//! - [`config`]: settings from flags and the environment (`--help` lists them).
//! - [`query`]: parsing and checking the query parameters.
//! - [`routes`]: the handlers and their SQL (always parameterised).
//! - [`error`]: the error type and its status codes.

pub mod config;
pub mod error;
pub mod query;
pub mod routes;

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Router, routing::get};
pub use config::Config;
use prometheus_client::registry::Registry;
use ptrack_common::{
    health::{Health, probes},
    metrics::{HttpMetrics, metrics_handler},
};
use sqlx::PgPool;
use tokio::net::TcpListener;

/// Every route: the API ([`routes::app`]), the probes `/livez` and `/readyz` (PostgreSQL
/// answers), `/metrics`, all measured by the request-duration histogram.
pub fn app(pool: PgPool) -> Router {
    let mut registry = Registry::with_prefix("ptrack_events_api");
    let http_metrics = HttpMetrics::register(&mut registry);
    let health = Health::default();
    let probe = pool.clone();
    health.add_check("database", move || {
        let pool = probe.clone();
        async move { ptrack_common::db::ping(&pool).await }
    });
    let app = routes::app(pool).merge(probes(health)).merge(
        Router::new()
            .route("/metrics", get(metrics_handler))
            .with_state(Arc::new(registry)),
    );
    http_metrics.layer(app)
}

/// Serves until `shutdown` resolves. The pool connects lazily, so the API starts (and
/// says it is unhealthy) while PostgreSQL is still coming up.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let options: sqlx::postgres::PgConnectOptions =
        config.database_url.expose().parse().with_context(|| {
            format!(
                "DATABASE_URL {} is not a valid PostgreSQL URL",
                config.database_url
            )
        })?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options);
    ptrack_common::http::serve(listener, app(pool), config.http, shutdown)
        .await
        .context("serving HTTP")
}
