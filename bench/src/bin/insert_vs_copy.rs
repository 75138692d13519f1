//! The processor's insert rate against a raw `COPY` of the same rows, in one run.
//!
//! 1. Produces N tracker events to a fresh topic on an embedded broker.
//! 2. Starts the processor (the library, in this process) on a fresh database and times
//!    it from start until all N rows are in `user_events`: consume, decode, batch insert
//!    and offset commits included.
//! 3. COPYs the same N rows (prepared beforehand) into `user_events` of another fresh
//!    database in one server-side COPY stream, and times that.
//!
//!   cargo run --release -p ptrack-bench --bin insert_vs_copy -- [N]
//!
//! Needs PostgreSQL at DATABASE_URL (`scripts/test --start` prints one).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt, future::try_join_all};
use ptrack_common::{
    config::Secret,
    event::{EventMessage, Limits, ReceivedEvent},
    kafka::KafkaSettings,
};
use ptrack_processor::store::Columns;
use ptrack_test_support::{TestBroker, TestDatabase, fresh_topic, tracker_event};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()
        .context("N must be a number")?
        .unwrap_or(200_000);
    let broker = TestBroker::start().await?;
    let topic = fresh_topic(&broker, 3).await?;
    let payloads = messages(n);

    let produce_started = Instant::now();
    produce(&broker, &topic, &payloads).await?;
    let produce_secs = produce_started.elapsed().as_secs_f64();
    println!(
        "produced      {n} events in {produce_secs:.2} s = {:.0} events/s",
        n as f64 / produce_secs
    );

    let consume_secs = time_consume(&broker, &topic, n).await?;
    println!(
        "consume only  {n} events in {consume_secs:.2} s = {:.0} events/s (a bare consumer in a group: the broker's ceiling)",
        n as f64 / consume_secs
    );

    let processor_db = TestDatabase::new().await?;
    let processor_secs = time_processor(&broker, &topic, &processor_db, n).await?;
    let processor_rate = n as f64 / processor_secs;
    println!(
        "processor     {n} rows in {processor_secs:.2} s = {processor_rate:.0} rows/s (consume + decode + insert + commit)"
    );

    let insert_db = TestDatabase::new().await?;
    let insert_secs = time_insert_path(&insert_db, &payloads).await?;
    let insert_rate = n as f64 / insert_secs;
    println!(
        "insert path   {n} rows in {insert_secs:.2} s = {insert_rate:.0} rows/s (the processor's writer: batches of 1000, 4 at once, no broker)"
    );

    let copy_db = TestDatabase::new().await?;
    let copy_secs = time_copy(&copy_db, &payloads).await?;
    let copy_rate = n as f64 / copy_secs;
    println!(
        "raw COPY      {n} rows in {copy_secs:.2} s = {copy_rate:.0} rows/s (one COPY stream, same table and indexes)"
    );
    println!(
        "ratio         insert path / COPY = {:.2} (target >= 0.70)",
        insert_rate / copy_rate
    );
    println!(
        "ratio         whole processor / COPY = {:.2}; whole processor / bare consumer = {:.2}",
        processor_rate / copy_rate,
        processor_rate * consume_secs / n as f64
    );
    Ok(())
}

/// N distinct tracker events, with the shape and sizes of the browser tracker's.
fn messages(n: usize) -> Vec<(String, Vec<u8>)> {
    let kinds = ["PAGE_VIEW", "HOVER_ENTER", "HOVER_LEAVE", "CLICK"];
    (0..n)
        .map(|i| {
            let mut event = tracker_event(kinds[i % 4], &format!("Component{}", i % 40));
            event["session_id"] = json!(format!("session-{}", i / 25));
            let key = format!("session-{}", i / 25);
            // A Value always serialises.
            let event = serde_json::value::to_raw_value(&event).expect("serialisable");
            let message = EventMessage {
                event: &event,
                app_name: Some("bench".into()),
                app_version: Some("1.0.0".into()),
                received_at: chrono::Utc::now().timestamp_millis(),
            };
            // Checked JSON text and plain strings always serialise.
            (key, serde_json::to_vec(&message).expect("serialisable"))
        })
        .collect()
}

async fn produce(broker: &TestBroker, topic: &str, payloads: &[(String, Vec<u8>)]) -> Result<()> {
    let producer: FutureProducer = broker
        .client_config()
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    for chunk in payloads.chunks(10_000) {
        let sends = chunk.iter().map(|(key, payload)| {
            let producer = producer.clone();
            async move {
                producer
                    .send(
                        FutureRecord::to(topic).key(key).payload(payload),
                        Duration::from_secs(30),
                    )
                    .await
                    .map_err(|(err, _)| err)
            }
        });
        try_join_all(sends).await?;
    }
    Ok(())
}

