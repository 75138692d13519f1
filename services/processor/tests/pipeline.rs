//! The whole pipeline, end to end, with the real processor binary: tracker → collector →
//! Kafka (embedded tansu) → processor → PostgreSQL.

use std::{
    path::PathBuf,
    process::{Child, Command},
    sync::{Arc, Mutex},
    time::Duration,
};

use ptrack_test_support::{
    TestBroker, TestDatabase, TestPostgres, event_ids, eventually, fresh_topic, read_messages,
    scrape, tracker_batch, tracker_event,
};
use rdkafka::{
    Message,
    message::Headers,
    producer::{FutureProducer, FutureRecord},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// The real `ptrack-processor` binary, so that a test can kill it with SIGKILL.
struct Processor {
    child: Child,
    log: PathBuf,
    addr: String,
}

impl Processor {
    fn spawn(broker: &TestBroker, topic: &str, database_url: &str, batch_size: usize) -> Self {
        Self::spawn_with(broker, topic, database_url, batch_size, &[])
    }

    fn spawn_with(
        broker: &TestBroker,
        topic: &str,
        database_url: &str,
        batch_size: usize,
        extra_env: &[(&str, &str)],
    ) -> Self {
        let addr = format!("127.0.0.1:{}", ptrack_test_support::free_port().unwrap());
        let log = std::env::temp_dir().join(format!("ptrack-processor-{}.log", Uuid::new_v4()));
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ptrack-processor"))
            .env("KAFKA_BROKERS", broker.bootstrap())
            .env("KAFKA_TOPIC", topic)
            .env("KAFKA_GROUP_ID", format!("processor-{topic}"))
            // The dead-letter producer must survive broker restarts on tansu.
            .env("KAFKA_IDEMPOTENCE", "false")
            .env("DATABASE_URL", database_url)
            .env("PROCESSOR_ADDR", &addr)
            .env("BATCH_SIZE", batch_size.to_string())
            .env("BATCH_TIMEOUT_MS", "100")
            .env(
                "RUST_LOG",
                std::env::var("TEST_PROCESSOR_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env(
                "KAFKA_DEBUG",
                std::env::var("TEST_KAFKA_DEBUG").unwrap_or_default(),
            )
            .envs(extra_env.iter().copied())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap();
        Self { child, log, addr }
    }

    /// SIGKILL: no flush, no final commit.
    fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
    }

    /// Waits up to `within` for the process to exit; whether it did.
    fn exited_within(&mut self, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Processor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

struct Collector {
    url: String,
    _task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start_collector(broker: &TestBroker, topic: &str) -> Collector {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = ptrack_collector::Config::for_tests(&broker.bootstrap(), topic);
    config.kafka.idempotence = false;
    let task = tokio::spawn(ptrack_collector::run(
        listener,
        config,
        std::future::pending(),
    ));
    Collector { url, _task: task }
}

async fn stored(pool: &PgPool, ids: &[Uuid]) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM user_events WHERE event_id = ANY($1)")
        .bind(ids)
        .fetch_one(pool)
        .await
        .unwrap_or(-1)
}

async fn wait_stored(pool: &PgPool, ids: &[Uuid], processor: &Processor) {
    let waited = eventually(
        Duration::from_secs(60),
        "every accepted event in user_events",
        || async { (stored(pool, ids).await == ids.len() as i64).then_some(()) },
    )
    .await;
    if let Err(err) = waited {
        panic!(
            "{err}: {} of {} stored\n--- processor log ---\n{}",
            stored(pool, ids).await,
            ids.len(),
            processor.log()
        );
    }
}

/// Sends `batches` batches of `size` events, retrying each until it is accepted (as the
/// tracker does on 503), and records the accepted event ids.
fn send_in_background(
    url: String,
    batches: usize,
    size: usize,
    accepted: Arc<Mutex<Vec<Uuid>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        for _ in 0..batches {
            let batch = tracker_batch(size);
            loop {
                match http.post(format!("{url}/track")).json(&batch).send().await {
                    Ok(response) if response.status() == 200 => break,
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            accepted.lock().unwrap().extend(event_ids(&batch));
        }
    })
}

#[derive(sqlx::FromRow)]
struct StoredRow {
    event_type: String,
    location_type: String,
    component_name: Option<String>,
    page_path: Option<String>,
    page_title: Option<String>,
    timestamp_ms: i64,
    user_metadata: Value,
    full_event_data: Value,
    app_name: Option<String>,
    app_version: Option<String>,
    received_recently: bool,
    inserted_after_received: bool,
}

#[tokio::test(flavor = "multi_thread")]
async fn the_original_tracker_payload_lands_in_user_events_with_every_field() {
    let broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 3).await.unwrap();
    let db = TestDatabase::new().await.unwrap();
    let processor = Processor::spawn(&broker, &topic, &db.url, 100);
    let collector = start_collector(&broker, &topic).await;

    let mut page_view = tracker_event("PAGE_VIEW", "ignored");
    page_view["location_type"] = json!("PAGE");
    page_view.as_object_mut().unwrap().remove("component_name");
    page_view.as_object_mut().unwrap().remove("dom_info");
    let click = tracker_event("CLICK", "BuyButton");
    let batch = json!({"events": [click.clone(), page_view.clone()], "appName": "shop", "appVersion": "1.4.2"});
    let response = reqwest::Client::new()
        .post(format!("{}/track", collector.url))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let ids = event_ids(&batch);
    wait_stored(&db.pool, &ids, &processor).await;

    let row: StoredRow = sqlx::query_as(
        r#"SELECT event_type, location_type, component_name, page_path, page_title,
                  (extract(epoch from "timestamp") * 1000)::bigint AS timestamp_ms, user_metadata,
                  full_event_data, app_name, app_version,
                  received_at > now() - interval '1 minute' AS received_recently,
                  inserted_at >= received_at AS inserted_after_received
           FROM user_events WHERE event_id = $1"#,
    )
    .bind(ids[0])
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(row.event_type, "CLICK");
    assert_eq!(row.location_type, "COMPONENT");
    assert_eq!(row.component_name.as_deref(), Some("BuyButton"));
    assert_eq!(row.page_path.as_deref(), Some("/pricing"));
    assert_eq!(row.page_title.as_deref(), Some("Pricing - Shop"));
    assert_eq!(row.timestamp_ms, click["timestamp"].as_i64().unwrap());
    assert_eq!(row.user_metadata, click["user_metadata"]);
    assert_eq!(
        row.full_event_data, click,
        "full_event_data is the event exactly as sent"
    );
    assert_eq!(row.app_name.as_deref(), Some("shop"));
    assert_eq!(row.app_version.as_deref(), Some("1.4.2"));
    assert!(
        row.received_recently && row.inserted_after_received,
        "received_at and inserted_at are set"
    );

    let (location, component): (String, Option<String>) =
        sqlx::query_as("SELECT location_type, component_name FROM user_events WHERE event_id = $1")
            .bind(ids[1])
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((location.as_str(), component), ("PAGE", None));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_processor_killed_mid_stream_loses_nothing_and_duplicates_nothing() {
    let broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 3).await.unwrap();
    let db = TestDatabase::new().await.unwrap();
    let mut processor = Processor::spawn(&broker, &topic, &db.url, 50);
    let collector = start_collector(&broker, &topic).await;

    let accepted = Arc::new(Mutex::new(Vec::new()));
    let sender = send_in_background(collector.url.clone(), 300, 10, accepted.clone());
    eventually(
        Duration::from_secs(60),
        "the processor to store some events",
        || async { (db.count().await.ok()? >= 300).then_some(()) },
    )
    .await
    .unwrap();
    processor.kill_9();
    let at_kill = db.count().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // No join delay: the replacement joins while the dead member is still in the group,
    // and must find its way to the orphaned partitions (tansu does not rebalance).
    let restarted = Processor::spawn_with(
        &broker,
        &topic,
        &db.url,
        50,
        &[("KAFKA_ORPHAN_AFTER_MS", "5000")],
    );
    sender.await.unwrap();
    let ids = accepted.lock().unwrap().clone();
    assert_eq!(ids.len(), 3000);
    assert!(
        at_kill < 3000,
        "the kill happened mid-stream ({at_kill} stored)"
    );
    wait_stored(&db.pool, &ids, &restarted).await;
    assert_eq!(
        db.count().await.unwrap(),
        3000,
        "every accepted event stored exactly once, nothing else"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_goes_to_the_dead_letter_topic_and_the_next_valid_event_is_stored() {
    let broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 1).await.unwrap();
    let db = TestDatabase::new().await.unwrap();
    let processor = Processor::spawn(&broker, &topic, &db.url, 100);

    let producer: FutureProducer = broker.client_config().create().unwrap();
    let garbage = b"\x00\x01 this is not JSON".to_vec();
    let wrong_event =
        json!({"event": {"event_id": Uuid::new_v4(), "event_type": "CLICK"}, "received_at": 1})
            .to_string();
    let good = tracker_event("CLICK", "AfterGarbage");
    let good_message =
        json!({"event": good, "app_name": "shop", "received_at": chrono_now()}).to_string();
    for payload in [
        garbage.as_slice(),
        wrong_event.as_bytes(),
        good_message.as_bytes(),
    ] {
        producer
            .send(
                FutureRecord::<(), [u8]>::to(&topic).payload(payload),
                Duration::from_secs(5),
            )
            .await
            .map_err(|(err, _)| err)
            .unwrap();
    }
    let good_id: Uuid = good["event_id"].as_str().unwrap().parse().unwrap();
    wait_stored(&db.pool, &[good_id], &processor).await;
    assert_eq!(db.count().await.unwrap(), 1);

    let consumer = broker
        .consumer(&ptrack_common::kafka::dlq_topic(&topic))
        .unwrap();
    let dead: Vec<(Vec<u8>, String)> = read_messages(
        &consumer,
        2,
        Duration::from_secs(30),
        "two messages on the dead-letter topic",
    )
    .await
    .unwrap()
    .iter()
    .map(|message| {
        let reason = message
            .headers()
            .and_then(|h| {
                h.iter()
                    .find(|h| h.key == "error")
                    .and_then(|h| h.value.map(<[u8]>::to_vec))
            })
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        (message.payload().unwrap().to_vec(), reason)
    })
    .collect();
    assert_eq!(dead[0].0, garbage, "the original bytes are kept");
    assert!(dead[0].1.contains("not an event message"), "{}", dead[0].1);
    assert_eq!(dead[1].0, wrong_event.as_bytes());
    assert!(
        dead[1].1.contains("location_type"),
        "the reason names the missing field: {}",
        dead[1].1
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restarted_under_load_loses_nothing() {
    let postgres = TestPostgres::start().await.unwrap();
    let broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 3).await.unwrap();
    let processor = Processor::spawn(&broker, &topic, &postgres.url(), 50);
    let collector = start_collector(&broker, &topic).await;
    let pool = PgPool::connect(&postgres.url()).await.unwrap();

    let accepted = Arc::new(Mutex::new(Vec::new()));
    let sender = send_in_background(collector.url.clone(), 600, 10, accepted.clone());
    let at_stop = eventually(
        Duration::from_secs(60),
        "the processor to store some events",
        || async {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM user_events")
                .fetch_one(&pool)
                .await
                .ok()?;
            (n >= 200).then_some(n)
        },
    )
    .await
    .unwrap();
    pool.close().await;
    postgres.stop().unwrap();
    let health = format!("http://{}/health", processor.addr);
    let reported = eventually(
        Duration::from_secs(30),
        "/health to report the outage",
        || async {
            let body: Value = reqwest::get(&health).await.ok()?.json().await.ok()?;
            (body["components"]["database"]["status"] == "unhealthy").then_some(body)
        },
    )
    .await
    .unwrap();
    let reason = reported["components"]["database"]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("PostgreSQL unavailable"), "{reason}");
    postgres.start_again().unwrap();
    sender.await.unwrap();
    let ids = accepted.lock().unwrap().clone();
    let pool = PgPool::connect(&postgres.url()).await.unwrap();
    wait_stored(&pool, &ids, &processor).await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM user_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, ids.len() as i64);
    assert!(
        at_stop < total,
        "the restart happened under load ({at_stop} of {total} stored)"
    );
    let health = reqwest::get(format!("http://{}/health", processor.addr))
        .await
        .unwrap();
    assert_eq!(
        health.status(),
        200,
        "healthy again once PostgreSQL is back"
    );
    assert!(
        processor.log().contains("writing to PostgreSQL failed"),
        "the outage was seen and retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_processor_stops_on_sigterm_even_with_the_broker_gone() {
    let mut broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 3).await.unwrap();
    let db = TestDatabase::new().await.unwrap();
    // The default batch timeout: the processor takes up to a second to stop consuming.
    let mut processor = Processor::spawn_with(
        &broker,
        &topic,
        &db.url,
        50,
        &[("BATCH_TIMEOUT_MS", "1000")],
    );
    let collector = start_collector(&broker, &topic).await;
    let accepted = Arc::new(Mutex::new(Vec::new()));
    send_in_background(collector.url.clone(), 2, 10, accepted.clone())
        .await
        .unwrap();
    let ids = accepted.lock().unwrap().clone();
    wait_stored(&db.pool, &ids, &processor).await;
    // Stopped together, as a script stopping the stack does: the processor's last offsets
    // are still to be committed, and the broker goes away meanwhile.
    processor.sigterm();
    broker.stop();
    let stopped = tokio::task::block_in_place(|| processor.exited_within(Duration::from_secs(20)));
    assert!(
        stopped,
        "the processor still runs 20 s after SIGTERM\n--- processor log ---\n{}",
        processor.log()
    );
    assert!(
        processor.log().contains("processor stopped"),
        "{}",
        processor.log()
    );
}

/// An event message as the collector writes it, with `padding` bytes of metadata.
fn event_message(component: &str, padding: usize) -> (Uuid, String) {
    let mut event = tracker_event("CLICK", component);
    // Two strings, each under the event model's string limit.
    event["user_metadata"]["a"] = json!("a".repeat(padding / 2));
    event["user_metadata"]["b"] = json!("b".repeat(padding / 2));
    let id = event["event_id"].as_str().unwrap().parse().unwrap();
    let message = json!({"event": event, "app_name": "shop", "received_at": chrono_now()});
    (id, message.to_string())
}

async fn produce(producer: &FutureProducer, topic: &str, payload: &[u8]) {
    producer
        .send(
            FutureRecord::<(), [u8]>::to(topic).payload(payload),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(err, _)| err)
        .unwrap();
}

/// The processor's counter `family` (the name without `_total`), once `/metrics` answers:
/// a message the processor skips for good shows only there and in its log.
async fn metric(processor: &Processor, family: &str) -> Option<f64> {
    let metrics = scrape(&format!("http://{}/metrics", processor.addr))
        .await
        .ok()?;
    Some(metrics.value(family, &[]))
}

/// Large events: a batch ends at `BATCH_MAX_BYTES` long before `BATCH_SIZE`. Each batch
/// is one transaction, so the rows of one batch share their `inserted_at`.
#[tokio::test(flavor = "multi_thread")]
async fn batches_end_at_the_byte_limit_as_well_as_the_count() {
    let broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 1).await.unwrap();
    let db = TestDatabase::new().await.unwrap();
    let producer: FutureProducer = broker.client_config().create().unwrap();
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    for i in 0..40 {
        let (id, message) = event_message(&format!("Big{i}"), 3000);
        sizes.push(message.len());
        produce(&producer, &topic, message.as_bytes()).await;
        ids.push(id);
    }
    let smallest = *sizes.iter().min().unwrap();
    assert!(smallest > 3000, "{smallest}");
    // Every message is waiting and the batch could hold them all by count and time.
    let processor = Processor::spawn_with(
        &broker,
        &topic,
        &db.url,
        1000,
        &[("BATCH_MAX_BYTES", "16000"), ("BATCH_TIMEOUT_MS", "2000")],
    );
    wait_stored(&db.pool, &ids, &processor).await;
    let per_batch: Vec<i64> =
        sqlx::query_scalar("SELECT count(*) FROM user_events GROUP BY inserted_at ORDER BY 1 DESC")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    // A batch stops at the message that reaches 16000 bytes.
    let most = (16000 / smallest + 1) as i64;
    assert!(
        per_batch[0] <= most,
        "at most {most} events of {smallest}+ bytes a batch: {per_batch:?}"
    );
    assert!(per_batch.len() >= 40 / most as usize, "{per_batch:?}");
    assert_eq!(per_batch.iter().sum::<i64>(), 40);
}

/// A message the dead-letter topic refuses for good (larger than the dead-letter
/// producer's `message.max.bytes`, as it would be for a message at the events topic's limit
/// plus the reason headers) is logged, counted and skipped: the processor goes on.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_letter_refused_for_good_is_skipped_and_the_processor_goes_on() {
    let broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 1).await.unwrap();
    let db = TestDatabase::new().await.unwrap();
    let processor = Processor::spawn(&broker, &topic, &db.url, 100);
    // Bigger than librdkafka's default message.max.bytes (1,000,000), which the
    // processor's dead-letter producer keeps.
    let producer: FutureProducer = broker
        .client_config()
        .set("message.max.bytes", "4000000")
        .create()
        .unwrap();
    let huge = vec![b'x'; 1_500_000];
    produce(&producer, &topic, &huge).await;
    let (good, message) = event_message("AfterHuge", 10);
    produce(&producer, &topic, message.as_bytes()).await;

    wait_stored(&db.pool, &[good], &processor).await;
    let failures = eventually(
        Duration::from_secs(10),
        "the failure counted in /metrics",
        || async {
            metric(&processor, "ptrack_processor_dead_letter_failures")
                .await
                .filter(|n| *n >= 1.0)
        },
    )
    .await
    .unwrap();
    assert_eq!(failures, 1.0);
    let log = processor.log();
    assert!(
        log.contains("refused the message for good") && log.contains("MessageSizeTooLarge"),
        "{log}"
    );
    // Nothing is left to read again: the next valid event is stored too.
    let (next, message) = event_message("Next", 10);
    produce(&producer, &topic, message.as_bytes()).await;
    wait_stored(&db.pool, &[good, next], &processor).await;
}
