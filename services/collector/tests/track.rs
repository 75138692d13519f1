//! The collector against a real (embedded tansu) broker: what a tracker sees, and what
//! lands on the topic.

use std::{io::Write, time::Duration};

use flate2::{Compression, write::GzEncoder};
use ptrack_collector::Config;
use ptrack_test_support::{
    TestBroker, answer, event_ids, fresh_topic, post_json_text, read_messages, rejections, scrape,
    tracker_batch, tracker_batch_raw, tracker_event, tracker_event_raw,
};
use rdkafka::Message;
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
    /// Where trackers post their batches: most requests of these tests go there.
    fn track_url(&self) -> String {
        format!("{}/track", self.url)
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Reads `n` messages from the topic (from the beginning), or fails after 20 s without
/// one: each as its key and JSON payload.
async fn consume(broker: &TestBroker, topic: &str, n: usize) -> Vec<(Option<String>, Value)> {
    let consumer = broker.consumer(topic).unwrap();
    let messages = read_messages(
        &consumer,
        n,
        Duration::from_secs(20),
        "messages on the topic",
    )
    .await
    .unwrap();
    messages
        .iter()
        .map(|message| {
            let key = message
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned());
            let payload = serde_json::from_slice(message.payload().unwrap()).unwrap();
            (key, payload)
        })
        .collect()
}

/// Whether any message beyond the first `n` arrives within two seconds: to show that
/// nothing refused (or produced twice) reached the topic.
async fn more_than(broker: &TestBroker, topic: &str, n: usize) -> bool {
    let consumer = broker.consumer(topic).unwrap();
    read_messages(&consumer, n + 1, Duration::from_secs(2), "one message more")
        .await
        .is_ok()
}

