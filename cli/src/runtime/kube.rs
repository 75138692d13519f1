//! The kube runtime: `kubectl` against the current context, applying `kube/`.
//!
//! - `up`: `kubectl apply -k kube/`, `kubectl scale` for `--scale` (and the autoscaler's
//!   floor raised to match, or it would scale back), then `kubectl rollout status` per
//!   service in start order.
//! - `down`: every workload scaled to zero; the PersistentVolumeClaims (the data) stay.
//!   (`kubectl delete -k` would delete the namespace and the claims with it.)
//! - `clean`: `kubectl delete -k kube/`: the namespace and everything in it, data included.
//! - `status`: `kubectl get pods -o json`; `logs`: `kubectl logs` per service.
//!
//! `kubectl` is found on PATH (or `PTRACK_KUBECTL`), `kube/` in the current folder or
//! one above it (or `PTRACK_KUBE_DIR`).

use std::{collections::BTreeMap, path::PathBuf, process::Stdio};

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};

use tokio::sync::mpsc;

use super::{
    Context, Endpoint, Endpoints, Health, LogLine, Logs, LogsRequest, Observer, ReplicaStatus,
    RunState, Runtime, UpOptions,
};
use crate::stack::{ServiceName, Wiring, database_url, in_network_url, port_forward_listing};

/// The namespace kube/ puts everything in.
pub const NAMESPACE: &str = "ptrack";
/// The label every pod of a service carries (kube/*.yaml).
const NAME_LABEL: &str = "app.kubernetes.io/name";
/// How long `up` waits for one service's rollout.
const ROLLOUT_TIMEOUT: &str = "300s";

/// How the services reach each other in the cluster: by Service name.
pub fn wiring() -> Wiring {
    Wiring {
        kafka_brokers: format!("{}:9092", ServiceName::Broker),
        database_url: database_url(ServiceName::Postgres.as_str(), 5432),
        kafka_idempotence: true,
        events_api_url: in_network_url(ServiceName::EventsApi),
    }
}

/// Variables kube/ sets beyond the stack description, and why.
pub fn extra_env(name: ServiceName) -> BTreeMap<String, String> {
    let pairs: &[(&str, &str)] = match name {
        ServiceName::Broker => &[
            // A subfolder of the volume: its root may hold lost+found, which Kafka refuses.
            ("KAFKA_LOG_DIRS", "/var/lib/kafka/data/logs"),
            // A Service routes only to ready pods, and the node must reach its own
            // controller before it is ready.
            ("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093"),
        ],
        ServiceName::Postgres => &[("PGDATA", "/var/lib/postgresql/data/pgdata")],
        _ => &[],
    };
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The workload kind kube/ runs a service as.
fn workload(name: ServiceName) -> String {
    match name {
        ServiceName::Broker | ServiceName::Postgres => format!("statefulset/{name}"),
        _ => format!("deployment/{name}"),
    }
}

#[derive(Debug)]
pub struct Kube {
    context: Context,
    kubectl: PathBuf,
    manifests: PathBuf,
}

impl Kube {
    pub fn new(context: Context) -> Result<Self> {
        let kubectl = std::env::var_os("PTRACK_KUBECTL")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("kubectl"));
        let manifests = find_manifests()?;
        Ok(Self::with(context, kubectl, manifests))
    }

    /// The runtime with `kubectl` and the `manifests` folder given, not looked for.
    pub fn with(context: Context, kubectl: PathBuf, manifests: PathBuf) -> Self {
        Self {
            context,
            kubectl,
            manifests,
        }
    }

    /// Runs kubectl to the end; its output on success, its error text on failure.
    async fn kubectl(&self, args: &[&str]) -> Result<String> {
        let output = tokio::process::Command::new(&self.kubectl)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| {
                format!(
                    "running {}: install kubectl (https://kubernetes.io/docs/tasks/tools/) \
                     or set PTRACK_KUBECTL",
                    self.kubectl.display()
                )
            })?;
        if !output.status.success() {
            bail!(
                "kubectl {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn manifests(&self) -> String {
        self.manifests.display().to_string()
    }

    /// The partition count is written in kube/config.yaml: a different one at `up` would
    /// be silently ignored, so it is refused with what to do instead.
    fn check_partitions(&self) -> Result<()> {
        let config = self.manifests.join("config.yaml");
        let text = std::fs::read_to_string(&config)
            .with_context(|| format!("reading {}", config.display()))?;
        let wanted = format!("KAFKA_PARTITIONS: \"{}\"", self.context.stack.partitions);
        if !text.contains(&wanted) {
            bail!(
                "the kube runtime takes the partition count from {} (KAFKA_PARTITIONS): set it \
                 to {} there (and maxReplicas of the processor autoscaler in processor.yaml), \
                 or leave --partitions out",
                config.display(),
                self.context.stack.partitions
            );
        }
        Ok(())
    }
}

/// kube/ from `PTRACK_KUBE_DIR`, or the current folder or one of its parents.
fn find_manifests() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PTRACK_KUBE_DIR") {
        let dir = PathBuf::from(dir);
        if !dir.join("kustomization.yaml").is_file() {
            bail!(
                "PTRACK_KUBE_DIR={} has no kustomization.yaml: point it at the kube/ folder of \
                 the ptrack checkout",
                dir.display()
            );
        }
        return Ok(dir);
    }
    let cwd = std::env::current_dir().context("the current folder")?;
    cwd.ancestors()
        .map(|dir| dir.join("kube"))
        .find(|dir| dir.join("kustomization.yaml").is_file())
        .with_context(|| {
            format!(
                "no kube/kustomization.yaml in {} or above it: run ptrack from the ptrack \
                 checkout or set PTRACK_KUBE_DIR",
                cwd.display()
            )
        })
}

