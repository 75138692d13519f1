//! What `ptrack up | status` must show whatever the runtime: the checks that
//! stack_local.rs and stack_docker.rs run on their stacks, written once so that the two
//! runtimes are held to the same listing.

use std::{net::TcpListener, process::Output, time::Duration};

use ptrack_test_support::eventually;
use serde_json::Value;

/// The replicas of a stack up with `--scale processor=2`, in the order `status` lists
/// them (start order: the stores, then the services that use them).
pub const WITH_TWO_PROCESSORS: [&str; 7] = [
    "broker",
    "postgres",
    "processor-1",
    "processor-2",
    "events-api",
    "collector",
    "web-demo",
];

/// A stack a test brought up with `ptrack up`, on whichever runtime: each test file says
/// how it runs `ptrack` on its stack, and the commands built on that are written once.
pub trait UpStack {
    /// `ptrack args` with this stack's settings (its data folder, its runtime's own).
    fn ptrack(&self, args: &[&str]) -> Output;

    /// The `--port-offset` the stack was brought up with.
    fn offset(&self) -> u16;

    /// The standard output of `ptrack args`, which must succeed.
    fn ok(&self, args: &[&str]) -> String {
        super::stdout_of_success(self.ptrack(args), args)
    }

    fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status --json is JSON")
    }

    /// `http://127.0.0.1:PORT` for the service whose default port is `port`.
    fn url(&self, port: u16) -> String {
        format!("http://127.0.0.1:{}", port + self.offset())
    }
}

/// A `--port-offset` that leaves every host port of a stack free (broker, PostgreSQL, the
/// services, a second processor replica, the web demo), searched from `start` plus a
/// step for this test process, so that tests running at the same time start apart.
pub fn free_port_offset(start: u16) -> u16 {
    let base = start + (std::process::id() % 200) as u16 * 100;
    (0..100)
        .map(|i| (base + i * 37) % 30_000 + 15_000)
        .find(|offset| {
            [9092, 5432, 8000, 8001, 8002, 8012, 3000]
                .iter()
                .all(|port| TcpListener::bind(("127.0.0.1", port + offset)).is_ok())
        })
        .expect("a free set of ports")
}

/// `status --json` of a stack up on `runtime` with `--scale processor=2`: every replica
/// listed, in order, and all healthy.
pub fn assert_up_with_two_processors(status: &Value, runtime: &str) {
    assert_eq!(status["runtime"], runtime, "{status:#}");
    let names: Vec<&str> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, WITH_TWO_PROCESSORS);
    assert_eq!(status["all_healthy"], true, "{status:#}");
}

/// Every service `status --json` lists is in `state` ("running", "stopped").
pub fn assert_every_service(status: &Value, state: &str) {
    for service in status["services"].as_array().unwrap() {
        assert_eq!(service["state"], state, "{service}");
    }
}

/// Waits up to 30 s until the processor replicas, together, hold partitions 0, 1 and 2
/// (each once), as `status` (a `status --json`) reports them.
pub async fn processors_split_the_partitions(status: impl Fn() -> Value) {
    eventually(
        Duration::from_secs(30),
        "the partitions are assigned",
        || {
            let status = status();
            async move {
                let mut all: Vec<i64> = status["services"]
                    .as_array()?
                    .iter()
                    .filter(|s| s["service"] == "processor")
                    .flat_map(|s| s["partitions"].as_array().cloned().unwrap_or_default())
                    .filter_map(|p| p.as_i64())
                    .collect();
                all.sort();
                (all == [0, 1, 2]).then_some(())
            }
        },
    )
    .await
    .unwrap();
}

/// `ptrack up` on a stack that runs: it succeeds and says the stack is already running
/// (each test then checks, its runtime's way, that nothing was started again).
pub fn assert_already_running(up: &Output) {
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "up again: {stderr}");
    assert!(stderr.contains("already running"), "{stderr}");
}
