//! What a container of the docker runtime is, computed from the stack description: its
//! image, environment, health check, published port, volume and labels. compose.yaml
//! agrees with these (`cli/tests/compose_agrees.rs` calls them), so the docker runtime
//! and compose.yaml cannot drift.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};

use crate::stack::{
    Probe, Replica, Service, ServiceName, Stack, Wiring, database_url, in_network_url,
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
        events_api_url: in_network_url(ServiceName::EventsApi),
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

/// The container of `replica`: labelled for `project`, on `network`, with `volume` (the
/// named volume made for its service, if it keeps data) mounted.
pub fn container(
    stack: &Stack,
    replica: &Replica,
    project: &str,
    network: &str,
    volume_name: Option<&str>,
) -> ContainerCreateBody {
    let service = stack.service(replica.service);
    let port = service.port;
    let labels = HashMap::from([
        (STACK_LABEL.to_owned(), project.to_owned()),
        (SERVICE_LABEL.to_owned(), service.name.to_string()),
        (REPLICA_LABEL.to_owned(), replica.name.clone()),
    ]);
    let env: Vec<String> = container_env(stack, service.name, &wiring())
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut host = HostConfig {
        network_mode: Some(network.to_owned()),
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::ON_FAILURE),
            maximum_retry_count: Some(5),
        }),
        ..Default::default()
    };
    if published(service.name) {
        host.port_bindings = Some(HashMap::from([(
            format!("{port}/tcp"),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(replica.host_port.to_string()),
            }]),
        )]));
    }
    if let (Some(name), Some((_, path))) = (volume_name, volume(service.name)) {
        host.binds = Some(vec![format!("{name}:{path}")]);
    }
    ContainerCreateBody {
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
                network.to_owned(),
                EndpointSettings {
                    aliases: Some(vec![service.name.to_string()]),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    }
}
