//! The events API: `GET /events` (the original filters, a time range, cursor pages),
//! `GET /events/{event_id}` (one event and its Kafka position), `GET /stats` (counts by
//! type and by minute, and by page or component when asked) and `GET /health`. With
//! `EVENTS_API_TOKEN` set, all but `/health` need `Authorization: Bearer <token>`.
//!
//! Layout:
//! - [`query`]: parsing and checking the query parameters.
//! - [`routes`]: the handlers and their SQL (always parameterised).
//! - [`auth`]: the bearer token (`EVENTS_API_TOKEN`).
//! - [`error`]: the error type and its status codes.

pub mod auth;
pub mod error;
pub mod query;
pub mod routes;

use std::{future::Future, net::SocketAddr, time::Duration};

use anyhow::Context;
use auth::BearerToken;
use ptrack_common::config::{
    ConfigError, DEFAULT_EVENTS_API_ADDR, Secret, database_url, env_or, env_positive,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Config {
    /// `EVENTS_API_ADDR`.
    pub addr: SocketAddr,
    /// `DATABASE_URL`.
    pub database_url: Secret,
    /// `EVENTS_API_TOKEN`: when set, `/events`, `/events/{id}` and `/stats` need
    /// `Authorization: Bearer <token>`.
    pub token: Option<BearerToken>,
    /// `STATEMENT_TIMEOUT_MS` (default 5000): PostgreSQL stops a query that runs longer,
    /// and the client gets a 504 that says so.
    pub statement_timeout: Duration,
    /// `DB_MAX_CONNECTIONS` (default 8): the connections for queries. A request that
    /// finds none free within [`ACQUIRE_TIMEOUT`] gets a 503 with `Retry-After`; `/health`
    /// has one more connection of its own, so slow queries never starve it.
    pub db_max_connections: u32,
}

/// How long a request waits for a free connection before it is answered 503.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            addr: env_or(
                "EVENTS_API_ADDR",
                DEFAULT_EVENTS_API_ADDR,
                "HOST:PORT, like 127.0.0.1:8001",
            )?,
            database_url: database_url()?,
            token: std::env::var("EVENTS_API_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .map(|t| BearerToken::new(t.trim())),
            statement_timeout: Duration::from_millis(env_positive("STATEMENT_TIMEOUT_MS", 5000)?),
            db_max_connections: u32::try_from(env_positive("DB_MAX_CONNECTIONS", 8)?).map_err(
                |_| ConfigError {
                    name: "DB_MAX_CONNECTIONS",
                    value: "too large".into(),
                    expected: "a positive integer, like 8",
                },
            )?,
        })
    }

    /// The defaults with this address and database, no token: what tests start.
    pub fn for_tests(addr: SocketAddr, database_url: &str) -> Self {
        Self {
            addr,
            database_url: Secret::new(database_url),
            token: None,
            statement_timeout: Duration::from_secs(5),
            db_max_connections: 8,
        }
    }

    /// The two pools: `(queries, health)`. Both connect lazily, so the API starts (and
    /// says it is unhealthy) while PostgreSQL is still coming up; every connection has
    /// the statement timeout.
    pub fn pools(&self) -> anyhow::Result<(PgPool, PgPool)> {
        let options: PgConnectOptions = self.database_url.expose().parse().with_context(|| {
            format!(
                "DATABASE_URL {} is not a valid PostgreSQL URL",
                self.database_url
            )
        })?;
        let options = options.options([(
            "statement_timeout",
            self.statement_timeout.as_millis().to_string(),
        )]);
        let queries = PgPoolOptions::new()
            .max_connections(self.db_max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options.clone());
        let health = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok((queries, health))
    }
}

/// Serves until `shutdown` resolves. The pool connects lazily, so the API starts (and
/// says it is unhealthy) while PostgreSQL is still coming up.
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
    axum::serve(listener, routes::router(queries, health, config.token))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")
}
