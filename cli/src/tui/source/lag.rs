//! Consumer lag from the broker itself: the topic's partitions (metadata), each one's low
//! and high watermarks, and the group's committed offsets, so that a dead processor shows
//! as growing lag even though it cannot answer. The consumer has the processors' group id
//! but never subscribes or joins, so it takes no partition from them. Describe/list
//! consumer-groups calls are not used: tansu on SQLite fails them. The dead-letter
//! topic's watermarks give its depth and the dead-letter rate.
//!
//! librdkafka's calls block, so the source runs on a thread of its own.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    error::KafkaError,
    metadata::Metadata,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::tui::event::{DlqOffsets, Event, LagOrigin, LagSnapshot, PartitionOffsets, SourceId};

/// Each broker call gives up after this long, so a dead broker is told within seconds.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct LagConfig {
    pub brokers: String,
    pub topic: String,
    pub group: String,
    pub refresh: Duration,
}

pub fn spawn(config: LagConfig, tx: mpsc::Sender<Event>, cancel: CancellationToken) {
    std::thread::spawn(move || {
        let mut consumer: Option<BaseConsumer> = None;
        while !cancel.is_cancelled() && !tx.is_closed() {
            let started = Instant::now();
            let event = match read(&mut consumer, &config) {
                Ok(snapshot) => Event::Lag(snapshot),
                Err(err) => Event::SourceError {
                    source: SourceId::Broker,
                    error: format!("{err:#}"),
                },
            };
            if tx.blocking_send(event).is_err() {
                return;
            }
            // Sleep the rest of the refresh in short steps, to end soon after the TUI.
            let deadline = started + config.refresh;
            while Instant::now() < deadline {
                if cancel.is_cancelled() || tx.is_closed() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50).min(config.refresh));
            }
        }
    });
}

fn read(consumer: &mut Option<BaseConsumer>, config: &LagConfig) -> Result<LagSnapshot> {
    if consumer.is_none() {
        *consumer = Some(connect(config)?);
    }
    let Some(consumer) = consumer.as_ref() else {
        unreachable!("set just above")
    };
    snapshot(consumer, config)
}

/// A consumer that only asks: no subscription, no commits, no topic creation.
pub fn connect(config: &LagConfig) -> Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", &config.group)
        .set("client.id", "ptrack-tui")
        .set("enable.auto.commit", "false")
        .set("allow.auto.create.topics", "false")
        .set("log_level", "3")
        .create()
        .with_context(|| format!("a Kafka client for {}", config.brokers))
}

/// One reading of the topic's offsets and the group's commits.
pub fn snapshot(consumer: &BaseConsumer, config: &LagConfig) -> Result<LagSnapshot> {
    let metadata = consumer
        .fetch_metadata(None, CALL_TIMEOUT)
        .map_err(plain)
        .with_context(|| format!("the broker at {} does not answer", config.brokers))?;
    let partitions = partitions_of(&metadata, &config.topic).ok_or_else(|| {
        anyhow!(
            "the topic {} does not exist yet (the collector creates it)",
            config.topic
        )
    })?;
    let mut list = TopicPartitionList::new();
    for p in &partitions {
        list.add_partition(&config.topic, *p);
    }
    let committed = consumer
        .committed_offsets(list, CALL_TIMEOUT)
        .map_err(plain)
        .with_context(|| format!("the committed offsets of the group {}", config.group))?;
    let mut offsets = Vec::with_capacity(partitions.len());
    for p in partitions {
        let (low, high) = consumer
            .fetch_watermarks(&config.topic, p, CALL_TIMEOUT)
            .map_err(plain)
            .with_context(|| format!("the offsets of partition {p}"))?;
        let committed = committed
            .find_partition(&config.topic, p)
            .and_then(|e| match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            });
        offsets.push(PartitionOffsets {
            partition: p,
            low_watermark: low,
            high_watermark: high,
            committed,
        });
    }
    let dlq_topic = ptrack_common::kafka::dlq_topic(&config.topic);
    let dlq = match partitions_of(&metadata, &dlq_topic) {
        None => None,
        Some(dlq_partitions) => {
            let mut sum = DlqOffsets {
                high_watermark: 0,
                depth: 0,
            };
            for p in dlq_partitions {
                let (low, high) = consumer
                    .fetch_watermarks(&dlq_topic, p, CALL_TIMEOUT)
                    .map_err(plain)
                    .with_context(|| format!("the offsets of {dlq_topic} partition {p}"))?;
                sum.high_watermark += high;
                sum.depth += high - low;
            }
            Some(sum)
        }
    };
    Ok(LagSnapshot {
        at: Instant::now(),
        partitions: offsets,
        dlq,
        origin: LagOrigin::Broker,
    })
}

/// librdkafka's error without its source, which repeats the same words.
fn plain(err: KafkaError) -> anyhow::Error {
    anyhow!("{err}")
}

fn partitions_of(metadata: &Metadata, topic: &str) -> Option<Vec<i32>> {
    let topic = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())?;
    let mut ids: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
    if ids.is_empty() {
        return None;
    }
    ids.sort_unstable();
    Some(ids)
}
