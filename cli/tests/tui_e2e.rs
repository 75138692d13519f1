//! `ptrack tui` end to end: the real binary in a real pseudo-terminal (tmux, on a private
//! server), against the real pipeline started in-process (embedded broker, collector,
//! processor, events-api, a fresh database and topic). What a user would check: the lag,
//! the insert rate and the new events appear; a dead processor turns the verdict STALLED
//! or STOPPED within the window; `q` quits with status 0 and gives the terminal back.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use ptrack::client::{Collector, TrackBatch};
use ptrack_test_support::tracker_event;
use tokio_util::sync::CancellationToken;

mod common;

use common::{pipeline::Pipeline, tmux::Tmux};

/// Sends a batch of 10 clicks on `component` every 100 ms until cancelled.
fn keep_sending(collector: SocketAddr, component: &'static str, cancel: CancellationToken) {
    let client = Collector::new(ptrack::client::base_url(collector));
    tokio::spawn(async move {
        while !cancel.is_cancelled() {
            let batch = TrackBatch {
                events: (0..10).map(|_| tracker_event("CLICK", component)).collect(),
                app_name: Some("shop".into()),
                app_version: Some("1.0.0".into()),
            };
            client.track(&batch).await.expect("the collector accepts");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// A number after `label` on the screen, like `accepted 98.0/s`: whether it is above 0.
fn positive_after(screen: &str, label: &str) -> bool {
    screen.split(label).skip(1).any(|rest| {
        let number: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        number.parse::<f64>().is_ok_and(|n| n > 0.0)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cockpit_shows_the_flow_turns_stalled_when_the_processor_dies_and_q_restores_the_terminal()
 {
    let pipeline = Pipeline::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    let url = |addr: SocketAddr| ptrack::client::base_url(addr).to_string();
    let tui = format!(
        "env -u DATABASE_URL -u KAFKA_BROKERS NO_COLOR=1 '{bin}' tui --data-dir '{dir}' \
         --brokers '{brokers}' --topic '{topic}' --group '{group}' --database-url '{db}' \
         --api-url '{api}' --collector-url '{collector}' --processor-url '{processor}' \
         --window 20s; echo \"ptrack exited with $?\"; sleep 600",
        bin = env!("CARGO_BIN_EXE_ptrack"),
        dir = data_dir.path().display(),
        brokers = pipeline.broker.bootstrap(),
        topic = pipeline.topic,
        group = pipeline.group,
        db = pipeline.db.url,
        api = url(pipeline.events_api),
        collector = url(pipeline.collector.addr),
        processor = url(pipeline.processor),
    );
    let tmux = Tmux::start(&tui);
    let sending = CancellationToken::new();
    keep_sending(pipeline.collector.addr, "TuiE2eButton", sending.clone());

    // The flow: collector counts, the insert rate, the lag and the new events.
    let screen = tmux
        .wait_for(Duration::from_secs(60), "the flow shows", |s| {
            positive_after(s, "accepted")
                && positive_after(s, "inserted")
                && s.contains("total lag")
                && s.contains("TuiE2eButton")
                && s.contains("✔ OK")
        })
        .await;
    assert!(screen.contains("Consumer lag"), "{screen}");
    assert!(
        screen.contains("no stack in"),
        "the health panel says so: {screen}"
    );
    assert!(
        screen.contains("inserted from PostgreSQL stats"),
        "{screen}"
    );
    assert!(
        screen.contains("newest stored rows: inserted_at - received_at"),
        "{screen}"
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "1",
        "drawn on the alternate screen"
    );

    // The processor dies while events keep arriving: STALLED (10 s without a commit),
    // STOPPED after the 20 s window.
    pipeline.stop_processor();
    let stopped_at = Instant::now();
    let screen = tmux
        .wait_for(Duration::from_secs(45), "the verdict turns", |s| {
            s.contains("■ STALLED") || s.contains("✖ STOPPED")
        })
        .await;
    assert!(
        stopped_at.elapsed() >= Duration::from_secs(8),
        "not before ten seconds without a commit: {screen}"
    );
    assert!(
        screen.contains("waiting"),
        "the reason says what waits: {screen}"
    );
    sending.cancel();

    // q quits with status 0, and the shell's screen is back.
    tmux.send_keys("q");
    let screen = tmux
        .wait_for(Duration::from_secs(10), "ptrack exits", |s| {
            s.contains("ptrack exited with")
        })
        .await;
    assert!(screen.contains("ptrack exited with 0"), "{screen}");
    assert!(
        !screen.contains("Consumer lag"),
        "the TUI's screen is gone: {screen}"
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "the alternate screen is left"
    );
}
