//! What a container of the docker runtime is, computed from the stack description: its
//! image, environment, health check, published port, volume and labels. compose.yaml
//! agrees with these (`cli/tests/compose_agrees.rs` calls them), so the docker runtime
//! and compose.yaml cannot drift.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    time::Duration,
};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};

use crate::{
    runtime::credentials::ServiceCredentials,
    stack::{
        DB_NAME, DB_USER, Probe, Replica, Service, ServiceName, Stack, Wiring, database_url,
        in_network_url,
    },
};

pub const STACK_LABEL: &str = "dev.ptrack.stack";
pub const SERVICE_LABEL: &str = "dev.ptrack.service";
pub const REPLICA_LABEL: &str = "dev.ptrack.replica";

/// The health check timing of every container (compose.yaml has the same).
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(2);
/// Kafka's API-versions check starts a JVM: give it time on a busy machine.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);
pub const HEALTH_RETRIES: i64 = 60;
/// A container that exits with an error is restarted up to this many times
/// (`on-failure:5`; compose.yaml has the same).
pub const RESTART_RETRIES: i64 = 5;

/// The broker's second listener, for clients on the host (kcat, `ptrack tui`): published
/// on 127.0.0.1 at the broker's host port and advertised as `127.0.0.1:<host port>` (with
/// `up --stores-bind`, on that address and advertised as other machines reach it), while
/// the services keep `broker:9092` on the stack's network.
pub const BROKER_HOST_LISTENER_PORT: u16 = 29092;

/// How the services reach each other on the stack's network: by service name; with
/// the stack's generated PostgreSQL password and, `--secure`, its key and token.
pub fn wiring(database_password: &str, credentials: Option<ServiceCredentials>) -> Wiring {
    Wiring {
        kafka_brokers: format!("{}:9092", ServiceName::Broker),
        database_url: database_url(ServiceName::Postgres.as_str(), 5432, database_password),
        database_password: database_password.to_owned(),
        credentials,
        kafka_idempotence: std::env::var("PTRACK_KAFKA_IDEMPOTENCE")
            .map(|v| v.trim() != "false")
            .unwrap_or(true),
        events_api_url: in_network_url(ServiceName::EventsApi),
    }
}

/// What the broker's host listener advertises: `127.0.0.1:<host port>`, or where other
/// machines reach it with `up --stores-bind`.
fn broker_host_address(stack: &Stack) -> SocketAddr {
    SocketAddr::new(
        crate::stack::advertised_or_local(stack.bind.stores),
        stack.host_port(ServiceName::Broker, 0),
    )
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
    let listen = SocketAddr::from(([0, 0, 0, 0], port));
    let mut env = stack.env(name, listen, wiring);
    if name == ServiceName::Broker {
        // Apache Kafka keeps its log on the volume (its default is under /tmp).
        env.insert("KAFKA_LOG_DIRS".into(), "/var/lib/kafka/data".into());
        // A second listener for the host (see BROKER_HOST_LISTENER_PORT).
        env.insert(
            "KAFKA_LISTENERS".into(),
            format!("PLAINTEXT://:9092,CONTROLLER://:9093,HOST://:{BROKER_HOST_LISTENER_PORT}"),
        );
        env.insert(
            "KAFKA_ADVERTISED_LISTENERS".into(),
            format!(
                "PLAINTEXT://broker:9092,HOST://{}",
                broker_host_address(stack)
            ),
        );
        env.insert(
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP".into(),
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,HOST:PLAINTEXT".into(),
        );
        env.insert(
            "KAFKA_INTER_BROKER_LISTENER_NAME".into(),
            "PLAINTEXT".into(),
        );
    }
    env
}

/// The container health check, with each image's own tool: an API-versions call for
/// Apache Kafka (a TCP connection for another broker image, like the tansu stand-in),
/// `pg_isready` for PostgreSQL, and `curl` of the readiness URL (`/readyz`) for the
/// project's services (their images carry curl: see the Dockerfile).
pub fn health_test(service: &Service) -> Vec<String> {
    let port = service.port;
    let strings = |parts: &[&str]| parts.iter().map(|p| (*p).to_owned()).collect();
    match (service.name, service.readiness) {
        (ServiceName::Broker, _) if image(service).starts_with("apache/kafka") => strings(&[
            "CMD",
            "/opt/kafka/bin/kafka-broker-api-versions.sh",
            "--bootstrap-server",
            &format!("localhost:{port}"),
        ]),
        (ServiceName::Postgres, _) => strings(&[
            "CMD",
            "pg_isready",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            DB_USER,
            "-d",
            DB_NAME,
        ]),
        (_, Probe::Http { path }) => strings(&[
            "CMD",
            "curl",
            "-fsS",
            &format!("http://127.0.0.1:{port}{path}"),
        ]),
        (_, Probe::Tcp) => strings(&[
            "CMD",
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/127.0.0.1/{port}"),
        ]),
    }
}

