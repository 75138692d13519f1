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

use crate::config::{DEFAULT_KAFKA_BROKERS, DEFAULT_KAFKA_TOPIC, positive};

/// The Kafka settings every service shares; each service's config flattens them.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct KafkaSettings {
    /// Comma-separated HOST:PORT list of Kafka brokers to bootstrap from.
    #[arg(
        long = "kafka-brokers",
        env = "KAFKA_BROKERS",
        value_name = "KAFKA_BROKERS",
        default_value = DEFAULT_KAFKA_BROKERS,
        value_parser = brokers
    )]
    pub brokers: String,
    /// The topic of the events; dead letters go to `<topic>.dlq`.
    #[arg(
        long = "kafka-topic",
        env = "KAFKA_TOPIC",
        value_name = "KAFKA_TOPIC",
        default_value = DEFAULT_KAFKA_TOPIC,
        value_parser = topic_name
    )]
    pub topic: String,
    /// Partitions of the topic, used only when it has to be created.
    #[arg(
        long = "kafka-partitions",
        env = "KAFKA_PARTITIONS",
        value_name = "KAFKA_PARTITIONS",
        default_value = "3",
        value_parser = positive::<i32>
    )]
    pub partitions: i32,
    /// The idempotent producer (true or false). tansu 0.6 on SQLite panics on a
    /// producer's retry after the broker restarts, so a local broker restarted under load
    /// needs false; the processor's ON CONFLICT makes the resulting duplicates harmless.
    #[arg(
        long = "kafka-idempotence",
        env = "KAFKA_IDEMPOTENCE",
        value_name = "KAFKA_IDEMPOTENCE",
        default_value = "true",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolValueParser::new()
    )]
    pub idempotence: bool,
}

fn brokers(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.split(',').any(|b| {
        b.trim()
            .rsplit_once(':')
            .is_none_or(|(_, p)| p.parse::<u16>().is_err())
    }) {
        return Err("expected HOST:PORT[,HOST:PORT...]".into());
    }
    Ok(value.to_owned())
}

fn topic_name(value: &str) -> Result<String, String> {
    let topic = value.trim();
    if topic.is_empty()
        || topic.len() > 200
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("expected a topic name of letters, digits, '.', '_' and '-'".into());
    }
    Ok(topic.to_owned())
}

impl KafkaSettings {
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