async fn time_consume(broker: &TestBroker, topic: &str, n: usize) -> Result<f64> {
    use rdkafka::consumer::{Consumer, StreamConsumer};
    let consumer: StreamConsumer = broker
        .client_config()
        .set("group.id", format!("bench-consume-{topic}"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // As the processor does (see its KAFKA_FETCH_WAIT_MS).
        .set("fetch.wait.max.ms", "50")
        .create()?;
    consumer.subscribe(&[topic])?;
    let started = Instant::now();
    for _ in 0..n {
        consumer.recv().await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

async fn time_processor(
    broker: &TestBroker,
    topic: &str,
    db: &TestDatabase,
    n: usize,
) -> Result<f64> {
    let config = ptrack_processor::Config {
        addr: "127.0.0.1:0".parse()?,
        kafka: KafkaSettings {
            brokers: broker.bootstrap(),
            topic: topic.to_owned(),
            partitions: 3,
            idempotence: true,
        },
        group_id: format!("bench-{topic}"),
        database_url: Secret::new(db.url.clone()),
        batch_size: 1000,
        batch_max_bytes: ptrack_processor::config::DEFAULT_BATCH_MAX_BYTES as usize,
        batch_timeout: Duration::from_millis(200),
        db_max_connections: 4,
        join_delay: Duration::ZERO,
        orphan_after: Duration::from_secs(30),
        fetch_wait: Duration::from_millis(50),
        http: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let started = Instant::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let processor = tokio::spawn(ptrack_processor::run(listener, config, async {
        let _ = stopped.await;
    }));
    loop {
        if db.count().await? as usize >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let metrics = processor_metrics(addr).await.unwrap_or_default();
    let value = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let batches = value("ptrack_processor_batches_total");
    let latency = value("ptrack_processor_batch_latency_seconds_sum");
    println!(
        "              {batches} batches, {:.0} events a batch, {:.1} ms a batch from decode to committed",
        n as f64 / batches.max(1.0),
        1000.0 * latency / batches.max(1.0)
    );
    let _ = stop.send(());
    processor.await??;
    Ok(elapsed)
}

/// The processor's own write path on decoded batches: `store::insert_batch` with
/// `BATCH_SIZE` 1000 and 4 batches in flight (`DB_MAX_CONNECTIONS`), as in the processor.
async fn time_insert_path(db: &TestDatabase, payloads: &[(String, Vec<u8>)]) -> Result<f64> {
    let limits = Limits::default();
    let mut batches = Vec::new();
    for chunk in payloads.chunks(1000) {
        let mut columns = Columns::with_capacity(chunk.len());
        for (_, payload) in chunk {
            columns.push(ReceivedEvent::decode(payload, &limits).map_err(anyhow::Error::msg)?);
        }
        batches.push(columns);
    }
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&db.url)
        .await?;
    let started = Instant::now();
    let stored: Vec<u64> = futures::stream::iter(
        batches
            .iter()
            .map(|b| ptrack_processor::store::insert_batch(&pool, b)),
    )
    .buffered(4)
    .try_collect()
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        stored.iter().sum::<u64>() as usize == payloads.len(),
        "not every row was stored"
    );
    Ok(elapsed)
}

/// One COPY stream of every row, in the processor's own text format; the rows are
/// built before the clock starts.
async fn time_copy(db: &TestDatabase, payloads: &[(String, Vec<u8>)]) -> Result<f64> {
    let limits = Limits::default();
    let mut columns = Columns::with_capacity(payloads.len());
    for (_, payload) in payloads {
        columns.push(ReceivedEvent::decode(payload, &limits).map_err(anyhow::Error::msg)?);
    }
    let data = columns.copy_text();
    let mut conn = db.pool.acquire().await?;
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw(ptrack_processor::store::COPY_STATEMENT)
        .await?;
    for chunk in data.as_bytes().chunks(1 << 20) {
        copy.send(chunk).await?;
    }
    let rows = copy.finish().await?;
    let elapsed = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        rows as usize == payloads.len(),
        "COPY stored {rows} rows of {}",
        payloads.len()
    );
    Ok(elapsed)
}
/// The processor's `/metrics` text, read over a plain HTTP/1.0 request.
async fn processor_metrics(addr: std::net::SocketAddr) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await?;
    Ok(body)
}
