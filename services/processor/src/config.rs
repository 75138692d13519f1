use std::{net::SocketAddr, time::Duration};

use ptrack_common::{
    config::{ConfigError, DEFAULT_PROCESSOR_ADDR, Secret, database_url, env_or, env_positive},
    kafka::KafkaSettings,
};

/// 8 MiB: a thousand ordinary events are about 1 MiB, so the count ends a batch first
/// unless the events are unusually large.
pub const DEFAULT_BATCH_MAX_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Config {
    /// `PROCESSOR_ADDR`: health and metrics.
    pub addr: SocketAddr,
    pub kafka: KafkaSettings,
    /// `KAFKA_GROUP_ID`: replicas with the same id split the partitions.
    pub group_id: String,
    /// `DATABASE_URL`.
    pub database_url: Secret,
    /// `BATCH_SIZE`: a batch is written when it holds this many events...
    pub batch_size: usize,
    /// `BATCH_MAX_BYTES` (default 8 MiB): ...or when its messages add up to this many
    /// bytes (the message that crosses it is the last), so that a batch of large events
    /// (a big `appName` is copied into every event's message) cannot exhaust memory.
    pub batch_max_bytes: usize,
    /// `BATCH_TIMEOUT_MS`: ...or when its first event has waited this long.
    pub batch_timeout: Duration,
    /// `DB_MAX_CONNECTIONS`.
    pub db_max_connections: u32,
    /// `KAFKA_JOIN_DELAY_MS` (default 0): wait this long before joining the consumer
    /// group. tansu 0.6 expires a member killed with -9 after its session timeout but
    /// does not rebalance the group then, so a replacement that joins earlier can stay
    /// with no partitions. With tansu, set it above the session timeout (10 s); Apache
    /// Kafka needs no delay.
    pub join_delay: Duration,
    /// `KAFKA_ORPHAN_AFTER_MS` (default 30000): a partition of the group with waiting
    /// messages that has not moved for this long and is nobody's here makes this replica
    /// rejoin the group (see `pipeline/group_watch.rs`).
    pub orphan_after: Duration,
    /// `KAFKA_FETCH_WAIT_MS` (default 50): the longest a fetch waits at the broker for
    /// data. tansu 0.6 holds every fetch for the whole wait (or half of it from 250 ms up)
    /// even when data is there: at librdkafka's default of 500 ms, a quarter of a second
    /// per fetch capped one consumer at about 19,000 events/s. Apache Kafka answers as
    /// soon as data arrives either way.
    pub fetch_wait: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            addr: env_or(
                "PROCESSOR_ADDR",
                DEFAULT_PROCESSOR_ADDR,
                "HOST:PORT, like 127.0.0.1:8002",
            )?,
            kafka: KafkaSettings::from_env()?,
            group_id: env_or("KAFKA_GROUP_ID", "ptrack-processor", "a consumer group id")?,
            database_url: database_url()?,
            batch_size: env_positive("BATCH_SIZE", 1000)? as usize,
            batch_max_bytes: env_positive("BATCH_MAX_BYTES", DEFAULT_BATCH_MAX_BYTES)? as usize,
            batch_timeout: Duration::from_millis(env_positive("BATCH_TIMEOUT_MS", 200)?),
            db_max_connections: env_positive("DB_MAX_CONNECTIONS", 4)? as u32,
            orphan_after: Duration::from_millis(env_positive("KAFKA_ORPHAN_AFTER_MS", 30_000)?),
            fetch_wait: Duration::from_millis(env_positive("KAFKA_FETCH_WAIT_MS", 50)?),
            join_delay: Duration::from_millis(env_or(
                "KAFKA_JOIN_DELAY_MS",
                "0",
                "milliseconds, like 11000",
            )?),
        })
    }
}
