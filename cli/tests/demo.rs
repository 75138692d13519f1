//! `ptrack demo` as CI runs it: no terminal, a private local stack in a temporary data
//! folder on shifted ports, a short `--duration`. It must bring the stack up, print the
//! TUI's summary lines while the load runs, then the load's report with every accepted
//! event stored, and exit 0; run again, it uses the stack that is up; and on a terminal
//! (tmux), quitting the TUI checks what was accepted until then.
//!
//! Needs PostgreSQL's server binaries (initdb, pg_ctl; `apt-get install postgresql-15`).
//! The service binaries are built into the same target folder as `ptrack` first, as in
//! `stack_local.rs`.

use std::{net::TcpListener, path::PathBuf, process::Output, time::Duration};

mod common;

/// An offset that leaves every port of the stack free (broker, postgres, services), away
/// from the ranges `stack_local.rs` picks from.
fn free_port_offset() -> u16 {
    let base = 5_000 + (std::process::id() % 100) as u16 * 100;
    (0..100)
        .map(|i| (base + i * 41) % 10_000 + 5_000)
        .find(|offset| {
            [9092, 5432, 8000, 8001, 8002]
                .iter()
                .all(|port| TcpListener::bind(("127.0.0.1", port + offset)).is_ok())
        })
        .expect("a free set of ports")
}

/// The demo's data folder; whatever happened, no process of its stack outlives the test.
struct Data {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Data {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        Self { _dir: dir, path }
    }

    fn ptrack(&self, args: &[&str]) -> Output {
        let mut command = common::ptrack();
        command
            .env("PTRACK_DATA_DIR", &self.path)
            .env_remove("PTRACK_PORT_OFFSET")
            .env_remove("NO_COLOR");
        common::run(command, args)
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        let _ = self.ptrack(&["clean", "--yes"]);
    }
}

/// The `N` of `label N` in `line`.
fn number_after(line: &str, label: &str) -> Option<String> {
    let rest = &line[line.find(label)? + label.len()..];
    Some(
        rest.split_whitespace()
            .next()?
            .trim_end_matches(',')
            .to_owned(),
    )
}

/// `accepted, stored, lost, duplicated` from the report's verify line
/// (`3356 accepted, 3356 stored, 0 lost, 0 duplicated (waited 0.5s)`).
fn verified(stdout: &str) -> Option<[u64; 4]> {
    let line = stdout
        .lines()
        .find(|l| l.contains(" accepted, ") && l.contains(" stored, "))?;
    let numbers: Vec<u64> = line
        .split(',')
        .filter_map(|part| part.split_whitespace().next()?.parse().ok())
        .collect();
    numbers.try_into().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_without_a_terminal_brings_the_stack_up_shows_the_pipeline_and_loses_nothing() {
    common::build_services();
    let data = Data::new();
    let offset = free_port_offset();
    let offset_arg = offset.to_string();

    let out = data.ptrack(&[
        "demo",
        "--duration",
        "10s",
        "--every",
        "2s",
        "--port-offset",
        &offset_arg,
    ]);
    assert!(out.status.success(), "ptrack demo failed: {:?}", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);

    // The stack was brought up on the shifted ports, and the load went to its collector.
    assert!(stderr.contains("Starting the local stack"), "{stderr}");
    let collector = format!("http://127.0.0.1:{}/track", 8000 + offset);
    assert!(stdout.contains(&collector), "{stdout}");

    // The TUI's summary lines while the load ran, showing rows going into the table.
    let summaries: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" | accepted ") && l.contains(" lag "))
        .collect();
    assert!(summaries.len() >= 3, "{} summary lines", summaries.len());
    assert!(
        summaries.iter().any(
            |l| number_after(l, "inserted ").is_some_and(|rate| rate != "-" && rate != "0.0/s")
        ),
        "no summary line shows inserted rows: {summaries:#?}"
    );

    // The load's report: requests answered, every accepted event stored exactly once.
    assert!(
        stdout.contains(&format!("ptrack load: {collector}")),
        "{stdout}"
    );
    assert!(!stdout.contains("INTERRUPTED"), "{stdout}");
    let [accepted, stored, lost, duplicated] =
        verified(&stdout).expect("the report has the verify line");
    assert!(accepted > 100, "only {accepted} events accepted");
    assert_eq!((stored, lost, duplicated), (accepted, 0, 0));

    // And how to stop the stack, which is still up.
    assert!(stdout.contains("clean --yes"), "{stdout}");
    let status = data.ptrack(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["all_healthy"], true, "{status:#}");

    // Run again, it uses the stack that is up instead of starting one.
    let again = data.ptrack(&["demo", "--duration", "2s", "--every", "1s"]);
    assert!(again.status.success(), "{:?}", again.status);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("is up: the demo uses it"), "{stderr}");
    assert!(!stderr.contains("Starting the local stack"), "{stderr}");
    let [accepted, stored, lost, _] =
        verified(&String::from_utf8_lossy(&again.stdout)).expect("a verify line");
    assert!(accepted > 0);
    assert_eq!((stored, lost), (accepted, 0));

    // On a terminal: the TUI until q, then every event accepted until then is looked for
    // and the report printed; the exit status is 0.
    let shell = format!(
        "env -u DATABASE_URL -u PTRACK_RUNTIME -u NO_COLOR PTRACK_DATA_DIR='{}' '{}' demo; \
         echo \"demo exited $?\"; sleep 600",
        data.path.display(),
        env!("CARGO_BIN_EXE_ptrack"),
    );
    let tmux = common::tmux::Tmux::start(&shell);
    tmux.wait_for(Duration::from_secs(60), "the TUI draws", |screen| {
        screen.contains("Consumer lag") && screen.contains("accepted")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    tmux.send_keys("q");
    let screen = tmux
        .wait_for(Duration::from_secs(90), "the demo exits", |screen| {
            screen.contains("demo exited")
        })
        .await;
    assert!(screen.contains("demo exited 0"), "{screen}");
    assert!(
        screen.contains("INTERRUPTED"),
        "quit before its end: {screen}"
    );
    let [accepted, stored, lost, duplicated] =
        verified(&screen).expect("the verify line after quitting");
    assert!(accepted > 0, "{screen}");
    assert_eq!((stored, lost, duplicated), (accepted, 0, 0), "{screen}");
}
