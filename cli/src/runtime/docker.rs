//! The docker runtime: containers through the Docker Engine API (bollard).
//!
//! Everything `up` makes carries the label `dev.ptrack.stack=<project>` (and
//! `dev.ptrack.service`, `dev.ptrack.replica` on containers), so `down` and `clean` find
//! exactly that and nothing else: one network, one named volume per stateful service, one
//! container per replica (`ptrack-collector`, `ptrack-processor-2`...).
//!
//! What a container gets (image, environment, health check, published ports, volume) is
//! computed here from the stack description, by the same functions the compose.yaml
//! agreement test calls, so the docker runtime and compose.yaml cannot drift.
//!
//! Settings, from the environment (the test points them at locally built images):
//! - `PTRACK_IMAGE_BROKER`, `PTRACK_IMAGE_POSTGRES`, `PTRACK_IMAGE_COLLECTOR`,
//!   `PTRACK_IMAGE_PROCESSOR`, `PTRACK_IMAGE_EVENTS_API`: images in place of the defaults.
//! - `PTRACK_KAFKA_IDEMPOTENCE=false`: when the broker image is tansu (`ptrack broker`).
//! - `PTRACK_DOCKER_PROJECT`: the name and label of everything made (default `ptrack`), so
//!   two stacks can live on one Docker.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use bollard::{
    Docker as Engine,
    models::{
        ContainerCreateBody, ContainerStateStatusEnum, EndpointSettings, HealthConfig,
        HealthStatusEnum, HostConfig, NetworkCreateRequest, NetworkingConfig, PortBinding,
        RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
    },
    query_parameters::{
        BuildImageOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
        ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
        LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
        StopContainerOptionsBuilder,
    },
};
use futures::StreamExt;

use super::{
    Context, Endpoint, Health, LogsRequest, ReplicaStatus, RunState, Runtime, print_log_line,
    probe_client, processor_status,
};
use crate::{
    progress::Progress,
    stack::{Probe, Service, ServiceName, Stack, Wiring, database_url},
};

pub const STACK_LABEL: &str = "dev.ptrack.stack";
pub const SERVICE_LABEL: &str = "dev.ptrack.service";
pub const REPLICA_LABEL: &str = "dev.ptrack.replica";

/// The health check timing of every container (compose.yaml has the same).
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(2);
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
pub const HEALTH_RETRIES: i64 = 60;

/// How the services reach each other on the stack's network: by service name.
pub fn wiring() -> Wiring {
    Wiring {
        kafka_brokers: format!("{}:9092", ServiceName::Broker),
        database_url: database_url(ServiceName::Postgres.as_str(), 5432),
        kafka_idempotence: std::env::var("PTRACK_KAFKA_IDEMPOTENCE")
            .map(|v| v.trim() != "false")
            .unwrap_or(true),
    }
}

/// The named volume of a stateful service and where it is mounted.
pub fn volume(name: ServiceName) -> Option<(&'static str, &'static str)> {
    match name {
        ServiceName::Broker => Some(("broker-data", "/var/lib/kafka/data")),
        ServiceName::Postgres => Some(("postgres-data", "/var/lib/postgresql/data")),
        _ => None,
    }
}

/// The container's environment: the stack's, listening on all interfaces.
pub fn container_env(
    stack: &Stack,
    name: ServiceName,
    wiring: &Wiring,
) -> BTreeMap<String, String> {
    let port = stack.service(name).port;
    let listen = std::net::SocketAddr::from(([0, 0, 0, 0], port));
    let mut env = stack.env(name, listen, wiring);
    if name == ServiceName::Broker {
        // Apache Kafka keeps its log on the volume (its default is under /tmp).
        env.insert("KAFKA_LOG_DIRS".into(), "/var/lib/kafka/data".into());
    }
    env
}

/// The container health check: the service's readiness probe, run inside the container
/// (the project's images carry curl; every image used has bash).
pub fn health_test(service: &Service) -> Vec<String> {
    let port = service.port;
    match service.readiness {
        Probe::Http { path } => vec![
            "CMD".into(),
            "curl".into(),
            "-fsS".into(),
            format!("http://127.0.0.1:{port}{path}"),
        ],
        Probe::Tcp => vec![
            "CMD".into(),
            "bash".into(),
            "-c".into(),
            format!("exec 3<>/dev/tcp/127.0.0.1/{port}"),
        ],
    }
}