/// Whether the service's port is published on the host (on 127.0.0.1 unless `up --bind`
/// or `--stores-bind`). All are:
/// the broker through its host listener.
pub fn published(_name: ServiceName) -> bool {
    true
}

/// The container port the host port of `name` leads to.
pub fn published_container_port(service: &Service) -> u16 {
    match service.name {
        ServiceName::Broker => BROKER_HOST_LISTENER_PORT,
        _ => service.port,
    }
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
    wiring: &Wiring,
) -> ContainerCreateBody {
    let service = stack.service(replica.service);
    let port = service.port;
    let labels = HashMap::from([
        (STACK_LABEL.to_owned(), project.to_owned()),
        (SERVICE_LABEL.to_owned(), service.name.to_string()),
        (REPLICA_LABEL.to_owned(), replica.name.clone()),
    ]);
    let env: Vec<String> = container_env(stack, service.name, wiring)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut host = HostConfig {
        network_mode: Some(network.to_owned()),
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::ON_FAILURE),
            maximum_retry_count: Some(RESTART_RETRIES),
        }),
        ..Default::default()
    };
    let published_port = published_container_port(service);
    if published(service.name) {
        host.port_bindings = Some(HashMap::from([(
            format!("{published_port}/tcp"),
            Some(vec![PortBinding {
                host_ip: Some(replica.bind.to_string()),
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
        exposed_ports: Some(
            [port, published_port]
                .into_iter()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .map(|p| format!("{p}/tcp"))
                .collect(),
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::credentials::Secret;

    #[test]
    fn containers_publish_on_loopback_with_the_generated_credentials() {
        let stack = Stack::new(3, &[], 100).unwrap();
        let wiring = wiring(
            "generated",
            Some(ServiceCredentials {
                write_key: Secret::new("key"),
                events_api_token: Secret::new("token"),
            }),
        );
        for replica in stack.replicas() {
            let body = container(&stack, &replica, "p", "net", None, &wiring);
            let host = body.host_config.unwrap();
            let bindings = host.port_bindings.unwrap();
            let (container_port, binding) = bindings.iter().next().unwrap();
            let binding = &binding.as_ref().unwrap()[0];
            assert_eq!(
                binding.host_ip.as_deref(),
                Some("127.0.0.1"),
                "{}",
                replica.name
            );
            assert_eq!(
                binding.host_port.as_deref(),
                Some(replica.host_port.to_string().as_str())
            );
            let env = body.env.unwrap();
            match replica.service {
                ServiceName::Broker => {
                    assert_eq!(container_port, "29092/tcp", "the HOST listener");
                    assert!(env.contains(
                        &"KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://broker:9092,HOST://127.0.0.1:9192"
                            .to_owned()
                    ));
                }
                ServiceName::Postgres => {
                    assert!(env.contains(&"POSTGRES_PASSWORD=generated".to_owned()));
                }
                ServiceName::Collector => {
                    assert!(env.contains(&"COLLECTOR_WRITE_KEYS=key".to_owned()));
                    assert!(!env.iter().any(|v| v.starts_with("DATABASE_URL=")));
                }
                ServiceName::Processor => assert!(env.contains(
                    &"DATABASE_URL=postgres://ptrack:generated@postgres:5432/ptrack".to_owned()
                )),
                _ => {}
            }
            assert_eq!(
                host.restart_policy.unwrap().maximum_retry_count,
                Some(RESTART_RETRIES)
            );
        }
    }

    #[test]
    fn bind_addresses_publish_elsewhere_and_the_broker_advertises_them() {
        let mut stack = Stack::new(3, &[], 0).unwrap();
        stack.bind = crate::stack::Bind {
            services: "0.0.0.0".parse().unwrap(),
            stores: "192.0.2.10".parse().unwrap(),
        };
        let wiring = wiring("generated", None);
        for replica in stack.replicas() {
            let body = container(&stack, &replica, "p", "net", None, &wiring);
            let bindings = body.host_config.unwrap().port_bindings.unwrap();
            let binding = &bindings.values().next().unwrap().as_ref().unwrap()[0];
            let expected = match replica.service {
                ServiceName::Broker | ServiceName::Postgres => "192.0.2.10",
                _ => "0.0.0.0",
            };
            assert_eq!(
                binding.host_ip.as_deref(),
                Some(expected),
                "{}",
                replica.name
            );
        }
        let env = container_env(&stack, ServiceName::Broker, &wiring);
        assert_eq!(
            env["KAFKA_ADVERTISED_LISTENERS"],
            "PLAINTEXT://broker:9092,HOST://192.0.2.10:9092"
        );
    }
}
