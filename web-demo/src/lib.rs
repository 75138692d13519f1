//! The demo shop: a few pages that feel like a real shop, each component marked for the
//! browser tracker (`static/tracker.js`), and an analytics page that shows the events
//! arriving from the events API. Like a customer's site it depends on no crate of ours:
//! the browser posts to the collector's `POST /track`, and the analytics page reads the
//! events API through this server's `/api/*` proxy. (It serves with `ptrack-http`, a
//! generic hardened HTTP server with nothing of the pipeline in it.)
//!
//! Layout:
//! - [`config`]: settings from flags and the environment (`--help` lists them).
//! - [`catalogue`]: the shop's pages and their tracked components.
//! - [`pages`]: the HTML pages and the embedded static files.
//! - [`proxy`]: `GET /api/events` and `GET /api/stats`, forwarded to the events API.
//!
//! `/metrics` serves `ptrack_web_demo_http_request_duration_seconds` by route and status,
//! as every service of the stack does.

pub mod catalogue;
pub mod config;
pub mod pages;
pub mod proxy;

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Router, routing::get};
pub use config::Config;
use prometheus_client::registry::Registry;
use ptrack_http::metrics::{HttpMetrics, metrics_handler};
use tokio::net::TcpListener;

/// What every handler shares: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub http: reqwest::Client,
}

/// The demo's routes: the shop pages, the analytics page, the static files and the proxy.
pub fn app(config: Config) -> Router {
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
        // Only a TLS backend can fail to build, and reqwest has none here.
        .expect("an HTTP client without TLS builds");
    let state = AppState {
        config: Arc::new(config),
        http,
    };
    let mut registry = Registry::with_prefix("ptrack_web_demo");
    let http_metrics = HttpMetrics::register(&mut registry);
    let metrics = Router::new()
        .route("/metrics", get(metrics_handler))
        .with_state(Arc::new(registry));
    let app = Router::new()
        .merge(pages::router())
        .merge(proxy::router())
        .route("/health", get(|| async { "ok" }))
        // Liveness and readiness are one here: the shop's pages need nothing but this
        // process (the analytics page says itself when the events API is away).
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .with_state(state)
        .merge(metrics);
    http_metrics.layer(app)
}

/// Serves until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let limits = config.http.clone();
    ptrack_http::serve(listener, app(config), limits, shutdown)
        .await
        .context("serving HTTP")
}
