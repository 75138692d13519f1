//! The collector as an operator meets it: `--help` and `--version`, flags and environment
//! as one config, the probes, and `/metrics` read by a real OpenMetrics parser.

use std::time::Duration;

use ptrack_collector::Config;
use ptrack_test_support::{
    TestBroker, assert_version, eventually, fresh_topic, get, run_binary, scrape, spawn_binary,
    tracker_batch, until_status,
};

const BIN: &str = env!("CARGO_BIN_EXE_ptrack-collector");

/// The help entry of `flag`: from its line to the next flag's.
fn entry<'a>(help: &'a str, flag: &str) -> &'a str {
    let start = help
        .find(&format!("{flag} <"))
        .unwrap_or_else(|| panic!("{flag} is not in --help:\n{help}"));
    let rest = &help[start..];
    let end = rest[2..].find("\n  -").map_or(rest.len(), |i| i + 2);
    &rest[..end]
}

#[test]
fn help_lists_every_variable_with_its_default_and_version_prints_the_version() {
    let (code, help, _) = run_binary(BIN, &["--help"], &[]);
    assert_eq!(code, Some(0));
    for (flag, var, default) in [
        ("--collector-addr", "COLLECTOR_ADDR", "127.0.0.1:8000"),
        ("--kafka-brokers", "KAFKA_BROKERS", "127.0.0.1:9092"),
        ("--kafka-topic", "KAFKA_TOPIC", "user-tracking-events"),
        ("--kafka-partitions", "KAFKA_PARTITIONS", "3"),
        ("--kafka-idempotence", "KAFKA_IDEMPOTENCE", "true"),
        (
            "--cors-allowed-origins",
            "CORS_ALLOWED_ORIGINS",
            "http://localhost:3000,http://127.0.0.1:3000",
        ),
        ("--max-body-bytes", "MAX_BODY_BYTES", "1048576"),
        ("--max-events-per-batch", "MAX_EVENTS_PER_BATCH", "500"),
        ("--produce-timeout-ms", "PRODUCE_TIMEOUT_MS", "5000"),
        ("--kafka-linger-ms", "KAFKA_LINGER_MS", "2"),
        (
            "--http-header-timeout-ms",
            "HTTP_HEADER_TIMEOUT_MS",
            "10000",
        ),
        ("--http-body-timeout-ms", "HTTP_BODY_TIMEOUT_MS", "30000"),
        ("--http-max-connections", "HTTP_MAX_CONNECTIONS", "1024"),
    ] {
        let entry = entry(&help, flag);
        assert!(entry.contains(&format!("[env: {var}")), "{entry}");
        assert!(entry.contains(&format!("[default: {default}]")), "{entry}");
        // Each says what it is for, not only its name.
        assert!(entry.split_whitespace().count() > 6, "{entry}");
    }
    assert!(
        help.contains("RUST_LOG") && help.contains("KAFKA_DEBUG"),
        "{help}"
    );

    assert_version(
        BIN,
        &format!("ptrack-collector {}", env!("CARGO_PKG_VERSION")),
    );
}

#[test]
fn a_bad_value_stops_it_with_a_message_that_names_the_variable_flag_or_environment() {
    for (var, flag, value, expected) in [
        (
            "PRODUCE_TIMEOUT_MS",
            "--produce-timeout-ms",
            "0",
            "milliseconds",
        ),
        ("COLLECTOR_ADDR", "--collector-addr", "nowhere", "HOST:PORT"),
        ("KAFKA_BROKERS", "--kafka-brokers", "broker", "HOST:PORT"),
        (
            "MAX_BODY_BYTES",
            "--max-body-bytes",
            "lots",
            "positive integer",
        ),
        ("KAFKA_IDEMPOTENCE", "--kafka-idempotence", "maybe", "true"),
    ] {
        let (code, _, from_env) = run_binary(BIN, &[], &[(var, value)]);
        assert_eq!(code, Some(2), "{var}={value}: {from_env}");
        assert!(
            from_env.contains(var) && from_env.contains(expected),
            "{var}={value}: {from_env}"
        );
        let (code, _, from_flag) = run_binary(BIN, &[flag, value], &[]);
        assert_eq!(code, Some(2), "{flag} {value}: {from_flag}");
        assert!(
            from_flag.contains(var) && from_flag.contains(expected),
            "{flag} {value}: {from_flag}"
        );
    }
}

