//! What the tests of every crate need, real and isolated per test:
//!
//! - [`TestDatabase`]: a fresh PostgreSQL database with the migrations applied, dropped
//!   afterwards. The server is the one `DATABASE_URL` points at (the test script starts it).
//! - [`TestBroker`]: an embedded tansu broker on its own port and SQLite file, which a
//!   test can stop and start again to play an outage.
//! - [`TestPostgres`]: a private PostgreSQL server, for the tests that restart it.
//! - [`fresh_topic`]: a new topic with a unique name; [`TestBroker::consumer`] and
//!   [`read_messages`] read it back.
//! - [`tracker_event`] / [`tracker_batch`]: the original browser tracker's payload;
//!   [`tracker_event_raw`] / [`tracker_batch_raw`] / [`post_json_text`] for the JSON text
//!   a `Value` cannot hold; [`answer`] and [`rejections`] read what comes back.
//! - [`get`] / [`until_status`] / [`scrape`]: a running service's probes and `/metrics`.
//!
//! Layout: `binary` runs a service's binary as an operator does ([`run_binary`],
//! [`spawn_binary`], [`assert_version`]); the rest is here.

mod binary;

use std::{future::Future, net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, Result, bail};
pub use binary::{Running, assert_version, run_binary, spawn_binary};
use ptrack_broker::EmbeddedBroker;
pub use ptrack_broker::free_port;
use rdkafka::{
    ClientConfig,
    consumer::{Consumer, StreamConsumer},
    message::OwnedMessage,
};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, PgPool};
use uuid::Uuid;

/// The server the tests use; the test script exports it.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| ptrack_common::config::DEFAULT_DATABASE_URL.to_owned())
}

