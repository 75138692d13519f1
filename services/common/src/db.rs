//! The `user_events` schema (migrations) and connecting with an error that says what to do.

use std::time::Duration;

use sqlx::{
    PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::config::{Secret, redact_url};

/// The migrations of `user_events`; the processor runs them at start.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Connects, failing within `timeout` with a message a person can act on.
pub async fn connect(
    url: &Secret,
    max_connections: u32,
    timeout: Duration,
) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url.expose().parse().map_err(|err| {
        anyhow::anyhow!(
            "DATABASE_URL {} is not a valid PostgreSQL URL: {err}",
            redact_url(url.expose())
        )
    })?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(timeout)
        .connect_with(options)
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "PostgreSQL is not reachable at {url}: {err}. Start it (`ptrack up` does, or \
                 `pg_ctlcluster 15 main start`) or set DATABASE_URL"
            )
        })
}
