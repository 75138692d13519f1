//! The events API's settings: each one a flag and an environment variable
//! (`ptrack-events-api --help` lists them with their defaults).

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use ptrack_common::{
    config::{
        ConfigError, DEFAULT_DATABASE_URL, DEFAULT_EVENTS_API_ADDR, Secret, Settings,
        check_database_url, positive, positive_millis, secret, socket_addr,
    },
    http,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::auth::BearerToken;

/// How long a request waits for a free connection before it is answered 503.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Serves the stored events: filtered lists, one event, and per-minute statistics.
///
/// Every setting is a flag or the environment variable of the same name (the flag wins).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "ptrack-events-api",
    version,
    after_help = "Also read from the environment: RUST_LOG (log filter, default info)."
)]
pub struct Config {
    /// Address to listen on (HOST:PORT).
    #[arg(long = "events-api-addr", env = "EVENTS_API_ADDR", value_name = "EVENTS_API_ADDR",
          default_value = DEFAULT_EVENTS_API_ADDR, value_parser = socket_addr)]
    pub addr: SocketAddr,
    /// PostgreSQL to read from (postgres://USER:PASSWORD@HOST:PORT/DB) [default:
    /// postgres://ptrack:***@127.0.0.1:5432/ptrack].
    #[arg(long = "database-url", env = "DATABASE_URL", value_name = "DATABASE_URL",
          default_value = DEFAULT_DATABASE_URL, value_parser = secret,
          hide_default_value = true, hide_env_values = true)]
    pub database_url: Secret,
    /// When set, `/events`, `/events/{id}` and `/stats` need `Authorization: Bearer
    /// <token>` (`/health`, `/livez`, `/readyz` and `/metrics` stay open). Unset or empty:
    /// anyone who reaches the port can read every event.
    #[arg(long = "events-api-token", env = "EVENTS_API_TOKEN", value_name = "EVENTS_API_TOKEN",
          value_parser = bearer_token, hide_env_values = true)]
    pub token: Option<BearerToken>,
    /// Milliseconds after which PostgreSQL stops a query; the client gets a 504 that says
    /// so.
    #[arg(long = "statement-timeout-ms", env = "STATEMENT_TIMEOUT_MS",
          value_name = "STATEMENT_TIMEOUT_MS", default_value = "5000",
          value_parser = positive_millis)]
    pub statement_timeout: Duration,
    /// Connections for queries. A request that finds none free within 3 s gets a 503 with
    /// Retry-After; /health and /readyz have one more connection of their own, so slow
    /// queries never starve them.
    #[arg(long = "db-max-connections", env = "DB_MAX_CONNECTIONS",
          value_name = "DB_MAX_CONNECTIONS", default_value = "8", value_parser = positive::<u32>)]
    pub db_max_connections: u32,
    #[command(flatten)]
    pub http: http::Limits,
}

fn bearer_token(value: &str) -> Result<BearerToken, std::convert::Infallible> {
    Ok(BearerToken::new(value.trim()))
}

impl Settings for Config {
    fn finish(&mut self) -> Result<(), ConfigError> {
        // A blank token (only spaces) is no token, as before.
        self.token = self.token.take().filter(|t| !t.is_empty());
        check_database_url(&self.database_url)
    }
}

impl Config {
    /// The settings from the environment alone (no flags).
    pub fn from_env() -> Result<Self, ptrack_common::config::LoadError> {
        ptrack_common::config::try_parse_from(["ptrack-events-api"])
    }

    /// The defaults with this address and database, no token: what tests start.
    pub fn for_tests(addr: SocketAddr, database_url: &str) -> Self {
        Self {
            addr,
            database_url: Secret::new(database_url),
            token: None,
            statement_timeout: Duration::from_secs(5),
            db_max_connections: 8,
            http: http::Limits::default(),
        }
    }

    /// The two pools: `(queries, health)`. Both connect lazily, so the API starts (and
    /// says it is not ready) while PostgreSQL is still coming up; every connection has
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
