//! `ptrack query` against the real pipeline, in-process (broker, collector, processor,
//! events-api on a fresh topic and database): the real binary is run with --api-url and
//! its output read as a user or a script would.

use std::{process::Output, time::Duration};

use ptrack::client::{Collector, EventsApi, TrackBatch};
use ptrack_test_support::tracker_event;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

mod common;

/// The shared in-process pipeline, with the typed clients the tests post and look through.
struct Pipeline {
    inner: common::pipeline::Pipeline,
    collector: Collector,
    api: EventsApi,
}

impl Pipeline {
    async fn start() -> Self {
        let inner = common::pipeline::Pipeline::start().await;
        Self {
            collector: Collector::new(inner.collector_url()),
            api: EventsApi::new(inner.events_api_url()),
            inner,
        }
    }

    fn api_url(&self) -> String {
        format!("http://{}", self.inner.events_api)
    }

    /// Posts `events` to the collector; their ids.
    async fn post(&self, events: Vec<Value>) -> Vec<Uuid> {
        let ids = events
            .iter()
            .map(|e| e["event_id"].as_str().unwrap().parse().unwrap())
            .collect();
        let batch = TrackBatch {
            events,
            app_name: Some("shop".into()),
            app_version: Some("1.4.2".into()),
        };
        let response = self.collector.track(&batch).await.unwrap();
        assert!(response.rejected.is_empty(), "{response:?}");
        ids
    }

