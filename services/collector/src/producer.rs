//! The Kafka side of the collector: an idempotent producer with `acks=all`, so that an
//! event counts as accepted only once the broker has it.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use ptrack_common::kafka::{self, is_transient};
use rdkafka::{
    ClientContext,
    error::{KafkaError, RDKafkaErrorCode},
    producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer},
};
use tokio::sync::oneshot;

use crate::Config;

#[derive(Clone)]
pub struct EventProducer {
    inner: ThreadedProducer<BatchContext>,
    topic: Arc<str>,
}

/// The acknowledgements still awaited for one request's messages. librdkafka reports
/// each message; only the last report (or the first failure) wakes the request, so a
/// request of ten events costs one wake-up, not ten.
struct BatchAck {
    remaining: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<Result<(), KafkaError>>>>,
}

impl BatchAck {
    fn settle(&self, outcome: Result<(), KafkaError>) {
        let last = self.remaining.fetch_sub(1, Ordering::AcqRel) == 1;
        if (last || outcome.is_err())
            && let Some(done) = self.done.lock().expect("never poisoned").take()
        {
            // The request may have given up (its client went away): nobody to tell.
            let _ = done.send(outcome);
        }
    }
}

/// Hands each delivery report to its request's [`BatchAck`].
struct BatchContext;

impl ClientContext for BatchContext {}

impl ProducerContext for BatchContext {
    type DeliveryOpaque = Arc<BatchAck>;

    fn delivery(&self, result: &DeliveryResult<'_>, ack: Arc<BatchAck>) {
        ack.settle(result.as_ref().map(drop).map_err(|(err, _)| err.clone()));
    }
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
            inner: client.create_with_context(BatchContext)?,
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
        if messages.is_empty() {
            return Ok(());
        }
        let (done, acknowledged) = oneshot::channel();
        let ack = Arc::new(BatchAck {
            remaining: AtomicUsize::new(messages.len()),
            done: Mutex::new(Some(done)),
        });
        for (key, payload) in &messages {
            let record = BaseRecord::with_opaque_to(&self.topic, Arc::clone(&ack))
                .key(key)
                .payload(payload);
            if let Err((err, _)) = self.inner.send(record) {
                return Err(err.into());
            }
        }
        drop(ack);
        match acknowledged.await {
            Ok(outcome) => outcome.map_err(Into::into),
            // Every report was dropped unanswered: the producer is shutting down.
            Err(_) => Err(KafkaError::Canceled.into()),
        }
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
