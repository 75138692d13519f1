//! What the cli's integration tests share: running `ptrack` as a user would, the real
//! pipeline in-process ([`pipeline`]), a collector stand-in that records what
//! `ptrack load` sends ([`recording`]), the checks every runtime's stack must pass
//! ([`stack`]), and a terminal to draw on ([`tmux`]).

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod pipeline;
pub mod recording;
pub mod stack;
pub mod tmux;

use std::{
    collections::BTreeSet,
    process::{Command, Output, Stdio},
    time::Duration,
};

use ptrack_test_support::{eventually, tracker_event};
use serde_json::{Value, json};

/// `ptrack` with none of the test environment's settings that would steer it: the test
/// PostgreSQL that `DATABASE_URL` names, or a remembered runtime.
pub fn ptrack() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ptrack"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("PTRACK_RUNTIME")
        .stdin(Stdio::null());
    command
}

/// Runs it and echoes the command and what it printed (shown when a test fails).
pub fn run(mut command: Command, args: &[&str]) -> Output {
    let output = command.args(args).output().expect("running ptrack");
    eprintln!(
        "$ ptrack {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The standard output of a command that must succeed.
pub fn stdout_of_success(output: Output, args: &[&str]) -> String {
    assert!(output.status.success(), "ptrack {} failed", args.join(" "));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The ids of the stored events of `component`, through the events-api (empty while it
/// does not answer).
pub async fn stored_ids(
    client: &reqwest::Client,
    events_url: &str,
    component: &str,
) -> BTreeSet<String> {
    let Ok(response) = client
        .get(format!("{events_url}/events"))
        .query(&[("component_name", component), ("limit", "1000")])
        .send()
        .await
    else {
        return BTreeSet::new();
    };
    let rows: Value = response.json().await.unwrap_or(Value::Null);
    rows.as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| Some(r["event_id"].as_str()?.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// POSTs a batch of 20 clicks on `component` to the collector at `collector_url` and waits
/// (up to `within`) until `GET /events` at `events_url` returns exactly those events;
/// their ids.
pub async fn track_and_see_stored(
    collector_url: &str,
    events_url: &str,
    component: &str,
    within: Duration,
) -> BTreeSet<String> {
    let client = reqwest::Client::new();
    let events: Vec<Value> = (0..20).map(|_| tracker_event("CLICK", component)).collect();
    let sent: BTreeSet<String> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    let response = client
        .post(format!("{collector_url}/track"))
        .json(&json!({"events": events, "appName": "shop", "appVersion": "1.0.0"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{response:?}");
    eventually(within, "the events are stored", || {
        let (client, sent) = (&client, &sent);
        async move { (stored_ids(client, events_url, component).await == *sent).then_some(()) }
    })
    .await
    .unwrap();
    sent
}

/// The web demo at `demo_url` serves its shop with the tracker pointed at `collector_url`,
/// and that collector lets the demo's origin post (a CORS preflight from it is allowed):
/// what a visitor's browser needs from `ptrack up`.
pub async fn web_demo_is_wired(demo_url: &str, collector_url: &str) {
    let http = reqwest::Client::new();
    let page = http.get(format!("{demo_url}/")).send().await.unwrap();
    assert!(page.status().is_success(), "{page:?}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("\"{collector_url}\"")),
        "the shop's tracker posts to {collector_url}: {html}"
    );
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{collector_url}/track"))
        .header("Origin", demo_url)
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    let allowed = preflight
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(
        allowed.as_deref(),
        Some(demo_url),
        "the collector allows the demo's origin"
    );
}

/// Builds the service binaries next to `ptrack` (a no-op when they are up to date).
pub fn build_services() {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_ptrack"));
    let profile_dir = exe.parent().expect("ptrack is in a profile folder");
    let target_dir = profile_dir
        .parent()
        .expect("the profile folder is in a target folder");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "-q"])
        .args([
            "-p",
            "ptrack-collector",
            "-p",
            "ptrack-processor",
            "-p",
            "ptrack-events-api",
            "-p",
            "ptrack-web-demo",
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("running cargo build");
    assert!(status.success(), "building the service binaries failed");
}
