//! consume → batch → insert → commit.
//!
//! Offsets are committed only after the batch's database transaction has committed and
//! every bad message of the batch is on the dead-letter topic. A crash before the commit
//! means the batch is read again, and `ON CONFLICT (event_id) DO NOTHING` makes that
//! harmless.

use std::{collections::HashMap, future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use futures::{StreamExt, stream::FuturesOrdered};
use ptrack_common::{
    event::{Limits, ReceivedEvent},
    health::{Health, Reporter},
    kafka::{self, KafkaSettings},
};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{CommitMode, Consumer, StreamConsumer},
    message::{Header, OwnedHeaders, OwnedMessage},
    producer::{FutureProducer, FutureRecord},
};
use sqlx::PgPool;
use tokio::{
    sync::mpsc,
    time::{Instant, timeout, timeout_at},
};
use tokio_util::sync::CancellationToken;

use crate::{
    Config,
    http::SharedStatus,
    metrics::Metrics,
    store::{self, Columns},
};

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

/// The consumer stage: batches, decodes, and hands over; returns when asked to stop or
/// when the writer is gone.
async fn consume(
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
                Ok(event) => rows.push(event),
                Err(reason) => bad.push((i, reason)),
            }
        }
        let batch = Prepared {
            messages,
            rows,
            bad,
            started,
        };
        if batches.send(batch).await.is_err() {
            return;
        }
        // Progress: under steady traffic `next_batch` is never idle, and would never
        // report.
        health.healthy();
    }
}

/// Writes one batch; returns it with every message to dead-letter (not an event, or
/// refused by the database for good), or `None` when asked to stop first.
async fn write_batch(
    pool: &PgPool,
    mut batch: Prepared,
    database: &Reporter,
    metrics: &Metrics,
    cancel: &CancellationToken,
) -> Option<(Prepared, Vec<(usize, String)>)> {
    let mut bad = std::mem::take(&mut batch.bad);
    let rows = std::mem::take(&mut batch.rows);
    if !rows.is_empty() {
        for (event_id, reason) in write(pool, rows, database, metrics, cancel).await? {
            if let Some(i) = batch
                .messages
                .iter()
                .position(|m| payload_has_event_id(m, &event_id))
            {
                bad.push((i, reason));
            }
        }
    }
    Some((batch, bad))
}

fn create_consumer(config: &Config) -> anyhow::Result<StreamConsumer> {
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

/// Waits for the first message (reporting health once a second while idle), then fills
/// the batch until it is full or `batch_timeout` has passed since the first message.
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
    while batch.len() < config.batch_size {
        match timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(message)) => batch.push(message.detach()),
            Ok(Err(err)) => {
                tracing::warn!(%err, "consuming failed mid-batch; writing what we have");
                break;
            }
            Err(_deadline) => break,
        }
    }
    batch
}

/// Writes the rows, waiting out a database outage. Returns the events the database
/// refuses for good (each with the reason), or `None` when asked to stop first.
async fn write(
    pool: &PgPool,
    rows: Columns,
    database: &Reporter,
    metrics: &Metrics,
    cancel: &CancellationToken,
) -> Option<Vec<(uuid::Uuid, String)>> {
    match insert_through_outages(pool, &rows, database, metrics, cancel).await? {
        Ok(inserted) => {
            database.healthy();
            metrics.rows_inserted.inc_by(inserted);
            metrics
                .duplicates_skipped
                .inc_by(rows.len() as u64 - inserted);
            Some(Vec::new())
        }
        Err(err) => {
            tracing::warn!(%err, "the batch was refused; writing its events one by one");
            write_one_by_one(pool, rows, database, metrics, cancel).await
        }
    }
}

/// The slow path after a permanent error: every event on its own, so that one row the
/// database will never take (a NUL byte in a string, say) does not hold up the others.
async fn write_one_by_one(
    pool: &PgPool,
    rows: Columns,
    database: &Reporter,
    metrics: &Metrics,
    cancel: &CancellationToken,
) -> Option<Vec<(uuid::Uuid, String)>> {
    let mut refused = Vec::new();
    for row in rows.into_rows() {
        match insert_through_outages(pool, &row, database, metrics, cancel).await? {
            Ok(inserted) => {
                metrics.rows_inserted.inc_by(inserted);
                metrics.duplicates_skipped.inc_by(1 - inserted.min(1));
            }
            Err(err) => {
                let reason = match &err {
                    sqlx::Error::Database(db) => {
                        format!("the database refused the event: {}", db.message())
                    }
                    other => format!("the database refused the event: {other}"),
                };
                refused.push((row.first_event_id(), reason));
            }
        }
    }
    database.healthy();
    Some(refused)
}

