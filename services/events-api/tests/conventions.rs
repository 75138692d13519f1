//! The events API as an operator meets it: `--help`, `--version`, a database outage that
//! fails readiness and not liveness, and `/metrics` read by a real OpenMetrics parser.

use std::time::Duration;

use ptrack_test_support::{
    Running, TestDatabase, TestPostgres, assert_version, get, run_binary, scrape, spawn_binary,
    until_status,
};

const BIN: &str = env!("CARGO_BIN_EXE_ptrack-events-api");

#[test]
fn help_and_version() {
    let (code, help, _) = run_binary(
        BIN,
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
    assert_version(
        BIN,
        &format!("ptrack-events-api {}", env!("CARGO_PKG_VERSION")),
    );
    let (code, _, err) = run_binary(BIN, &[], &[("EVENTS_API_ADDR", "8001")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("EVENTS_API_ADDR") && err.contains("HOST:PORT"),
        "{err}"
    );
}

/// Starts the binary on a free port against `database_url`, and waits until it is ready:
/// its base URL, and the process (killed on drop).
async fn start(database_url: &str) -> (String, Running) {
    let addr = format!("127.0.0.1:{}", ptrack_test_support::free_port().unwrap());
    let api = spawn_binary(
        BIN,
        &[],
        &[("EVENTS_API_ADDR", &addr), ("DATABASE_URL", database_url)],
    );
    let base = format!("http://{addr}");
    until_status(&format!("{base}/readyz"), 200, Duration::from_secs(20))
        .await
        .unwrap();
    (base, api)
}

#[tokio::test]
async fn a_database_outage_fails_readiness_not_liveness() {
    let postgres = TestPostgres::start().await.unwrap();
    let (base, _api) = start(&postgres.url()).await;

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
    until_status(&format!("{base}/readyz"), 200, Duration::from_secs(20))
        .await
        .unwrap();
}

#[tokio::test]
async fn metrics_are_openmetrics_with_a_request_duration_histogram_by_route_template() {
    let db = TestDatabase::new().await.unwrap();
    let (base, _api) = start(&db.url).await;
    for _ in 0..2 {
        let id = uuid::Uuid::new_v4();
        let (code, body) = get(&format!("{base}/events/{id}")).await.unwrap();
        assert_eq!(code, 404, "{body}");
    }
    let (code, _) = get(&format!("{base}/events?limit=5")).await.unwrap();
    assert_eq!(code, 200);

    let metrics = scrape(&format!("{base}/metrics")).await.unwrap();
    let name = "ptrack_events_api_http_request_duration_seconds";
    metrics.assert_kind(name, "Histogram");
    let samples = metrics.samples(name);
    let count = |route: &str, status: &str| {
        metrics.value(
            name,
            &[("route", route), ("status", status), ("method", "GET")],
        )
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
