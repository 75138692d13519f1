//! `ptrack up | status | down | up | clean` with the docker runtime, against a real
//! dockerd: the same sequence as the local test (stack_local.rs).
//!
//! No registry is reachable here, so `scripts/docker-test-images` builds local images
//! (a debootstrap Debian base, PostgreSQL 15 from Debian, and the host-built binaries;
//! the broker is tansu via `ptrack broker`) and the image settings point at them. The
//! test runs it (it skips what is already built). Everything the test makes carries its
//! own project label and shifted host ports, so it never meets a developer's stack.
//!
//! Needs a running dockerd (scripts/test starts one). Set `PTRACK_SKIP_DOCKER_TESTS=1` to
//! skip it on a machine without Docker; it then says so rather than passing silently.

mod common;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Duration,
};

use common::stack::UpStack;

/// Whether `PTRACK_SKIP_DOCKER_TESTS` switches these tests off; says so when it does.
fn skipped() -> bool {
    let skip = std::env::var_os("PTRACK_SKIP_DOCKER_TESTS").is_some();
    if skip {
        eprintln!("SKIPPED: PTRACK_SKIP_DOCKER_TESTS is set; the docker runtime is not tested");
    }
    skip
}

/// One stack at a time: two would share 2 cores and might pick the same free ports.
static ONE_STACK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The images, prepared once per test run (the tests of this file share them).
fn test_images() -> BTreeMap<String, String> {
    static IMAGES: std::sync::OnceLock<BTreeMap<String, String>> = std::sync::OnceLock::new();
    IMAGES.get_or_init(prepare_images).clone()
}

