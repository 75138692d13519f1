//! `ptrack load` against real HTTP servers: a recording test server (slow or failing
//! when asked; common/recording.rs), and the real pipeline (collector, embedded broker,
//! processor, PostgreSQL, events-api) in-process for `--verify`.

use std::{
    collections::{BTreeMap, HashSet},
    time::Duration,
};

use ptrack::{
    client::EventsApi,
    load::{
        LoadConfig, live,
        plan::Plan,
        plot,
        report::{Report, Settings},
        runner::{self, RunConfig, RunResult},
        tracker::{Batching, Visitors},
        verify::{self, Source},
    },
};
use ptrack_common::event::{Limits, TrackEvent};
use reqwest::Url;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

mod common;

use common::{pipeline::Pipeline, recording::RecordingServer};

fn config(url: Url, plan: Plan, connections: usize) -> RunConfig {
    RunConfig {
        url,
        plan,
        connections,
        timeout: Duration::from_secs(5),
        users: 50,
        batching: Batching::default(),
        seed: 7,
        app_name: "load-test".into(),
        keep_ids: true,
        headers: Vec::new(),
        gzip: false,
    }
}

fn settings() -> Settings {
    Settings {
        target: "http://127.0.0.1/track?a=1&b=<2>".into(),
        plan: "test plan".into(),
        connections: 4,
        users: 50,
        batching: "default".into(),
        seed: 7,
        timeout: "5s".into(),
    }
}

