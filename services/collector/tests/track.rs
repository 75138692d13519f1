//! The collector against a real (embedded tansu) broker: what a tracker sees, and what
//! lands on the topic.

use std::{io::Write, time::Duration};

use flate2::{Compression, write::GzEncoder};
use ptrack_collector::Config;
use ptrack_test_support::{TestBroker, event_ids, fresh_topic, tracker_batch, tracker_event};
use rdkafka::{
    Message,
    consumer::{Consumer, StreamConsumer},
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

struct Collector {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start_collector(config: Config) -> Collector {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(ptrack_collector::run(listener, config, async {
        let _ = stopped.await;
    }));
    Collector {
        url,
        stop: Some(stop),
        task,
    }
}

impl Collector {
    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Reads `n` messages from the topic (from the beginning), or fails after 20 s.
async fn consume(broker: &TestBroker, topic: &str, n: usize) -> Vec<(Option<String>, Value)> {
    let consumer: StreamConsumer = broker
        .client_config()
        .set("group.id", format!("check-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    while out.len() < n {
        let message = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
            .await
            .expect("messages arrive on the topic")
            .unwrap();
        let key = message
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned());
        out.push((
            key,
            serde_json::from_slice(message.payload().unwrap()).unwrap(),
        ));
    }
    out
}

async fn setup() -> (TestBroker, String, Collector, reqwest::Client) {
    let broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 3).await.unwrap();
    let collector = start_collector(Config::for_tests(&broker.bootstrap(), &topic)).await;
    (broker, topic, collector, reqwest::Client::new())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_original_payload_is_acknowledged_and_produced_one_message_per_event() {
    let (broker, topic, collector, http) = setup().await;
    let mut batch = tracker_batch(3);
    batch["events"][0]["session_id"] = json!("session-42");
    let response = http
        .post(format!("{}/track", collector.url))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"accepted": 3, "rejected": []}));

    let messages = consume(&broker, &topic, 3).await;
    let mut sent = event_ids(&batch);
    let mut got: Vec<uuid::Uuid> = messages
        .iter()
        .map(|(_, m)| m["event"]["event_id"].as_str().unwrap().parse().unwrap())
        .collect();
    sent.sort();
    got.sort();
    assert_eq!(sent, got);
    let first = messages
        .iter()
        .find(|(_, m)| m["event"]["session_id"] == "session-42")
        .unwrap();
    assert_eq!(first.0.as_deref(), Some("session-42"), "keyed by session");
    assert_eq!(first.1["app_name"], "shop");
    assert_eq!(first.1["app_version"], "1.4.2");
    assert_eq!(first.1["event"]["dom_info"]["className"], "btn btn-primary");
    assert!(first.1["received_at"].as_i64().unwrap() > 0);
    collector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_with_bad_events_accepts_the_good_ones_and_says_why_for_the_rest() {
    let (broker, topic, collector, http) = setup().await;
    let mut no_type = tracker_event("CLICK", "A");
    no_type.as_object_mut().unwrap().remove("event_type");
    let mut bad_location = tracker_event("CLICK", "B");
    bad_location["location_type"] = json!("WINDOW");
    let good = tracker_event("PAGE_VIEW", "C");
    let batch = json!({"events": [no_type, good, bad_location], "appName": "shop"});
    let response = http
        .post(format!("{}/track", collector.url))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 1);
    let rejected = body["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["index"], 0);
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("event_type"),
        "{body}"
    );
    assert_eq!(rejected[1]["index"], 2);
    assert!(
        rejected[1]["reason"].as_str().unwrap().contains("WINDOW"),
        "{body}"
    );
    let messages = consume(&broker, &topic, 1).await;
    assert_eq!(messages[0].1["event"]["event_type"], "PAGE_VIEW");

    let all_bad = json!({"events": [{"event_type": "CLICK"}]});
    let response = http
        .post(format!("{}/track", collector.url))
        .json(&all_bad)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    collector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_bodies_are_accepted() {
    let (broker, topic, collector, http) = setup().await;
    let batch = tracker_batch(5);
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(batch.to_string().as_bytes()).unwrap();
    let response = http
        .post(format!("{}/track", collector.url))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["accepted"], 5);
    assert_eq!(consume(&broker, &topic, 5).await.len(), 5);
    collector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_get_400_and_oversized_ones_413_with_a_reason() {
    let (_broker, _topic, collector, http) = setup().await;
    let url = format!("{}/track", collector.url);

    let response = http
        .post(&url)
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("not a tracker batch")
    );

    let huge = json!({"events": [], "pad": "x".repeat(2 * 1024 * 1024)});
    let response = http.post(&url).json(&huge).send().await.unwrap();
    assert_eq!(response.status(), 413);
    assert!(
        response.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("larger than")
    );

    // A gzip bomb is limited after decompression, too.
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(huge.to_string().as_bytes()).unwrap();
    let compressed = gz.finish().unwrap();
    assert!(compressed.len() < 64 * 1024);
    let response = http
        .post(&url)
        .header("content-encoding", "gzip")
        .body(compressed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    let response = http
        .post(&url)
        .json(&tracker_batch(501))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(
        response.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("at most 500")
    );
    collector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_broker_gets_503_with_retry_after_and_the_retry_succeeds() {
    let mut broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 3).await.unwrap();
    let mut config = Config::for_tests(&broker.bootstrap(), &topic);
    // See `KafkaSettings::idempotence`: tansu cannot restart under an idempotent producer.
    config.kafka.idempotence = false;
    let collector = start_collector(config).await;
    let http = reqwest::Client::new();
    let url = format!("{}/track", collector.url);
    let warm = http
        .post(&url)
        .json(&tracker_batch(1))
        .send()
        .await
        .unwrap();
    assert_eq!(warm.status(), 200);

    broker.stop();
    let batch = tracker_batch(4);
    let response = http.post(&url).json(&batch).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert!(
        !body.to_string().contains("rdkafka"),
        "no broker internals reach a client: {body}"
    );
    let ready = http
        .get(format!("{}/ready", collector.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    broker.restart().await.unwrap();
    let retried = ptrack_test_support::eventually(
        Duration::from_secs(30),
        "a 200 after the broker is back",
        || {
            let http = http.clone();
            let url = url.clone();
            let batch = batch.clone();
            async move {
                let response = http.post(&url).json(&batch).send().await.ok()?;
                (response.status() == 200).then_some(())
            }
        },
    )
    .await;
    retried.unwrap();
    let ids = event_ids(&batch);
    let messages = consume(&broker, &topic, 5).await;
    for id in ids {
        assert!(
            messages
                .iter()
                .any(|(_, m)| m["event"]["event_id"] == id.to_string()),
            "event {id} is on the topic after the retry"
        );
    }
    collector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_ready_metrics_and_cors_for_the_demo() {
    let (_broker, _topic, collector, http) = setup().await;
    assert_eq!(
        http.get(format!("{}/health", collector.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = ptrack_test_support::eventually(Duration::from_secs(10), "ready", || {
        let http = http.clone();
        let url = format!("{}/ready", collector.url);
        async move { (http.get(url).send().await.ok()?.status() == 200).then_some(()) }
    })
    .await;
    ready.unwrap();
    http.post(format!("{}/track", collector.url))
        .json(&tracker_batch(2))
        .send()
        .await
        .unwrap();
    let metrics = http
        .get(format!("{}/metrics", collector.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ptrack_collector_events_accepted_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ptrack_collector_requests_total{status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ptrack_collector_produce_latency_seconds_count 1"),
        "{metrics}"
    );

    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{}/track", collector.url))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let foreign = http
        .request(reqwest::Method::OPTIONS, format!("{}/track", collector.url))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    collector.shutdown().await;
}

/// What `navigator.sendBeacon` and the tracker's fetch send: the same batch as
/// `text/plain`, a CORS simple request (no preflight).
#[tokio::test(flavor = "multi_thread")]
async fn a_text_plain_batch_from_the_demo_is_accepted_and_may_read_retry_after() {
    let (broker, topic, collector, http) = setup().await;
    let batch = tracker_batch(2);
    let response = http
        .post(format!("{}/track", collector.url))
        .header("origin", "http://localhost:3000")
        .header("content-type", "text/plain;charset=UTF-8")
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("retry-after"), "{exposed}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 2, "{body}");
    let produced = consume(&broker, &topic, 2).await;
    let mut ids: Vec<String> = produced
        .iter()
        .map(|(_, m)| m["event"]["event_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut sent: Vec<String> = event_ids(&batch).iter().map(|id| id.to_string()).collect();
    sent.sort();
    assert_eq!(ids, sent);
    collector.shutdown().await;
}
