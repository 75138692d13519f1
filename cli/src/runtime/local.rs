//! The local runtime: the embedded broker (`ptrack broker`), a private PostgreSQL cluster
//! made with `initdb` under the data folder (or the user's `DATABASE_URL`), and the
//! services, all as detached background processes with pid and log files:
//!
//! ```text
//! DATA/state.json          what `up` was asked for
//! DATA/credentials.json    generated passwords, `--secure`'s key and token (0600)
//! DATA/run/NAME.pid        one per process (PostgreSQL keeps its own postmaster.pid)
//! DATA/logs/NAME.log       one per process
//! DATA/broker/broker.db    topics, messages, committed offsets (SQLite)
//! DATA/postgres/           the cluster
//! ```
//!
//! This file holds what the parts share: the folders, the processes' names and pids,
//! how the services are wired.
//!
//! Every process listens on 127.0.0.1 unless `up --bind` (the HTTP services) or
//! `--stores-bind` (the broker and PostgreSQL) open it elsewhere; PostgreSQL wants a
//! generated password. Each service is started with only its own settings (see
//! [`Local::service_env`]), not the whole environment of `ptrack up`.
//!
//! Without `--durable`, PostgreSQL runs with `fsync=off` and the broker's SQLite with
//! `synchronous = off`: what they commit survives a crash or kill of the process, not an
//! OS crash or power loss (which can also corrupt the files).
//!
//! Layout (`local/`):
//! - `up.rs`: the `up` scheduler: start each replica once its dependencies are ready,
//!   wait for readiness, explain a failure with the log's tail.
//! - `stop.rs`: `down` and `clean`: stop every process, services first.
//! - `status.rs`: state, health, uptime and partitions of each replica.
//! - `logs.rs`: reading and following the log files.
//! - [`process`]: spawn, find and stop a detached process.
//! - [`postgres`]: the private cluster.
//!
//! Deleting the data folder (`clean`) is not the local runtime's own:
//! [`remove_data_dir`](super::remove_data_dir).

mod logs;
pub mod postgres;
pub mod process;
mod status;
mod stop;
mod up;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Result;
use ptrack_common::config::redact_url;

use self::{postgres::Cluster, process::PidFile};
use super::{
    Context, Endpoint, Endpoints, Logs, LogsRequest, Observer, ReplicaStatus, Runtime, UpOptions,
    credentials::Credentials, remove_data_dir,
};
use crate::stack::{Replica, ServiceName, Wiring, database_url, url_host};

#[derive(Debug)]
pub struct Local {
    context: Context,
}

impl Local {
    pub fn new(context: Context) -> Self {
        Self { context }
    }

    fn data(&self) -> &Path {
        &self.context.data_dir
    }

    fn run_dir(&self) -> PathBuf {
        self.data().join("run")
    }

    fn logs_dir(&self) -> PathBuf {
        self.data().join("logs")
    }

    fn log_file(&self, name: &str) -> PathBuf {
        self.logs_dir().join(format!("{name}.log"))
    }

    fn pid_file(&self, name: &str) -> PidFile {
        PidFile::new(self.run_dir().join(format!("{name}.pid")))
    }

    fn cluster(&self) -> Cluster {
        let credentials = self.credentials();
        let secret = |pick: fn(&Credentials) -> &super::credentials::Secret| {
            credentials
                .as_ref()
                .map(|c| pick(c).expose().to_owned())
                .unwrap_or_default()
        };
        let mut cluster = Cluster::new(
            self.data().join("postgres"),
            self.log_file("postgres"),
            self.context.stack.host_port(ServiceName::Postgres, 0),
        );
        cluster.durable = self.context.state.durable;
        cluster.listen = self.context.stack.bind.stores;
        cluster.admin_password = secret(|c| &c.postgres_admin_password);
        cluster.user_password = secret(|c| &c.postgres_password);
        cluster
    }

