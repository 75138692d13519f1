//! The docker runtime's calls to the Docker Engine: the connection, the network and
//! volumes, creating, starting, waiting for and removing containers, and listing what
//! carries the stack's label.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use bollard::{
    Docker as Engine,
    models::{
        ContainerStateStatusEnum, HealthStatusEnum, NetworkCreateRequest, VolumeCreateRequest,
    },
    query_parameters::{
        CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
        ListVolumesOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
        RemoveVolumeOptionsBuilder, StopContainerOptionsBuilder,
    },
};
use futures::StreamExt;

use super::{
    Docker,
    spec::{self, REPLICA_LABEL, SERVICE_LABEL, STACK_LABEL, volume},
};
use crate::{
    runtime::Observer,
    stack::{Replica, ServiceName},
};

impl Docker {
    pub(super) async fn engine(&self) -> Result<Engine> {
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

    pub(super) fn labels(&self) -> HashMap<String, String> {
        HashMap::from([(STACK_LABEL.to_owned(), self.project.clone())])
    }

    pub(super) fn filter(&self) -> HashMap<String, Vec<String>> {
        HashMap::from([(
            "label".to_owned(),
            vec![format!("{STACK_LABEL}={}", self.project)],
        )])
    }

    pub(super) fn network(&self) -> String {
        self.project.clone()
    }

    pub(super) fn container_name(&self, replica: &str) -> String {
        format!("{}-{replica}", self.project)
    }

    pub(super) async fn ensure_network(&self, engine: &Engine) -> Result<()> {
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

    /// Creates (when missing) and starts (when stopped) `replica`; says which it did.
    pub(super) async fn start_replica(
        &self,
        engine: &Engine,
        replica: &Replica,
    ) -> Result<&'static str> {
        let container = self.container_name(&replica.name);
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
        let volume = match volume(replica.service) {
            Some((volume, _)) => Some(self.ensure_volume(engine, volume).await?),
            None => None,
        };
        let body = spec::container(
            &self.context.stack,
            replica,
            &self.project,
            &self.network(),
            volume.as_deref(),
            &self.wiring(),
        );
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
                    replica.host_port
                )
            })?;
        Ok("created")
    }

    /// Waits until the container's health check passes; a container that exits or stays
    /// unhealthy fails with the tail of its log.
    pub(super) async fn wait_healthy(
        &self,
        engine: &Engine,
        replica: &str,
        timeout: Duration,
        observer: &mut dyn Observer,
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
            if exited || started.elapsed() > timeout {
                let why = if exited {
                    format!("exited with code {}", state.exit_code.unwrap_or(-1))
                } else {
                    format!("not healthy after {} s", timeout.as_secs())
                };
                observer.failed(replica, &why);
                let tail = self.log_tail(engine, &container, 20).await;
                bail!(
                    "{replica} {why}. Last lines of its log:\n{tail}\nMore: `ptrack logs {replica}`"
                );
            }
            observer.update(
                replica,
                &format!(
                    "waiting for health ({})",
                    health.map_or("starting".into(), |h| h.to_string())
                ),
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub(super) async fn log_tail(&self, engine: &Engine, container: &str, lines: usize) -> String {
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
    pub(super) async fn containers(
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
    pub(super) async fn remove_containers(
        &self,
        engine: &Engine,
        observer: &mut dyn Observer,
    ) -> Result<()> {
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
            observer.note(&format!("  {replica:<12} removed"));
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

    /// Removes every volume of the project (`clean`): the data goes.
    pub(super) async fn remove_volumes(
        &self,
        engine: &Engine,
        observer: &mut dyn Observer,
    ) -> Result<()> {
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
            observer.note(&format!("  volume {} removed", volume.name));
        }
        Ok(())
    }
}
