//! The consumer stage: reads a batch from Kafka (by count, bytes or time), decodes it, and
//! hands it to the writer; a full hand-over channel stops it (the backpressure).

use std::{sync::Arc, time::Duration};

use ptrack_common::{
    event::{Limits, ReceivedEvent},
    health::Reporter,
};
use rdkafka::{Message, consumer::StreamConsumer, message::OwnedMessage};
use tokio::{
    sync::mpsc,
    time::{Instant, timeout, timeout_at},
};
use tokio_util::sync::CancellationToken;

use super::Prepared;
use crate::{
    Config,
    store::{Columns, KafkaPosition},
};

/// The consumer stage: batches, decodes, and hands over; returns when asked to stop or
/// when the writer is gone.
pub(super) async fn consume(
    consumer: Arc<StreamConsumer>,
    config: Config,
    health: Reporter,
    cancel: CancellationToken,
    batches: mpsc::Sender<Prepared>,
) {
    let limits = Limits::default();
    loop {
        let messages = next_batch(&consumer, &config, &health, &cancel).await;
        if messages.is_empty() {
            if cancel.is_cancelled() {
                return;
            }
            continue;
        }
        let started = std::time::Instant::now();
        let mut rows = Columns::with_capacity(messages.len());
        let mut bad = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            match ReceivedEvent::decode(message.payload().unwrap_or_default(), &limits) {
                Ok(event) => rows.push_from(event, Some(position(message))),
                Err(reason) => bad.push((i, reason)),
            }
        }
        let batch = Prepared {
            messages,
            rows,
            bad,
            started,
        };
        // Waiting for the writer (the database away) is backpressure, not a stall: keep
        // beating so that /livez stays 200 and Kubernetes does not restart a process
        // that would only wait again.
        let permit = loop {
            match timeout(Duration::from_secs(1), batches.reserve()).await {
                Ok(Ok(permit)) => break permit,
                Ok(Err(_closed)) => return,
                Err(_waiting) => health.beat(),
            }
        };
        permit.send(batch);
        // Progress: under steady traffic `next_batch` is never idle, and would never
        // report.
        health.healthy();
    }
}

/// Where `message` is in Kafka, stored with its event (`ptrack query trace`).
fn position(message: &OwnedMessage) -> KafkaPosition {
    KafkaPosition {
        partition: message.partition(),
        offset: message.offset(),
        timestamp_ms: message.timestamp().to_millis(),
    }
}

pub(super) fn create_consumer(config: &Config) -> anyhow::Result<StreamConsumer> {
    let mut client = config.kafka.client_config();
    client
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        // A replica killed with -9 is noticed after this long, and its partitions move.
        .set("session.timeout.ms", "10000")
        // The rebalance timeout: how long the group waits for every known member to rejoin.
        // Kept short so that a replica killed with -9 does not hold up its successor.
        .set("max.poll.interval.ms", "20000")
        .set("heartbeat.interval.ms", "1000")
        // librdkafka prefetches up to this much per partition (default 64 MiB): with a
        // backlog on three partitions that took the processor to 175 MiB. 16 MiB is still
        // about ten batches of 1000 events a partition.
        .set("queued.max.messages.kbytes", "16384")
        .set(
            "fetch.wait.max.ms",
            config.fetch_wait.as_millis().to_string(),
        );
    Ok(client.create()?)
}

/// What a message weighs in a batch: its payload and key (the decoded row roughly doubles
/// it while the batch is written).
fn message_bytes(message: &OwnedMessage) -> usize {
    message.payload().map_or(0, <[u8]>::len) + message.key().map_or(0, <[u8]>::len)
}

/// Waits for the first message (reporting health once a second while idle), then fills
/// the batch until it holds `batch_size` messages or `batch_max_bytes` bytes (the message
/// that crosses the limit is the last), or `batch_timeout` has passed since the first
/// message.
async fn next_batch(
    consumer: &StreamConsumer,
    config: &Config,
    health: &Reporter,
    cancel: &CancellationToken,
) -> Vec<OwnedMessage> {
    let mut batch = Vec::new();
    let first = tokio::select! {
        _ = cancel.cancelled() => return batch,
        first = timeout(Duration::from_secs(1), consumer.recv()) => first,
    };
    match first {
        Err(_idle) => {
            health.healthy();
            return batch;
        }
        Ok(Err(err)) => {
            health.unhealthy(format!("consuming failed: {err}"));
            tracing::warn!(%err, "consuming failed; retrying");
            tokio::time::sleep(Duration::from_millis(500)).await;
            return batch;
        }
        Ok(Ok(message)) => batch.push(message.detach()),
    }
    let deadline = Instant::now() + config.batch_timeout;
    let mut bytes = message_bytes(&batch[0]);
    while batch.len() < config.batch_size && bytes < config.batch_max_bytes {
        match timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(message)) => {
                let message = message.detach();
                bytes += message_bytes(&message);
                batch.push(message);
            }
            Ok(Err(err)) => {
                tracing::warn!(%err, "consuming failed mid-batch; writing what we have");
                break;
            }
            Err(_deadline) => break,
        }
    }
    batch
}
