//! `ptrack load` in CI, through the real binary: thresholds and exit codes, Ctrl-C,
//! extra headers and gzip bodies (against a recording server and the real collector),
//! the latency histograms for other tools, and the shell completions.

use std::{io::Cursor, process::Output, time::Duration};

use base64::Engine as _;
use hdrhistogram::{
    Histogram,
    serialization::{
        Deserializer,
        interval_log::{IntervalLogIterator, LogEntry},
    },
};
use reqwest::Url;
use serde_json::Value;

mod common;

use common::{pipeline::Pipeline, recording::RecordingServer};

fn ptrack() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ptrack"));
    // No stack folder: no live file next to someone's stack.
    command.env("PTRACK_DATA_DIR", "/nonexistent-ptrack-test");
    command
}

async fn load(target: &Url, args: &[&str]) -> Output {
    ptrack()
        .args(["load", "--target", target.as_str()])
        .args(["--seed", "5", "-c", "4"])
        .args(args)
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn thresholds_decide_the_exit_code() {
    let server = RecordingServer::default()
        .delayed(Duration::from_millis(5))
        .failing_every(10);
    let url = server.serve().await;
    let base = ["--rps", "200", "--requests", "100"];

    // Every threshold holds: 0, and the JSON report says how each came out.
    let out = load(
        &url,
        &[
            &base[..],
            &[
                "--json",
                "--threshold",
                "p99<10s",
                "--threshold",
                "errors<=10%",
            ],
            &["--threshold", "p50 >= 5ms", "--threshold", "rps>50"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let thresholds = report["thresholds"].as_array().unwrap();
    assert_eq!(thresholds.len(), 4);
    assert!(thresholds.iter().all(|t| t["ok"] == true), "{thresholds:?}");
    assert_eq!(thresholds[1]["actual"], 0.1, "1 in 10 failed");
    assert!(
        thresholds[2]["actual"].as_f64().unwrap() >= 5.0,
        "the server takes 5 ms"
    );

    // One broken (the server takes 5 ms, every tenth request fails): 99, and the text
    // report names it with the figure.
    let out = load(
        &url,
        &[
            &base[..],
            &["--threshold", "p99<10s", "--threshold", "errors<1%"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(out.status.code(), Some(99), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ok     p99<10s"), "{stdout}");
    assert!(
        stdout.contains("BROKEN errors<1%  (was 10.000%)"),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("1 of 2 thresholds broken"));
    let out = load(&url, &[&base[..], &["--threshold", "max<1ms"]].concat()).await;
    assert_eq!(out.status.code(), Some(99));
    // `lost` without --verify has no figure: broken, and said why.
    let out = load(&url, &[&base[..], &["--threshold", "lost==0"]].concat()).await;
    assert_eq!(out.status.code(), Some(99));
    assert!(text(&out.stdout).contains("lost needs --verify"));

    // A threshold that does not parse is a usage error, before anything is sent.
    let sent = server.requests();
    for (bad, why) in [
        ("p99<50", "needs a unit"),
        ("latency<5ms", "unknown metric"),
        ("errors<2", "not a rate"),
    ] {
        let out = load(&url, &[&base[..], &["--threshold", bad]].concat()).await;
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(why), "{bad}: {stderr}");
    }
    assert_eq!(server.requests(), sent, "a usage error sends nothing");
}

/// Interrupts `child` as a terminal's Ctrl-C does (SIGINT) and waits (up to 20 s) for it
/// to end: both Ctrl-C tests stop a running `ptrack load` this way.
async fn ctrl_c(child: tokio::process::Child) -> Output {
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("ptrack load stops soon after Ctrl-C")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_prints_the_report_so_far_and_exits_130() {
    let server = RecordingServer::default();
    let url = server.serve().await;
    let child = ptrack()
        .args([
            "load",
            "--target",
            url.as_str(),
            "--rps",
            "50",
            "--duration",
            "1m",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until requests flow, then interrupt as a terminal's Ctrl-C does.
    let waited = std::time::Instant::now();
    while server.requests() < 20 {
        assert!(waited.elapsed() < Duration::from_secs(30), "no traffic");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = ctrl_c(child).await;
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("INTERRUPTED"), "{stdout}");
    assert!(
        stdout.contains("latency ms"),
        "the report is printed: {stdout}"
    );
    let sent = server.requests();
    assert!(sent < 1000, "stopped early: {sent} of 3000 requests");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_verifying_ends_the_check_and_exits_130() {
    let pipeline = Pipeline::start().await;
    // Nothing gets stored: --verify would wait for 10 s of no news, then report losses.
    pipeline.stop_processor();
    let mut child = ptrack()
        .args(["load", "--rps", "100", "--requests", "20", "--verify"])
        .args(["--verify-timeout", "60s", "--target"])
        .arg(pipeline.track_url().as_str())
        .arg("--database-url")
        .arg(&pipeline.db.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stderr.take().unwrap()));
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), stderr.next_line())
            .await
            .expect("verify says how far it got")
            .unwrap()
            .expect("ptrack load is still running");
        if line.starts_with("verify: 0 of") {
            break;
        }
    }
    let interrupted = std::time::Instant::now();
    let out = ctrl_c(child).await;
    assert_eq!(out.status.code(), Some(130));
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "the check ended at Ctrl-C, not after its 10 s without news"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("INTERRUPTED"), "{stdout}");
    assert!(
        stdout.contains("20 sent"),
        "the sending part is reported: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn extra_headers_and_gzip_bodies_reach_the_server() {
    let server = RecordingServer::default();
    let url = server.serve().await;
    let out = load(
        &url,
        &[
            "--rps",
            "100",
            "--requests",
            "40",
            "--gzip",
            "-H",
            "X-Ptrack-Key: key-1",
            "--header",
            "Content-Type: application/json; charset=utf-8",
            "-H",
            "x-ptrack-key: key-2",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let seen = server.seen();
    assert_eq!(seen.len(), 40);
    for (headers, body) in seen.iter() {
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        // The last -H of a name wins; one named like ours replaces ours.
        assert_eq!(header("x-ptrack-key").as_deref(), Some("key-2"));
        assert_eq!(headers.get_all("x-ptrack-key").iter().count(), 1);
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(header("content-encoding").as_deref(), Some("gzip"));
        assert!(!body["events"].as_array().unwrap().is_empty(), "{body}");
    }

    for (bad, why) in [
        ("X-Ptrack-Key abc", "not a header"),
        ("Bad Name: x", "not a header name"),
        ("Content-Length: 5", "sets this header itself"),
        ("Content-Encoding: br", "use --gzip"),
    ] {
        let out = load(&url, &["--requests", "1", "-H", bad]).await;
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            text(&out.stderr).contains(why),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_bodies_are_accepted_and_stored_by_the_real_pipeline() {
    let pipeline = Pipeline::start().await;
    let out = ptrack()
        .args([
            "load",
            "--rps",
            "100",
            "--requests",
            "60",
            "--gzip",
            "--json",
        ])
        .args([
            "--verify",
            "--verify-timeout",
            "60s",
            "--threshold",
            "lost==0",
        ])
        .args(["--threshold", "errors==0"])
        .arg("--target")
        .arg(pipeline.track_url().as_str())
        .arg("--database-url")
        .arg(&pipeline.db.url)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["statuses"]["200"], 60);
    assert!(report["events_accepted"].as_u64().unwrap() > 60);
    assert_eq!(report["verify"]["lost"], 0);
    assert_eq!(report["verify"]["found"], report["events_accepted"]);
}

/// The histograms of an interval log, each checked to parse.
fn intervals(log: &[u8]) -> Vec<Histogram<u64>> {
    let mut deserializer = Deserializer::new();
    IntervalLogIterator::new(log)
        .map(|entry| entry.expect("a well-formed log entry"))
        .filter_map(|entry| match entry {
            LogEntry::Interval(interval) => Some(interval),
            _ => None,
        })
        .map(|interval| {
            assert_eq!(
                interval.tag().map(|t| t.as_str().to_owned()).as_deref(),
                Some("corrected")
            );
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(interval.encoded_histogram())
                .expect("base64");
            deserializer
                .deserialize(&mut Cursor::new(bytes))
                .expect("a V2 histogram")
        })
        .collect()
}

/// The `.hgrm` data lines as (value ms, percentile, total count), and the footer's max.
fn hgrm(text: &str) -> (Vec<(f64, f64, u64)>, f64) {
    let mut lines = Vec::new();
    let mut max = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#[Max     =") {
            max = rest.split(',').next().map(|v| v.trim().parse().unwrap());
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() >= 3 && fields[0].parse::<f64>().is_ok() {
            lines.push((
                fields[0].parse().unwrap(),
                fields[1].parse().unwrap(),
                fields[2].parse().unwrap(),
            ));
        }
    }
    (lines, max.expect("a #[Max line"))
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_histograms_parse_back_and_two_runs_merge() {
    let dir = tempfile::tempdir().unwrap();
    let mut merged: Option<Histogram<u64>> = None;
    let mut total = 0;
    for (run, delay) in [("a", 2), ("b", 20)] {
        let url = RecordingServer::default()
            .delayed(Duration::from_millis(delay))
            .serve()
            .await;
        let (out_path, log_path) = (
            dir.path().join(format!("{run}.hgrm")),
            dir.path().join(format!("{run}.hlog")),
        );
        let out = ptrack()
            .args([
                "load",
                "--target",
                url.as_str(),
                "--rps",
                "100",
                "--requests",
                "150",
            ])
            .args(["--seed", "5", "--json", "--hist-out"])
            .arg(&out_path)
            .arg("--hist-log")
            .arg(&log_path)
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let max_ms = report["latency_ms"]["corrected"]["max"].as_f64().unwrap();

        // The percentile distribution: counts up to all requests, and the report's max.
        let hgrm_text = std::fs::read_to_string(&out_path).unwrap();
        assert!(
            hgrm_text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n")
        );
        assert!(
            hgrm_text.contains("SubBuckets     =         2048]"),
            "{hgrm_text}"
        );
        let (lines, footer_max) = hgrm(&hgrm_text);
        let last = lines.last().unwrap();
        assert_eq!((last.1, last.2), (1.0, 150), "{lines:?}");
        assert!(
            (footer_max - max_ms).abs() < 0.001,
            "{footer_max} vs {max_ms}"
        );
        assert!(
            lines
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].2 <= w[1].2)
        );
        let p50 = lines.iter().find(|l| l.1 >= 0.5).unwrap().0;
        assert!(
            p50 >= delay as f64,
            "p50 {p50} ms under the server's {delay} ms"
        );

        // The interval log: V2 histograms that add up to the whole run.
        let parts = intervals(&std::fs::read(&log_path).unwrap());
        assert!(parts.len() > 1, "several intervals");
        let mut run_total = parts[0].clone();
        for part in &parts[1..] {
            run_total.add(part).unwrap();
        }
        assert_eq!(run_total.len(), 150);
        assert!((run_total.max() as f64 / 1000.0 - max_ms).abs() < 0.001);
        total += 150;
        match &mut merged {
            Some(m) => m.add(&run_total).unwrap(),
            None => merged = Some(run_total),
        }
    }
    let merged = merged.unwrap();
    assert_eq!(merged.len(), total);
    // Half the requests took 20 ms or more: the merged median sits between the runs.
    let p75 = merged.value_at_quantile(0.75) as f64 / 1000.0;
    let p25 = merged.value_at_quantile(0.25) as f64 / 1000.0;
    assert!(p25 < 20.0 && p75 >= 20.0, "p25 {p25} p75 {p75}");
}

#[tokio::test]
async fn completions_cover_every_subcommand() {
    let subcommands = [
        "demo",
        "up",
        "down",
        "clean",
        "status",
        "logs",
        "load",
        "tui",
        "query",
        "completions",
    ];
    for shell in ["bash", "zsh", "fish"] {
        let out = ptrack()
            .args(["completions", shell])
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for sub in subcommands {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
        assert!(script.contains("threshold"), "{shell}: flags too");
        if shell == "bash" {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("ptrack.bash");
            std::fs::write(&path, &script).unwrap();
            let check = std::process::Command::new("bash")
                .arg("-n")
                .arg(&path)
                .output()
                .expect("bash is installed");
            assert!(check.status.success(), "{}", text(&check.stderr));
        }
    }
    let out = ptrack()
        .args(["completions", "tcsh"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