#[tokio::test]
async fn flags_and_environment_are_two_spellings_of_one_setting_and_the_flag_wins() {
    // Nothing listens on the broker port: the collector is alive, and not ready.
    let nowhere = format!("127.0.0.1:{}", ptrack_test_support::free_port().unwrap());
    let by_env = format!("127.0.0.1:{}", ptrack_test_support::free_port().unwrap());
    let by_flag = format!("127.0.0.1:{}", ptrack_test_support::free_port().unwrap());
    // A variable set to nothing counts as unset (compose files write `KAFKA_DEBUG=`).
    let _env = spawn_binary(
        BIN,
        &[],
        &[
            ("COLLECTOR_ADDR", &by_env),
            ("KAFKA_BROKERS", &nowhere),
            ("MAX_EVENTS_PER_BATCH", ""),
            ("PRODUCE_TIMEOUT_MS", " "),
        ],
    );
    let other = format!("127.0.0.1:{}", ptrack_test_support::free_port().unwrap());
    let _flag = spawn_binary(
        BIN,
        &["--collector-addr", &by_flag, "--kafka-brokers", &nowhere],
        &[("COLLECTOR_ADDR", &other), ("KAFKA_BROKERS", &nowhere)],
    );
    for addr in [&by_env, &by_flag] {
        let (code, _) = eventually(Duration::from_secs(20), "the collector listens", || async {
            get(&format!("http://{addr}/livez")).await
        })
        .await
        .unwrap();
        assert_eq!(code, 200, "/livez on {addr}");
        // The broker is unreachable: not ready, and the reason says so.
        let (code, body) = get(&format!("http://{addr}/readyz")).await.unwrap();
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("broker"), "{body}");
        // /health is what it always was: the collector serves.
        let (code, _) = get(&format!("http://{addr}/health")).await.unwrap();
        assert_eq!(code, 200);
    }
    assert!(
        get(&format!("http://{other}/livez")).await.is_none(),
        "the variable won over the flag"
    );
}

#[tokio::test]
async fn metrics_are_openmetrics_with_a_request_duration_histogram_by_route() {
    let broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 1).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(ptrack_collector::run(
        listener,
        Config::for_tests(&broker.bootstrap(), &topic),
        stop.clone().cancelled_owned(),
    ));
    let _stop = stop.drop_guard();
    let client = reqwest::Client::new();
    until_status(&format!("{url}/readyz"), 200, Duration::from_secs(30))
        .await
        .unwrap();
    let answer = client
        .post(format!("{url}/track"))
        .json(&tracker_batch(2))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let missing = client
        .get(format!("{url}/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let metrics = scrape(&format!("{url}/metrics")).await.unwrap();
    let name = "ptrack_collector_http_request_duration_seconds";
    metrics.assert_kind(name, "Histogram");
    let samples = metrics.samples(name);
    let count =
        |route: &str, status: &str| metrics.value(name, &[("route", route), ("status", status)]);
    assert_eq!(count("/track", "200"), 1.0, "{samples:?}");
    assert!(count("/readyz", "200") >= 1.0, "{samples:?}");
    // A path that matches no route is not a label value of its own.
    assert_eq!(count("unmatched", "404"), 1.0, "{samples:?}");
    assert!(
        samples
            .iter()
            .all(|(labels, _)| labels.get("route").map(String::as_str) != Some("/no/such/page")),
        "{samples:?}"
    );
    metrics.assert_kind("ptrack_collector_events_accepted", "Counter");
    assert_eq!(
        metrics.samples("ptrack_collector_events_accepted")[0].1,
        2.0
    );
}

#[tokio::test]
async fn its_http_limits_are_settings_too_a_slow_client_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let nowhere = format!("127.0.0.1:{}", ptrack_test_support::free_port().unwrap());
    let addr = format!("127.0.0.1:{}", ptrack_test_support::free_port().unwrap());
    let _collector = spawn_binary(
        BIN,
        &["--http-header-timeout-ms", "500"],
        &[("COLLECTOR_ADDR", &addr), ("KAFKA_BROKERS", &nowhere)],
    );
    eventually(Duration::from_secs(20), "the collector listens", || async {
        get(&format!("http://{addr}/livez")).await
    })
    .await
    .unwrap();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /track HTTP/1.1\r\nHost: c\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    // Served meanwhile.
    let (code, _) = get(&format!("http://{addr}/livez")).await.unwrap();
    assert_eq!(code, 200);
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest))
        .await
        .expect("the slow client was never cut off")
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(!String::from_utf8_lossy(&rest).contains(" 200 "));
}