    /// What `up` generated (`None` before the first `up`).
    fn credentials(&self) -> Option<Credentials> {
        Credentials::load(self.data()).ok().flatten()
    }

    fn external_database(&self) -> Option<&str> {
        self.context.state.external_database_url.as_deref()
    }

    /// Every process, in start order; each listens at its [`Replica::listen_addr`].
    fn replicas(&self) -> Vec<Replica> {
        self.context.stack.replicas()
    }

    fn wiring(&self) -> Wiring {
        let stack = &self.context.stack;
        let credentials = self.credentials();
        let password = credentials
            .as_ref()
            .map(|c| c.postgres_password.expose().to_owned())
            .unwrap_or_default();
        Wiring {
            kafka_brokers: stack.local_addr(ServiceName::Broker, 0).to_string(),
            database_url: self.external_database().map_or_else(
                || {
                    let addr = stack.local_addr(ServiceName::Postgres, 0);
                    database_url(&url_host(addr.ip()), addr.port(), &password)
                },
                str::to_owned,
            ),
            database_password: password,
            credentials: credentials
                .filter(|_| self.context.state.secure)
                .and_then(|c| c.service_credentials()),
            kafka_idempotence: false,
            events_api_url: format!("http://{}", stack.local_addr(ServiceName::EventsApi, 0)),
        }
    }

    /// The file name the process of `service` runs (to tell it from a reused pid).
    fn program_name(service: ServiceName) -> String {
        match service {
            ServiceName::Broker => std::env::current_exe()
                .ok()
                .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "ptrack".into()),
            other => binary(other).unwrap_or("postgres").to_owned(),
        }
    }

    /// The pid of `replica`'s process while it runs.
    fn running(&self, replica: &Replica) -> Option<i32> {
        match replica.service {
            ServiceName::Postgres => self.cluster().pid(),
            service => self
                .pid_file(&replica.name)
                .running(&Self::program_name(service)),
        }
    }

    /// Every pid file in the run folder, by replica name.
    fn pid_files(&self) -> Vec<(String, PidFile)> {
        let Ok(entries) = std::fs::read_dir(self.run_dir()) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let path = entry.path();
                let name = path.file_name()?.to_str()?.strip_suffix(".pid")?.to_owned();
                Some((name, PidFile::new(path)))
            })
            .collect()
    }
}

/// What every process of the stack inherits from `ptrack up`'s environment: what any
/// program needs to run and log, nothing of the user's secrets or other settings.
pub const INHERITED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "RUST_LIB_BACKTRACE",
    "LD_LIBRARY_PATH",
    "LLVM_PROFILE_FILE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// `PTRACK_PROCESSOR_`: the prefix of a variable meant for one service of the local
/// stack (`PTRACK_PROCESSOR_BATCH_SIZE=500` gives the processors `BATCH_SIZE=500`).
pub fn passthrough_prefix(service: ServiceName) -> String {
    format!(
        "PTRACK_{}_",
        service.as_str().to_uppercase().replace('-', "_")
    )
}

/// The whole environment of a process of `service`: the [`INHERITED`] basics from
/// `parent`, the stack's settings for it (`stack_env`), and last what the user set for
/// that service alone with its [`passthrough_prefix`].
pub fn process_env(
    service: ServiceName,
    stack_env: BTreeMap<String, String>,
    parent: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<String, String> {
    let prefix = passthrough_prefix(service);
    let mut env = BTreeMap::new();
    let mut own = BTreeMap::new();
    for (name, value) in parent {
        if INHERITED.contains(&name.as_str()) {
            env.insert(name, value);
        } else if let Some(var) = name.strip_prefix(&prefix)
            && !var.is_empty()
        {
            own.insert(var.to_owned(), value);
        }
    }
    env.extend(stack_env);
    env.extend(own);
    // The logs go to files: no terminal colour codes in them.
    env.insert("NO_COLOR".into(), "1".into());
    env
}

/// The binary that runs `service`, if the project builds one.
fn binary(service: ServiceName) -> Option<&'static str> {
    crate::stack::Stack::default().service(service).binary
}