impl Runtime for Kube {
    /// Waits for each rollout as long as kubectl's own timeout (`ROLLOUT_TIMEOUT`), not
    /// `options.timeout`: a first pull of the images takes longer than a local start.
    async fn up(&self, _: &UpOptions, observer: &mut dyn Observer) -> Result<Vec<Endpoint>> {
        let stack = &self.context.stack;
        self.check_partitions()?;
        let names: Vec<String> = stack.services.iter().map(|s| s.name.to_string()).collect();
        observer.names(&names);
        observer.note(&format!("kubectl apply -k {}", self.manifests()));
        self.kubectl(&["apply", "-k", &self.manifests()]).await?;

        // Only what `--scale` asked for: the others keep kube/'s replicas and autoscalers.
        for (&name, &replicas) in &self.context.state.scale {
            let replicas = replicas.to_string();
            let target = workload(name);
            self.kubectl(&["-n", NAMESPACE, "scale", &target, "--replicas", &replicas])
                .await?;
            // The autoscaler would bring the replicas back to its own floor.
            let patch = format!(r#"{{"spec":{{"minReplicas":{replicas}}}}}"#);
            let hpa = format!("hpa/{name}");
            self.kubectl(&[
                "-n", NAMESPACE, "patch", &hpa, "--type", "merge", "-p", &patch,
            ])
            .await?;
        }
        if let Some(warning) = stack.idle_processors() {
            observer.note(&format!("warning: {warning}"));
        }

        for service in &stack.services {
            let name = service.name.as_str();
            observer.begin(name, "rolling out");
            let target = workload(service.name);
            let timeout = format!("--timeout={ROLLOUT_TIMEOUT}");
            match self
                .kubectl(&["-n", NAMESPACE, "rollout", "status", &target, &timeout])
                .await
            {
                Ok(_) => observer.ready(name, "ready"),
                Err(err) => {
                    observer.failed(name, "not ready");
                    let logs = self
                        .kubectl(&["-n", NAMESPACE, "logs", &target, "--tail=20"])
                        .await
                        .unwrap_or_else(|err| format!("(no logs: {err:#})"));
                    bail!(
                        "{name} did not become ready: {err:#}\nlast lines of its log:\n{logs}\n\
                         see `kubectl -n {NAMESPACE} describe {target}`"
                    );
                }
            }
        }

        Ok(port_forward_listing(stack, NAMESPACE))
    }

    async fn down(&self, _: &mut dyn Observer) -> Result<()> {
        // Scaling to zero keeps the namespace and its PersistentVolumeClaims.
        self.kubectl(&[
            "-n",
            NAMESPACE,
            "scale",
            "deployment,statefulset",
            "--all",
            "--replicas=0",
        ])
        .await?;
        Ok(())
    }

    async fn clean(&self, _: &mut dyn Observer) -> Result<()> {
        self.kubectl(&["delete", "-k", &self.manifests(), "--ignore-not-found"])
            .await?;
        Ok(())
    }

    async fn status(&self) -> Result<Vec<ReplicaStatus>> {
        let selector = "app.kubernetes.io/part-of=ptrack";
        let json = self
            .kubectl(&["-n", NAMESPACE, "get", "pods", "-l", selector, "-o", "json"])
            .await?;
        let pods: PodList = serde_json::from_str(&json).context("kubectl get pods -o json")?;
        let mut statuses = Vec::new();
        for pod in pods.items {
            let Some(service) = pod
                .metadata
                .labels
                .get(NAME_LABEL)
                .and_then(|name| name.parse::<ServiceName>().ok())
            else {
                continue;
            };
            statuses.push(pod_status(service, &pod, &self.context));
        }
        statuses.sort_by(|a, b| (a.service, &a.name).cmp(&(b.service, &b.name)));
        Ok(statuses)
    }

    async fn logs(&self, request: &LogsRequest) -> Result<Logs> {
        let stack = &self.context.stack;
        // Pods are named by kubernetes: a service selects all of its pods, one replica
        // (`processor-2`) cannot be told apart.
        let mut services: Vec<ServiceName> = Vec::new();
        for replica in stack.select(request.service.as_deref())? {
            if !services.contains(&replica.service) {
                services.push(replica.service);
            }
        }
        if let Some(name) = &request.service
            && name.parse::<ServiceName>().is_err()
        {
            bail!("{name}: with the kube runtime, name a service (see `ptrack status`)");
        }
        let (tx, lines) = mpsc::channel(Logs::BUFFER);
        for &service in &services {
            let mut args = vec![
                "-n".to_owned(),
                NAMESPACE.to_owned(),
                "logs".to_owned(),
                "-l".to_owned(),
                format!("{NAME_LABEL}={service}"),
                format!("--tail={}", request.tail.map_or(-1, |n| n as i64)),
            ];
            if request.follow {
                args.push("-f".to_owned());
            }
            // kubectl reads and writes these as `kubectl logs` users know them: the
            // time starts each line, in RFC 3339.
            if let Some(since) = request.since {
                args.push(format!(
                    "--since-time={}",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ));
            }
            if request.timestamps {
                args.push("--timestamps".to_owned());
            }
            let mut child = tokio::process::Command::new(&self.kubectl)
                .args(&args)
                .stdout(Stdio::piped())
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("running {}", self.kubectl.display()))?;
            // Piped just above.
            let stdout = child.stdout.take().expect("stdout is piped");
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let line = LogLine {
                        replica: service.to_string(),
                        line,
                    };
                    if tx.send(Ok(line)).await.is_err() {
                        // Nobody reads any more; dropping the child kills kubectl.
                        return;
                    }
                }
                let failed = match child.wait().await {
                    Ok(status) => !status.success(),
                    Err(_) => true,
                };
                if failed {
                    let err =
                        anyhow::anyhow!("kubectl logs failed: is the stack up (`ptrack status`)?");
                    let _ = tx.send(Err(err)).await;
                }
            });
        }
        let names = services.iter().map(ToString::to_string).collect();
        Ok(Logs { names, lines })
    }

    /// Nothing: the services, the broker and PostgreSQL live in the cluster, reached from
    /// here only through `kubectl port-forward` (which `up` lists).
    fn endpoints(&self) -> Endpoints {
        Endpoints::unreachable()
    }
}

