//! The events API's settings: each one a flag and an environment variable
//! (`ptrack-events-api --help` lists them with their defaults).

use std::net::SocketAddr;

use ptrack_common::{
    config::{
        ConfigError, DEFAULT_DATABASE_URL, DEFAULT_EVENTS_API_ADDR, Secret, Settings,
        check_database_url, secret, socket_addr,
    },
    http,
};

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
    #[command(flatten)]
    pub http: http::Limits,
}

impl Settings for Config {
    fn finish(&mut self) -> Result<(), ConfigError> {
        check_database_url(&self.database_url)
    }
}

impl Config {
    /// The settings from the environment alone (no flags).
    pub fn from_env() -> Result<Self, ptrack_common::config::LoadError> {
        ptrack_common::config::try_parse_from(["ptrack-events-api"])
    }
}
