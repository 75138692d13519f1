//! Kafka settings shared by the services: client configuration, topic creation, and the
//! one place where broker errors are classified as transient or permanent.

use std::time::Duration;

use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    error::{KafkaError, RDKafkaErrorCode},
    types::RDKafkaErrorCode as Code,
};

use crate::config::{
    ConfigError, DEFAULT_KAFKA_BROKERS, DEFAULT_KAFKA_TOPIC, env_or, env_positive,
};

#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// `KAFKA_BROKERS`: comma-separated `host:port` list.
    pub brokers: String,
    /// `KAFKA_TOPIC`: where events go.
    pub topic: String,
    /// `KAFKA_PARTITIONS`: used only when the topic has to be created.
    pub partitions: i32,
    /// `KAFKA_IDEMPOTENCE` (default true): the idempotent producer. tansu 0.6 on SQLite
    /// panics on a producer's retry after the broker restarts, so a local broker that is
    /// restarted under load needs `false`; the processor's `ON CONFLICT` makes the
    /// resulting duplicate messages harmless.
    pub idempotence: bool,
}

impl KafkaSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let brokers: String = env_or(
            "KAFKA_BROKERS",
            DEFAULT_KAFKA_BROKERS,
            "HOST:PORT[,HOST:PORT...]",
        )?;
        if brokers.split(',').any(|b| {
            b.trim()
                .rsplit_once(':')
                .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        }) {
            return Err(ConfigError {
                name: "KAFKA_BROKERS",
                value: brokers,
                expected: "HOST:PORT[,HOST:PORT...]",
            });
        }
        let topic: String = env_or("KAFKA_TOPIC", DEFAULT_KAFKA_TOPIC, "a topic name")?;
        if topic.is_empty()
            || topic.len() > 200
            || !topic
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(ConfigError {
                name: "KAFKA_TOPIC",
                value: topic,
                expected: "a topic name of letters, digits, '.', '_' and '-'",
            });
        }
        let partitions = env_positive("KAFKA_PARTITIONS", 3)?;
        let partitions = i32::try_from(partitions).map_err(|_| ConfigError {
            name: "KAFKA_PARTITIONS",
            value: partitions.to_string(),
            expected: "a positive integer",
        })?;
        let idempotence = env_or("KAFKA_IDEMPOTENCE", "true", "true or false")?;
        Ok(Self {
            brokers,
            topic,
            partitions,
            idempotence,
        })
    }

    /// The dead-letter topic next to the events topic.
    pub fn dlq_topic(&self) -> String {
        dlq_topic(&self.topic)
    }

    /// Settings for a producer whose messages count only once the broker has them all.
    pub fn producer_config(&self) -> ClientConfig {
        let mut config = self.client_config();
        config
            .set("acks", "all")
            .set("enable.idempotence", self.idempotence.to_string())
            // What the idempotent producer allows, and a cap for the other: messages wait
            // in the next batch while 5 requests are out, instead of going out in a stream
            // of tiny requests (on tansu, a third more broker CPU an event).
            .set("max.in.flight.requests.per.connection", "5");
        config
    }

    /// A client configuration with the brokers set and nothing else.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        // `KAFKA_DEBUG=cgrp,fetch` turns on librdkafka's own debug logs, for diagnosis.
        match std::env::var("KAFKA_DEBUG") {
            Ok(contexts) if !contexts.is_empty() => {
                config.set("debug", contexts).set("log_level", "7")
            }
            _ => config.set("log_level", "3"),
        };
        config
    }
}

pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// Creates each topic that does not exist yet; existing topics are left as they are.
pub async fn ensure_topics(
    config: &ClientConfig,
    topics: &[(&str, i32)],
) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = config.create()?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(_) | Err((_, Code::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::AdminOp(code)).inspect_err(|_| {
                    tracing::error!(%topic, ?code, "creating the topic failed");
                });
            }
        }
    }
    Ok(())
}

/// Whether trying again later can succeed. Permanent errors (a message too large, an
/// unknown topic after creation, bad configuration) are not retried.
pub fn is_transient(err: &KafkaError) -> bool {
    let code = match err {
        KafkaError::MessageProduction(code)
        | KafkaError::MessageConsumption(code)
        | KafkaError::ConsumerCommit(code)
        | KafkaError::MetadataFetch(code)
        | KafkaError::AdminOp(code)
        | KafkaError::Flush(code)
        | KafkaError::Global(code) => *code,
        KafkaError::Canceled => return true,
        _ => return false,
    };
    !matches!(
        code,
        RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessage
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed
            | RDKafkaErrorCode::InvalidConfig
            | RDKafkaErrorCode::InvalidArgument
            | RDKafkaErrorCode::UnsupportedVersion
    )
}
