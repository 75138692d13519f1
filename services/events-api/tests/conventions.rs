//! The events API as an operator meets it: `--help`, `--version`, a database outage that
//! fails readiness and not liveness, and `/metrics` read by a real OpenMetrics parser.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use ptrack_test_support::{TestDatabase, TestPostgres, eventually, scrape};

const BIN: &str = env!("CARGO_BIN_EXE_ptrack-events-api");

fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_and_version() {
    let (code, help, _) = run(
        &["--help"],
        &[("DATABASE_URL", "postgres://u:hunter2@db/x")],
    );
    assert_eq!(code, Some(0));
    for var in [
        "EVENTS_API_ADDR",
        "DATABASE_URL",
        "HTTP_HEADER_TIMEOUT_MS",
        "HTTP_BODY_TIMEOUT_MS",
        "HTTP_MAX_CONNECTIONS",
    ] {
        assert!(help.contains(&format!("[env: {var}")), "{var}:\n{help}");
    }
    assert!(help.contains("[default: 127.0.0.1:8001]"), "{help}");
    assert!(
        !help.contains("hunter2") && !help.contains("ptrack:ptrack@"),
        "{help}"
    );
    let (code, version, _) = run(&["-V"], &[]);
    assert_eq!(code, Some(0));
    assert_eq!(
        version.trim(),
        format!("ptrack-events-api {}", env!("CARGO_PKG_VERSION"))
    );
    let (code, _, err) = run(&[], &[("EVENTS_API_ADDR", "8001")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("EVENTS_API_ADDR") && err.contains("HOST:PORT"),
        "{err}"
    );
}

struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(addr: &str, database_url: &str) -> Running {
    Running(
        Command::new(BIN)
            .env_clear()
            .env("EVENTS_API_ADDR", addr)
            .env("DATABASE_URL", database_url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn get(url: &str) -> Option<(u16, String)> {
    let response = reqwest::get(url).await.ok()?;
    Some((response.status().as_u16(), response.text().await.ok()?))
}

#[tokio::test]
async fn a_database_outage_fails_readiness_not_liveness() {
    let postgres = TestPostgres::start().await.unwrap();
    let addr = format!("127.0.0.1:{}", ptrack_test_support::free_port().unwrap());
    let _api = spawn(&addr, &postgres.url());
    let base = format!("http://{addr}");
    eventually(
        Duration::from_secs(20),
        "the events API is ready",
        || async {
            let (code, _) = get(&format!("{base}/readyz")).await?;
            (code == 200).then_some(())
        },
    )
    .await
    .unwrap();

    postgres.stop().unwrap();
    let (code, body) = get(&format!("{base}/readyz")).await.unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("database") && body.contains("PostgreSQL"),
        "{body}"
    );
    let (code, body) = get(&format!("{base}/livez")).await.unwrap();
    assert_eq!(code, 200, "{body}");
    // /health is what it was: the database answers.
    let (code, _) = get(&format!("{base}/health")).await.unwrap();
    assert_eq!(code, 503);

    postgres.start_again().unwrap();
    eventually(Duration::from_secs(20), "/readyz recovers", || async {
        let (code, _) = get(&format!("{base}/readyz")).await?;
        (code == 200).then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn metrics_are_openmetrics_with_a_request_duration_histogram_by_route_template() {
    let db = TestDatabase::new().await.unwrap();
    let addr = format!("127.0.0.1:{}", ptrack_test_support::free_port().unwrap());
    let _api = spawn(&addr, &db.url);
    let base = format!("http://{addr}");
    eventually(
        Duration::from_secs(20),
        "the events API is ready",
        || async {
            let (code, _) = get(&format!("{base}/readyz")).await?;
            (code == 200).then_some(())
        },
    )
    .await
    .unwrap();
    for _ in 0..2 {
        let id = uuid::Uuid::new_v4();
        let (code, body) = get(&format!("{base}/events/{id}")).await.unwrap();
        assert_eq!(code, 404, "{body}");
    }
    let (code, _) = get(&format!("{base}/events?limit=5")).await.unwrap();
    assert_eq!(code, 200);

    let metrics = scrape(&format!("{base}/metrics")).await.unwrap();
    let name = "ptrack_events_api_http_request_duration_seconds";
    assert_eq!(
        metrics.kind(name).as_deref(),
        Some("Histogram"),
        "{:?}",
        metrics.names()
    );
    let samples = metrics.samples(name);
    let count = |route: &str, status: &str| {
        samples
            .iter()
            .filter(|(l, _)| {
                l.get("route").map(String::as_str) == Some(route)
                    && l.get("status").map(String::as_str) == Some(status)
                    && l.get("method").map(String::as_str) == Some("GET")
            })
            .map(|(_, count)| *count)
            .sum::<f64>()
    };
    // The template, never the raw path with its id.
    assert_eq!(count("/events/{event_id}", "404"), 2.0, "{samples:?}");
    assert_eq!(count("/events", "200"), 1.0, "{samples:?}");
    assert!(
        samples
            .iter()
            .all(|(l, _)| !l["route"].starts_with("/events/") || l["route"] == "/events/{event_id}"),
        "{samples:?}"
    );
}