/// Logs in as the services do: `Ok` when PostgreSQL accepts them.
async fn login(url: &str) -> Result<(), String> {
    use sqlx::Connection;
    match tokio::time::timeout(Duration::from_secs(3), sqlx::PgConnection::connect(url)).await {
        Ok(Ok(conn)) => {
            conn.close().await.ok();
            Ok(())
        }
        Ok(Err(err)) => Err(format!("{}: {err}", redact_url(url))),
        Err(_) => Err(format!("{}: no answer within 3 s", redact_url(url))),
    }
}

impl Runtime for Local {
    async fn up(&self, options: &UpOptions, observer: &mut dyn Observer) -> Result<Vec<Endpoint>> {
        self.start_all(options, observer).await?;
        Ok(self.endpoints().listing())
    }

    async fn down(&self, observer: &mut dyn Observer) -> Result<()> {
        tokio::task::block_in_place(|| self.stop_all(observer));
        Ok(())
    }

    async fn clean(&self, observer: &mut dyn Observer) -> Result<()> {
        tokio::task::block_in_place(|| self.stop_all(observer));
        remove_data_dir(self.data())
    }

    async fn status(&self) -> Result<Vec<ReplicaStatus>> {
        Ok(self.replica_statuses().await)
    }

    async fn logs(&self, request: &LogsRequest) -> Result<Logs> {
        self.tail_logs(request)
    }

