//! The main loop: consume → batch → insert → commit.
//!
//! Offsets are committed only after the batch's database transaction has committed and
//! every bad message of the batch is on the dead-letter topic. A crash before the commit
//! means the batch is read again, and `ON CONFLICT (event_id) DO NOTHING` makes that
//! harmless.
//!
//! Layout:
//! - this file: start-up (database, migrations, topics, the group), the loop that commits
//!   written batches in order, and the last commit on the way out.
//! - [`consume`](mod@consume): the consumer stage, Kafka → decoded batches.
//! - [`write`]: the writer stage, a batch → PostgreSQL through outages.
//! - [`dead_letter`]: the dead-letter producer.
//! - [`group_watch`]: lag per partition, and rejoining when a partition is orphaned.

mod consume;
mod dead_letter;
mod group_watch;
mod write;

use std::{collections::HashMap, future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use futures::{StreamExt, stream::FuturesOrdered};
use ptrack_common::{
    health::{Health, Reporter},
    kafka,
};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{CommitMode, Consumer, StreamConsumer},
    message::OwnedMessage,
};
use tokio::{sync::mpsc, time::timeout};
use tokio_util::sync::CancellationToken;

use self::{
    consume::{consume, create_consumer},
    dead_letter::DeadLetters,
    group_watch::watch_group,
    write::write_batch,
};
use crate::{Config, http::SharedStatus, metrics::Metrics, store::Columns};

const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub async fn run(
    config: Config,
    health: Health,
    metrics: Arc<Metrics>,
    status: SharedStatus,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let database = health.register("database", Duration::MAX);
    let Some(pool) = retry("connecting to PostgreSQL", &database, &cancel, || async {
        ptrack_common::db::connect(
            &config.database_url,
            config.db_max_connections,
            Duration::from_secs(5),
        )
        .await
        .map_err(|err| format!("{err:#}"))
    })
    .await
    else {
        return Ok(());
    };
    // /readyz asks PostgreSQL itself: with no traffic the writer would not notice it gone.
    let probe = pool.clone();
    health.add_check("database", move || {
        let pool = probe.clone();
        async move { ptrack_common::db::ping(&pool).await }
    });
    let migrated = retry("migrating the database", &database, &cancel, || async {
        ptrack_common::db::MIGRATOR
            .run(&pool)
            .await
            .map_err(|err| err.to_string())
    })
    .await;
    if migrated.is_none() {
        return Ok(());
    }

    let broker = health.register("broker", Duration::MAX);
    let client = config.kafka.client_config();
    let topics = [
        (config.kafka.topic.as_str(), config.kafka.partitions),
        (&*config.kafka.dlq_topic(), 1),
    ];
    let created = retry("creating the topics", &broker, &cancel, || async {
        kafka::ensure_topics(&client, &topics)
            .await
            .map_err(|err| err.to_string())
    })
    .await;
    if created.is_none() {
        return Ok(());
    }

    if !config.join_delay.is_zero() {
        tracing::info!(delay = ?config.join_delay, "waiting before joining the consumer group (KAFKA_JOIN_DELAY_MS)");
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(config.join_delay) => {}
        }
    }
    let consumer = Arc::new(create_consumer(&config).context("creating the Kafka consumer")?);
    consumer
        .subscribe(&[&config.kafka.topic])
        .context("subscribing to the events topic")?;
    tracing::info!(group = %config.group_id, topic = %config.kafka.topic, "consuming");
    let dead_letters = DeadLetters::new(&config.kafka)?;
    status.update(|s| {
        s.group_id = config.group_id.clone();
        s.topic = config.kafka.topic.clone();
    });
    tokio::spawn(watch_group(
        consumer.clone(),
        config.kafka.topic.clone(),
        config.orphan_after,
        database.clone(),
        metrics.clone(),
        status.clone(),
        cancel.clone(),
    ));

    // Two stages joined by a bounded channel, so that reading and decoding the next batch
    // overlaps with writing the previous ones: the consumer task batches and decodes; this
    // task writes up to `db_max_connections` batches at once and commits their offsets in
    // batch order. A full channel stops the consumer: that is the backpressure.
    let consumer_health = health.register("consumer", Duration::from_secs(60));
    let (batches, mut prepared) = mpsc::channel::<Prepared>(1);
    let consuming = tokio::spawn(consume(
        consumer.clone(),
        config.clone(),
        consumer_health,
        cancel.clone(),
        batches,
    ));
    let max_in_flight = config.db_max_connections.max(1) as usize;
    let mut in_flight = FuturesOrdered::new();
    let mut open = true;
    let mut last_commit = None;
    loop {
        tokio::select! {
            Some(written) = in_flight.next(), if !in_flight.is_empty() => {
                // `None`: asked to stop while the database was away; this batch and the
                // ones after it stay uncommitted and will be read again.
                let Some((batch, bad)): Option<(Prepared, Vec<(usize, String)>)> = written else {
                    break;
                };
                let bad: Vec<_> = bad.into_iter().map(|(i, reason)| (&batch.messages[i], reason)).collect();
                if !bad.is_empty() && !dead_letters.send(&bad, &broker, &metrics, &cancel).await {
                    break;
                }
                let offsets = next_offsets(&batch.messages);
                if let Err(err) = consumer.commit(&offsets, CommitMode::Async) {
                    tracing::warn!(%err, "committing offsets failed; the batch will be read again (no duplicates are stored)");
                }
                last_commit = Some(offsets);
                metrics.batches.inc();
                metrics.batch_latency.observe(batch.started.elapsed().as_secs_f64());
            }
            received = prepared.recv(), if open && in_flight.len() < max_in_flight => match received {
                Some(batch) => in_flight.push_back(write_batch(&pool, batch, &database, &metrics, &cancel)),
                None => open = false,
            },
            else => break,
        }
    }
    drop(prepared);
    let _ = consuming.await;
    if let Some(offsets) = last_commit {
        final_commit(consumer, offsets).await;
    }
    tracing::info!("processor stopped");
    Ok(())
}

