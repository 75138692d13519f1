//! `ptrack logs` on the local runtime, through the real binary, on the log file the real
//! collector writes (as the local runtime starts it: its output appended to
//! `DATA/logs/collector.log`): `--since`, `--timestamps`, `-f`.

use std::{
    collections::BTreeMap,
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use chrono::{DateTime, SecondsFormat, Utc};
use ptrack::runtime::{RuntimeKind, State};
use tokio::io::{AsyncBufReadExt, BufReader};

mod common;

/// The real collector, its output appended to `log`; it logs that it listens, then its
/// broker (nobody on port 1) failing, until it is stopped.
fn collector(log: &Path) -> Child {
    let exe = Path::new(env!("CARGO_BIN_EXE_ptrack")).with_file_name("ptrack-collector");
    let out = File::options().create(true).append(true).open(log).unwrap();
    Command::new(exe)
        .env("COLLECTOR_ADDR", "127.0.0.1:0")
        .env("KAFKA_BROKERS", "127.0.0.1:1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap()
}

/// Runs the collector until its log has grown by a few lines.
fn collector_writes_some_lines(log: &Path) {
    let before = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .count();
    let mut child = collector(log);
    let started = Instant::now();
    while std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .count()
        < before + 2
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the collector logs nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

fn stack(dir: &Path) -> PathBuf {
    let state = State {
        runtime: RuntimeKind::Local,
        partitions: 3,
        scale: BTreeMap::new(),
        port_offset: 0,
        external_database_url: None,
        secure: false,
        durable: false,
        bind: Default::default(),
    };
    state.save(dir).unwrap();
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    dir.join("logs").join("collector.log")
}

/// `ptrack --data-dir DIR logs`, its arguments to come.
fn logs(dir: &Path) -> Command {
    let mut command = common::ptrack();
    command.env("PTRACK_DATA_DIR", dir).arg("logs");
    command
}

/// The time `--timestamps` put before a printed line (`collector | TIME line`).
fn stamped(line: &str) -> DateTime<Utc> {
    let rest = line.split_once(" | ").expect("a replica column").1;
    let time = rest.split_whitespace().next().unwrap();
    DateTime::parse_from_rfc3339(time)
        .unwrap_or_else(|_| panic!("no time in {line:?}"))
        .with_timezone(&Utc)
}

#[test]
fn since_and_timestamps_use_the_times_the_collector_wrote() {
    common::build_services();
    let dir = tempfile::tempdir().unwrap();
    let log = stack(dir.path());
    collector_writes_some_lines(&log);
    std::thread::sleep(Duration::from_millis(20));
    let cut = Utc::now();
    std::thread::sleep(Duration::from_millis(20));
    collector_writes_some_lines(&log);
    let total = std::fs::read_to_string(&log).unwrap().lines().count();

    let cut_text = cut.to_rfc3339_opts(SecondsFormat::Micros, true);
    let args = ["collector", "--since", &cut_text, "--timestamps"];
    let out = common::stdout_of_success(common::run(logs(dir.path()), &args), &args);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        !lines.is_empty() && lines.len() < total,
        "{} of {total}",
        lines.len()
    );
    for line in &lines {
        assert!(stamped(line) >= cut, "{line} is from before {cut_text}");
    }
    assert!(
        out.contains("collector listening"),
        "the second run's first line: {out}"
    );

    // A time ago works too; -n keeps the last lines of those.
    let args = ["collector", "--since", "10m", "-n", "1", "-t"];
    let out = common::stdout_of_success(common::run(logs(dir.path()), &args), &args);
    assert_eq!(out.lines().count(), 1);
    assert!(stamped(&out) >= cut);

    let args = ["collector", "--since", "soon"];
    let out = common::run(logs(dir.path()), &args);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a time"));
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_prints_what_the_collector_appends() {
    common::build_services();
    let dir = tempfile::tempdir().unwrap();
    let log = stack(dir.path());
    collector_writes_some_lines(&log);
    let old = std::fs::read_to_string(&log).unwrap().lines().count();

    let mut follow = tokio::process::Command::from({
        let mut command = logs(dir.path());
        command.args(["collector", "-f", "-n", "0"]);
        command
    })
    .stdout(Stdio::piped())
    .kill_on_drop(true)
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut child = collector(&log);
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("a followed line within 30 s")
        .unwrap()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    // -n 0: none of the old lines; the first printed is the new run's first.
    assert!(line.starts_with("collector | "), "{line}");
    assert!(line.contains("collector listening"), "{line}");
    assert!(old > 0);
    follow.kill().await.unwrap();
}
