//! Where the stack runs: the [`Runtime`] trait that `up`, `down`, `clean`, `status` and
//! `logs` drive, and what the runtimes share (the remembered [`State`] and its data
//! folder, probes, the status report, the log stream). Runtimes print nothing: they
//! report to an [`Observer`] and return values; `cmd/*` prints.
//!
//! Layout:
//! - [`observer`]: the [`Observer`] trait a runtime reports `up`, `down` and `clean` to.
//! - [`local`]: background processes, the embedded broker and a private PostgreSQL
//!   cluster under the data folder. Needs no Docker.
//! - [`docker`]: containers through the Docker Engine API (bollard).
//! - [`kube`]: `kubectl` against the current context, applying `kube/`.
//! - [`credentials`]: the generated PostgreSQL password, `--secure`'s write key and
//!   token (`DATA/credentials.json`), and how the CLI finds what to send.

pub mod credentials;
pub mod docker;
pub mod kube;
pub mod local;
pub mod observer;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

pub use self::observer::Observer;
use crate::stack::{Bind, Probe, Scale, ServiceName, Stack};
pub use crate::stack::{Endpoint, Endpoints};

/// The runtimes `ptrack up --runtime` accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// Background processes on this machine: the embedded broker, a private PostgreSQL
    /// cluster and the services. Needs no Docker.
    #[default]
    Local,
    /// Containers on the Docker Engine.
    Docker,
    /// `kubectl apply` of kube/ against the current context.
    Kube,
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Local => "local",
            Self::Docker => "docker",
            Self::Kube => "kube",
        })
    }
}

/// What `up` was asked for, kept in `<data dir>/state.json` so that `down`, `status`,
/// `logs` and `clean` find the same stack without being told again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub runtime: RuntimeKind,
    pub partitions: u32,
    /// Replicas per scalable service.
    pub scale: BTreeMap<ServiceName, u32>,
    pub port_offset: u16,
    /// A PostgreSQL the user brought (`DATABASE_URL` at `up`): the local runtime then
    /// starts no cluster of its own. It holds a password: the file is private (0600).
    #[serde(default)]
    pub external_database_url: Option<String>,
    /// `up --secure`: the collector requires a write key and the events-api a bearer
    /// token, both generated into [`credentials::Credentials`].
    #[serde(default)]
    pub secure: bool,
    /// `up --durable` (local runtime): PostgreSQL and the broker fsync what they commit.
    /// Off by default: faster, but an OS crash or power loss can lose or corrupt data.
    #[serde(default)]
    pub durable: bool,
    /// `up --bind` / `--stores-bind`: where the ports are opened (loopback by default).
    #[serde(default)]
    pub bind: Bind,
}

impl State {
    pub const FILE: &str = "state.json";

    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(Self::FILE)
    }

    /// The remembered state, or `None` when `up` never ran with this data folder.
    pub fn load(data_dir: &Path) -> Result<Option<Self>> {
        read_json(
            &Self::path(data_dir),
            "a ptrack state file: remove it, or the whole folder with `ptrack clean`",
        )
    }

    pub fn save(&self, data_dir: &Path) -> Result<()> {
        write_private_json(&Self::path(data_dir), self)
    }

    /// The stack this state describes.
    pub fn stack(&self) -> Result<Stack> {
        let scale: Vec<Scale> = self
            .scale
            .iter()
            .map(|(&service, &replicas)| Scale { service, replicas })
            .collect();
        let mut stack = Stack::new(self.partitions, &scale, self.port_offset)?;
        stack.bind = self.bind;
        Ok(stack)
    }
}

/// A JSON file of the data folder, or `None` when it does not exist. `what` names it in
/// the error when it does not parse ("a ptrack state file: remove it, ...").
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<Option<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .with_context(|| format!("{} is not {what}", path.display()))
}

/// Writes `value` as JSON to `path`, readable by its owner only (the data folder's files
/// hold passwords): a file made before keeps its mode on open, so it is set again.
pub fn write_private_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    use std::{
        io::Write as _,
        os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _},
    };
    let text = serde_json::to_string_pretty(value)?;
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(text.as_bytes())
    };
    write().with_context(|| format!("writing {}", path.display()))
}

/// A runtime and the stack it runs.
#[derive(Debug, Clone)]
pub struct Context {
    /// Where state, logs, pid files and the local runtime's data live.
    pub data_dir: PathBuf,
    pub stack: Stack,
    pub state: State,
}

impl Context {
    pub fn new(data_dir: PathBuf, state: State) -> Result<Self> {
        let data_dir = std::path::absolute(&data_dir)
            .with_context(|| format!("the data folder {}", data_dir.display()))?;
        let stack = state.stack()?;
        Ok(Self {
            data_dir,
            stack,
            state,
        })
    }

    /// The stack `up` started with this data folder, or `None` if it never ran.
    pub fn load(data_dir: &Path) -> Result<Option<Self>> {
        State::load(data_dir)?
            .map(|state| Self::new(data_dir.to_owned(), state))
            .transpose()
    }
}