/// A database of its own for one test, migrated, dropped when the value is dropped.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDatabase {
    pub async fn new() -> Result<Self> {
        let server = server_url();
        let mut admin = PgConnection::connect(&server).await.with_context(|| {
            format!(
                "PostgreSQL is not reachable at {}: run the tests with scripts/test, which starts it",
                ptrack_common::config::redact_url(&server)
            )
        })?;
        let name = format!("ptrack_test_{}", Uuid::new_v4().simple());
        // The name is ours: `ptrack_test_` and hex digits.
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        let url = replace_database(&server, &name);
        let pool = PgPool::connect(&url).await?;
        ptrack_common::db::MIGRATOR.run(&pool).await?;
        Ok(Self { name, url, pool })
    }

    /// Counts rows of `user_events`.
    pub async fn count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM user_events")
            .fetch_one(&self.pool)
            .await?)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = server_url();
        let name = self.name.clone();
        // Drop runs outside async: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            // WITH (FORCE) ends the test's own connections too; closing the pool here
            // would wait on the test's runtime, which is blocked in this drop.
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&server).await {
                    let _ = admin
                        .execute(AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}

fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let prefix_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[prefix_end..].find('/') {
        Some(slash) => &base[..prefix_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// A PostgreSQL server of this test's own (initdb in a temporary folder), for tests that
/// stop or restart the server. `initdb` and `postgres` refuse to run as root: as root the
/// cluster belongs to the `postgres` user.
pub struct TestPostgres {
    pub port: u16,
    data: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestPostgres {
    pub async fn start() -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("ptrack-pg-").tempdir()?;
        let data = dir.path().join("data");
        let log = dir.path().join("postgres.log");
        let port = free_port()?;
        if is_root() {
            std::process::Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .context("chown the cluster folder to postgres")?;
        }
        let this = Self {
            port,
            data,
            log,
            _dir: dir,
        };
        this.pg(
            &["initdb", "-D"],
            &[
                &this.data_str(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        )?;
        this.start_server()?;
        let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        let mut conn = PgConnection::connect(&admin).await?;
        conn.execute("CREATE ROLE ptrack LOGIN SUPERUSER PASSWORD 'ptrack'")
            .await?;
        conn.execute("CREATE DATABASE ptrack OWNER ptrack").await?;
        Ok(this)
    }

    /// `postgres://ptrack:ptrack@127.0.0.1:PORT/ptrack`.
    pub fn url(&self) -> String {
        format!("postgres://ptrack:ptrack@127.0.0.1:{}/ptrack", self.port)
    }

    fn data_str(&self) -> String {
        self.data.display().to_string()
    }

    fn start_server(&self) -> Result<()> {
        let options = format!(
            "-p {} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        self.pg(
            &["pg_ctl", "-D"],
            &[
                &self.data_str(),
                "-l",
                &self.log.display().to_string(),
                "-w",
                "-o",
                &options,
                "start",
            ],
        )
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub fn stop(&self) -> Result<()> {
        self.pg(
            &["pg_ctl", "-D"],
            &[&self.data_str(), "-m", "fast", "-w", "stop"],
        )
    }

    /// Starts the server again after [`TestPostgres::stop`].
    pub fn start_again(&self) -> Result<()> {
        self.start_server()
    }

    fn pg(&self, program_and_flag: &[&str], args: &[&str]) -> Result<()> {
        let bin = PathBuf::from(
            std::env::var("PTRACK_TEST_PG_BIN")
                .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into()),
        );
        let program = bin.join(program_and_flag[0]);
        let mut command = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            std::process::Command::new(&program)
        };
        command.args(&program_and_flag[1..]).args(args);
        let output = command
            .output()
            .with_context(|| format!("running {}", program.display()))?;
        if !output.status.success() {
            bail!(
                "{} failed: {}{}",
                program.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = self.pg(
            &["pg_ctl", "-D"],
            &[&self.data_str(), "-m", "immediate", "stop"],
        );
    }
}

fn is_root() -> bool {
    // The effective uid from /proc: libc::geteuid would need unsafe code.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// A broker of this test's own: a port and a SQLite file nobody else uses.
pub struct TestBroker {
    addr: SocketAddr,
    database: PathBuf,
    running: Option<EmbeddedBroker>,
    _dir: tempfile::TempDir,
}

impl TestBroker {
    pub async fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let database = dir.path().join("broker.db");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        let running = Some(EmbeddedBroker::start(addr, &database).await?);
        Ok(Self {
            addr,
            database,
            running,
            _dir: dir,
        })
    }

    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// Stops the broker (the port closes; the data stays).
    pub fn stop(&mut self) {
        self.running = None;
    }

    /// Starts it again on the same port and data.
    pub async fn restart(&mut self) -> Result<()> {
        self.running = None;
        let mut last = None;
        // The old listener may take a moment to release the port.
        for _ in 0..50 {
            match EmbeddedBroker::start(self.addr, &self.database).await {
                Ok(broker) => {
                    self.running = Some(broker);
                    return Ok(());
                }
                Err(err) => last = Some(err),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("the broker did not restart")))
    }

    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.bootstrap())
            .set("log_level", "3");
        config
    }

    /// A consumer of `topic` in a group of its own, reading from the earliest offset: it
    /// sees every message on the topic, whatever the service's own consumers committed.
    pub fn consumer(&self, topic: &str) -> Result<StreamConsumer> {
        let consumer: StreamConsumer = self
            .client_config()
            .set("group.id", format!("check-{}", Uuid::new_v4()))
            .set("auto.offset.reset", "earliest")
            .create()?;
        consumer.subscribe(&[topic])?;
        Ok(consumer)
    }
}

/// The next `n` messages `consumer` reads, each within `timeout` of the one before, or an
/// error naming `what` was awaited: a message that never comes fails the test instead of
/// hanging it.
pub async fn read_messages(
    consumer: &StreamConsumer,
    n: usize,
    timeout: Duration,
    what: &str,
) -> Result<Vec<OwnedMessage>> {
    let mut messages = Vec::with_capacity(n);
    while messages.len() < n {
        let got = messages.len();
        match tokio::time::timeout(timeout, consumer.recv()).await {
            Ok(message) => messages.push(
                message
                    .with_context(|| format!("reading {what} ({got} of {n} read)"))?
                    .detach(),
            ),
            Err(_) => bail!("timed out after {timeout:?} waiting for {what} ({got} of {n} read)"),
        }
    }
    Ok(messages)
}

/// Creates a topic with a name no other test uses (and its dead-letter topic).
pub async fn fresh_topic(broker: &TestBroker, partitions: i32) -> Result<String> {
    let topic = format!("test-{}", Uuid::new_v4().simple());
    let dlq = ptrack_common::kafka::dlq_topic(&topic);
    ptrack_common::kafka::ensure_topics(
        &broker.client_config(),
        &[(&topic, partitions), (&dlq, 1)],
    )
    .await?;
    Ok(topic)
}

/// One event exactly as the original browser tracker sends it.
pub fn tracker_event(event_type: &str, component: &str) -> Value {
    json!({
        "event_id": Uuid::new_v4(),
        "event_type": event_type,
        "location_type": "COMPONENT",
        "component_name": component,
        "page_path": "/pricing",
        "page_title": "Pricing - Shop",
        "timestamp": chrono::Utc::now().timestamp_millis(),
        "dom_info": {"tag": "BUTTON", "id": "buy", "className": "btn btn-primary", "text": "Buy now"},
        "user_metadata": {"userAgent": "Mozilla/5.0 (X11; Linux x86_64)", "language": "en-US",
                          "screen": {"width": 1920, "height": 1080}}
    })
}

/// A `POST /track` body of `n` CLICK events.
pub fn tracker_batch(n: usize) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|i| tracker_event("CLICK", &format!("Button{i}")))
        .collect();
    json!({"events": events, "appName": "shop", "appVersion": "1.4.2"})
}

/// One CLICK event as JSON text with `field` set to `raw`, spliced in as is: what a
/// browser can send but a `Value` cannot hold (`1e400`, a lone surrogate `"\ud800"`,
/// nesting deeper than serde_json reads), to test what the collector refuses.
pub fn tracker_event_raw(field: &str, raw: &str) -> String {
    let mut event = tracker_event("CLICK", "Bad");
    event[field] = json!("@@");
    event.to_string().replace(r#""@@""#, raw)
}

/// A `POST /track` body as JSON text, around events given as JSON text (from
/// [`tracker_event_raw`], or `Value::to_string`), with [`tracker_batch`]'s app fields.
pub fn tracker_batch_raw(events: &[String]) -> String {
    format!(
        r#"{{"events": [{}], "appName": "shop", "appVersion": "1.4.2"}}"#,
        events.join(",")
    )
}

/// Sends `request` and reads the answer as a test checks it: the status, and the body as
/// JSON (`null` when it is not JSON, which any check of a field then reports). Panics when
/// the request cannot be sent.
pub async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request
        .send()
        .await
        .unwrap_or_else(|err| panic!("sending the request: {err}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `POST url` with `body` sent byte for byte as `application/json`, read by [`answer`]:
/// for the bodies of [`tracker_batch_raw`], which `RequestBuilder::json` (it takes a
/// `Value`) cannot send.
pub async fn post_json_text(
    http: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    body: String,
) -> (u16, Value) {
    answer(
        http.post(url)
            .header("content-type", "application/json")
            .body(body),
    )
    .await
}

/// The `rejected` list of a `POST /track` answer as `(index, reason)` pairs, in the
/// order given. Panics when `answer` has no such list: the answer's shape is a contract.
pub fn rejections(answer: &Value) -> Vec<(u64, String)> {
    let Some(rejected) = answer["rejected"].as_array() else {
        panic!("not a /track answer: {answer}");
    };
    rejected
        .iter()
        .map(|r| match (r["index"].as_u64(), r["reason"].as_str()) {
            (Some(index), Some(reason)) => (index, reason.to_owned()),
            _ => panic!("a rejection without its index and reason: {answer}"),
        })
        .collect()
}

/// The event ids of a batch body.
pub fn event_ids(batch: &Value) -> Vec<Uuid> {
    batch["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| e["event_id"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `check` every 100 ms until it returns `Some`, failing after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET url`: the status and the body as text, or `None` while nothing answers there (a
/// service still starting, or stopped), so that it can be polled with [`eventually`].
pub async fn get(url: &str) -> Option<(u16, String)> {
    let response = reqwest::get(url).await.ok()?;
    Some((response.status().as_u16(), response.text().await.ok()?))
}

/// Polls `GET url` until it answers `status` (a probe turning ready, or failing), and
/// returns that answer's body; fails after `timeout`. Nothing answering counts as not yet.
pub async fn until_status(url: &str, status: u16, timeout: Duration) -> Result<String> {
    let what = format!("GET {url} to answer {status}");
    eventually(timeout, &what, || async {
        let (code, body) = get(url).await?;
        (code == status).then_some(body)
    })
    .await
}

/// One scrape of a service's `/metrics`, parsed by a real OpenMetrics parser. It displays
/// as the text served, for failure messages.
pub struct Scrape {
    parsed: openmetrics_parser::MetricsExposition<
        openmetrics_parser::OpenMetricsType,
        openmetrics_parser::OpenMetricsValue,
    >,
    text: String,
}

/// `GET url` (a `/metrics`): fails unless it answers 200 with the OpenMetrics content
/// type and a body that parses as OpenMetrics text (`# EOF` and all).
pub async fn scrape(url: &str) -> Result<Scrape> {
    let response = reqwest::get(url).await?;
    anyhow::ensure!(
        response.status() == 200,
        "{url} answered {}",
        response.status()
    );
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(
        content_type == ptrack_common::metrics::OPENMETRICS_CONTENT_TYPE,
        "{url} says its body is {content_type:?}"
    );
    let text = response.text().await?;
    let parsed = openmetrics_parser::openmetrics::parse_openmetrics(&text)
        .map_err(|err| anyhow::anyhow!("{url} is not OpenMetrics text ({err:?}):\n{text}"))?;
    Ok(Scrape { parsed, text })
}

impl std::fmt::Display for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Scrape {
    /// The family's type (`Counter`, `Gauge`, `Histogram`...), when it is there.
    pub fn kind(&self, family: &str) -> Option<String> {
        self.parsed
            .families
            .get(family)
            .map(|f| format!("{:?}", f.family_type))
    }

    /// Every sample of the family: its labels, and its value (a counter's total, a
    /// gauge's value, a histogram's count).
    pub fn samples(&self, family: &str) -> Vec<(std::collections::BTreeMap<String, String>, f64)> {
        use openmetrics_parser::OpenMetricsValue as V;
        let Some(family) = self.parsed.families.get(family) else {
            return Vec::new();
        };
        family
            .iter_samples()
            .map(|sample| {
                let labels = sample
                    .get_labelset()
                    .map(|set| {
                        family
                            .get_label_names()
                            .iter()
                            .filter_map(|n| {
                                set.get_label_value(n).map(|v| (n.clone(), v.to_owned()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let value = match &sample.value {
                    V::Counter(c) => c.value.as_f64(),
                    V::Gauge(n) | V::Unknown(n) | V::StateSet(n) => n.as_f64(),
                    V::Histogram(h) | V::GaugeHistogram(h) => h.count.unwrap_or(0) as f64,
                    V::Summary(s) => s.count.unwrap_or(0) as f64,
                    V::Info => 1.0,
                };
                (labels, value)
            })
            .collect()
    }

    /// The sum of the values of the family's samples that carry every `(name, value)` of
    /// `labels` (all its samples when `labels` is empty): a counter's total, or how many
    /// observations a histogram counted, over the labels a test does not look at.
    pub fn value(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples(family)
            .iter()
            .filter(|(have, _)| {
                labels
                    .iter()
                    .all(|(name, value)| have.get(*name).map(String::as_str) == Some(*value))
            })
            // Not `sum()`: that gives -0.0 for no sample, which reads oddly in a failure.
            .fold(0.0, |total, (_, value)| total + value)
    }

    /// Checks that the family is there with the type `kind` (`"Counter"`, `"Gauge"`,
    /// `"Histogram"`...): what a dashboard's query relies on. A failure lists the families
    /// that are there.
    pub fn assert_kind(&self, family: &str, kind: &str) {
        assert_eq!(
            self.kind(family).as_deref(),
            Some(kind),
            "{family} in {:?}",
            self.names()
        );
    }

    /// The family names, for a failure message.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.parsed.families.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_options_kept() {
        assert_eq!(
            replace_database("postgres://u:p@h:5432/ptrack?sslmode=disable", "t1"),
            "postgres://u:p@h:5432/t1?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://u@h", "t1"),
            "postgres://u@h/t1"
        );
    }
}