    fn endpoints(&self) -> Endpoints {
        let stack = &self.context.stack;
        Endpoints {
            database_external: self.external_database().is_some(),
            ..Endpoints::on_host(
                stack,
                Some(stack.local_addr(ServiceName::Broker, 0).to_string()),
                Some(self.wiring().database_url),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{LogLine, RuntimeKind, State};

    fn local(dir: &Path, external_database_url: Option<&str>) -> Local {
        let state = State {
            runtime: RuntimeKind::Local,
            partitions: 3,
            scale: BTreeMap::from([(ServiceName::Processor, 2)]),
            port_offset: 100,
            external_database_url: external_database_url.map(str::to_owned),
            secure: false,
            durable: false,
            bind: Default::default(),
        };
        Local::new(Context::new(dir.to_owned(), state).unwrap())
    }

    async fn next(logs: &mut Logs) -> LogLine {
        let line = tokio::time::timeout(Duration::from_secs(5), logs.lines.recv()).await;
        line.expect("a line within 5 s")
            .expect("more lines")
            .unwrap()
    }

    #[tokio::test]
    async fn logs_are_tagged_by_replica_tailed_and_followed() {
        let dir = tempfile::tempdir().unwrap();
        let local = local(dir.path(), None);
        std::fs::create_dir_all(local.logs_dir()).unwrap();
        std::fs::write(local.log_file("processor-1"), "a\nb\nc\n").unwrap();
        // A line still being written is not shown yet.
        std::fs::write(local.log_file("processor-2"), "x\nhalf").unwrap();
        let request = LogsRequest {
            service: Some("processor".into()),
            follow: true,
            tail: Some(2),
            since: None,
            timestamps: false,
        };
        let mut logs = local.logs(&request).await.unwrap();
        assert_eq!(logs.names, ["processor-1", "processor-2"]);
        let line = |replica: &str, line: &str| LogLine {
            replica: replica.into(),
            line: line.into(),
        };
        assert_eq!(next(&mut logs).await, line("processor-1", "b"));
        assert_eq!(next(&mut logs).await, line("processor-1", "c"));
        assert_eq!(next(&mut logs).await, line("processor-2", "x"));
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(local.log_file("processor-2"))
            .unwrap();
        std::io::Write::write_all(&mut file, b" done\n").unwrap();
        assert_eq!(next(&mut logs).await, line("processor-2", "half done"));

        let err = local
            .logs(&LogsRequest {
                service: Some("processor-3".into()),
                follow: false,
                tail: None,
                since: None,
                timestamps: false,
            })
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("choose one of broker, postgres"), "{err}");
    }

    #[tokio::test]
    async fn without_follow_the_logs_end() {
        let dir = tempfile::tempdir().unwrap();
        let local = local(dir.path(), None);
        std::fs::create_dir_all(local.logs_dir()).unwrap();
        std::fs::write(local.log_file("broker"), "one\n").unwrap();
        let request = LogsRequest {
            service: None,
            follow: false,
            tail: None,
            since: None,
            timestamps: false,
        };
        let mut logs = local.logs(&request).await.unwrap();
        assert_eq!(logs.names.len(), 7);
        assert_eq!(next(&mut logs).await.line, "one");
        assert!(logs.lines.recv().await.is_none());
    }

    #[test]
    fn a_process_gets_the_basics_its_settings_and_its_own_overrides() {
        let parent = [
            ("PATH", "/usr/bin"),
            ("HOME", "/root"),
            ("RUST_LOG", "debug"),
            ("DATABASE_URL", "postgres://me:secret@db/x"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
            ("BATCH_SIZE", "7"),
            ("PTRACK_PROCESSOR_BATCH_SIZE", "500"),
            ("PTRACK_COLLECTOR_KAFKA_LINGER_MS", "10"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let stack_env = BTreeMap::from([("KAFKA_BROKERS".to_owned(), "127.0.0.1:9092".into())]);
        let env = process_env(ServiceName::Processor, stack_env.clone(), parent.clone());
        let names: Vec<&str> = env.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "BATCH_SIZE",
                "HOME",
                "KAFKA_BROKERS",
                "NO_COLOR",
                "PATH",
                "RUST_LOG"
            ]
        );
        assert_eq!(
            env["BATCH_SIZE"], "500",
            "PTRACK_PROCESSOR_ wins, BATCH_SIZE alone is not passed"
        );
        let env = process_env(ServiceName::Collector, stack_env, parent);
        assert_eq!(env["KAFKA_LINGER_MS"], "10");
        assert!(!env.contains_key("DATABASE_URL") && !env.contains_key("BATCH_SIZE"));
        assert_eq!(
            passthrough_prefix(ServiceName::EventsApi),
            "PTRACK_EVENTS_API_"
        );
    }

    #[test]
    fn everything_is_reachable_on_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let endpoints = local(dir.path(), None).endpoints();
        assert_eq!(endpoints.broker.as_deref(), Some("127.0.0.1:9192"));
        // Before the first `up` there is no password yet; after it, the generated one.
        assert_eq!(
            endpoints.database_url.as_deref(),
            Some("postgres://ptrack:@127.0.0.1:5532/ptrack")
        );
        let credentials = Credentials::ensure(dir.path(), false).unwrap();
        assert_eq!(
            local(dir.path(), None).endpoints().database_url.unwrap(),
            format!(
                "postgres://ptrack:{}@127.0.0.1:5532/ptrack",
                credentials.postgres_password.expose()
            )
        );
        assert!(!endpoints.database_external);
        let processors: Vec<String> = endpoints
            .processors
            .iter()
            .map(|p| format!("{} {}", p.name, p.addr))
            .collect();
        assert_eq!(
            processors,
            ["processor-1 127.0.0.1:8102", "processor-2 127.0.0.1:8112"]
        );
        assert_eq!(endpoints.collectors[0].addr.to_string(), "127.0.0.1:8100");

        let theirs = "postgres://me:secret@db:5432/x";
        let endpoints = local(dir.path(), Some(theirs)).endpoints();
        assert_eq!(endpoints.database_url.as_deref(), Some(theirs));
        assert!(endpoints.database_external);
    }
}