async fn run(config: RunConfig) -> RunResult {
    runner::run(config, CancellationToken::new(), |_| {})
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_server_shows_up_in_corrected_latency_and_as_falling_behind() {
    let url = RecordingServer::default()
        .delayed(Duration::from_millis(50))
        .serve()
        .await;
    // Two connections answering in 50 ms manage 40 requests/s; 100/s are asked for.
    let plan = Plan::fixed(100.0, None, Some(60)).unwrap();
    let result = run(config(url, plan.clone(), 2)).await;
    let report = Report::new(settings(), &plan, &result);

    assert_eq!(report.requests, 60);
    assert_eq!(report.requests_ok, 60);
    let (corrected, uncorrected) = (&report.latency_ms.corrected, &report.latency_ms.uncorrected);
    assert!(
        uncorrected.p50 >= 49.0 && uncorrected.p50 < 250.0,
        "the service time is the server's 50 ms: {uncorrected:?}"
    );
    // Request 59 was due at 590 ms but its worker can send it only at about 1.5 s.
    assert!(
        corrected.max > 600.0,
        "waiting for the turn counts: {corrected:?}"
    );
    assert!(
        corrected.p90 > 4.0 * uncorrected.p90,
        "{corrected:?} vs {uncorrected:?}"
    );
    assert!(report.behind_schedule.fell_behind);
    assert!(report.behind_schedule.max_ms > 500.0);
    assert!(report.sent_rps < 60.0, "sent at {}/s", report.sent_rps);
    assert!(report.text().contains("could not keep up"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fast_server_gets_the_asked_rate_on_schedule() {
    let server = RecordingServer::default();
    let url = server.serve().await;
    let plan = Plan::fixed(200.0, Some(Duration::from_secs(2)), None).unwrap();
    let result = run(config(url, plan.clone(), 8)).await;
    let report = Report::new(settings(), &plan, &result);

    assert_eq!(report.requests, 400);
    assert_eq!(server.requests(), 400);
    assert!(
        (report.sent_rps - 200.0).abs() < 200.0 * 0.03,
        "sent at {}/s",
        report.sent_rps
    );
    assert!(
        (report.duration_s - 2.0).abs() < 0.2,
        "{}s",
        report.duration_s
    );
    // On time, give or take a scheduling hiccup: this debug build shares two cores with
    // the other tests of this binary (the real pipeline among them), which can hold a
    // worker for 100-150 ms; a generator that cannot keep up falls seconds behind.
    assert!(
        report.behind_schedule.max_ms < 500.0,
        "{:?}",
        report.behind_schedule
    );
    assert_eq!(report.events_accepted, report.events_sent);
    assert_eq!(result.stats.accepted_ids.len() as u64, report.events_sent);
    let unique: HashSet<Uuid> = result.stats.accepted_ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        result.stats.accepted_ids.len(),
        "ids are unique"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_counted_by_kind_and_the_run_goes_on() {
    let url = RecordingServer::default().failing_every(4).serve().await;
    let plan = Plan::fixed(200.0, None, Some(100)).unwrap();
    let result = run(config(url, plan.clone(), 4)).await;
    let report = Report::new(settings(), &plan, &result);
    assert_eq!(report.statuses.get(&503), Some(&25));
    assert_eq!(report.statuses.get(&200), Some(&75));
    assert_eq!(report.requests_failed, 25);
    assert!(result.stats.accepted_ids.len() < report.events_sent as usize);

    // Nothing listens on this port: every request fails to connect, none is skipped.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url: Url = format!("http://{closed}/track").parse().unwrap();
    let plan = Plan::fixed(100.0, None, Some(30)).unwrap();
    let result = run(config(url, plan.clone(), 4)).await;
    let report = Report::new(settings(), &plan, &result);
    assert_eq!(report.requests, 30);
    assert_eq!(report.requests_ok, 0);
    assert_eq!(report.errors["connect"].count, 30);
    assert!(report.text().contains("connect: 30"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_early_reports_what_was_done_so_far() {
    let url = RecordingServer::default().serve().await;
    let plan = Plan::fixed(100.0, Some(Duration::from_secs(30)), None).unwrap();
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stopper.cancel();
    });
    let started = std::time::Instant::now();
    let result = runner::run(config(url, plan.clone(), 4), stop, |_| {})
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(result.interrupted);
    let report = Report::new(settings(), &plan, &result);
    assert!((30..=80).contains(&report.requests), "{}", report.requests);
    assert!(report.text().contains("INTERRUPTED"));
}

#[test]
fn the_session_model_is_reproducible_and_speaks_the_tracker_format() {
    let batches = |seed| {
        let mut visitors = Visitors::new(seed, 20, Batching::default(), "shop");
        (0..500)
            .map(|_| visitors.next_batch(1_764_000_000_000).body)
            .collect::<Vec<_>>()
    };
    let first = batches(42);
    assert_eq!(first, batches(42), "the same seed gives the same traffic");
    assert_ne!(first, batches(43));

    let limits = Limits::default();
    let mut types = BTreeMap::<String, usize>::new();
    let mut ids = HashSet::new();
    let mut by_session = BTreeMap::<String, Vec<TrackEvent>>::new();
    for body in &first {
        let body: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(body["appName"], "shop");
        let events = body["events"].as_array().unwrap();
        assert!((1..=10).contains(&events.len()));
        for value in events {
            let event =
                TrackEvent::from_json(&value.to_string(), &limits).expect("a valid tracker event");
            assert!(ids.insert(event.event_id), "event ids are unique");
            assert!(event.page_path.as_deref().unwrap().starts_with('/'));
            *types.entry(event.event_type.clone()).or_default() += 1;
            by_session
                .entry(event.session_id.clone().expect("a session id"))
                .or_default()
                .push(event);
        }
    }
    for kind in ["PAGE_VIEW", "HOVER_ENTER", "HOVER_LEAVE", "CLICK"] {
        assert!(types.get(kind).copied().unwrap_or(0) > 50, "{types:?}");
    }
    // A visitor clicks and leaves only what it hovers: within a session, every CLICK and
    // HOVER_LEAVE follows a HOVER_ENTER of the same component on the same page.
    for events in by_session.values() {
        let mut hovered: Option<(&str, &str)> = None;
        for event in events {
            let here = (
                event.component_name.as_deref().unwrap_or(""),
                event.page_path.as_deref().unwrap_or(""),
            );
            match event.event_type.as_str() {
                "HOVER_ENTER" => hovered = Some(here),
                "CLICK" => assert_eq!(hovered, Some(here)),
                "HOVER_LEAVE" => assert_eq!(hovered.take(), Some(here)),
                _ => {}
            }
        }
    }
    assert!(by_session.len() > 20, "sessions end and new ones start");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_seed_sends_the_same_events() {
    let ids = |server: &RecordingServer| {
        let mut ids: Vec<String> = server
            .bodies()
            .iter()
            .flat_map(|b| b["events"].as_array().unwrap().clone())
            .map(|e| e["event_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let server = RecordingServer::default();
        let url = server.serve().await;
        run(config(url, Plan::fixed(500.0, None, Some(100)).unwrap(), 4)).await;
        runs.push(ids(&server));
    }
    assert!(!runs[0].is_empty());
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_renders_as_text_json_svg_and_html() {
    let url = RecordingServer::default()
        .delayed(Duration::from_millis(2))
        .failing_every(10)
        .serve()
        .await;
    let plan = Plan::ramp("100:1s,300:1s").unwrap();
    let result = run(config(url, plan.clone(), 8)).await;
    let report = Report::new(settings(), &plan, &result);

    let text = report.text();
    for needle in [
        "p99.9",
        "corrected",
        "uncorrected",
        "503: 40",
        "seed 7",
        "400 sent",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    let json: Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["requests"], 400);
    assert_eq!(json["statuses"]["503"], 40);
    assert!(json["latency_ms"]["corrected"]["p99_9"].as_f64().unwrap() > 0.0);
    assert_eq!(json["target_rps"], 200.0);
    // The timeline follows the ramp: about 100/s in the first second, 300/s after.
    let timeline = json["timeline"].as_array().unwrap();
    assert!(timeline.len() >= 15, "{}", timeline.len());
    let target_at = |t: f64| {
        timeline
            .iter()
            .find(|p| p["t"].as_f64().unwrap() >= t)
            .unwrap()["target_rps"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(target_at(0.5), 100.0);
    assert_eq!(target_at(1.5), 300.0);

    let svg = plot::svg(&report);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    // Rate (answered, target, failed), latency (p50, p99, max), curve (two).
    assert_eq!(svg.matches("<polyline").count(), 8);
    // 400 requests resolve the percentiles up to 99.9%; the axis stops there.
    assert!(svg.contains(">99.9%<") && !svg.contains(">99.99%<"));
    assert!(
        svg.contains("a=1&amp;b=&lt;2&gt;"),
        "settings are shown, escaped"
    );
    assert!(!svg.contains("b=<2>"));
    let html = plot::html(&report);
    assert!(html.contains(&svg));
    assert!(html.contains("p99.9"));
    for outside in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(outside), "self-contained: {outside}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_finds_every_event_in_the_real_pipeline_and_detects_deleted_ones() {
    let pipeline = Pipeline::start().await;
    let plan = Plan::fixed(200.0, None, Some(300)).unwrap();
    let result = run(config(pipeline.track_url(), plan.clone(), 8)).await;
    let report = Report::new(settings(), &plan, &result);
    assert_eq!(report.requests_ok, 300, "{}", report.text());
    let ids = result.stats.accepted_ids.clone();
    assert_eq!(ids.len() as u64, report.events_sent);
    assert_eq!(report.events_accepted, report.events_sent);

    let database = Source::Database(pipeline.db.pool.clone());
    let settle = Duration::from_secs(5);
    let checked = verify::verify(&ids, &database, Duration::from_secs(60), settle, |_, _| {})
        .await
        .unwrap();
    assert_eq!(checked.expected, ids.len() as u64);
    assert_eq!(checked.found, checked.expected, "{}", checked.text());
    assert_eq!((checked.lost, checked.duplicated), (0, 0));
    let delay = checked.end_to_end_ms.as_ref().unwrap();
    let pipeline_delay = checked.pipeline_ms.as_ref().unwrap();
    assert!(delay.max >= pipeline_delay.max && pipeline_delay.p50 > 0.0);
    assert!(pipeline_delay.max < 60_000.0);

    // The events-api sees the same.
    let api = Source::EventsApi {
        api: EventsApi::new(pipeline.events_api_url()),
        since: chrono::DateTime::from_timestamp_millis(
            result.stats.oldest_event_ms.unwrap() - 1000,
        )
        .unwrap(),
        until: chrono::Utc::now() + chrono::Duration::seconds(1),
    };
    let through_api = verify::verify(&ids, &api, Duration::from_secs(10), settle, |_, _| {})
        .await
        .unwrap();
    assert_eq!((through_api.found, through_api.lost), (checked.found, 0));
    assert_eq!(through_api.duplicated, 0);

    // Events deleted behind the pipeline's back are reported lost, by id.
    let deleted: Vec<Uuid> = ids.iter().step_by(ids.len() / 7).take(7).copied().collect();
    let gone = sqlx::query("DELETE FROM user_events WHERE event_id = ANY($1)")
        .bind(&deleted)
        .execute(&pipeline.db.pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(gone, 7);
    let short = Duration::from_millis(600);
    let after = verify::verify(&ids, &database, short, short, |_, _| {})
        .await
        .unwrap();
    assert_eq!(after.lost, 7, "{}", after.text());
    assert_eq!(after.found, checked.found - 7);
    assert!(deleted.contains(&after.lost_examples[0]));
    assert!(after.text().contains("7 lost"));
    let after_api = verify::verify(&ids, &api, short, short, |_, _| {})
        .await
        .unwrap();
    assert_eq!(after_api.lost, 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_verifies_end_to_end_and_exits_non_zero_only_on_loss() {
    let pipeline = Pipeline::start().await;
    let report = tempfile::tempdir().unwrap();
    let html = report.path().join("run.html");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ptrack"))
        .args([
            "load",
            "--rps",
            "100",
            "--requests",
            "150",
            "--seed",
            "3",
            "--json",
        ])
        .args(["--verify", "--verify-timeout", "60s"])
        .arg("--target")
        .arg(pipeline.track_url().as_str())
        .arg("--database-url")
        .arg(&pipeline.db.url)
        .arg("--report")
        .arg(&html)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let json: Value = serde_json::from_slice(&output.stdout).expect("--json prints JSON only");
    assert_eq!(json["requests"], 150);
    assert_eq!(json["settings"]["seed"], 3);
    assert!(json["verify"]["expected"].as_u64().unwrap() > 150);
    assert_eq!(json["verify"]["lost"], 0);
    assert_eq!(json["verify"]["found"], json["verify"]["expected"]);
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));

    // Nothing is listening: the run counts the failures, says what to do, exits 1.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ptrack"))
        .args(["load", "--rps", "50", "--requests", "10"])
        .arg("--target")
        .arg(format!("http://{closed}"))
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("connect: 10"), "{stdout}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("Is the collector running"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_load_run_from_another_command_keeps_live_figures_and_stops_on_cancel() {
    let url = RecordingServer::default().serve().await;
    let data_dir = tempfile::tempdir().unwrap();
    let plan = Plan::fixed(100.0, Some(Duration::from_secs(30)), None).unwrap();
    let config = LoadConfig {
        run: config(url, plan, 4),
        settings: settings(),
        verify: None,
        data_dir: Some(data_dir.path().to_owned()),
    };
    let cancel = CancellationToken::new();
    let running = tokio::spawn(ptrack::load::run(config, cancel.clone(), ()));

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let figures = live::read(data_dir.path()).expect("live figures while sending");
    assert_eq!(figures.pid, std::process::id());
    assert_eq!(figures.target_rps, Some(100.0));
    assert!(figures.accepted_events > 0, "{figures:?}");
    assert!(figures.sent_rps > 0.0, "{figures:?}");

    cancel.cancel();
    let report = running.await.unwrap().unwrap();
    assert!(report.interrupted);
    assert!(report.requests > 50, "{}", report.requests);
    assert_eq!(live::read(data_dir.path()), None);
    assert!(
        !live::path(data_dir.path()).exists(),
        "the file goes when sending ends"
    );
}