/// Inserts the rows, retrying with backoff while PostgreSQL is unavailable (reported
/// unhealthy meanwhile; the offsets stay put). `Err` is an error that retrying cannot fix;
/// `None` means asked to stop first.
async fn insert_through_outages(
    pool: &PgPool,
    rows: &Columns,
    database: &Reporter,
    metrics: &Metrics,
    cancel: &CancellationToken,
) -> Option<Result<u64, sqlx::Error>> {
    let mut delay = Duration::from_millis(100);
    loop {
        match store::insert_batch(pool, rows).await {
            Err(err) if store::is_transient(&err) => {
                metrics.database_errors.inc();
                database.unhealthy(format!("PostgreSQL unavailable, retrying: {err}"));
                tracing::warn!(%err, retry_in = ?delay, "writing to PostgreSQL failed; offsets stay put");
                tokio::select! {
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(MAX_BACKOFF);
            }
            Err(err) => {
                metrics.database_errors.inc();
                return Some(Err(err));
            }
            Ok(inserted) => return Some(Ok(inserted)),
        }
    }
}

fn payload_has_event_id(message: &OwnedMessage, event_id: &uuid::Uuid) -> bool {
    #[derive(serde::Deserialize)]
    struct Id {
        event_id: uuid::Uuid,
    }
    let Some(payload) = message.payload() else {
        return false;
    };
    serde_json::from_slice::<ptrack_common::event::EventMessage>(payload)
        .ok()
        .and_then(|m| serde_json::from_str::<Id>(m.event.get()).ok())
        .is_some_and(|m| m.event_id == *event_id)
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

/// The dead-letter producer: the original bytes and key, with the reason and the source
/// position in headers.
struct DeadLetters {
    producer: FutureProducer,
    topic: String,
}

impl DeadLetters {
    fn new(kafka: &KafkaSettings) -> anyhow::Result<Self> {
        Ok(Self {
            producer: kafka
                .producer_config()
                .create()
                .context("creating the dead-letter producer")?,
            topic: kafka.dlq_topic(),
        })
    }

    /// Sends every message, retrying while the broker is away. `false` means we were
    /// asked to stop first (and so must not commit).
    async fn send(
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

/// Every 2 s, one look at the group's partitions for two purposes: the lag of ours
/// (metrics and /status), and orphans. An orphan is a partition with messages waiting
/// that has not moved for `orphan_after` and is not ours: its owner is gone and the group
/// did not rebalance. tansu 0.6 expires a member killed with -9 but does not rebalance
/// the group then, so without rejoining its partitions would wait forever (Apache Kafka
/// rebalances by itself; this never fires there unless a member really is stuck).
async fn watch_group(
    consumer: Arc<StreamConsumer>,
    topic: String,
    orphan_after: Duration,
    database: Reporter,
    metrics: Arc<Metrics>,
    status: SharedStatus,
    cancel: CancellationToken,
) {
    let mut moved: HashMap<i32, (i64, std::time::Instant)> = HashMap::new();
    loop {
        let probe = consumer.clone();
        let probe_topic = topic.clone();
        let looked = tokio::task::spawn_blocking(move || group_positions(&probe, &probe_topic));
        if let Ok(Some((positions, mine))) = looked.await {
            report_lag(&positions, &mine, &metrics, &status);
            let now = std::time::Instant::now();
            let mut orphans = Vec::new();
            for &(partition, committed, high) in &positions {
                let entry = moved.entry(partition).or_insert((committed, now));
                if entry.0 != committed || committed >= high {
                    *entry = (committed, now);
                } else if now.duration_since(entry.1) >= orphan_after && !mine.contains(&partition)
                {
                    orphans.push(partition);
                }
            }
            // Our own stall (the database away) is not an orphan: rejoining would not help.
            if !orphans.is_empty() && database.is_healthy() {
                tracing::warn!(
                    ?orphans,
                    "partitions with waiting messages have not moved for {orphan_after:?} and are not ours: rejoining the group"
                );
                consumer.unsubscribe();
                if let Err(err) = consumer.subscribe(&[&topic]) {
                    tracing::error!(%err, "subscribing again failed");
                }
                moved.clear();
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

/// Per partition of ours, high watermark minus committed offset.
fn report_lag(positions: &[Position], mine: &[i32], metrics: &Metrics, status: &SharedStatus) {
    let mut lags: Vec<(i32, i64)> = positions
        .iter()
        .filter(|(partition, ..)| mine.contains(partition))
        .map(|&(partition, committed, high)| (partition, (high - committed).max(0)))
        .collect();
    lags.sort_unstable();
    metrics.lag.clear();
    for (partition, lag) in &lags {
        metrics
            .lag
            .get_or_create(&vec![("partition", partition.to_string())])
            .set(*lag);
    }
    let total = lags.iter().map(|(_, lag)| lag).sum();
    metrics.lag_total.set(total);
    status.update(|s| {
        s.partitions = lags.iter().map(|(p, _)| *p).collect();
        s.lag = total;
    });
}

/// `(partition, committed offset, high watermark)`.
type Position = (i32, i64, i64);

/// `(partition, committed, high watermark)` for every partition of the topic, for the
/// group, and the partitions assigned to this replica; a blocking call.
fn group_positions(consumer: &StreamConsumer, topic: &str) -> Option<(Vec<Position>, Vec<i32>)> {
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(2))
        .ok()?;
    let partitions: Vec<i32> = metadata
        .topics()
        .first()?
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut all = TopicPartitionList::new();
    for partition in &partitions {
        all.add_partition(topic, *partition);
    }
    let committed = consumer
        .committed_offsets(all, Duration::from_secs(2))
        .ok()?;
    let mut positions = Vec::new();
    for element in committed.elements() {
        let (low, high) = consumer
            .fetch_watermarks(topic, element.partition(), Duration::from_secs(2))
            .ok()?;
        let committed = match element.offset() {
            Offset::Offset(o) => o,
            _ => low,
        };
        positions.push((element.partition(), committed, high));
    }
    let mine = consumer
        .assignment()
        .ok()?
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect();
    Some((positions, mine))
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
