//! The dead-letter topic (`<topic>.dlq`): messages that are not events, or that the
//! database refuses for good, with the reason and where they came from.

use std::time::Duration;

use anyhow::Context;
use ptrack_common::{
    health::Reporter,
    kafka::{self, KafkaSettings},
};
use rdkafka::{
    Message,
    message::{Header, OwnedHeaders, OwnedMessage},
    producer::{FutureProducer, FutureRecord},
};
use tokio_util::sync::CancellationToken;

use super::MAX_BACKOFF;
use crate::metrics::Metrics;

/// The dead-letter producer: the original bytes and key, with the reason and the source
/// position in headers.
pub(super) struct DeadLetters {
    producer: FutureProducer,
    topic: String,
}

impl DeadLetters {
    pub(super) fn new(kafka: &KafkaSettings) -> anyhow::Result<Self> {
        Ok(Self {
            producer: kafka
                .producer_config()
                .create()
                .context("creating the dead-letter producer")?,
            topic: kafka.dlq_topic(),
        })
    }

    /// Sends every message, retrying while the broker is away; a message refused for a
    /// permanent reason (see [`kafka::is_transient`]) is logged, counted in
    /// `dead_letter_failures` and skipped. `false` means we were asked to stop first (and
    /// so must not commit).
    pub(super) async fn send(
        &self,
        bad: &[(&OwnedMessage, String)],
        broker: &Reporter,
        metrics: &Metrics,
        cancel: &CancellationToken,
    ) -> bool {
        for (message, reason) in bad {
            let mut delay = Duration::from_millis(100);
            loop {
                let partition = message.partition().to_string();
                let offset = message.offset().to_string();
                let headers = OwnedHeaders::new()
                    .insert(Header {
                        key: "error",
                        value: Some(reason.as_str()),
                    })
                    .insert(Header {
                        key: "source_topic",
                        value: Some(message.topic()),
                    })
                    .insert(Header {
                        key: "source_partition",
                        value: Some(partition.as_str()),
                    })
                    .insert(Header {
                        key: "source_offset",
                        value: Some(offset.as_str()),
                    });
                let mut record = FutureRecord::to(&self.topic)
                    .payload(message.payload().unwrap_or_default())
                    .headers(headers);
                if let Some(key) = message.key() {
                    record = record.key(key);
                }
                match self.producer.send(record, Duration::from_secs(5)).await {
                    Ok(_) => {
                        tracing::warn!(%reason, partition = message.partition(), offset = message.offset(), "message dead-lettered");
                        metrics.dead_lettered.inc();
                        broker.healthy();
                        break;
                    }
                    // A message the dead-letter topic will never take (too large, say):
                    // retrying would wedge the processor, so it is logged with where it
                    // came from, counted, and skipped.
                    Err((err, _)) if !kafka::is_transient(&err) => {
                        tracing::error!(
                            %err,
                            %reason,
                            partition = message.partition(),
                            offset = message.offset(),
                            bytes = message.payload().map_or(0, <[u8]>::len),
                            "the dead-letter topic refused the message for good; it is skipped"
                        );
                        metrics.dead_letter_failures.inc();
                        break;
                    }
                    Err((err, _)) => {
                        broker.unhealthy(format!("cannot write to the dead-letter topic: {err}"));
                        tokio::select! {
                            _ = cancel.cancelled() => return false,
                            _ = tokio::time::sleep(delay) => {}
                        }
                        delay = (delay * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
        true
    }
}