/// The `event_id`s of produced messages, sorted, as the text they carry: compared as text
/// with [`sent_ids`], an id the collector rewrote would show.
fn produced_ids(messages: &[(Option<String>, Value)]) -> Vec<String> {
    let mut ids: Vec<String> = messages
        .iter()
        .map(|(_, m)| m["event"]["event_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The `event_id`s of the batches' events, sorted, as the text they carry: what
/// [`produced_ids`] must give back.
fn sent_ids(batches: &[&Value]) -> Vec<String> {
    let mut ids: Vec<String> = batches
        .iter()
        .flat_map(|b| b["events"].as_array().unwrap())
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// A broker, a topic of its own (3 partitions), a collector producing to it with the test
/// settings, and a client for it: each test reads back only what it sent.
async fn setup() -> (TestBroker, String, Collector, reqwest::Client) {
    setup_with(|_| {}).await
}

/// [`setup`], with the collector's settings changed by `configure` first: for the tests of
/// one setting (limits, keys, rates).
async fn setup_with(
    configure: impl FnOnce(&mut Config),
) -> (TestBroker, String, Collector, reqwest::Client) {
    let broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 3).await.unwrap();
    let mut config = Config::for_tests(&broker.bootstrap(), &topic);
    configure(&mut config);
    let collector = start_collector(config).await;
    (broker, topic, collector, reqwest::Client::new())
}

/// The `error` text of an error answer's body: every refusal says why there, and that is
/// what a developer reads in the browser's console.
fn error(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error text in {body}"))
}

/// A browser's CORS preflight for `POST url` from `origin`, asking to send `headers`: the
/// demo's page is on another origin, so its batches go only where this is allowed.
async fn preflight(
    http: &reqwest::Client,
    url: &str,
    origin: &str,
    headers: Option<&str>,
) -> reqwest::Response {
    let mut request = http
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "POST");
    if let Some(headers) = headers {
        request = request.header("access-control-request-headers", headers);
    }
    request.send().await.unwrap()
}

/// A family, the labels of the samples to add up, and their expected sum.
type ExpectedMetric<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

/// Scrapes the collector's `/metrics` and checks each `(family, labels, value)`: the sum
/// over the family's samples with those labels (see `Scrape::value`). Values, read by a
/// real parser, as a dashboard reads them: a text search would take 10 for 1.
async fn assert_metrics(collector: &Collector, expected: &[ExpectedMetric<'_>]) {
    let metrics = scrape(&format!("{}/metrics", collector.url)).await.unwrap();
    for (family, labels, value) in expected {
        assert_eq!(
            metrics.value(family, labels),
            *value,
            "{family} {labels:?}:\n{metrics}"
        );
    }
}

/// The whole seconds of a response's `Retry-After`: how long the tracker waits before it
/// sends again, so the tests check the number.
fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// `data` gzip-compressed, as a tracker sends it with `Content-Encoding: gzip`: the
/// collector's limits apply before and after decompression.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_original_payload_is_acknowledged_and_produced_one_message_per_event() {
    let (broker, topic, collector, http) = setup().await;
    let mut batch = tracker_batch(3);
    batch["events"][0]["session_id"] = json!("session-42");
    let (status, body) = answer(http.post(collector.track_url()).json(&batch)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"accepted": 3, "rejected": []}));

    let messages = consume(&broker, &topic, 3).await;
    assert_eq!(sent_ids(&[&batch]), produced_ids(&messages));
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
    let (status, body) = answer(http.post(collector.track_url()).json(&batch)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 1, "{body}");
    let rejected = rejections(&body);
    assert_eq!(rejected.len(), 2, "{body}");
    assert_eq!(rejected[0].0, 0, "{body}");
    assert!(rejected[0].1.contains("event_type"), "{body}");
    assert_eq!(rejected[1].0, 2, "{body}");
    assert!(rejected[1].1.contains("WINDOW"), "{body}");
    let messages = consume(&broker, &topic, 1).await;
    assert_eq!(messages[0].1["event"]["event_type"], "PAGE_VIEW");

    let all_bad = json!({"events": [{"event_type": "CLICK"}]});
    let (status, body) = answer(http.post(collector.track_url()).json(&all_bad)).await;
    assert_eq!(status, 400, "{body}");
    collector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_bodies_are_accepted() {
    let (broker, topic, collector, http) = setup().await;
    let batch = tracker_batch(5);
    let (status, body) = answer(
        http.post(collector.track_url())
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gzip(batch.to_string().as_bytes())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 5, "{body}");
    assert_eq!(consume(&broker, &topic, 5).await.len(), 5);
    collector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_get_400_and_oversized_ones_413_with_a_reason() {
    let (_broker, _topic, collector, http) = setup().await;
    let url = collector.track_url();

    let (status, body) = answer(
        http.post(&url)
            .body("{not json")
            .header("content-type", "application/json"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(error(&body).contains("not a tracker batch"), "{body}");

    let huge = json!({"events": [], "pad": "x".repeat(2 * 1024 * 1024)});
    let (status, body) = answer(http.post(&url).json(&huge)).await;
    assert_eq!(status, 413, "{body}");
    assert!(error(&body).contains("larger than"), "{body}");

    // A gzip bomb is limited after decompression, too.
    let compressed = gzip(huge.to_string().as_bytes());
    assert!(compressed.len() < 64 * 1024);
    let (status, body) = answer(
        http.post(&url)
            .header("content-encoding", "gzip")
            .body(compressed),
    )
    .await;
    assert_eq!(status, 413, "{body}");

    let (status, body) = answer(http.post(&url).json(&tracker_batch(501))).await;
    assert_eq!(status, 413, "{body}");
    assert!(error(&body).contains("at most 500"), "{body}");
    collector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_broker_gets_503_with_retry_after_and_the_retry_succeeds() {
    // See `KafkaSettings::idempotence`: tansu cannot restart under an idempotent producer.
    let (mut broker, topic, collector, http) =
        setup_with(|config| config.kafka.idempotence = false).await;
    let url = collector.track_url();
    let (status, body) = answer(http.post(&url).json(&tracker_batch(1))).await;
    assert_eq!(status, 200, "warm: {body}");

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
    let (status, body) = answer(http.get(format!("{}/ready", collector.url))).await;
    assert_eq!(status, 503, "{body}");

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
    let (status, body) = answer(http.get(format!("{}/health", collector.url))).await;
    assert_eq!(status, 200, "{body}");
    let ready = ptrack_test_support::eventually(Duration::from_secs(10), "ready", || {
        let http = http.clone();
        let url = format!("{}/ready", collector.url);
        async move { (http.get(url).send().await.ok()?.status() == 200).then_some(()) }
    })
    .await;
    ready.unwrap();
    let (status, body) = answer(http.post(collector.track_url()).json(&tracker_batch(2))).await;
    assert_eq!(status, 200, "{body}");
    assert_metrics(
        &collector,
        &[
            ("ptrack_collector_events_accepted", &[], 2.0),
            ("ptrack_collector_requests", &[("status", "200")], 1.0),
            ("ptrack_collector_produce_latency_seconds", &[], 1.0),
        ],
    )
    .await;

    let url = collector.track_url();
    let from_the_demo = preflight(&http, &url, "http://localhost:3000", Some("content-type")).await;
    assert_eq!(
        from_the_demo.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let foreign = preflight(&http, &url, "http://evil.example", None).await;
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
        .post(collector.track_url())
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
    assert_eq!(produced_ids(&produced), sent_ids(&[&batch]));
    collector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_write_keys_a_missing_wrong_or_revoked_key_gets_401_and_nothing_is_produced() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys");
    std::fs::write(&file, "# shop\nfile-key-2\n").unwrap();
    let (broker, topic, collector, http) = setup_with(|config| {
        config.security.write_keys = vec![ptrack_common::config::Secret::new("env-key-1")];
        config.security.write_keys_file = Some(file.clone());
    })
    .await;
    let url = collector.track_url();

    let refused = [
        http.post(&url).json(&tracker_batch(1)),
        http.post(&url)
            .header("x-ptrack-key", "env-key-")
            .json(&tracker_batch(1)),
        http.post(format!("{url}?key=nope")).json(&tracker_batch(1)),
        http.post(&url).json(&{
            let mut b = tracker_batch(1);
            b["writeKey"] = json!("wrong");
            b
        }),
        // A good body key does not rescue a bad header key.
        http.post(&url).header("x-ptrack-key", "wrong").json(&{
            let mut b = tracker_batch(1);
            b["writeKey"] = json!("env-key-1");
            b
        }),
    ];
    for (i, request) in refused.into_iter().enumerate() {
        let (status, body) = answer(request).await;
        assert_eq!(status, 401, "request {i}: {body}");
        let text = error(&body);
        assert!(
            !text.contains("key-1") && !text.contains("key-2") && !text.contains("wrong"),
            "{text}"
        );
    }

    let by_header = tracker_batch(1);
    let by_query = tracker_batch(1);
    let mut by_body = tracker_batch(1);
    by_body["writeKey"] = json!("env-key-1");
    for request in [
        http.post(&url)
            .header("x-ptrack-key", "env-key-1")
            .json(&by_header),
        http.post(format!("{url}?key=file-key-2")).json(&by_query),
        http.post(&url)
            .header("content-type", "text/plain;charset=UTF-8")
            .body(by_body.to_string()),
    ] {
        let (status, body) = answer(request).await;
        assert_eq!(status, 200, "{body}");
    }
    let messages = consume(&broker, &topic, 3).await;
    assert_eq!(
        produced_ids(&messages),
        sent_ids(&[&by_header, &by_query, &by_body]),
        "only the accepted batches were produced"
    );
    assert!(
        messages
            .iter()
            .all(|(_, m)| !m.to_string().contains("env-key-1")),
        "the write key is not copied into messages"
    );
    assert!(!more_than(&broker, &topic, 3).await);

    // Revoked: the key file is re-read while the collector runs.
    std::fs::write(&file, "file-key-3\n").unwrap();
    ptrack_test_support::eventually(Duration::from_secs(10), "file-key-2 revoked", || {
        let request = http
            .post(format!("{url}?key=file-key-2"))
            .json(&tracker_batch(1));
        async move { (request.send().await.ok()?.status() == 401).then_some(()) }
    })
    .await
    .unwrap();
    let (status, body) = answer(
        http.post(&url)
            .header("x-ptrack-key", "file-key-3")
            .json(&tracker_batch(1)),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let asked = preflight(
        &http,
        &url,
        "http://localhost:3000",
        Some("content-type,x-ptrack-key"),
    )
    .await;
    let allowed = asked.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("x-ptrack-key"), "{allowed}");
    collector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn over_a_rate_limit_gets_429_with_retry_after_then_succeeds_after_the_wait() {
    let (_broker, _topic, collector, http) = setup_with(|config| {
        config.security.write_keys = vec![
            ptrack_common::config::Secret::new("a"),
            ptrack_common::config::Secret::new("b"),
        ];
        // Slow refills, so that the first request's wait for the broker refills nothing
        // that matters: the address has 4 at once, then one per 5 s; each key 2, then one
        // per 10 s.
        config.security.rate_per_ip = Some(ptrack_collector::security::Rate {
            per_second: 0.2,
            burst: 4.0,
        });
        config.security.rate_per_key = Some(ptrack_collector::security::Rate {
            per_second: 0.1,
            burst: 2.0,
        });
    })
    .await;
    let url = collector.track_url();
    let send = |key: &'static str| {
        http.post(&url)
            .header("x-ptrack-key", key)
            .json(&tracker_batch(1))
            .send()
    };
    assert_eq!(send("b").await.unwrap().status(), 200, "warm");
    assert_eq!(send("a").await.unwrap().status(), 200);
    assert_eq!(send("a").await.unwrap().status(), 200);
    let limited = send("a").await.unwrap();
    assert_eq!(limited.status(), 429, "the key's burst is 2");
    let wait = retry_after(&limited);
    assert!((9..=10).contains(&wait), "{wait}");
    let body: Value = limited.json().await.unwrap();
    assert!(error(&body).contains("write key"), "{body}");
    // Key b has a token left, but the address's burst of 4 is spent.
    let limited = send("b").await.unwrap();
    assert_eq!(limited.status(), 429);
    let wait = retry_after(&limited);
    let body: Value = limited.json().await.unwrap();
    assert!(error(&body).contains("address"), "{body}");
    tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(100)).await;
    assert_eq!(send("b").await.unwrap().status(), 200, "after the wait");

    assert_metrics(
        &collector,
        &[
            ("ptrack_collector_rate_limited", &[("limit", "key")], 1.0),
            ("ptrack_collector_rate_limited", &[("limit", "ip")], 1.0),
            ("ptrack_collector_requests", &[("status", "429")], 2.0),
        ],
    )
    .await;
    collector.shutdown().await;
}

/// Every event that could not be stored, or stored but not read back, is refused one
/// by one with its reason; the good ones in the same batch go through.
#[tokio::test(flavor = "multi_thread")]
async fn events_that_could_not_be_stored_or_served_are_rejected_with_the_reason() {
    let (broker, topic, collector, http) =
        setup_with(|config| config.max_message_bytes = 30_000).await;
    let url = collector.track_url();

    let good = tracker_event("CLICK", "A");
    let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    let events = [
        good.to_string(),
        good.to_string(),
        tracker_event_raw("user_metadata", r#"{"n": 1e400}"#),
        tracker_event_raw("user_metadata", r#"{"s": "a\u0000b"}"#),
        tracker_event_raw("component_name", r#""a\u0000b""#),
        tracker_event_raw("user_metadata", r#"{"s": "\ud800"}"#),
        tracker_event_raw("extra", &deep),
        tracker_event_raw("extra", &format!("\"{}\"", "x".repeat(70_000))),
        tracker_event_raw("extra", &format!("\"{}\"", "x".repeat(35_000))),
        tracker_event("PAGE_VIEW", "C").to_string(),
    ];
    let (status, body) = post_json_text(&http, &url, tracker_batch_raw(&events)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 2, "{body}");
    let reasons = rejections(&body);
    let expected = [
        (1, "duplicate event_id in batch"),
        (2, "1e400"),
        (3, "NUL"),
        (4, "NUL"),
        (5, "surrogate"),
        (6, "nested 41 levels"),
        (7, "bytes; at most 65536"),
        (8, "the event broker takes at most 30000"),
    ];
    assert_eq!(reasons.len(), expected.len(), "{body}");
    for ((index, reason), (want_index, want)) in reasons.iter().zip(expected) {
        assert_eq!(*index, want_index, "{body}");
        assert!(reason.contains(want), "event {index}: {reason}");
    }
    let produced = consume(&broker, &topic, 2).await;
    let types: Vec<&str> = produced
        .iter()
        .map(|(_, m)| m["event"]["event_type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"CLICK") && types.contains(&"PAGE_VIEW"));
    assert!(!more_than(&broker, &topic, 2).await);

    // appName and appVersion go into every message: bounded and storable, or 400.
    for (app, reason) in [
        (json!("x".repeat(300)), "appName is 300 bytes"),
        (json!("a\u{0}b"), "NUL"),
    ] {
        let mut batch = tracker_batch(2);
        batch["appName"] = app;
        let (status, body) = answer(http.post(&url).json(&batch)).await;
        assert_eq!(status, 400, "{body}");
        assert!(error(&body).contains(reason), "{body}");
    }
    let surrogate = tracker_batch(1)
        .to_string()
        .replace(r#""appName":"shop""#, r#""appName":"\ud800""#);
    assert!(surrogate.contains("ud800"));
    let (status, body) = post_json_text(&http, &url, surrogate).await;
    assert_eq!(status, 400, "{body}");
    collector.shutdown().await;
}

/// The body as sent is bounded too: a gzip body of only empty blocks would otherwise be
/// read forever while decompressing to nothing.
#[tokio::test(flavor = "multi_thread")]
async fn gzip_bodies_are_bounded_before_and_after_decompression() {
    let (_broker, _topic, collector, http) =
        setup_with(|config| config.max_body_bytes = 64 * 1024).await;
    let url = collector.track_url();
    let post = |body: Vec<u8>, encoding: &'static str| {
        answer(
            http.post(&url)
                .header("content-type", "application/json")
                .header("content-encoding", encoding)
                .body(body),
        )
    };
    // Compressed, over the limit as sent (empty gzip members decompress to nothing).
    let mut empty_members = Vec::new();
    while empty_members.len() <= 64 * 1024 {
        empty_members.extend(gzip(b""));
    }
    let (status, body) = post(empty_members, "gzip").await;
    assert_eq!(status, 413, "{body}");
    // Small as sent, over the limit expanded.
    let bomb = gzip(&vec![b' '; 10 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024);
    let (status, body) = post(bomb, "gzip").await;
    assert_eq!(status, 413, "{body}");
    assert!(error(&body).contains("after decompression"), "{body}");
    let (status, body) = post(b"not gzip".to_vec(), "gzip").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(tracker_batch(1).to_string().into_bytes(), "br").await;
    assert_eq!(status, 415, "{body}");
    let (status, body) = post(gzip(tracker_batch(2).to_string().as_bytes()), "gzip").await;
    assert_eq!(status, 200, "{body}");
    collector.shutdown().await;
}