/// Deletes the data folder, but only if it looks like one `ptrack` made: a mistyped
/// `--data-dir /` must not wipe anything else.
pub fn remove_data_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let ours = State::path(dir).is_file()
        || std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none());
    if !ours {
        bail!(
            "{} does not look like a ptrack data folder (no {}): not deleting it; \
             check --data-dir / PTRACK_DATA_DIR",
            dir.display(),
            State::FILE
        );
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("deleting {}", dir.display()))
}

/// `ptrack up` options.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// How long to wait for readiness: for the whole stack (local), for each replica
    /// (docker). kube waits for each rollout as long as kubectl's own timeout.
    pub timeout: Duration,
    /// docker: build the project's images from the checkout's Dockerfile first, instead
    /// of requiring them on the Docker already.
    pub build: bool,
}

impl UpOptions {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
}

impl Default for UpOptions {
    fn default() -> Self {
        Self {
            timeout: Self::DEFAULT_TIMEOUT,
            build: false,
        }
    }
}

/// `ptrack logs` options.
#[derive(Debug, Clone)]
pub struct LogsRequest {
    /// A service (`processor`: all its replicas) or one replica (`processor-2`); all when
    /// `None`.
    pub service: Option<String>,
    pub follow: bool,
    /// Only the last N lines of each log.
    pub tail: Option<usize>,
    /// Only the lines written at or after this time.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Each line starts with the time it was written (RFC 3339, UTC).
    pub timestamps: bool,
}

/// One line of a log, and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The replica (`processor-2`), or the service where the runtime cannot tell its
    /// replicas apart (kube).
    pub replica: String,
    pub line: String,
}

/// What `logs` returns: the lines as they come, from tasks that stop when the receiver
/// is dropped (a closed pipe) or, without `follow`, when every log is read.
#[derive(Debug)]
pub struct Logs {
    /// Every name the lines can carry, known before the first line (to align them).
    pub names: Vec<String>,
    /// The lines; an `Err` says a log could not be read to its end (kube: `kubectl logs`
    /// failed). It ends when every log has ended.
    pub lines: tokio::sync::mpsc::Receiver<Result<LogLine>>,
}

impl Logs {
    /// Lines waiting to be printed, at most: a slow terminal holds the readers back.
    pub const BUFFER: usize = 1024;
}

/// One replica's line of `ptrack status`.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaStatus {
    pub service: ServiceName,
    /// `collector`, or `processor-2` when there are several.
    pub name: String,
    pub state: RunState,
    pub health: Health,
    /// Where it is reached from this machine.
    pub address: Option<String>,
    pub uptime_secs: Option<u64>,
    /// Processor replicas: the partitions they hold right now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitions: Option<Vec<i32>>,
    /// Processor replicas: messages not yet committed on their partitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<i64>,
    /// A pid, a container id, or why it is not healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Running,
    /// Not started, or stopped by `down`.
    Stopped,
    /// Started, then died on its own: see its log.
    Exited,
    /// Not ours: a PostgreSQL the user brought with `DATABASE_URL`.
    External,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Unhealthy,
    /// Not running, so not probed.
    Unknown,
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
            Self::Exited => "exited",
            Self::External => "external",
        })
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
            Self::Unknown => "-",
        })
    }
}

/// What every runtime does. `async fn` in a trait is fine here: the commands await these
/// on the main task and never need the futures to be `Send`.
#[allow(async_fn_in_trait)]
pub trait Runtime {
    /// Starts what is not running yet (what runs is left alone), creates the topic,
    /// waits until every replica is ready, reporting to `observer` as it goes, and says
    /// where to reach the stack (what `ptrack up` prints).
    async fn up(&self, options: &UpOptions, observer: &mut dyn Observer) -> Result<Vec<Endpoint>>;
    /// Stops everything; the data stays. What it stops goes to `observer` as notes.
    async fn down(&self, observer: &mut dyn Observer) -> Result<()>;
    /// Stops everything and deletes the data (the caller has asked the user).
    async fn clean(&self, observer: &mut dyn Observer) -> Result<()>;
    async fn status(&self) -> Result<Vec<ReplicaStatus>>;
    /// The logs `request` selects, each line tagged with its replica.
    async fn logs(&self, request: &LogsRequest) -> Result<Logs>;
    /// Where each part of the stack is reachable from this machine (the same addresses
    /// `ptrack status` probes), whether or not it runs now.
    fn endpoints(&self) -> Endpoints;
}

/// The runtime chosen at `up`, for commands that only know the kind.
#[derive(Debug)]
pub enum AnyRuntime {
    Local(local::Local),
    Docker(docker::Docker),
    Kube(kube::Kube),
}

impl AnyRuntime {
    pub fn new(context: Context) -> Result<Self> {
        Ok(match context.state.runtime {
            RuntimeKind::Local => Self::Local(local::Local::new(context)),
            RuntimeKind::Docker => Self::Docker(docker::Docker::new(context)?),
            RuntimeKind::Kube => Self::Kube(kube::Kube::new(context)?),
        })
    }
}

