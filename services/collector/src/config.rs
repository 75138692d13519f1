use std::{net::SocketAddr, time::Duration};

use ptrack_common::{
    config::{ConfigError, DEFAULT_COLLECTOR_ADDR, env_or, env_positive},
    event::Limits,
    kafka::KafkaSettings,
};

#[derive(Debug, Clone)]
pub struct Config {
    /// `COLLECTOR_ADDR`.
    pub addr: SocketAddr,
    pub kafka: KafkaSettings,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins, or `*`. The web demo's by default.
    pub cors_origins: Vec<String>,
    /// `MAX_BODY_BYTES`, after decompression.
    pub max_body_bytes: usize,
    pub limits: Limits,
    /// `PRODUCE_TIMEOUT_MS`: how long a request waits for the broker before a 503.
    pub produce_timeout: Duration,
    /// `KAFKA_LINGER_MS`: how long the producer gathers messages into one request.
    pub linger: Duration,
    /// `KAFKA_MAX_MESSAGE_BYTES` (default 1000000, librdkafka's and Kafka's): an event
    /// whose message would be larger is rejected with the reason instead of produced.
    pub max_message_bytes: usize,
    /// Write keys and rate limits (`crate::security`).
    pub security: crate::security::SecurityConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let cors: String = env_or(
            "CORS_ALLOWED_ORIGINS",
            "http://localhost:3000,http://127.0.0.1:3000",
            "a comma-separated list of origins, or *",
        )?;
        let limits = Limits {
            max_events_per_batch: env_positive("MAX_EVENTS_PER_BATCH", 500)? as usize,
            ..Limits::default()
        };
        Ok(Self {
            addr: env_or(
                "COLLECTOR_ADDR",
                DEFAULT_COLLECTOR_ADDR,
                "HOST:PORT, like 127.0.0.1:8000",
            )?,
            kafka: KafkaSettings::from_env()?,
            cors_origins: cors
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            max_body_bytes: env_positive("MAX_BODY_BYTES", 1024 * 1024)? as usize,
            limits,
            produce_timeout: Duration::from_millis(env_positive("PRODUCE_TIMEOUT_MS", 5000)?),
            linger: Duration::from_millis(env_or("KAFKA_LINGER_MS", "2", "milliseconds, like 2")?),
            max_message_bytes: env_positive("KAFKA_MAX_MESSAGE_BYTES", 1_000_000)? as usize,
            security: crate::security::SecurityConfig::from_env()?,
        })
    }

    /// Defaults with the given brokers and topic: what tests start.
    pub fn for_tests(brokers: &str, topic: &str) -> Self {
        Self {
            addr: "127.0.0.1:0".parse().expect("a literal address"),
            kafka: KafkaSettings {
                brokers: brokers.to_owned(),
                topic: topic.to_owned(),
                partitions: 3,
                idempotence: true,
            },
            cors_origins: vec!["http://localhost:3000".into()],
            max_body_bytes: 1024 * 1024,
            limits: Limits::default(),
            produce_timeout: Duration::from_secs(3),
            linger: Duration::from_millis(2),
            max_message_bytes: 1_000_000,
            security: crate::security::SecurityConfig::default(),
        }
    }
}
