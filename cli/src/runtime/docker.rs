//! The docker runtime: containers through the Docker Engine API (bollard).
//!
//! Everything `up` makes carries the label `dev.ptrack.stack=<project>` (and
//! `dev.ptrack.service`, `dev.ptrack.replica` on containers), so `down` and `clean` find
//! exactly that and nothing else: one network, one named volume per stateful service, one
//! container per replica (`ptrack-collector`, `ptrack-processor-2`...).
//!
//! What a container gets (image, environment, health check, published ports, volume) is
//! computed from the stack description in [`spec`], by the same functions the
//! compose.yaml agreement test calls, so the docker runtime and compose.yaml cannot drift.
//!
//! Settings, from the environment (the test points them at locally built images):
//! - `PTRACK_IMAGE_BROKER`, `PTRACK_IMAGE_POSTGRES`, `PTRACK_IMAGE_COLLECTOR`,
//!   `PTRACK_IMAGE_PROCESSOR`, `PTRACK_IMAGE_EVENTS_API`, `PTRACK_IMAGE_WEB_DEMO`: images
//!   in place of the defaults.
//! - `PTRACK_KAFKA_IDEMPOTENCE=false`: when the broker image is tansu (`ptrack broker`).
//! - `PTRACK_DOCKER_PROJECT`: the name and label of everything made (default `ptrack`), so
//!   two stacks can live on one Docker.
//!
//! Layout (this file: the order of `up`, and `status`; the rest in `docker/`):
//! - [`spec`]: what each container is (image, environment, health check, ports, volume,
//!   labels), and how the services are wired on the stack's network.
//! - `engine.rs`: the Docker Engine calls: network, volumes, containers.
//! - `build.rs`: pulling missing images, building the project's (`--build`).
//! - `logs.rs`: containers' logs as a stream of lines.

mod build;
mod engine;
mod logs;
pub mod spec;

pub use self::spec::{
    BROKER_HOST_LISTENER_PORT, HEALTH_INTERVAL, HEALTH_RETRIES, HEALTH_TIMEOUT, REPLICA_LABEL,
    RESTART_RETRIES, SERVICE_LABEL, STACK_LABEL, container_env, health_test, image, published,
    published_container_port, volume, wiring,
};

use anyhow::{Context as _, Result};
use bollard::{
    models::{ContainerStateStatusEnum, HealthStatusEnum},
    query_parameters::RemoveContainerOptionsBuilder,
};

use super::{
    Context, Endpoint, Endpoints, Health, Logs, LogsRequest, Observer, ReplicaStatus, RunState,
    Runtime, UpOptions, credentials::Credentials, probe_client, processor_status,
};
use crate::stack::{ServiceName, Wiring, database_url, url_host};

#[derive(Debug)]
pub struct Docker {
    context: Context,
    /// Names and labels everything the stack makes (`PTRACK_DOCKER_PROJECT`).
    project: String,
}

impl Docker {
    pub fn new(context: Context) -> Result<Self> {
        let project = std::env::var("PTRACK_DOCKER_PROJECT")
            .ok()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "ptrack".to_owned());
        Ok(Self { context, project })
    }

    /// The stack's wiring with the credentials `up` generated in the data folder.
    pub(super) fn wiring(&self) -> Wiring {
        let credentials = Credentials::load(&self.context.data_dir).ok().flatten();
        let password = credentials
            .as_ref()
            .map(|c| c.postgres_password.expose().to_owned())
            .unwrap_or_default();
        wiring(
            &password,
            credentials
                .filter(|_| self.context.state.secure)
                .and_then(|c| c.service_credentials()),
        )
    }
}

impl Runtime for Docker {
    async fn up(&self, options: &UpOptions, observer: &mut dyn Observer) -> Result<Vec<Endpoint>> {
        let engine = self.engine().await?;
        let stack = &self.context.stack;
        let names: Vec<String> = stack.replicas().into_iter().map(|r| r.name).collect();
        observer.names(&names);
        if let Some(warning) = stack.idle_processors() {
            observer.note(&format!("warning: {warning}"));
        }
        if options.build {
            self.build_images(&engine, observer).await?;
        }
        for service in &stack.services {
            self.ensure_image(&engine, service, options.build, observer)
                .await?;
        }
        self.ensure_network(&engine).await?;

        // Replicas beyond the asked number (an earlier `--scale`) go away.
        for (replica, container) in self.containers(&engine).await? {
            if !names.contains(&replica)
                && let Some(id) = container.id
            {
                engine
                    .remove_container(
                        &id,
                        Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                    )
                    .await
                    .with_context(|| format!("removing {replica}, no longer asked for"))?;
                observer.note(&format!("removed {replica} (not in --scale any more)"));
            }
        }

        // In start order; each service waits for what it depends on (earlier in order).
        for service in &stack.services {
            let replicas = stack.replicas_of(service.name);
            for replica in &replicas {
                observer.begin(&replica.name, "starting");
                let what = self.start_replica(&engine, replica).await?;
                observer.update(&replica.name, what);
            }
            for replica in &replicas {
                self.wait_healthy(&engine, &replica.name, options.timeout, observer)
                    .await?;
                observer.ready(&replica.name, "healthy");
            }
        }
        Ok(self.endpoints().listing())
    }

    async fn down(&self, observer: &mut dyn Observer) -> Result<()> {
        let engine = self.engine().await?;
        self.remove_containers(&engine, observer).await
    }

    async fn clean(&self, observer: &mut dyn Observer) -> Result<()> {
        let engine = self.engine().await?;
        self.remove_containers(&engine, observer).await?;
        self.remove_volumes(&engine, observer).await
    }

    async fn status(&self) -> Result<Vec<ReplicaStatus>> {
        let engine = self.engine().await?;
        let stack = &self.context.stack;
        let client = probe_client();
        let mut statuses = Vec::new();
        for replica in stack.replicas() {
            let container = self.container_name(&replica.name);
            let address = published(replica.service).then(|| replica.local_addr());
            let mut status = ReplicaStatus {
                service: replica.service,
                name: replica.name.clone(),
                state: RunState::Stopped,
                health: Health::Unknown,
                address: address.map(|a| a.to_string()),
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
            if replica.service == ServiceName::Processor
                && status.state == RunState::Running
                && let Some(addr) = address
                && let Some(processor) = processor_status(&client, addr).await
            {
                status.partitions = Some(processor.partitions);
                status.lag = Some(processor.lag);
            }
            statuses.push(status);
        }
        Ok(statuses)
    }

    async fn logs(&self, request: &LogsRequest) -> Result<Logs> {
        self.container_logs(request).await
    }

    /// Everything is published on 127.0.0.1 (unless `up --bind`, `--stores-bind`); the
    /// broker through its host listener, which advertises `127.0.0.1:<host port>` (an
    /// image without it, like the tansu stand-in, is not reachable there).
    fn endpoints(&self) -> Endpoints {
        let stack = &self.context.stack;
        let wiring = self.wiring();
        let postgres = stack.local_addr(ServiceName::Postgres, 0);
        let database = database_url(
            &url_host(postgres.ip()),
            postgres.port(),
            &wiring.database_password,
        );
        let broker = stack.local_addr(ServiceName::Broker, 0).to_string();
        Endpoints::on_host(stack, Some(broker), Some(database))
    }
}