impl Runtime for AnyRuntime {
    async fn up(&self, options: &UpOptions, observer: &mut dyn Observer) -> Result<Vec<Endpoint>> {
        match self {
            Self::Local(r) => r.up(options, observer).await,
            Self::Docker(r) => r.up(options, observer).await,
            Self::Kube(r) => r.up(options, observer).await,
        }
    }

    async fn down(&self, observer: &mut dyn Observer) -> Result<()> {
        match self {
            Self::Local(r) => r.down(observer).await,
            Self::Docker(r) => r.down(observer).await,
            Self::Kube(r) => r.down(observer).await,
        }
    }

    async fn clean(&self, observer: &mut dyn Observer) -> Result<()> {
        match self {
            Self::Local(r) => r.clean(observer).await,
            Self::Docker(r) => r.clean(observer).await,
            Self::Kube(r) => r.clean(observer).await,
        }
    }

    async fn status(&self) -> Result<Vec<ReplicaStatus>> {
        match self {
            Self::Local(r) => r.status().await,
            Self::Docker(r) => r.status().await,
            Self::Kube(r) => r.status().await,
        }
    }

    async fn logs(&self, request: &LogsRequest) -> Result<Logs> {
        match self {
            Self::Local(r) => r.logs(request).await,
            Self::Docker(r) => r.logs(request).await,
            Self::Kube(r) => r.logs(request).await,
        }
    }

    fn endpoints(&self) -> Endpoints {
        match self {
            Self::Local(r) => r.endpoints(),
            Self::Docker(r) => r.endpoints(),
            Self::Kube(r) => r.endpoints(),
        }
    }
}

/// An HTTP client for probes: short timeouts, so a hung service reads as unhealthy.
pub fn probe_client() -> reqwest::Client {
    crate::client::probe_http()
}

/// Runs `probe` against `addr`: `Ok` when it passes, otherwise why not.
pub async fn check(client: &reqwest::Client, probe: Probe, addr: SocketAddr) -> Result<(), String> {
    match probe {
        Probe::Tcp => {
            match tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr))
                .await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(err)) => Err(format!("{addr}: {err}")),
                Err(_) => Err(format!("{addr}: no answer within 1 s")),
            }
        }
        Probe::Http { path } => {
            let get = |path: &str| {
                let mut url = crate::client::base_url(addr);
                url.set_path(path);
                async move {
                    crate::client::probe(client, url.clone())
                        .await
                        .map_err(|err| (err.status(), format!("{url}: {}", err.brief())))
                }
            };
            match get(path).await {
                // A service built before `/readyz` and `/livez` (a stand-in image, an
                // older binary on PATH) answers 404: ask its older probes.
                Err((Some(reqwest::StatusCode::NOT_FOUND), why)) => {
                    for legacy in legacy_probes(path) {
                        match get(legacy).await {
                            Err((Some(reqwest::StatusCode::NOT_FOUND), _)) => continue,
                            other => return other.map_err(|(_, why)| why),
                        }
                    }
                    Err(why)
                }
                other => other.map_err(|(_, why)| why),
            }
        }
    }
}

/// What services answered before `/readyz` and `/livez`: the collector's `/ready`,
/// everyone's `/health`.
fn legacy_probes(path: &str) -> &'static [&'static str] {
    match path {
        crate::stack::READYZ => &["/ready", "/health"],
        crate::stack::LIVEZ => &["/health"],
        _ => &[],
    }
}

/// The processor's `GET /status`.
pub use ptrack_wire::ProcessorStatus;

/// Asks a processor replica which partitions it holds.
pub async fn processor_status(
    client: &reqwest::Client,
    addr: SocketAddr,
) -> Option<ProcessorStatus> {
    crate::client::Processor::with_http(crate::client::base_url(addr), client.clone())
        .status()
        .await
        .ok()
}

/// How long ago `since` was, in whole seconds (never negative).
pub fn seconds_since(since: std::time::SystemTime) -> u64 {
    std::time::SystemTime::now()
        .duration_since(since)
        .unwrap_or_default()
        .as_secs()
}

/// `1h02m`, `3m05s`, `12s`.
pub fn human_duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_rebuilds_the_stack() {
        let dir = tempfile::tempdir().unwrap();
        assert!(State::load(dir.path()).unwrap().is_none());
        let state = State {
            runtime: RuntimeKind::Local,
            partitions: 4,
            scale: [(ServiceName::Processor, 2)].into(),
            port_offset: 7,
            external_database_url: None,
            secure: false,
            durable: false,
            bind: Default::default(),
        };
        state.save(dir.path()).unwrap();
        let loaded = State::load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded.runtime, RuntimeKind::Local);
        let stack = loaded.stack().unwrap();
        assert_eq!(stack.service(ServiceName::Processor).replicas, 2);
        assert_eq!(stack.host_port(ServiceName::Collector, 0), 8007);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(State::path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(12), "12s");
        assert_eq!(human_duration(185), "3m05s");
        assert_eq!(human_duration(3720), "1h02m");
    }
}