fn pod_status(service: ServiceName, pod: &Pod, context: &Context) -> ReplicaStatus {
    let phase = pod.status.phase.as_deref().unwrap_or("Unknown");
    let ready = pod
        .status
        .conditions
        .iter()
        .any(|c| c.kind == "Ready" && c.status == "True");
    let state = match phase {
        "Running" | "Pending" => RunState::Running,
        "Succeeded" | "Failed" => RunState::Exited,
        _ => RunState::Stopped,
    };
    let health = match (state, ready) {
        (RunState::Running, true) => Health::Healthy,
        (RunState::Running, false) => Health::Unhealthy,
        _ => Health::Unknown,
    };
    let uptime_secs = pod.status.start_time.as_deref().and_then(|start| {
        let start = chrono::DateTime::parse_from_rfc3339(start).ok()?;
        let secs = (chrono::Utc::now() - start.with_timezone(&chrono::Utc)).num_seconds();
        Some(secs.max(0) as u64)
    });
    let port = context.stack.service(service).port;
    ReplicaStatus {
        service,
        name: pod.metadata.name.clone(),
        state,
        health,
        address: pod.status.pod_ip.as_ref().map(|ip| format!("{ip}:{port}")),
        uptime_secs,
        partitions: None,
        lag: None,
        detail: Some(format!("pod {phase}")),
    }
}

#[derive(Debug, Deserialize)]
struct PodList {
    items: Vec<Pod>,
}

