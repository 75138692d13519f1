//! The local runtime: the embedded broker (`ptrack broker`), a private PostgreSQL cluster
//! made with `initdb` under the data folder (or the user's `DATABASE_URL`), and the
//! services, all as detached background processes with pid and log files:
//!
//! ```text
//! DATA/state.json          what `up` was asked for
//! DATA/run/NAME.pid        one per process (PostgreSQL keeps its own postmaster.pid)
//! DATA/logs/NAME.log       one per process
//! DATA/broker/broker.db    topics, messages, committed offsets (SQLite)
//! DATA/postgres/           the cluster
//! ```
//!
//! Layout: [`process`] (spawn, find, stop), [`postgres`] (the cluster).

pub mod postgres;
pub mod process;

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Child,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow, bail};
use ptrack_common::{
    config::redact_url,
    kafka::{KafkaSettings, dlq_topic, ensure_topics},
};

use self::{postgres::Cluster, process::PidFile};
use super::{
    Context, Endpoint, Health, LogsRequest, ReplicaStatus, RunState, Runtime, check,
    print_log_line, probe_client, processor_status, seconds_since,
};
use crate::{
    progress::Progress,
    stack::{ServiceName, TOPIC, Wiring, database_url, replica_names},
};

/// How long `up` waits for everything to be ready, unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a service has between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Lines of a log shown when its service fails.
const TAIL_ON_FAILURE: usize = 20;

#[derive(Debug)]
pub struct Local {
    context: Context,
    /// How long `up` waits for readiness.
    pub timeout: Duration,
}

/// One process of the stack.
#[derive(Debug, Clone)]
struct Replica {
    service: ServiceName,
    /// `collector`, `processor-2`...
    name: String,
    addr: SocketAddr,
}

impl Local {
    pub fn new(context: Context) -> Self {
        Self {
            context,
            timeout: DEFAULT_TIMEOUT,
        }
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
        Cluster::new(
            self.data().join("postgres"),
            self.log_file("postgres"),
            self.context.stack.host_port(ServiceName::Postgres, 0),
        )
    }

    fn external_database(&self) -> Option<&str> {
        self.context.state.external_database_url.as_deref()
    }

    /// Every process, in start order.
    fn replicas(&self) -> Vec<Replica> {
        let stack = &self.context.stack;
        stack
            .services
            .iter()
            .flat_map(|service| {
                stack
                    .replica_names(service.name)
                    .into_iter()
                    .enumerate()
                    .map(|(i, name)| Replica {
                        service: service.name,
                        name,
                        addr: SocketAddr::from((
                            [127, 0, 0, 1],
                            stack.host_port(service.name, i as u32),
                        )),
                    })
            })
            .collect()
    }