/// Whether the service's port is published on the host. The broker's is not: it
/// advertises `broker:9092`, a name only the stack's network resolves.
pub fn published(name: ServiceName) -> bool {
    name != ServiceName::Broker
}

/// The image of `name`: `PTRACK_IMAGE_<NAME>` or the stack's default.
pub fn image(service: &Service) -> String {
    let var = format!(
        "PTRACK_IMAGE_{}",
        service.name.as_str().to_uppercase().replace('-', "_")
    );
    std::env::var(&var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| service.image.clone())
}

#[derive(Debug)]
pub struct Docker {
    context: Context,
    project: String,
    /// `up --build`: build the project's images from the Dockerfile first.
    pub build: bool,
    /// How long `up` waits for one service to become healthy.
    pub timeout: Duration,
}

impl Docker {
    pub fn new(context: Context) -> Result<Self> {
        let project = std::env::var("PTRACK_DOCKER_PROJECT")
            .ok()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "ptrack".to_owned());
        Ok(Self {
            context,
            project,
            build: false,
            timeout: Duration::from_secs(180),
        })
    }

    async fn engine(&self) -> Result<Engine> {
        let hint = "is dockerd running? Start it (`sudo systemctl start docker`, or \
                    `dockerd &`), or set DOCKER_HOST";
        let engine = Engine::connect_with_defaults()
            .with_context(|| format!("connecting to Docker: {hint}"))?;
        // The daemon may speak an older API than bollard's default (Debian's 20.10: 1.41).
        let engine = engine
            .negotiate_version()
            .await
            .with_context(|| format!("Docker is not reachable: {hint}"))?;
        Ok(engine)
    }

    fn labels(&self) -> HashMap<String, String> {
        HashMap::from([(STACK_LABEL.to_owned(), self.project.clone())])
    }

    fn filter(&self) -> HashMap<String, Vec<String>> {
        HashMap::from([(
            "label".to_owned(),
            vec![format!("{STACK_LABEL}={}", self.project)],
        )])
    }

    fn network(&self) -> String {
        self.project.clone()
    }

    fn container_name(&self, replica: &str) -> String {
        format!("{}-{replica}", self.project)
    }

    /// Pulls `image` unless Docker has it; pull progress goes to `progress`.
    async fn ensure_image(
        &self,
        engine: &Engine,
        service: &Service,
        progress: &mut Progress,
    ) -> Result<()> {
        let image = image(service);
        if engine.inspect_image(&image).await.is_ok() {
            return Ok(());
        }
        let name = service.name.as_str();
        if service.binary.is_some() && !self.build {
            bail!(
                "the image {image} of {name} is not on this Docker: build the project's images \
                 with `ptrack up --runtime docker --build` (or `docker compose build`), or set \
                 PTRACK_IMAGE_{} to an image you have",
                name.to_uppercase().replace('-', "_")
            );
        }
        progress.begin(name, &format!("pulling {image}"));
        let options = CreateImageOptionsBuilder::default()
            .from_image(&image)
            .build();
        let mut pull = engine.create_image(Some(options), None, None);
        while let Some(step) = pull.next().await {
            match step {
                Ok(info) => {
                    if let Some(status) = info.status {
                        let id = info.id.map(|id| format!("{id}: ")).unwrap_or_default();
                        progress.update(name, &format!("pulling {image}: {id}{status}"));
                    }
                }
                Err(err) => {
                    progress.failed(name, "pull failed");
                    bail!(
                        "pulling {image} for {name} failed: {err}. Check the network and the \
                         image name, or set PTRACK_IMAGE_{} to an image you have",
                        name.to_uppercase().replace('-', "_")
                    );
                }
            }
        }
        Ok(())
    }

    /// `--build`: the project's images from the Dockerfile at the checkout's root, one
    /// target per service, build output shown as it comes.
    async fn build_images(&self, engine: &Engine, progress: &mut Progress) -> Result<()> {
        let root = find_checkout()?;
        let context = tar_context(&root)?;
        for service in self
            .context
            .stack
            .services
            .iter()
            .filter(|s| s.binary.is_some())
        {
            let name = service.name.as_str();
            let tag = image(service);
            progress.begin(name, &format!("building {tag}"));
            let options = BuildImageOptionsBuilder::default()
                .dockerfile("Dockerfile")
                .t(&tag)
                .target(name)
                .rm(true)
                .build();
            let mut build = engine.build_image(
                options,
                None,
                Some(bollard::body_full(context.clone().into())),
            );
            while let Some(step) = build.next().await {
                match step {
                    Ok(info) => {
                        if let Some(detail) = info.error_detail.and_then(|e| e.message) {
                            progress.failed(name, "build failed");
                            bail!("building {tag} failed: {detail}");
                        }
                        if let Some(line) = info.stream.as_deref().map(str::trim)
                            && !line.is_empty()
                        {
                            progress.note(&format!("  {name} | {line}"));
                        }
                    }
                    Err(err) => {
                        progress.failed(name, "build failed");
                        bail!(
                            "building {tag} failed: {err}. The Dockerfile's base images \
                             (rust:1-bookworm, debian:bookworm-slim) come from Docker Hub: check \
                             the network, or set PTRACK_IMAGE_{} to an image you have",
                            name.to_uppercase().replace('-', "_")
                        );
                    }
                }
            }
            progress.ready(name, &format!("built {tag}"));
        }
        Ok(())
    }

    async fn ensure_network(&self, engine: &Engine) -> Result<()> {
        let options = ListNetworksOptionsBuilder::default()
            .filters(&HashMap::from([("name".to_owned(), vec![self.network()])]))
            .build();
        let exists = engine
            .list_networks(Some(options))
            .await?
            .iter()
            .any(|n| n.name.as_deref() == Some(&self.network()));
        if !exists {
            engine
                .create_network(NetworkCreateRequest {
                    name: self.network(),
                    driver: Some("bridge".into()),
                    labels: Some(self.labels()),
                    ..Default::default()
                })
                .await
                .with_context(|| format!("creating the network {}", self.network()))?;
        }
        Ok(())
    }

    async fn ensure_volume(&self, engine: &Engine, volume: &str) -> Result<String> {
        let name = format!("{}-{volume}", self.project);
        if engine.inspect_volume(&name).await.is_err() {
            engine
                .create_volume(VolumeCreateRequest {
                    name: Some(name.clone()),
                    labels: Some(self.labels()),
                    ..Default::default()
                })
                .await
                .with_context(|| format!("creating the volume {name}"))?;
        }
        Ok(name)
    }

    /// Creates (when missing) and starts (when stopped) replica `index` of `service`.
    async fn start_replica(
        &self,
        engine: &Engine,
        service: &Service,
        index: u32,
        replica: &str,
    ) -> Result<&'static str> {
        let stack = &self.context.stack;
        let container = self.container_name(replica);
        if let Ok(found) = engine.inspect_container(&container, None).await {
            if found.state.and_then(|s| s.running) == Some(true) {
                return Ok("already running");
            }
            engine
                .start_container(&container, None)
                .await
                .with_context(|| format!("starting {container}"))?;
            return Ok("started");
        }

        let port = service.port;
        let mut labels = self.labels();
        labels.insert(SERVICE_LABEL.into(), service.name.to_string());
        labels.insert(REPLICA_LABEL.into(), replica.to_owned());
        let env: Vec<String> = container_env(stack, service.name, &wiring())
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut host = HostConfig {
            network_mode: Some(self.network()),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::ON_FAILURE),
                maximum_retry_count: Some(5),
            }),
            ..Default::default()
        };
        if published(service.name) {
            let host_port = stack.host_port(service.name, index);
            host.port_bindings = Some(HashMap::from([(
                format!("{port}/tcp"),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(host_port.to_string()),
                }]),
            )]));
        }
        if let Some((volume, path)) = volume(service.name) {
            let volume = self.ensure_volume(engine, volume).await?;
            host.binds = Some(vec![format!("{volume}:{path}")]);
        }
        let body = ContainerCreateBody {
            image: Some(image(service)),
            env: Some(env),
            labels: Some(labels),
            exposed_ports: Some(vec![format!("{port}/tcp")]),
            healthcheck: Some(HealthConfig {
                test: Some(health_test(service)),
                interval: Some(HEALTH_INTERVAL.as_nanos() as i64),
                timeout: Some(HEALTH_TIMEOUT.as_nanos() as i64),
                retries: Some(HEALTH_RETRIES),
                ..Default::default()
            }),
            host_config: Some(host),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    self.network(),
                    EndpointSettings {
                        aliases: Some(vec![service.name.to_string()]),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&container)
            .build();
        engine
            .create_container(Some(options), body)
            .await
            .with_context(|| format!("creating {container}"))?;
        engine
            .start_container(&container, None)
            .await
            .with_context(|| {
                format!(
                    "starting {container}: is port {} already in use? Stop what uses it or \
                     pass --port-offset",
                    stack.host_port(service.name, index)
                )
            })?;
        Ok("created")
    }

    /// Waits until the container's health check passes; a container that exits or stays
    /// unhealthy fails with the tail of its log.
    async fn wait_healthy(
        &self,
        engine: &Engine,
        replica: &str,
        progress: &mut Progress,
    ) -> Result<()> {
        let container = self.container_name(replica);
        let started = Instant::now();
        loop {
            let inspect = engine
                .inspect_container(&container, None)
                .await
                .with_context(|| format!("inspecting {container}"))?;
            let state = inspect.state.unwrap_or_default();
            let health = state.health.and_then(|h| h.status);
            if health == Some(HealthStatusEnum::HEALTHY) {
                return Ok(());
            }
            let exited = matches!(
                state.status,
                Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD)
            );
            if exited || started.elapsed() > self.timeout {
                let why = if exited {
                    format!("exited with code {}", state.exit_code.unwrap_or(-1))
                } else {
                    format!("not healthy after {} s", self.timeout.as_secs())
                };
                progress.failed(replica, &why);
                let tail = self.log_tail(engine, &container, 20).await;
                bail!(
                    "{replica} {why}. Last lines of its log:\n{tail}\nMore: `ptrack logs {replica}`"
                );
            }
            progress.update(
                replica,
                &format!(
                    "waiting for health ({})",
                    health.map_or("starting".into(), |h| h.to_string())
                ),
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn log_tail(&self, engine: &Engine, container: &str, lines: usize) -> String {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut out = String::new();
        let mut logs = engine.logs(container, Some(options));
        while let Some(Ok(chunk)) = logs.next().await {
            out.push_str(&chunk.to_string());
        }
        out
    }

    /// Every container of the project, with its replica name.
    async fn containers(
        &self,
        engine: &Engine,
    ) -> Result<Vec<(String, bollard::models::ContainerSummary)>> {
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&self.filter())
            .build();
        let containers = engine
            .list_containers(Some(options))
            .await
            .context("listing containers")?;
        Ok(containers
            .into_iter()
            .filter_map(|c| {
                let replica = c.labels.as_ref()?.get(REPLICA_LABEL)?.clone();
                Some((replica, c))
            })
            .collect())
    }

    /// Stops and removes every container of the project, and its network.
    async fn remove_containers(&self, engine: &Engine) -> Result<()> {
        // The reverse of the start order: the services before what they depend on.
        let mut containers = self.containers(engine).await?;
        containers.sort_by_key(|(_, c)| {
            let service = c
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_LABEL))
                .and_then(|s| s.parse::<ServiceName>().ok());
            std::cmp::Reverse(service)
        });
        for (replica, container) in containers {
            let Some(id) = container.id else { continue };
            let stop = StopContainerOptionsBuilder::default().t(10).build();
            // Already stopped is fine.
            let _ = engine.stop_container(&id, Some(stop)).await;
            engine
                .remove_container(
                    &id,
                    Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                )
                .await
                .with_context(|| format!("removing the container of {replica}"))?;
            eprintln!("  {replica:<12} removed");
        }
        let options = ListNetworksOptionsBuilder::default()
            .filters(&self.filter())
            .build();
        for network in engine.list_networks(Some(options)).await? {
            if let Some(name) = network.name {
                engine
                    .remove_network(&name)
                    .await
                    .with_context(|| format!("removing the network {name}"))?;
            }
        }
        Ok(())
    }
}

