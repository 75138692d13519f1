//! The events API: `GET /events` (the original filters, a time range, cursor pages),
//! `GET /events/{event_id}` (one event and its Kafka position), `GET /stats` (counts by
//! type and by minute, and by page or component when asked) and `GET /health`.
//!
//! Layout:
//! - [`query`]: parsing and checking the query parameters.
//! - [`routes`]: the handlers and their SQL (always parameterised).
//! - [`error`]: the error type and its status codes.

pub mod error;
pub mod query;
pub mod routes;

use std::{future::Future, net::SocketAddr, time::Duration};

use anyhow::Context;
use ptrack_common::config::{ConfigError, DEFAULT_EVENTS_API_ADDR, Secret, database_url, env_or};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Config {
    /// `EVENTS_API_ADDR`.
    pub addr: SocketAddr,
    /// `DATABASE_URL`.
    pub database_url: Secret,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            addr: env_or(
                "EVENTS_API_ADDR",
                DEFAULT_EVENTS_API_ADDR,
                "HOST:PORT, like 127.0.0.1:8001",
            )?,
            database_url: database_url()?,
        })
    }
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
    axum::serve(listener, routes::app(pool))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")
}
