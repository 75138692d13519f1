//! The collector's settings: each one a flag and an environment variable
//! (`ptrack-collector --help` lists them with their defaults).

use std::{net::SocketAddr, time::Duration};

use ptrack_common::{
    config::{
        ConfigError, DEFAULT_COLLECTOR_ADDR, Settings, millis, positive, positive_millis,
        socket_addr,
    },
    event::Limits,
    http,
    kafka::KafkaSettings,
};

/// Receives tracker batches over HTTP (`POST /track`) and produces each event to Kafka,
/// answering only once the broker has it.
///
/// Every setting is a flag or the environment variable of the same name (the flag wins).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "ptrack-collector",
    version,
    after_help = "Also read from the environment: RUST_LOG (log filter, default info), \
                  KAFKA_DEBUG (librdkafka debug contexts, like cgrp,fetch)."
)]
pub struct Config {
    /// Address to listen on (HOST:PORT).
    #[arg(long = "collector-addr", env = "COLLECTOR_ADDR", value_name = "COLLECTOR_ADDR",
          default_value = DEFAULT_COLLECTOR_ADDR, value_parser = socket_addr)]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// Origins allowed to post from a browser: comma-separated, or `*` for any.
    #[arg(
        long = "cors-allowed-origins",
        env = "CORS_ALLOWED_ORIGINS",
        value_name = "CORS_ALLOWED_ORIGINS",
        default_value = "http://localhost:3000,http://127.0.0.1:3000",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Largest request body in bytes, after gzip decompression (413 above).
    #[arg(long = "max-body-bytes", env = "MAX_BODY_BYTES", value_name = "MAX_BODY_BYTES",
          default_value = "1048576", value_parser = positive::<usize>)]
    pub max_body_bytes: usize,
    /// Most events in one request (413 above).
    #[arg(long = "max-events-per-batch", env = "MAX_EVENTS_PER_BATCH",
          value_name = "MAX_EVENTS_PER_BATCH", default_value = "500",
          value_parser = positive::<usize>)]
    pub max_events_per_batch: usize,
    /// Event limits; `max_events_per_batch` comes from the setting above.
    #[arg(skip)]
    pub limits: Limits,
    /// Milliseconds a request waits for the broker's acknowledgement before a 503.
    #[arg(long = "produce-timeout-ms", env = "PRODUCE_TIMEOUT_MS",
          value_name = "PRODUCE_TIMEOUT_MS", default_value = "5000",
          value_parser = positive_millis)]
    pub produce_timeout: Duration,
    /// Milliseconds the producer gathers messages into one request to the broker.
    #[arg(long = "kafka-linger-ms", env = "KAFKA_LINGER_MS", value_name = "KAFKA_LINGER_MS",
          default_value = "2", value_parser = millis)]
    pub linger: Duration,
    /// Largest message the broker takes, in bytes (librdkafka's and Kafka's default): an
    /// event whose message would be larger is rejected with the reason, not produced.
    #[arg(long = "kafka-max-message-bytes", env = "KAFKA_MAX_MESSAGE_BYTES",
          value_name = "KAFKA_MAX_MESSAGE_BYTES", default_value = "1000000",
          value_parser = positive::<usize>)]
    pub max_message_bytes: usize,
    /// Write keys and rate limits (`crate::security`).
    #[command(flatten)]
    pub security: crate::security::SecurityConfig,
    #[command(flatten)]
    pub http: http::Limits,
}

impl Settings for Config {
    fn finish(&mut self) -> Result<(), ConfigError> {
        self.cors_origins = self
            .cors_origins
            .iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        self.limits.max_events_per_batch = self.max_events_per_batch;
        self.security.finish()
    }
}

impl Config {
    /// The settings from the environment alone (no flags).
    pub fn from_env() -> Result<Self, ptrack_common::config::LoadError> {
        ptrack_common::config::try_parse_from(["ptrack-collector"])
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
            max_events_per_batch: Limits::default().max_events_per_batch,
            limits: Limits::default(),
            produce_timeout: Duration::from_secs(3),
            linger: Duration::from_millis(2),
            max_message_bytes: 1_000_000,
            security: crate::security::SecurityConfig::default(),
            http: http::Limits::default(),
        }
    }
}