    /// Waits until every event is stored (through the events-api).
    async fn stored(&self, ids: &[Uuid]) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        for id in ids {
            while self.api.event(*id).await.unwrap().is_none() {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{id} was not stored"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn event(event_type: &str, component: Option<&str>, page: &str) -> Value {
    let mut event = tracker_event(event_type, component.unwrap_or(""));
    event["page_path"] = json!(page);
    if component.is_none() {
        event["location_type"] = json!("PAGE");
        event.as_object_mut().unwrap().remove("component_name");
    }
    event
}

/// Runs `ptrack query ARGS` to the end; stdout is a pipe, as in a script.
async fn ptrack(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_ptrack"))
        .arg("query")
        .args(args)
        .env_remove("PTRACK_API_URL")
        .env(
            "PTRACK_DATA_DIR",
            std::env::temp_dir().join("ptrack-query-test-none"),
        )
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ndjson_ids(output: &Output) -> Vec<Uuid> {
    text(&output.stdout)
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("one JSON object per line");
            value["event_id"].as_str().unwrap().parse().unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn posted_events_come_back_through_every_output_format() {
    let pipeline = Pipeline::start().await;
    let url = pipeline.api_url();
    let click = pipeline
        .post(vec![event(
            "CLICK",
            Some("Buy \"now\", please"),
            "/pricing",
        )])
        .await[0];
    tokio::time::sleep(Duration::from_millis(5)).await;
    let hover = pipeline
        .post(vec![event("HOVER_ENTER", Some("Menu"), "/home")])
        .await[0];
    tokio::time::sleep(Duration::from_millis(5)).await;
    let view = pipeline.post(vec![event("PAGE_VIEW", None, "/home")]).await[0];
    pipeline.stored(&[click, hover, view]).await;

    // Piped without -o: NDJSON, newest first, times in UTC RFC 3339.
    let out = ptrack(&["--api-url", &url]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(ndjson_ids(&out), [view, hover, click]);
    let first: Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    let timestamp = first["timestamp"].as_str().unwrap();
    assert!(
        timestamp.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
        "{timestamp}"
    );
    assert_eq!(first["component_name"], "Buy \"now\", please");
    assert!(first["kafka_offset"].is_i64(), "{first}");

    let out = ptrack(&["--api-url", &url, "-o", "json"]).await;
    let array: Vec<Value> = serde_json::from_slice(&out.stdout).expect("one JSON array");
    assert_eq!(array.len(), 3);
    assert_eq!(array[0]["event_type"], "PAGE_VIEW");

    let out = ptrack(&["--api-url", &url, "-o", "csv"]).await;
    assert!(out.status.success());
    let mut csv = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = csv.headers().unwrap().clone();
    assert_eq!(&headers[0], "event_id");
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let component = headers.iter().position(|h| h == "component_name").unwrap();
    assert_eq!(&rows[2][component], "Buy \"now\", please", "quoted CSV");

    let out = ptrack(&["--api-url", &url, "-o", "table"]).await;
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("TIME") && lines[0].contains("EVENT_ID"),
        "{table}"
    );
    assert!(
        lines[1].contains("ago") && lines[1].contains("PAGE_VIEW"),
        "{table}"
    );
    assert!(lines[3].contains(&click.to_string()), "{table}");
    assert!(!table.contains('\x1b'), "no colours in a pipe");
    let wide = text(&ptrack(&["--api-url", &url, "-o", "wide"]).await.stdout);
    assert!(
        wide.contains("SESSION") && wide.contains("shop 1.4.2"),
        "{wide}"
    );

    // Filters.
    let hovers = ptrack(&["--api-url", &url, "--type", "HOVER"]).await;
    assert_eq!(ndjson_ids(&hovers), [hover]);
    let home = ptrack(&["--api-url", &url, "--page", "/home", "--location", "page"]).await;
    assert_eq!(ndjson_ids(&home), [view]);
    let buy = ptrack(&["--api-url", &url, "--component", "Buy \"now\", please"]).await;
    assert_eq!(ndjson_ids(&buy), [click]);
    let recent = ptrack(&["--api-url", &url, "--since", "10m", "-n", "2"]).await;
    assert_eq!(ndjson_ids(&recent), [view, hover]);
    let all = ptrack(&["--api-url", &url, "--all"]).await;
    assert_eq!(ndjson_ids(&all).len(), 3);

    // Nothing matched: exit 3, nothing on stdout.
    let none = ptrack(&["--api-url", &url, "--type", "NO_SUCH_TYPE"]).await;
    assert_eq!(none.status.code(), Some(3), "{}", text(&none.stderr));
    assert!(none.stdout.is_empty());
    let old = ptrack(&["--api-url", &url, "--until", "2001-01-01T00:00:00Z"]).await;
    assert_eq!(old.status.code(), Some(3));

    // A bad filter value names the flag and the forms.
    let bad = ptrack(&["--api-url", &url, "--since", "yesterday"]).await;
    assert_eq!(bad.status.code(), Some(2));
    let stderr = text(&bad.stderr);
    assert!(
        stderr.contains("--since") && stderr.contains("RFC 3339"),
        "{stderr}"
    );

    // A reader that stops early (`| head -n 1`) ends the command quietly with 0: 300
    // more events are more than a pipe holds.
    let many: Vec<Value> = (0..300)
        .map(|_| event("CLICK", Some("Many"), "/"))
        .collect();
    let many = pipeline.post(many).await;
    pipeline.stored(&many[299..]).await;
    let piped = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(r#""$0" query --all --api-url "$1" | head -n 1 >/dev/null; echo "${PIPESTATUS[0]}""#)
        .arg(env!("CARGO_BIN_EXE_ptrack"))
        .arg(&url)
        .output()
        .await
        .unwrap();
    assert_eq!(text(&piped.stdout).trim(), "0", "{}", text(&piped.stderr));
    assert!(piped.stderr.is_empty(), "quietly: {}", text(&piped.stderr));

    // No events-api there: say to start the stack.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = ptrack(&["--api-url", &format!("http://{closed}")]).await;
    assert_eq!(down.status.code(), Some(1));
    let stderr = text(&down.stderr);
    assert!(stderr.contains("ptrack up"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_shows_the_four_stages_and_stats_count_by_page() {
    let pipeline = Pipeline::start().await;
    let url = pipeline.api_url();
    let ids = pipeline
        .post(vec![
            event("CLICK", Some("Buy"), "/pricing"),
            event("CLICK", Some("Buy"), "/pricing"),
            event("PAGE_VIEW", None, "/cart"),
        ])
        .await;
    pipeline.stored(&ids).await;

    let out = ptrack(&[
        "trace",
        "--api-url",
        &url,
        &ids[0].to_string(),
        "-o",
        "table",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let trace = text(&out.stdout);
    println!("{trace}");
    for stage in [
        "created in the browser",
        "received by the collector",
        "written to Kafka",
        "stored by the processor",
        "partition ",
        "offset ",
    ] {
        assert!(trace.contains(stage), "{stage}: {trace}");
    }
    assert!(!trace.contains("not recorded"), "{trace}");

    // Piped: JSON, with the position the broker gave and a delay for each later stage.
    let out = ptrack(&["trace", "--api-url", &url, &ids[0].to_string()]).await;
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stages = json["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 4);
    assert!(stages.iter().all(|s| s["at"].is_string()), "{json}");
    assert!(stages[1..].iter().all(|s| s["delay_ms"].is_i64()), "{json}");
    let partition = json["kafka_partition"].as_i64().unwrap();
    assert!((0..3).contains(&partition), "{json}");
    assert!(json["kafka_offset"].as_i64().unwrap() >= 0);
    let stored = json["total_ms"].as_i64().unwrap();
    assert!((0..60_000).contains(&stored), "{json}");

    let unknown = Uuid::new_v4().to_string();
    let out = ptrack(&["trace", "--api-url", &url, &unknown]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains(&unknown));
    let out = ptrack(&["trace", "--api-url", &url, "not-an-id"]).await;
    assert_eq!(out.status.code(), Some(2));

    let out = ptrack(&["stats", "--api-url", &url, "--by", "page"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["by_page"], json!({"/pricing": 2, "/cart": 1}));
    let out = ptrack(&["stats", "--api-url", &url, "--by", "page", "-o", "table"]).await;
    let table = text(&out.stdout);
    assert!(table.starts_with("3 events from"), "{table}");
    assert!(table.contains("/pricing      2  66.7%"), "{table}");
    let out = ptrack(&[
        "stats",
        "--api-url",
        &url,
        "--since",
        "2001-01-01T00:00:00Z",
        "--until",
        "2001-01-02T00:00:00Z",
    ])
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_prints_new_events_and_survives_an_events_api_restart() {
    let mut pipeline = Pipeline::start().await;
    let before = pipeline.post(vec![event("CLICK", Some("Old"), "/")]).await;
    pipeline.stored(&before).await;

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ptrack"))
        .args(["query", "-f", "-n", "5", "--api-url", &pipeline.api_url()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_id = async || -> Uuid {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("a line within 30 s")
            .unwrap()
            .expect("still following");
        let value: Value = serde_json::from_str(&line).unwrap();
        value["event_id"].as_str().unwrap().parse().unwrap()
    };
    assert_eq!(next_id().await, before[0], "the last events first");

    let after = pipeline
        .post(vec![
            event("CLICK", Some("New1"), "/"),
            event("CLICK", Some("New2"), "/"),
        ])
        .await;
    let mut got = vec![next_id().await, next_id().await];
    got.sort();
    let mut expected = after.clone();
    expected.sort();
    assert_eq!(got, expected);

    // The events-api goes away and comes back on the same address.
    pipeline.inner.stop_events_api();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = pipeline
        .post(vec![event("CLICK", Some("During"), "/")])
        .await;
    pipeline.inner.restart_events_api().await;
    assert_eq!(next_id().await, during[0], "nothing repeated, nothing lost");

    child.start_kill().unwrap();
    let output = child.wait_with_output().await.unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(
        stderr.matches("events-api not answering").count(),
        1,
        "said once: {stderr}"
    );
    assert!(stderr.contains("retrying"), "{stderr}");
}
