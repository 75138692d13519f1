//! Secrets never reach a log: the real service binaries run with a database password,
//! the events-api token and a collector write key in their environment, at `RUST_LOG=trace`,
//! through a working pipeline and through their error paths (a refused token, a database
//! that cannot be reached); no line any of them writes contains a secret.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

mod common;

use ptrack_test_support::{
    TestBroker, TestDatabase, event_ids, eventually, free_port, fresh_topic, tracker_batch,
};
use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use uuid::Uuid;

/// One service binary, its output (stdout and stderr) in a file.
struct Service {
    child: Child,
    log: PathBuf,
}

impl Service {
    fn spawn(name: &'static str, env: &[(&str, String)]) -> Self {
        let exe = std::path::Path::new(env!("CARGO_BIN_EXE_ptrack"))
            .with_file_name(format!("ptrack-{name}"));
        let log =
            std::env::temp_dir().join(format!("ptrack-secrets-{name}-{}.log", Uuid::new_v4()));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(&exe)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "trace")
            .env("KAFKA_IDEMPOTENCE", "false")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|err| panic!("starting {}: {err}", exe.display()));
        Self { child, log }
    }

    /// SIGTERM, so the shutdown path logs too, then the whole output.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port().unwrap()))
}

/// `url` with `user:password@` in place of its credentials.
fn with_credentials(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

fn assert_no_secret(logs: &[(&str, String)], secrets: &[&str]) {
    for (name, log) in logs {
        for line in log.lines() {
            for secret in secrets {
                assert!(!line.contains(secret), "{name} logged a secret:\n{line}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_set_in_the_environment_appears_in_any_log_line() {
    common::build_services();
    let password = format!("pw-{}", Uuid::new_v4().simple());
    let token = format!("tok-{}", Uuid::new_v4().simple());
    let write_key = format!("key-{}", Uuid::new_v4().simple());
    let secrets = [password.as_str(), token.as_str(), write_key.as_str()];

    // A role of this test's own with the password, so that the password is checked
    // wherever the server checks passwords.
    let db = TestDatabase::new().await.unwrap();
    let role = format!("secret_test_{}", Uuid::new_v4().simple());
    let server = ptrack_test_support::server_url();
    let mut admin = PgConnection::connect(&server).await.unwrap();
    admin
        .execute(AssertSqlSafe(format!(
            "CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'"
        )))
        .await
        .unwrap();
    let database_url = with_credentials(&db.url, &role, &password);

    let broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 1).await.unwrap();
    let kafka = |addr_name: &'static str, addr: SocketAddr| {
        vec![
            ("KAFKA_BROKERS", broker.bootstrap()),
            ("KAFKA_TOPIC", topic.clone()),
            (addr_name, addr.to_string()),
        ]
    };
    let (collector_addr, processor_addr, api_addr, demo_addr) =
        (local(), local(), local(), local());
    let mut collector_env = kafka("COLLECTOR_ADDR", collector_addr);
    collector_env.push(("COLLECTOR_WRITE_KEYS", write_key.clone()));
    let collector = Service::spawn("collector", &collector_env);
    let mut processor_env = kafka("PROCESSOR_ADDR", processor_addr);
    processor_env.push(("DATABASE_URL", database_url.clone()));
    let processor = Service::spawn("processor", &processor_env);
    let api = Service::spawn(
        "events-api",
        &[
            ("EVENTS_API_ADDR", api_addr.to_string()),
            ("DATABASE_URL", database_url.clone()),
            ("EVENTS_API_TOKEN", token.clone()),
        ],
    );
    let demo = Service::spawn(
        "web-demo",
        &[
            ("WEB_DEMO_ADDR", demo_addr.to_string()),
            ("COLLECTOR_URL", format!("http://{collector_addr}")),
            ("EVENTS_API_URL", format!("http://{api_addr}")),
            ("EVENTS_API_TOKEN", token.clone()),
        ],
    );

    let http = reqwest::Client::new();
    let batch = tracker_batch(3);
    let ids = event_ids(&batch);
    // Accepted with the key (a collector without write keys accepts it too).
    eventually(
        Duration::from_secs(60),
        "the collector to accept",
        || async {
            let response = http
                .post(format!("http://{collector_addr}/track"))
                .header("x-ptrack-key", &write_key)
                .json(&batch)
                .send()
                .await
                .ok()?;
            (response.status() == 200).then_some(())
        },
    )
    .await
    .unwrap();
    let _ = http
        .post(format!("http://{collector_addr}/track"))
        .header("x-ptrack-key", "not-the-key")
        .json(&tracker_batch(1))
        .send()
        .await;
    let events = format!("http://{api_addr}/events?limit=10");
    eventually(
        Duration::from_secs(60),
        "the events stored and served",
        || async {
            let body: Value = http
                .get(&events)
                .bearer_auth(&token)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (body.as_array()?.len() >= ids.len()).then_some(())
        },
    )
    .await
    .unwrap();
    for refused in [
        http.get(&events).send().await.unwrap(),
        http.get(&events).bearer_auth("wrong").send().await.unwrap(),
        http.get(&events)
            .bearer_auth(format!("{token}x"))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(refused.status(), 401);
        assert!(!refused.text().await.unwrap().contains(&token));
    }
    let through_demo = http
        .get(format!("http://{demo_addr}/api/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        through_demo.status(),
        200,
        "the demo's proxy sends the token"
    );

    // The error paths: the same secrets, a database that cannot be reached.
    let closed = format!(
        "postgres://{role}:{password}@127.0.0.1:{}/ptrack",
        free_port().unwrap()
    );
    let broken_api_addr = local();
    let broken_api = Service::spawn(
        "events-api",
        &[
            ("EVENTS_API_ADDR", broken_api_addr.to_string()),
            ("DATABASE_URL", closed.clone()),
            ("EVENTS_API_TOKEN", token.clone()),
        ],
    );
    let mut broken_processor_env = kafka("PROCESSOR_ADDR", local());
    broken_processor_env.push(("DATABASE_URL", closed));
    let broken_processor = Service::spawn("processor", &broken_processor_env);
    eventually(
        Duration::from_secs(30),
        "the broken events-api to answer",
        || async {
            let health = http
                .get(format!("http://{broken_api_addr}/health"))
                .send()
                .await
                .ok()?;
            (health.status() == 503).then_some(())
        },
    )
    .await
    .unwrap();
    let failed = http
        .get(format!("http://{broken_api_addr}/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 503);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let logs = [
        ("collector", collector.stop()),
        ("processor", processor.stop()),
        ("events-api", api.stop()),
        ("web-demo", demo.stop()),
        ("events-api (database down)", broken_api.stop()),
        ("processor (database down)", broken_processor.stop()),
    ];
    for (name, log) in &logs {
        assert!(log.lines().count() >= 2, "{name} logged: {log}");
    }
    let (_, broken) = &logs[5];
    assert!(
        broken.contains("not reachable") && broken.contains(&role),
        "the processor's error path ran and names the user, not the password:\n{broken}"
    );
    assert_no_secret(&logs, &secrets);
    drop(db);
    let _ = admin
        .execute(AssertSqlSafe(format!("DROP ROLE IF EXISTS {role}")))
        .await;
}
