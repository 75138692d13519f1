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

/// `/readyz`'s question to PostgreSQL: `SELECT 1` within 1.5 s (the pool would keep
/// retrying a refused connection until its acquire timeout), the reason when not.
pub async fn ping(pool: &PgPool) -> Result<(), String> {
    let limit = Duration::from_millis(1500);
    match tokio::time::timeout(limit, sqlx::query("SELECT 1").execute(pool)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(format!("PostgreSQL does not answer: {err}")),
        Err(_) => Err(format!(
            "PostgreSQL does not answer: no connection within {} ms",
            limit.as_millis()
        )),
    }
}
