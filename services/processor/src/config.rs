//! The processor's settings: each one a flag and an environment variable
//! (`ptrack-processor --help` lists them with their defaults).

use std::{net::SocketAddr, time::Duration};

use ptrack_common::{
    config::{
        ConfigError, DEFAULT_DATABASE_URL, DEFAULT_PROCESSOR_ADDR, Secret, Settings,
        check_database_url, millis, positive, positive_millis, secret, socket_addr,
    },
    http,
    kafka::KafkaSettings,
};

/// 8 MiB: a thousand ordinary events are about 1 MiB, so the count ends a batch first
/// unless the events are unusually large.
pub const DEFAULT_BATCH_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// Consumes the events topic in a consumer group, writes the events in batches to
/// PostgreSQL and commits offsets only after the database has committed.
///
/// Every setting is a flag or the environment variable of the same name (the flag wins).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "ptrack-processor",
    version,
    after_help = "Also read from the environment: RUST_LOG (log filter, default info), \
                  KAFKA_DEBUG (librdkafka debug contexts, like cgrp,fetch)."
)]
pub struct Config {
    /// Address of /health, /livez, /readyz, /metrics and /status (HOST:PORT).
    #[arg(long = "processor-addr", env = "PROCESSOR_ADDR", value_name = "PROCESSOR_ADDR",
          default_value = DEFAULT_PROCESSOR_ADDR, value_parser = socket_addr)]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// Consumer group; replicas with the same group split the partitions.
    #[arg(
        long = "kafka-group-id",
        env = "KAFKA_GROUP_ID",
        value_name = "KAFKA_GROUP_ID",
        default_value = "ptrack-processor"
    )]
    pub group_id: String,
    /// PostgreSQL to write to (postgres://USER:PASSWORD@HOST:PORT/DB) [default:
    /// postgres://ptrack:***@127.0.0.1:5432/ptrack].
    #[arg(long = "database-url", env = "DATABASE_URL", value_name = "DATABASE_URL",
          default_value = DEFAULT_DATABASE_URL, value_parser = secret,
          hide_default_value = true, hide_env_values = true)]
    pub database_url: Secret,
    /// A batch is written when it holds this many events...
    #[arg(long = "batch-size", env = "BATCH_SIZE", value_name = "BATCH_SIZE",
          default_value = "1000", value_parser = positive::<usize>)]
    pub batch_size: usize,
    /// ...or when its messages add up to this many bytes (the message that crosses it is
    /// the last), so that a batch of large events (a big `appName` is copied into every
    /// event's message) cannot exhaust memory...
    #[arg(long = "batch-max-bytes", env = "BATCH_MAX_BYTES", value_name = "BATCH_MAX_BYTES",
          default_value = "8388608", value_parser = positive::<usize>)]
    pub batch_max_bytes: usize,
    /// ...or when its first event has waited this many milliseconds.
    #[arg(long = "batch-timeout-ms", env = "BATCH_TIMEOUT_MS", value_name = "BATCH_TIMEOUT_MS",
          default_value = "200", value_parser = positive_millis)]
    pub batch_timeout: Duration,
    /// Connections to PostgreSQL (and batches written at once).
    #[arg(long = "db-max-connections", env = "DB_MAX_CONNECTIONS",
          value_name = "DB_MAX_CONNECTIONS", default_value = "4", value_parser = positive::<u32>)]
    pub db_max_connections: u32,
    /// Milliseconds to wait before joining the consumer group. tansu 0.6 expires a member
    /// killed with -9 after its session timeout but does not rebalance the group then, so
    /// a replacement that joins earlier can stay with no partitions: with tansu, set it
    /// above the session timeout (10 s); Apache Kafka needs no delay.
    #[arg(long = "kafka-join-delay-ms", env = "KAFKA_JOIN_DELAY_MS",
          value_name = "KAFKA_JOIN_DELAY_MS", default_value = "0", value_parser = millis)]
    pub join_delay: Duration,
    /// Milliseconds after which a partition of the group with waiting messages that has
    /// not moved and is nobody's here makes this replica rejoin the group.
    #[arg(long = "kafka-orphan-after-ms", env = "KAFKA_ORPHAN_AFTER_MS",
          value_name = "KAFKA_ORPHAN_AFTER_MS", default_value = "30000",
          value_parser = positive_millis)]
    pub orphan_after: Duration,
    /// The longest a fetch waits at the broker for data, in milliseconds. tansu 0.6 holds
    /// every fetch for the whole wait even when data is there: at librdkafka's default of
    /// 500 ms one consumer was capped at about 19,000 events/s.
    #[arg(long = "kafka-fetch-wait-ms", env = "KAFKA_FETCH_WAIT_MS",
          value_name = "KAFKA_FETCH_WAIT_MS", default_value = "50",
          value_parser = positive_millis)]
    pub fetch_wait: Duration,
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
        ptrack_common::config::try_parse_from(["ptrack-processor"])
    }
}