    fn wiring(&self) -> Wiring {
        let stack = &self.context.stack;
        Wiring {
            kafka_brokers: format!("127.0.0.1:{}", stack.host_port(ServiceName::Broker, 0)),
            database_url: self.external_database().map_or_else(
                || database_url("127.0.0.1", stack.host_port(ServiceName::Postgres, 0)),
                str::to_owned,
            ),
            kafka_idempotence: false,
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

    /// The programs `up` starts, or how to build the missing ones.
    fn programs(&self) -> Result<BTreeMap<ServiceName, PathBuf>> {
        let mut found = BTreeMap::new();
        let mut missing = Vec::new();
        let exe = std::env::current_exe().context("finding the ptrack executable")?;
        found.insert(ServiceName::Broker, exe.clone());
        for service in &self.context.stack.services {
            let Some(name) = service.binary else { continue };
            match process::find_binary(name) {
                Some(path) => {
                    found.insert(service.name, path);
                }
                None => missing.push(name),
            }
        }
        if !missing.is_empty() {
            let packages: Vec<String> = missing.iter().map(|m| format!("-p {m}")).collect();
            bail!(
                "{} not found next to {} nor on PATH: build them with `cargo build --release {}` \
                 (and run the ptrack from the same target folder), or put them on PATH",
                missing.join(", "),
                exe.display(),
                packages.join(" ")
            );
        }
        if self.external_database().is_none() {
            postgres::bin_dir()?;
        }
        Ok(found)
    }

    /// Stops processes of replicas the stack no longer has (after `--scale` went down).
    fn stop_extra_replicas(&self, progress: &Progress) {
        let wanted: BTreeSet<String> = self.replicas().into_iter().map(|r| r.name).collect();
        for (name, pid_file) in self.pid_files() {
            if wanted.contains(&name) {
                continue;
            }
            if let Some(pid) = pid_file.read().filter(|pid| process::alive(*pid)) {
                progress.note(&format!("stopping {name} (no longer in the stack)"));
                process::stop(pid, process::SIGTERM, STOP_GRACE);
            }
            pid_file.remove();
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

    /// Starts `replica` unless it runs. Returns the child when it was started now.
    async fn start(
        &self,
        replica: &Replica,
        programs: &BTreeMap<ServiceName, PathBuf>,
    ) -> Result<Option<Child>> {
        if self.running(replica).is_some() {
            return Ok(None);
        }
        if replica.service == ServiceName::Postgres {
            if self.external_database().is_some() {
                return Ok(None);
            }
            let cluster = self.cluster();
            port_free(replica).await?;
            tokio::task::block_in_place(|| -> Result<()> {
                cluster.init()?;
                cluster.start()
            })?;
            return Ok(None);
        }
        port_free(replica).await?;
        let program = &programs[&replica.service];
        let (args, mut env) = match replica.service {
            ServiceName::Broker => (
                vec![
                    "broker".to_owned(),
                    "--addr".to_owned(),
                    replica.addr.to_string(),
                    "--data".to_owned(),
                    self.data()
                        .join("broker")
                        .join("broker.db")
                        .display()
                        .to_string(),
                ],
                BTreeMap::new(),
            ),
            service => (
                Vec::new(),
                self.context
                    .stack
                    .env(service, replica.addr, &self.wiring()),
            ),
        };
        // The logs go to files: no terminal colour codes in them.
        env.insert("NO_COLOR".into(), "1".into());
        let child = process::spawn(
            program,
            &args,
            &env,
            &self.log_file(&replica.name),
            &self.pid_file(&replica.name),
            self.data(),
        )?;
        Ok(Some(child))
    }

    /// One readiness check of `replica`: `Ok` with what to show, or why not yet.
    async fn ready(&self, client: &reqwest::Client, replica: &Replica) -> Result<String, String> {
        let stack = &self.context.stack;
        match replica.service {
            ServiceName::Broker => {
                check(
                    client,
                    stack.service(replica.service).readiness,
                    replica.addr,
                )
                .await?;
                let settings = KafkaSettings {
                    brokers: replica.addr.to_string(),
                    topic: TOPIC.to_owned(),
                    partitions: stack.partitions as i32,
                    idempotence: false,
                };
                let topics = [(TOPIC, stack.partitions as i32), (&*dlq_topic(TOPIC), 1)];
                match tokio::time::timeout(
                    Duration::from_secs(15),
                    ensure_topics(&settings.client_config(), &topics),
                )
                .await
                {
                    Ok(Ok(())) => Ok(format!(
                        "{} (topic {TOPIC}, {} partitions)",
                        replica.addr, stack.partitions
                    )),
                    Ok(Err(err)) => Err(format!("creating the topic {TOPIC}: {err}")),
                    Err(_) => Err(format!("creating the topic {TOPIC} timed out")),
                }
            }
            ServiceName::Postgres => match self.external_database() {
                Some(url) => login(url)
                    .await
                    .map(|()| format!("{} (DATABASE_URL)", redact_url(url))),
                // The private cluster's password is a fixed local one: shown whole.
                None => match self.cluster().ensure_database().await {
                    Ok(()) => Ok(self.wiring().database_url),
                    Err(err) => Err(format!("{err:#}")),
                },
            },
            service => {
                let probe = stack.service(service).readiness;
                check(client, probe, replica.addr).await?;
                Ok(format!("http://{}", replica.addr))
            }
        }
    }

    fn failure(&self, replica: &Replica, why: &str) -> anyhow::Error {
        let log = self.log_file(&replica.name);
        let tail = if log.exists() {
            format!(
                "\n--- last lines of {} ---\n{}\n---",
                log.display(),
                process::tail(&log, TAIL_ON_FAILURE)
            )
        } else {
            String::new()
        };
        anyhow!(
            "{} is not ready: {why}{tail}\n\
             The rest of the stack is left as it is: see `ptrack status`, `ptrack logs {}`, \
             and stop it with `ptrack down`.",
            replica.name,
            replica.name,
        )
    }

    fn endpoints(&self) -> Vec<Endpoint> {
        let mut endpoints = Vec::new();
        let replicas = self.replicas();
        let collectors: Vec<&Replica> = replicas
            .iter()
            .filter(|r| r.service == ServiceName::Collector)
            .collect();
        for (i, c) in collectors.iter().enumerate() {
            let what = if i == 0 {
                "collector (send events here: POST /track)".to_owned()
            } else {
                format!("{} (also accepts POST /track)", c.name)
            };
            endpoints.push(Endpoint {
                name: what,
                url: format!("http://{}/track", c.addr),
            });
        }
        for r in &replicas {
            let (name, url) = match r.service {
                ServiceName::EventsApi => (
                    "events-api (GET /events, /stats)".to_owned(),
                    format!("http://{}/events", r.addr),
                ),
                ServiceName::Processor => (
                    format!("{} (GET /status, /metrics)", r.name),
                    format!("http://{}/status", r.addr),
                ),
                ServiceName::Broker => ("broker (Kafka protocol)".to_owned(), r.addr.to_string()),
                ServiceName::Postgres => (
                    "postgres".to_owned(),
                    match self.external_database() {
                        Some(url) => redact_url(url),
                        None => self.wiring().database_url,
                    },
                ),
                ServiceName::Collector => continue,
            };
            endpoints.push(Endpoint { name, url });
        }
        endpoints
    }

    fn stop_all(&self) {
        // Services first, in reverse start order, then the broker; PostgreSQL last.
        let order =
            |name: &str| -> usize {
                let service = name.rsplit_once('-').map_or(name, |(s, n)| {
                    if n.parse::<u32>().is_ok() { s } else { name }
                });
                ServiceName::ALL
                    .iter()
                    .position(|s| s.as_str() == service)
                    .unwrap_or(usize::MAX)
            };
        let mut files = self.pid_files();
        files.sort_by_key(|(name, _)| std::cmp::Reverse(order(name)));
        for (name, pid_file) in files {
            if let Some(pid) = pid_file.read().filter(|pid| process::alive(*pid)) {
                // A pid that now belongs to an unrelated program is left alone.
                let args = process::cmdline(pid);
                let ours = args.first().is_some_and(|a| {
                    ServiceName::ALL.iter().any(|s| {
                        Path::new(a)
                            .file_name()
                            .is_some_and(|f| *f == *Self::program_name(*s))
                    })
                });
                if ours {
                    eprintln!("stopping {name} (pid {pid})");
                    if process::stop(pid, process::SIGTERM, STOP_GRACE) {
                        eprintln!("  {name} did not stop within {STOP_GRACE:?}: killed");
                    }
                }
            }
            pid_file.remove();
        }
        let cluster = self.cluster();
        if let Some(pid) = cluster.pid() {
            eprintln!("stopping postgres (pid {pid})");
            cluster.stop();
        }
    }
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

/// Fails when another program holds `replica`'s port.
async fn port_free(replica: &Replica) -> Result<()> {
    let taken = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::net::TcpStream::connect(replica.addr),
    )
    .await
    .is_ok_and(|connected| connected.is_ok());
    if taken {
        bail!(
            "port {} for {} is already in use by another program: stop it, or move this \
             stack with `ptrack up --port-offset N` (PTRACK_PORT_OFFSET)",
            replica.addr.port(),
            replica.name
        );
    }
    Ok(())
}

#[derive(Debug)]
enum Phase {
    /// Its dependencies are not ready yet.
    Waiting,
    Starting {
        /// Present when this `up` started it: lets a crash be seen at once.
        child: Option<Child>,
        since: Instant,
    },
    Ready,
}

impl Runtime for Local {
    async fn up(&self, progress: &mut Progress) -> Result<Vec<Endpoint>> {
        for dir in [self.data().to_owned(), self.run_dir(), self.logs_dir()] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        if process::is_root() && self.external_database().is_none() {
            // PostgreSQL runs as an unprivileged user, who must traverse this folder.
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(self.data())?;
            let mode = meta.permissions().mode();
            if mode & 0o001 == 0 {
                std::fs::set_permissions(
                    self.data(),
                    std::fs::Permissions::from_mode(mode | 0o011),
                )?;
            }
        }
        let programs = self.programs()?;
        self.stop_extra_replicas(progress);
        if let Some(warning) = self.context.stack.idle_processors() {
            progress.note(&format!("note: {warning}"));
        }
        let replicas = self.replicas();
        progress.set_names(replicas.iter().map(|r| r.name.as_str()));
        let mut phases: Vec<Phase> = replicas.iter().map(|_| Phase::Waiting).collect();
        let mut last_error: Vec<String> = vec![String::new(); replicas.len()];
        for replica in &replicas {
            let deps = &self.context.stack.service(replica.service).depends_on;
            let what = if deps.is_empty() {
                "starting".to_owned()
            } else {
                let names: Vec<&str> = deps.iter().map(|d| d.as_str()).collect();
                format!("waiting for {}", names.join(", "))
            };
            progress.begin(&replica.name, &what);
        }
        let client = probe_client();
        let deadline = Instant::now() + self.timeout;
        loop {
            let ready: BTreeSet<ServiceName> = ServiceName::ALL
                .into_iter()
                .filter(|s| {
                    replicas
                        .iter()
                        .zip(&phases)
                        .filter(|(r, _)| r.service == *s)
                        .all(|(_, p)| matches!(p, Phase::Ready))
                })
                .collect();
            for (i, replica) in replicas.iter().enumerate() {
                let deps = self.context.stack.service(replica.service).depends_on;
                if matches!(phases[i], Phase::Waiting) && deps.iter().all(|d| ready.contains(d)) {
                    let was_running = self.running(replica).is_some();
                    let child = match self.start(replica, &programs).await {
                        Ok(child) => child,
                        Err(err) => {
                            progress.failed(&replica.name, "could not start");
                            progress.abandon();
                            return Err(self.failure(replica, &format!("{err:#}")));
                        }
                    };
                    if was_running {
                        progress.update(&replica.name, "already running");
                    } else if !deps.is_empty() {
                        progress.update(&replica.name, "starting");
                    }
                    phases[i] = Phase::Starting {
                        child,
                        since: Instant::now(),
                    };
                }
            }
            for (i, replica) in replicas.iter().enumerate() {
                let Phase::Starting { child, since } = &mut phases[i] else {
                    continue;
                };
                if let Some(child) = child
                    && let Ok(Some(status)) = child.try_wait()
                {
                    progress.failed(&replica.name, &format!("exited ({status})"));
                    progress.abandon();
                    self.pid_file(&replica.name).remove();
                    return Err(self.failure(replica, &format!("the process exited ({status})")));
                }
                if replica.service == ServiceName::Postgres
                    && self.external_database().is_none()
                    && self.cluster().pid().is_none()
                    && since.elapsed() > Duration::from_secs(5)
                {
                    progress.failed(&replica.name, "PostgreSQL is not running");
                    progress.abandon();
                    return Err(self.failure(replica, "PostgreSQL stopped while starting"));
                }
                match self.ready(&client, replica).await {
                    Ok(what) => {
                        progress.ready(&replica.name, &format!("ready at {what}"));
                        phases[i] = Phase::Ready;
                    }
                    Err(why) => {
                        last_error[i] = why;
                    }
                }
            }
            if phases.iter().all(|p| matches!(p, Phase::Ready)) {
                break;
            }
            if Instant::now() >= deadline {
                let (i, replica) = replicas
                    .iter()
                    .enumerate()
                    .find(|(i, _)| matches!(phases[*i], Phase::Starting { .. }))
                    .or_else(|| {
                        replicas
                            .iter()
                            .enumerate()
                            .find(|(i, _)| !matches!(phases[*i], Phase::Ready))
                    })
                    // Not all are ready (checked above), so one is found.
                    .expect("a replica that is not ready");
                let why = if last_error[i].is_empty() {
                    "its dependencies never became ready".to_owned()
                } else {
                    last_error[i].clone()
                };
                progress.failed(&replica.name, "not ready in time");
                progress.abandon();
                return Err(self.failure(
                    replica,
                    &format!("not ready within {} s: {why}", self.timeout.as_secs()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(self.endpoints())
    }

    async fn down(&self) -> Result<()> {
        tokio::task::block_in_place(|| self.stop_all());
        Ok(())
    }

    async fn clean(&self) -> Result<()> {
        tokio::task::block_in_place(|| self.stop_all());
        remove_data_dir(self.data())
    }

    async fn status(&self) -> Result<Vec<ReplicaStatus>> {
        let client = probe_client();
        let mut statuses = Vec::new();
        for replica in self.replicas() {
            let external =
                replica.service == ServiceName::Postgres && self.external_database().is_some();
            let pid = self.running(&replica);
            let started = match replica.service {
                ServiceName::Postgres => self.cluster().started(),
                _ => self.pid_file(&replica.name).started(),
            };
            let had_pid = match replica.service {
                ServiceName::Postgres => false,
                _ => self.pid_file(&replica.name).read().is_some(),
            };
            let state = match (external, pid, had_pid) {
                (true, _, _) => RunState::External,
                (false, Some(_), _) => RunState::Running,
                (false, None, true) => RunState::Exited,
                (false, None, false) => RunState::Stopped,
            };
            let mut status = ReplicaStatus {
                service: replica.service,
                name: replica.name.clone(),
                state,
                health: Health::Unknown,
                address: Some(replica.addr.to_string()),
                uptime_secs: None,
                partitions: None,
                lag: None,
                detail: pid.map(|pid| format!("pid {pid}")),
            };
            if external {
                status.address = self.external_database().map(redact_url);
            }
            if matches!(state, RunState::Running | RunState::External) {
                status.uptime_secs = started.filter(|_| !external).map(seconds_since);
                let probe = match replica.service {
                    ServiceName::Postgres => login(&self.wiring().database_url).await,
                    service => {
                        check(
                            &client,
                            self.context.stack.service(service).readiness,
                            replica.addr,
                        )
                        .await
                    }
                };
                status.health = match probe {
                    Ok(()) => Health::Healthy,
                    Err(why) => {
                        status.detail = Some(why);
                        Health::Unhealthy
                    }
                };
                if replica.service == ServiceName::Processor
                    && let Some(ps) = processor_status(&client, replica.addr).await
                {
                    status.partitions = Some(ps.partitions);
                    status.lag = Some(ps.lag);
                }
            } else if state == RunState::Exited {
                status.detail = Some(format!(
                    "died: see `ptrack logs {}` ({})",
                    replica.name,
                    self.log_file(&replica.name).display()
                ));
            }
            statuses.push(status);
        }
        Ok(statuses)
    }

    async fn logs(&self, request: &LogsRequest) -> Result<()> {
        let mut names: Vec<String> = Vec::new();
        for service in ServiceName::ALL {
            let replicas = self.context.stack.service(service).replicas;
            for name in replica_names(service, replicas) {
                let wanted = match &request.service {
                    None => true,
                    Some(asked) => *asked == name || *asked == service.as_str(),
                };
                if wanted {
                    names.push(name);
                }
            }
        }
        if names.is_empty() {
            let all: Vec<String> = ServiceName::ALL
                .iter()
                .flat_map(|s| self.context.stack.replica_names(*s))
                .collect();
            bail!(
                "no service or replica named {:?}: choose one of {}",
                request.service.as_deref().unwrap_or_default(),
                all.join(", ")
            );
        }
        let width = names.iter().map(String::len).max().unwrap_or(0);
        let mut offsets: Vec<(String, PathBuf, u64)> = Vec::new();
        for name in names {
            let path = self.log_file(&name);
            let bytes = std::fs::read(&path).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            // Only whole lines: a line still being written shows once it is complete.
            let complete = text.rfind('\n').map_or(0, |i| i + 1);
            let lines: Vec<&str> = text[..complete].lines().collect();
            let start = request.tail.map_or(0, |n| lines.len().saturating_sub(n));
            for line in &lines[start..] {
                print_log_line(&name, width, line);
            }
            offsets.push((name, path, complete as u64));
        }
        if !request.follow {
            return Ok(());
        }
        loop {
            for (name, path, offset) in &mut offsets {
                let Ok(bytes) = std::fs::read(&*path) else {
                    continue;
                };
                if (bytes.len() as u64) < *offset {
                    // The file was truncated or replaced: start over.
                    *offset = 0;
                }
                let new = &bytes[*offset as usize..];
                let Some(end) = new.iter().rposition(|b| *b == b'\n') else {
                    continue;
                };
                for line in String::from_utf8_lossy(&new[..=end]).lines() {
                    print_log_line(name, width, line);
                }
                *offset += end as u64 + 1;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Deletes the data folder, but only if it looks like one `ptrack` made: a mistyped
/// `--data-dir /` must not wipe anything else.
pub fn remove_data_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let ours = dir.join(super::State::FILE).is_file()
        || std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none());
    if !ours {
        bail!(
            "{} does not look like a ptrack data folder (no {}): not deleting it; \
             check --data-dir / PTRACK_DATA_DIR",
            dir.display(),
            super::State::FILE
        );
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("deleting {}", dir.display()))
}