impl Runtime for Docker {
    async fn up(&self, progress: &mut Progress) -> Result<Vec<Endpoint>> {
        let engine = self.engine().await?;
        let stack = &self.context.stack;
        let mut names: Vec<String> = Vec::new();
        for service in &stack.services {
            names.extend(stack.replica_names(service.name));
        }
        progress.set_names(names.iter().map(String::as_str));
        if let Some(warning) = stack.idle_processors() {
            progress.note(&format!("warning: {warning}"));
        }
        if self.build {
            self.build_images(&engine, progress).await?;
        }
        for service in &stack.services {
            self.ensure_image(&engine, service, progress).await?;
        }
        self.ensure_network(&engine).await?;

        // Replicas beyond the asked number (an earlier `--scale`) go away.
        for (replica, container) in self.containers(&engine).await? {
            let service = container
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_LABEL))
                .and_then(|s| s.parse::<ServiceName>().ok());
            let wanted = service.is_some_and(|s| stack.replica_names(s).contains(&replica));
            if !wanted && let Some(id) = container.id {
                engine
                    .remove_container(
                        &id,
                        Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                    )
                    .await
                    .with_context(|| format!("removing {replica}, no longer asked for"))?;
                progress.note(&format!("removed {replica} (not in --scale any more)"));
            }
        }

        // In start order; each service waits for what it depends on (earlier in order).
        for service in &stack.services {
            let replicas = stack.replica_names(service.name);
            for (index, replica) in replicas.iter().enumerate() {
                progress.begin(replica, "starting");
                let what = self
                    .start_replica(&engine, service, index as u32, replica)
                    .await?;
                progress.update(replica, what);
            }
            for replica in &replicas {
                self.wait_healthy(&engine, replica, progress).await?;
                progress.ready(replica, "healthy");
            }
        }

        let mut endpoints = Vec::new();
        for service in stack.services.iter().filter(|s| published(s.name)) {
            for (index, replica) in stack.replica_names(service.name).iter().enumerate() {
                let addr = format!("127.0.0.1:{}", stack.host_port(service.name, index as u32));
                let (name, url) = match service.name {
                    ServiceName::Collector if index == 0 => (
                        "collector (send events here: POST /track)".to_owned(),
                        format!("http://{addr}/track"),
                    ),
                    ServiceName::Collector => (
                        format!("{replica} (also accepts POST /track)"),
                        format!("http://{addr}/track"),
                    ),
                    ServiceName::EventsApi => (
                        "events-api (GET /events, /stats)".to_owned(),
                        format!("http://{addr}/events"),
                    ),
                    ServiceName::Processor => (
                        format!("{replica} (GET /status, /metrics)"),
                        format!("http://{addr}/status"),
                    ),
                    ServiceName::Postgres => (
                        "postgres".to_owned(),
                        database_url("127.0.0.1", stack.host_port(service.name, 0)),
                    ),
                    ServiceName::Broker => continue,
                };
                endpoints.push(Endpoint { name, url });
            }
        }
        Ok(endpoints)
    }

    async fn down(&self) -> Result<()> {
        let engine = self.engine().await?;
        self.remove_containers(&engine).await
    }

    async fn clean(&self) -> Result<()> {
        let engine = self.engine().await?;
        self.remove_containers(&engine).await?;
        let options = ListVolumesOptionsBuilder::default()
            .filters(&self.filter())
            .build();
        let volumes = engine
            .list_volumes(Some(options))
            .await?
            .volumes
            .unwrap_or_default();
        for volume in volumes {
            engine
                .remove_volume(
                    &volume.name,
                    Some(RemoveVolumeOptionsBuilder::default().force(true).build()),
                )
                .await
                .with_context(|| format!("removing the volume {}", volume.name))?;
            eprintln!("  volume {} removed", volume.name);
        }
        Ok(())
    }

    async fn status(&self) -> Result<Vec<ReplicaStatus>> {
        let engine = self.engine().await?;
        let stack = &self.context.stack;
        let client = probe_client();
        let mut statuses = Vec::new();
        for service in &stack.services {
            for (index, replica) in stack.replica_names(service.name).iter().enumerate() {
                let container = self.container_name(replica);
                let address = published(service.name)
                    .then(|| format!("127.0.0.1:{}", stack.host_port(service.name, index as u32)));
                let mut status = ReplicaStatus {
                    service: service.name,
                    name: replica.clone(),
                    state: RunState::Stopped,
                    health: Health::Unknown,
                    address: address.clone(),
                    uptime_secs: None,
                    partitions: None,
                    lag: None,
                    detail: None,
                };
                if let Ok(inspect) = engine.inspect_container(&container, None).await {
                    let state = inspect.state.unwrap_or_default();
                    status.detail = inspect
                        .id
                        .map(|id| format!("container {}", &id[..12.min(id.len())]));
                    if state.running == Some(true) {
                        status.state = RunState::Running;
                        status.health = match state.health.and_then(|h| h.status) {
                            Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
                            _ => Health::Unhealthy,
                        };
                        status.uptime_secs = state
                            .started_at
                            .as_deref()
                            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                            .map(|t| {
                                (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                                    .num_seconds()
                                    .max(0) as u64
                            });
                    } else if state.status == Some(ContainerStateStatusEnum::EXITED) {
                        status.state = RunState::Exited;
                    }
                }
                if service.name == ServiceName::Processor
                    && status.state == RunState::Running
                    && let Some(addr) = address.as_deref().and_then(|a| a.parse().ok())
                    && let Some(processor) = processor_status(&client, addr).await
                {
                    status.partitions = Some(processor.partitions);
                    status.lag = Some(processor.lag);
                }
                statuses.push(status);
            }
        }
        Ok(statuses)
    }

    async fn logs(&self, request: &LogsRequest) -> Result<()> {
        let engine = self.engine().await?;
        let stack = &self.context.stack;
        let mut replicas: Vec<String> = Vec::new();
        for service in &stack.services {
            for replica in stack.replica_names(service.name) {
                let wanted = match request.service.as_deref() {
                    None => true,
                    Some(asked) => asked == replica || asked == service.name.as_str(),
                };
                if wanted {
                    replicas.push(replica);
                }
            }
        }
        if replicas.is_empty() {
            bail!(
                "no service or replica named {:?}: see `ptrack status` for the names",
                request.service.as_deref().unwrap_or("")
            );
        }
        let width = replicas.iter().map(String::len).max().unwrap_or(0);
        let mut tasks = Vec::new();
        for replica in replicas {
            let engine = engine.clone();
            let container = self.container_name(&replica);
            let tail = request.tail.map_or("all".to_owned(), |n| n.to_string());
            let follow = request.follow;
            tasks.push(tokio::spawn(async move {
                let options = LogsOptionsBuilder::default()
                    .stdout(true)
                    .stderr(true)
                    .follow(follow)
                    .tail(&tail)
                    .build();
                let mut logs = engine.logs(&container, Some(options));
                let mut pending = String::new();
                while let Some(chunk) = logs.next().await {
                    let chunk = match chunk {
                        Ok(chunk) => chunk,
                        Err(err) => {
                            let why = match err {
                                bollard::errors::Error::DockerResponseServerError {
                                    status_code: 404,
                                    ..
                                } => {
                                    "no container (is the stack up? see `ptrack status`)".to_owned()
                                }
                                other => other.to_string(),
                            };
                            print_log_line(&replica, width, &format!("[{why}]"));
                            break;
                        }
                    };
                    pending.push_str(&chunk.to_string());
                    while let Some(end) = pending.find('\n') {
                        let line: String = pending.drain(..=end).collect();
                        print_log_line(&replica, width, line.trim_end());
                    }
                }
                if !pending.is_empty() {
                    print_log_line(&replica, width, pending.trim_end());
                }
            }));
        }
        for task in tasks {
            task.await.context("log task")?;
        }
        Ok(())
    }
}

