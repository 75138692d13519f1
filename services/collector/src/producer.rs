//! The Kafka side of the collector: an idempotent producer with `acks=all`, so that an
//! event counts as accepted only once the broker has it.

use std::{sync::Arc, time::Duration};

use futures::future::join_all;
use ptrack_common::kafka::{self, is_transient};
use rdkafka::{
    error::{KafkaError, RDKafkaErrorCode},
    producer::{FutureProducer, FutureRecord, Producer},
};

use crate::Config;

#[derive(Clone)]
pub struct EventProducer {
    inner: FutureProducer,
    topic: Arc<str>,
}

/// Why a batch could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The broker is down, slow or overloaded: the client should retry.
    #[error("the event broker did not acknowledge the events: {0}")]
    Unavailable(KafkaError),
    /// Retrying will not help (for example a message larger than the broker takes).
    #[error("the event broker refused the events: {0}")]
    Refused(KafkaError),
}

impl From<KafkaError> for ProduceError {
    fn from(err: KafkaError) -> Self {
        if is_transient(&err) {
            Self::Unavailable(err)
        } else {
            Self::Refused(err)
        }
    }
}

impl EventProducer {
    pub fn new(config: &Config) -> Result<Self, KafkaError> {
        let mut client = config.kafka.producer_config();
        client
            .set("linger.ms", config.linger.as_millis().to_string())
            .set(
                "message.timeout.ms",
                config.produce_timeout.as_millis().to_string(),
            )
            .set("queue.buffering.max.messages", "200000");
        Ok(Self {
            inner: client.create()?,
            topic: config.kafka.topic.as_str().into(),
        })
    }

    /// Creates the events topic and its dead-letter topic, retrying while the broker is
    /// not reachable, without holding up the start of the HTTP server.
    pub fn ensure_topics_in_background(&self, config: &Config) {
        let client = config.kafka.client_config();
        let topic = config.kafka.topic.clone();
        let dlq = config.kafka.dlq_topic();
        let partitions = config.kafka.partitions;
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(200);
            loop {
                match kafka::ensure_topics(&client, &[(&topic, partitions), (&dlq, 1)]).await {
                    Ok(()) => return,
                    Err(err) => {
                        tracing::warn!(%err, "cannot create the topics yet; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(5));
                    }
                }
            }
        });
    }

    /// Produces every `(key, payload)` and waits until the broker has acknowledged all of
    /// them. Any failure fails the whole batch: the tracker retries it, and the event ids
    /// make the retry harmless downstream.
    pub async fn send_all(&self, messages: Vec<(String, Vec<u8>)>) -> Result<(), ProduceError> {
        let mut deliveries = Vec::with_capacity(messages.len());
        for (key, payload) in &messages {
            let record = FutureRecord::to(&self.topic).key(key).payload(payload);
            match self.inner.send_result(record) {
                Ok(delivery) => deliveries.push(delivery),
                Err((err, _)) => return Err(err.into()),
            }
        }
        for outcome in join_all(deliveries).await {
            match outcome {
                Ok(Ok(_)) => {}
                Ok(Err((err, _))) => return Err(err.into()),
                Err(_canceled) => return Err(KafkaError::Canceled.into()),
            }
        }
        Ok(())
    }

    /// Whether the broker answers and knows the topic.
    pub async fn ready(&self) -> Result<(), String> {
        let producer = self.inner.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || {
            let metadata = producer
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(2))
                .map_err(|err| format!("the broker is not reachable: {err}"))?;
            match metadata.topics().first().and_then(|t| t.error()) {
                None => Ok(()),
                Some(code) => Err(format!(
                    "topic {topic} is not available: {:?}",
                    RDKafkaErrorCode::from(code)
                )),
            }
        })
        .await
        .map_err(|err| format!("readiness check failed: {err}"))?
    }

    /// Waits (up to 10 s) for every message still queued to be acknowledged.
    pub async fn flush(&self) {
        let producer = self.inner.clone();
        let flushed =
            tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(10))).await;
        if let Ok(Err(err)) = flushed {
            tracing::error!(%err, "messages still unacknowledged at shutdown");
        }
    }
}