#[derive(Debug, Deserialize)]
struct Pod {
    metadata: PodMeta,
    #[serde(default)]
    status: PodStatus,
}

#[derive(Debug, Deserialize)]
struct PodMeta {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodStatus {
    phase: Option<String>,
    #[serde(default)]
    conditions: Vec<Condition>,
    start_time: Option<String>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::runtime::{
        RuntimeKind, State,
        observer::{Recorder, UpEvent},
    };

    /// kube/ with only what `up` reads itself, and a kubectl that answers every command
    /// but the rollout of `failing` (no cluster runs here).
    fn kube(dir: &std::path::Path, failing: &str) -> Kube {
        let manifests = dir.join("kube");
        std::fs::create_dir_all(&manifests).unwrap();
        std::fs::write(manifests.join("config.yaml"), "  KAFKA_PARTITIONS: \"3\"\n").unwrap();
        let kubectl = dir.join("kubectl");
        let script = format!(
            "#!/bin/sh\ncase \"$*\" in\n  *rollout*{failing}*) echo 'timed out' >&2; exit 1;;\n  \
             *logs*) echo 'last words';;\nesac\n"
        );
        std::fs::write(&kubectl, script).unwrap();
        std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
        let state = State {
            runtime: RuntimeKind::Kube,
            partitions: 3,
            scale: BTreeMap::new(),
            port_offset: 0,
            external_database_url: None,
        };
        let context = Context::new(dir.join("data"), state).unwrap();
        Kube::with(context, kubectl, manifests)
    }

    #[tokio::test]
    async fn up_reports_each_rollout_to_the_observer() {
        let dir = tempfile::tempdir().unwrap();
        let kube = kube(dir.path(), "nothing");
        let mut recorder = Recorder::default();
        let endpoints = kube.up(&UpOptions::default(), &mut recorder).await.unwrap();
        let events = &recorder.events;
        let services = [
            "broker",
            "postgres",
            "processor",
            "events-api",
            "collector",
            "web-demo",
        ];
        assert_eq!(
            events[0],
            UpEvent::Names(services.map(str::to_owned).to_vec())
        );
        assert!(
            matches!(&events[1], UpEvent::Note(text) if text.starts_with("kubectl apply -k ")),
            "{events:?}"
        );
        for name in services {
            let begin = events
                .iter()
                .position(|e| {
                    *e == UpEvent::Begin {
                        name: name.into(),
                        what: "rolling out".into(),
                    }
                })
                .unwrap_or_else(|| panic!("{name} begins: {events:?}"));
            assert_eq!(
                events[begin + 1],
                UpEvent::Ready {
                    name: name.into(),
                    what: "ready".into()
                }
            );
        }
        assert_eq!(endpoints.len(), 4, "{endpoints:?}");
        assert!(endpoints[0].url.contains("port-forward svc/processor"));
    }

    #[tokio::test]
    async fn a_failed_rollout_is_reported_and_explained() {
        let dir = tempfile::tempdir().unwrap();
        let kube = kube(dir.path(), "events-api");
        let mut recorder = Recorder::default();
        let err = kube
            .up(&UpOptions::default(), &mut recorder)
            .await
            .unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("events-api did not become ready"), "{err}");
        assert!(err.contains("last words"), "the log's tail: {err}");
        assert_eq!(
            recorder.events.last(),
            Some(&UpEvent::Failed {
                name: "events-api".into(),
                why: "not ready".into()
            })
        );
        assert!(
            !recorder
                .events
                .iter()
                .any(|e| e.name() == Some("collector")),
            "nothing after the failure"
        );
    }

    #[tokio::test]
    async fn logs_are_tagged_by_service_and_a_replica_cannot_be_chosen() {
        let dir = tempfile::tempdir().unwrap();
        let kube = kube(dir.path(), "nothing");
        let request = LogsRequest {
            service: Some("collector".into()),
            follow: false,
            tail: Some(5),
            since: None,
            timestamps: false,
        };
        let mut logs = kube.logs(&request).await.unwrap();
        assert_eq!(logs.names, ["collector"]);
        let line = logs.lines.recv().await.unwrap().unwrap();
        assert_eq!(
            line,
            LogLine {
                replica: "collector".into(),
                line: "last words".into()
            }
        );
        assert!(logs.lines.recv().await.is_none(), "the log ends");
        let request = LogsRequest {
            service: Some("collector-2".into()),
            ..request
        };
        let err = kube.logs(&request).await.unwrap_err().to_string();
        assert!(err.contains("no service or replica named"), "{err}");
    }
}
