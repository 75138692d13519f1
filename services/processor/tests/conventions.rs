//! The processor as an operator meets it: `--help` without secrets, `--version`, a
//! database outage that fails readiness and not liveness, and `/metrics` read by a real
//! OpenMetrics parser (the consumer-group lag named and labelled as kafka_exporter's).

use std::time::Duration;

use ptrack_test_support::{
    TestBroker, TestPostgres, assert_version, eventually, fresh_topic, get, run_binary, scrape,
    spawn_binary, until_status,
};

const BIN: &str = env!("CARGO_BIN_EXE_ptrack-processor");

#[test]
fn help_lists_every_variable_and_never_a_password() {
    let secret_url = "postgres://ptrack:hunter2@db:5432/ptrack";
    let (code, help, _) = run_binary(BIN, &["--help"], &[("DATABASE_URL", secret_url)]);
    assert_eq!(code, Some(0));
    for var in [
        "PROCESSOR_ADDR",
        "KAFKA_BROKERS",
        "KAFKA_TOPIC",
        "KAFKA_PARTITIONS",
        "KAFKA_IDEMPOTENCE",
        "KAFKA_GROUP_ID",
        "DATABASE_URL",
        "BATCH_SIZE",
        "BATCH_TIMEOUT_MS",
        "DB_MAX_CONNECTIONS",
        "KAFKA_JOIN_DELAY_MS",
        "KAFKA_ORPHAN_AFTER_MS",
        "KAFKA_FETCH_WAIT_MS",
        "HTTP_HEADER_TIMEOUT_MS",
        "HTTP_BODY_TIMEOUT_MS",
        "HTTP_MAX_CONNECTIONS",
    ] {
        assert!(help.contains(&format!("[env: {var}")), "{var}:\n{help}");
    }
    for default in [
        "[default: 127.0.0.1:8002]",
        "[default: ptrack-processor]",
        "[default: 1000]",
        "[default: 200]",
        "[default: 4]",
        "[default: 30000]",
        "[default: 50]",
    ] {
        assert!(help.contains(default), "{default}:\n{help}");
    }
    // The default database URL is shown without its password; a set one not at all.
    assert!(
        help.contains(ptrack_common::config::DEFAULT_DATABASE_URL_SHOWN),
        "{help}"
    );
    assert!(!help.contains("ptrack:ptrack@"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");

    assert_version(
        BIN,
        &format!("ptrack-processor {}", env!("CARGO_PKG_VERSION")),
    );

    // A bad URL is refused, named, and still not printed whole.
    let (code, _, err) = run_binary(
        BIN,
        &[],
        &[("DATABASE_URL", "mysql://ptrack:hunter2@db/ptrack")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("DATABASE_URL") && err.contains("postgres://"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    let (code, _, err) = run_binary(BIN, &["--batch-size", "0"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("BATCH_SIZE"), "{err}");
}

#[tokio::test]
async fn a_database_outage_fails_readiness_not_liveness_and_metrics_parse() {
    let postgres = TestPostgres::start().await.unwrap();
    let broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 3).await.unwrap();
    let addr = format!("127.0.0.1:{}", ptrack_test_support::free_port().unwrap());
    let group = format!("processor-{topic}");
    let _processor = spawn_binary(
        BIN,
        &[],
        &[
            ("PROCESSOR_ADDR", &addr),
            ("KAFKA_BROKERS", &broker.bootstrap()),
            ("KAFKA_TOPIC", &topic),
            ("KAFKA_GROUP_ID", &group),
            ("DATABASE_URL", &postgres.url()),
        ],
    );
    let base = format!("http://{addr}");
    until_status(&format!("{base}/readyz"), 200, Duration::from_secs(60))
        .await
        .unwrap();

    // The lag gauge, once the group watch has seen the partitions: one sample per
    // partition, each labelled with the topic, the group and the partition.
    let lag = eventually(Duration::from_secs(30), "the lag gauge", || async {
        let metrics = scrape(&format!("{base}/metrics")).await.ok()?;
        let samples = metrics.samples("ptrack_processor_consumergroup_lag");
        (samples.len() == 3).then_some((metrics, samples))
    })
    .await;
    let (metrics, samples) = match lag {
        Ok(found) => found,
        Err(err) => {
            let metrics = scrape(&format!("{base}/metrics")).await.unwrap();
            panic!("{err}: {:?}", metrics.names());
        }
    };
    metrics.assert_kind("ptrack_processor_consumergroup_lag", "Gauge");
    let mut partitions: Vec<String> = samples
        .iter()
        .map(|(labels, _)| {
            assert_eq!(labels.get("topic"), Some(&topic), "{labels:?}");
            assert_eq!(labels.get("group"), Some(&group), "{labels:?}");
            labels["partition"].clone()
        })
        .collect();
    partitions.sort();
    assert_eq!(partitions, ["0", "1", "2"]);
    let sum = metrics.samples("ptrack_processor_consumergroup_lag_sum");
    assert_eq!(sum.len(), 1, "{sum:?}");
    metrics.assert_kind("ptrack_processor_consumergroup_lag_sum", "Gauge");
    metrics.assert_kind("ptrack_processor_rows_inserted", "Counter");
    let durations = "ptrack_processor_http_request_duration_seconds";
    assert!(
        metrics.value(durations, &[("route", "/readyz"), ("status", "200")]) >= 1.0,
        "{:?}",
        metrics.samples(durations)
    );

    postgres.stop().unwrap();
    let body = until_status(&format!("{base}/readyz"), 503, Duration::from_secs(15))
        .await
        .unwrap();
    assert!(body.contains("database"), "{body}");
    assert!(body.contains("PostgreSQL"), "{body}");
    // Alive all along: a restart would not bring the database back.
    for _ in 0..5 {
        let (code, body) = get(&format!("{base}/livez")).await.unwrap();
        assert_eq!(code, 200, "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    postgres.start_again().unwrap();
    until_status(&format!("{base}/readyz"), 200, Duration::from_secs(30))
        .await
        .unwrap();
}
