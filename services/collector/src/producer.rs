//! The Kafka side of the collector: an idempotent producer with `acks=all`, so that an
//! event counts as accepted only once the broker has it, and a circuit breaker, so that
//! with the broker down every request is answered at once (503) instead of waiting out
//! the produce timeout.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
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
    /// The longest a request waits for the broker's acknowledgement.
    timeout: Duration,
    breaker: Arc<Breaker>,
}

/// How long the breaker stays open after a failure before one request may try again.
const BREAKER_OPEN_FOR: Duration = Duration::from_secs(1);

/// Open while the broker is known to be down: requests are refused at once. After
/// [`BREAKER_OPEN_FOR`] one request at a time (the probe) is let through; the first
/// acknowledgement closes it again.
#[derive(Default)]
struct Breaker {
    open_until: Mutex<Option<Instant>>,
    probing: AtomicBool,
}

impl Breaker {
    /// Whether a request may produce now. `Some(true)` means it is the probe.
    fn admit(&self) -> Option<bool> {
        let open_until = *self.open_until.lock().expect("never poisoned");
        match open_until {
            None => Some(false),
            Some(until) if Instant::now() < until => None,
            Some(_) => self
                .probing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
                .then_some(true),
        }
    }

    fn open(&self) {
        let mut open_until = self.open_until.lock().expect("never poisoned");
        if open_until.is_none() {
            tracing::warn!("the event broker is unreachable: answering 503 until it is back");
        }
        *open_until = Some(Instant::now() + BREAKER_OPEN_FOR);
        self.probing.store(false, Ordering::Release);
    }

    fn close(&self) {
        let mut open_until = self.open_until.lock().expect("never poisoned");
        if open_until.take().is_some() {
            tracing::info!("the event broker acknowledges again");
        }
        self.probing.store(false, Ordering::Release);
    }
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

struct ProbeGuard<'a>(&'a Breaker);

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        self.0.probing.store(false, Ordering::Release);
    }
}

/// Hands each delivery report to its request's [`BatchAck`], and tells the breaker when
/// the broker is lost or acknowledges again.
struct BatchContext {
    breaker: Arc<Breaker>,
}

impl ClientContext for BatchContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.breaker.open();
        }
        tracing::warn!(%error, reason, "librdkafka");
    }
}

impl ProducerContext for BatchContext {
    type DeliveryOpaque = Arc<BatchAck>;

    fn delivery(&self, result: &DeliveryResult<'_>, ack: Arc<BatchAck>) {
        if result.is_ok() {
            self.breaker.close();
        }
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
    /// No acknowledgement within `PRODUCE_TIMEOUT_MS`.
    #[error("the event broker did not acknowledge the events in time")]
    TimedOut,
    /// The broker is known to be down: nothing was produced.
    #[error("the event broker is down; nothing was produced")]
    Down,
}

impl ProduceError {
    /// Whether retrying later can succeed (a 503), or the messages are refused for good.
    pub fn is_transient(&self) -> bool {
        !matches!(self, Self::Refused(_))
    }

    /// A message larger than the broker takes.
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            Self::Refused(err) if matches!(
                err.rdkafka_error_code(),
                Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::InvalidMessageSize)
            )
        )
    }
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
            .set("queue.buffering.max.messages", "200000")
            .set("message.max.bytes", config.max_message_bytes.to_string())
            // Back within a second of the broker: librdkafka's default backs off to 10 s.
            .set("reconnect.backoff.max.ms", "1000");
        let breaker = Arc::new(Breaker::default());
        Ok(Self {
            inner: client.create_with_context(BatchContext {
                breaker: Arc::clone(&breaker),
            })?,
            topic: config.kafka.topic.as_str().into(),
            timeout: config.produce_timeout,
            breaker,
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
    /// them, at most `PRODUCE_TIMEOUT_MS`. Any failure fails the whole batch: the tracker
    /// retries it, and the event ids make the retry harmless downstream. With the broker
    /// known to be down nothing is produced and the answer is immediate.
    pub async fn send_all(&self, messages: Vec<(String, Vec<u8>)>) -> Result<(), ProduceError> {
        if messages.is_empty() {
            return Ok(());
        }
        let Some(probe) = self.breaker.admit() else {
            return Err(ProduceError::Down);
        };
        // A probe whose client goes away must not keep the breaker shut.
        let _probe = probe.then(|| ProbeGuard(&self.breaker));
        let outcome = self.produce(messages).await;
        match &outcome {
            Ok(()) => self.breaker.close(),
            Err(err) if err.is_transient() => self.breaker.open(),
            // Refused for good: the broker answered, so it is up.
            Err(_) if probe => self.breaker.close(),
            Err(_) => {}
        }
        outcome
    }

    async fn produce(&self, messages: Vec<(String, Vec<u8>)>) -> Result<(), ProduceError> {
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
        match tokio::time::timeout(self.timeout, acknowledged).await {
            Ok(Ok(outcome)) => outcome.map_err(Into::into),
            // Every report was dropped unanswered: the producer is shutting down.
            Ok(Err(_)) => Err(KafkaError::Canceled.into()),
            // librdkafka still holds the messages and may deliver them later: the client
            // retries, and the event ids make that harmless.
            Err(_) => Err(ProduceError::TimedOut),
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