/// How long stopping waits for the last offsets to be committed.
const FINAL_COMMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Commits the last written batch's offsets before the processor stops, giving up after
/// [`FINAL_COMMIT_TIMEOUT`]: librdkafka's synchronous commit waits forever while the broker
/// is down, and a processor asked to stop must stop. Giving up loses nothing: the batch is
/// read again by the next processor and `ON CONFLICT` keeps it stored once.
async fn final_commit(consumer: Arc<StreamConsumer>, offsets: TopicPartitionList) {
    let (done, committed) = tokio::sync::oneshot::channel();
    // A plain thread, not `spawn_blocking`: the runtime waits for its blocking tasks when
    // it shuts down, which would bring the wait back.
    std::thread::spawn(move || {
        let _ = done.send(consumer.commit(&offsets, CommitMode::Sync));
    });
    match timeout(FINAL_COMMIT_TIMEOUT, committed).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(err))) => {
            tracing::warn!(%err, "the final offset commit failed; the last batch will be read again");
        }
        Ok(Err(_)) | Err(_) => tracing::warn!(
            "the broker did not take the final offset commit within {FINAL_COMMIT_TIMEOUT:?}; \
             the last batch will be read again (no duplicates are stored)"
        ),
    }
}

/// A batch read from Kafka and decoded: the rows to write and the messages that are not
/// events (by index, with the reason).
struct Prepared {
    messages: Vec<OwnedMessage>,
    rows: Columns,
    bad: Vec<(usize, String)>,
    started: std::time::Instant,
}

/// The offsets to commit: one past the last message of each partition in the batch.
fn next_offsets(batch: &[OwnedMessage]) -> TopicPartitionList {
    let mut last: HashMap<(&str, i32), i64> = HashMap::new();
    for message in batch {
        let entry = last
            .entry((message.topic(), message.partition()))
            .or_insert(message.offset());
        *entry = (*entry).max(message.offset());
    }
    let mut offsets = TopicPartitionList::with_capacity(last.len());
    for ((topic, partition), offset) in last {
        // Adding to a list we own cannot fail for a valid offset.
        let _ = offsets.add_partition_offset(topic, partition, Offset::Offset(offset + 1));
    }
    offsets
}

/// Runs `attempt` until it succeeds, with backoff, reporting the failure as unhealthy.
/// `None` when asked to stop first.
async fn retry<T, F, Fut>(
    what: &str,
    reporter: &Reporter,
    cancel: &CancellationToken,
    mut attempt: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let mut delay = Duration::from_millis(200);
    loop {
        match attempt().await {
            Ok(value) => {
                reporter.healthy();
                return Some(value);
            }
            Err(err) => {
                tracing::warn!(%err, retry_in = ?delay, "{what} failed");
                reporter.unhealthy(format!("{what} failed: {err}"));
                tokio::select! {
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(MAX_BACKOFF);
            }
        }
    }
}