/// Runs scripts/docker-test-images; the `NAME=VALUE` lines it prints are the images.
fn prepare_images() -> BTreeMap<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/docker-test-images");
    let output = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/docker-test-images");
    assert!(
        output.status.success(),
        "scripts/docker-test-images failed (is dockerd running? scripts/test starts it)"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

struct Stack {
    _dir: tempfile::TempDir,
    data: PathBuf,
    offset: u16,
    project: String,
    images: BTreeMap<String, String>,
}

impl Stack {
    /// `name` keeps the tests of this file apart (they run at the same time).
    fn new(name: &str, images: BTreeMap<String, String>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Self {
            _dir: dir,
            data,
            offset: common::stack::free_port_offset(21_000),
            project: format!("ptrack-test-{name}-{}", std::process::id()),
            images,
        }
    }

    /// What Docker holds with this stack's label: containers, volumes, networks.
    fn docker_objects(&self, kind: &str) -> Vec<String> {
        let filter = format!("label=dev.ptrack.stack={}", self.project);
        let args: Vec<&str> = match kind {
            "container" => vec!["ps", "-a", "-q", "--filter", &filter],
            "volume" => vec!["volume", "ls", "-q", "--filter", &filter],
            "network" => vec!["network", "ls", "-q", "--filter", &filter],
            _ => unreachable!(),
        };
        let output = Command::new("docker")
            .args(&args)
            .output()
            .expect("docker CLI");
        assert!(output.status.success(), "docker {}", args.join(" "));
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl UpStack for Stack {
    fn ptrack(&self, args: &[&str]) -> Output {
        let mut command = common::ptrack();
        command
            .env("PTRACK_DATA_DIR", &self.data)
            .env("PTRACK_DOCKER_PROJECT", &self.project)
            // The broker image is tansu (see the `ptrack-broker` crate doc on idempotence).
            .env("PTRACK_KAFKA_IDEMPOTENCE", "false")
            .envs(&self.images);
        common::run(command, args)
    }

    fn offset(&self) -> u16 {
        self.offset
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Whatever happened, nothing of the test outlives it.
        let _ = self.ptrack(&["clean", "--yes"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_status_down_up_clean_on_docker() {
    if skipped() {
        return;
    }
    let _one = ONE_STACK.lock().await;
    let stack = Stack::new("sequence", test_images());
    let offset = stack.offset.to_string();

    let out = stack.ok(&[
        "up",
        "--runtime",
        "docker",
        "--port-offset",
        &offset,
        "--scale",
        "processor=2",
    ]);
    assert!(out.contains(&format!("{}/track", stack.url(8000))), "{out}");
    assert!(out.contains(&format!("{}/", stack.url(3000))), "{out}");
    assert_eq!(stack.docker_objects("container").len(), 7);
    assert_eq!(stack.docker_objects("volume").len(), 2);
    assert_eq!(stack.docker_objects("network").len(), 1);

    common::stack::assert_up_with_two_processors(&stack.status(), "docker");

    // The web demo, on its published port, points the browser at the collector's
    // published port, and the collector allows the demo's shifted origin.
    common::web_demo_is_wired(&stack.url(3000), &stack.url(8000)).await;

    // The two processor containers split the three partitions.
    common::stack::processors_split_the_partitions(|| stack.status()).await;

    // A batch POSTed to the collector shows up in GET /events.
    let component = format!("stack-docker-{}", std::process::id());
    let sent = common::track_and_see_stored(
        &stack.url(8000),
        &stack.url(8001),
        &component,
        Duration::from_secs(60),
    )
    .await;

    // Logs come prefixed by replica: both processors, and only them.
    let logs = stack.ok(&["logs", "processor", "--tail", "3"]);
    assert!(
        logs.lines().any(|l| l.starts_with("processor-1 | ")),
        "{logs}"
    );
    assert!(
        logs.lines().any(|l| l.starts_with("processor-2 | ")),
        "{logs}"
    );
    assert!(logs.lines().all(|l| l.starts_with("processor-")), "{logs}");

    // The Engine's own line times: `-t` puts each before its line (RFC 3339), and
    // `--since` filters on them: a time to come leaves nothing.
    let stamped = stack.ok(&["logs", "processor", "--since", "1h", "-t", "--tail", "2"]);
    assert!(!stamped.is_empty(), "no lines within the hour");
    for line in stamped.lines() {
        let rest = line.split_once(" | ").expect("a replica column").1;
        let time = rest.split_whitespace().next().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(time).is_ok(),
            "no time before {line:?}"
        );
    }
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let none = stack.ok(&["logs", "processor", "--since", &later]);
    assert!(none.trim().is_empty(), "lines from the future: {none}");

    // Up again is harmless: the same containers keep running.
    let containers = stack.docker_objects("container");
    common::stack::assert_already_running(&stack.ptrack(&["up"]));
    assert_eq!(stack.docker_objects("container"), containers);

    // Down removes the containers and the network, and keeps the volumes (the data).
    stack.ok(&["down"]);
    assert!(stack.docker_objects("container").is_empty());
    assert!(stack.docker_objects("network").is_empty());
    assert_eq!(stack.docker_objects("volume").len(), 2);
    common::stack::assert_every_service(&stack.status(), "stopped");

    // Up again (remembered runtime, scale and ports) finds the events stored before.
    stack.ok(&["up"]);
    assert_eq!(stack.status()["all_healthy"], true);
    assert_eq!(
        common::stored_ids(&reqwest::Client::new(), &stack.url(8001), &component).await,
        sent
    );

    // Clean removes everything the stack made, volumes included.
    stack.ok(&["clean", "--yes"]);
    assert!(stack.docker_objects("container").is_empty());
    assert!(stack.docker_objects("volume").is_empty());
    assert!(stack.docker_objects("network").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_that_never_gets_healthy_is_named_with_its_log() {
    if skipped() {
        return;
    }
    let _one = ONE_STACK.lock().await;
    let mut images = test_images();
    // A collector container that runs something else: its health check never passes.
    let processor = images["PTRACK_IMAGE_PROCESSOR"].clone();
    images.insert("PTRACK_IMAGE_COLLECTOR".into(), processor);
    let stack = Stack::new("failure", images);
    let offset = stack.offset.to_string();
    let up = stack.ptrack(&[
        "up",
        "--runtime",
        "docker",
        "--port-offset",
        &offset,
        "--timeout",
        "10",
    ]);
    assert!(!up.status.success(), "up fails");
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(
        stderr.contains("collector not healthy after 10 s"),
        "{stderr}"
    );
    // The tail of the collector's log: here the processor's start-up lines.
    assert!(stderr.contains("Last lines of its log"), "{stderr}");
    assert!(stderr.contains("processor starting"), "{stderr}");
    stack.ok(&["clean", "--yes"]);
    assert!(stack.docker_objects("container").is_empty());
}