/// The checkout holding the Dockerfile: the current folder or one above it.
fn find_checkout() -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("the current folder")?;
    cwd.ancestors()
        .find(|dir| dir.join("Dockerfile").is_file() && dir.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "--build needs the ptrack checkout (its Dockerfile): no Dockerfile in {} or \
                 above it; run ptrack from the checkout",
                cwd.display()
            )
        })
}

/// The build context as a tar archive, without what .dockerignore leaves out (the
/// target folder alone is gigabytes). Made with the system `tar`.
fn tar_context(root: &Path) -> Result<Vec<u8>> {
    let mut command = std::process::Command::new("tar");
    command.arg("-C").arg(root).arg("-c");
    if let Ok(ignore) = std::fs::read_to_string(root.join(".dockerignore")) {
        for pattern in ignore.lines().map(str::trim) {
            if pattern.is_empty() || pattern.starts_with('#') {
                continue;
            }
            let pattern = pattern.trim_end_matches('/').trim_start_matches("**/");
            command.arg(format!("--exclude=./{pattern}"));
            command.arg(format!("--exclude={pattern}"));
        }
    }
    command.arg(".");
    let output = command
        .output()
        .context("running tar to pack the build context: install tar")?;
    if !output.status.success() {
        bail!(
            "packing the build context failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}
