//! compose.yaml runs the same stack as `ptrack up --runtime docker`: the same services,
//! images, environment, health checks, published ports, volumes and start order, all
//! computed from the stack description (`ptrack::stack`) by the docker runtime's own
//! functions. Change cli/src/stack.rs or compose.yaml alone and this fails.

use std::collections::BTreeMap;

use ptrack::{
    runtime::docker,
    stack::{ServiceName, Stack},
};
use serde_yaml::Value;

fn compose() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../compose.yaml");
    let text = std::fs::read_to_string(path).expect("compose.yaml at the workspace root");
    serde_yaml::from_str(&text).expect("compose.yaml is YAML")
}

/// A scalar as compose reads it: `"3"`, `3` and `true` are all strings to it.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("expected a list, found {value:?}"))
        .iter()
        .map(scalar)
        .collect()
}

fn seconds(text: &str) -> u64 {
    text.strip_suffix('s')
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!("durations in compose.yaml are whole seconds like 2s, not {text}")
        })
}

#[test]
fn compose_has_exactly_the_stack_services() {
    let compose = compose();
    let stack = Stack::default();
    let mut in_compose: Vec<String> = compose["services"]
        .as_mapping()
        .expect("a services mapping")
        .keys()
        .map(scalar)
        .collect();
    let mut in_stack: Vec<String> = stack.services.iter().map(|s| s.name.to_string()).collect();
    in_compose.sort();
    in_stack.sort();
    assert_eq!(in_compose, in_stack);
}

#[test]
fn each_service_agrees_with_the_docker_runtime() {
    // The environment a user's shell may set must not change what is compared.
    assert!(
        std::env::var_os("PTRACK_KAFKA_IDEMPOTENCE").is_none(),
        "unset PTRACK_KAFKA_IDEMPOTENCE to run this test"
    );
    let compose = compose();
    let stack = Stack::default();
    let wiring = docker::wiring();
    for service in &stack.services {
        let name = service.name.as_str();
        let entry = &compose["services"][name];

        assert_eq!(scalar(&entry["image"]), service.image, "{name}: image");
        if service.binary.is_some() {
            assert_eq!(
                scalar(&entry["build"]["target"]),
                name,
                "{name}: Dockerfile target"
            );
        }

        let env: BTreeMap<String, String> = entry["environment"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{name}: environment as a mapping"))
            .iter()
            .map(|(k, v)| (scalar(k), scalar(v)))
            .collect();
        assert_eq!(
            env,
            docker::container_env(&stack, service.name, &wiring),
            "{name}: environment"
        );

        let health = &entry["healthcheck"];
        assert_eq!(
            strings(&health["test"]),
            docker::health_test(service),
            "{name}: health check"
        );
        assert_eq!(
            seconds(&scalar(&health["interval"])),
            docker::HEALTH_INTERVAL.as_secs(),
            "{name}: health check interval"
        );
        assert_eq!(
            seconds(&scalar(&health["timeout"])),
            docker::HEALTH_TIMEOUT.as_secs(),
            "{name}: health check timeout"
        );
        assert_eq!(
            scalar(&health["retries"]),
            docker::HEALTH_RETRIES.to_string(),
            "{name}: health check retries"
        );

        let ports = if entry["ports"].is_null() {
            vec![]
        } else {
            strings(&entry["ports"])
        };
        let expected: Vec<String> = if docker::published(service.name) {
            vec![format!(
                "{}:{}",
                stack.host_port(service.name, 0),
                service.port
            )]
        } else {
            vec![]
        };
        assert_eq!(ports, expected, "{name}: published ports");

        let volumes = if entry["volumes"].is_null() {
            vec![]
        } else {
            strings(&entry["volumes"])
        };
        let expected: Vec<String> = docker::volume(service.name)
            .map(|(volume, path)| format!("{volume}:{path}"))
            .into_iter()
            .collect();
        assert_eq!(volumes, expected, "{name}: volumes");
        for volume in &expected {
            let (volume, _) = volume.split_once(':').unwrap();
            assert!(
                compose["volumes"].get(volume).is_some(),
                "{volume} is declared under the top-level volumes"
            );
        }

        let mut depends: Vec<(String, String)> = entry["depends_on"]
            .as_mapping()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (scalar(k), scalar(&v["condition"])))
                    .collect()
            })
            .unwrap_or_default();
        depends.sort();
        let mut expected: Vec<(String, String)> = service
            .depends_on
            .iter()
            .map(|d| (d.to_string(), "service_healthy".to_owned()))
            .collect();
        expected.sort();
        assert_eq!(depends, expected, "{name}: depends_on");
    }
}

#[test]
fn the_broker_is_kafka_in_kraft_mode() {
    let compose = compose();
    let broker = &compose["services"][ServiceName::Broker.as_str()];
    assert!(scalar(&broker["image"]).starts_with("apache/kafka:"));
    assert!(scalar(&broker["environment"]["KAFKA_PROCESS_ROLES"]).contains("controller"));
}

/// The Dockerfile has one target per project service, named like the service, that runs
/// the service's binary and exposes its port: what compose.yaml's `build.target` and
/// `ptrack up --build` build.
#[test]
fn the_dockerfile_has_a_target_per_project_service() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../Dockerfile");
    let dockerfile = std::fs::read_to_string(path).expect("a Dockerfile at the workspace root");
    let stack = Stack::default();
    for service in stack.services.iter().filter(|s| s.binary.is_some()) {
        let name = service.name.as_str();
        let binary = service.binary.unwrap();
        let stage: Vec<&str> = dockerfile
            .split("\nFROM ")
            .find(|stage| {
                stage
                    .lines()
                    .next()
                    .is_some_and(|l| l.ends_with(&format!(" AS {name}")))
            })
            .unwrap_or_else(|| panic!("the Dockerfile has no `FROM ... AS {name}` stage"))
            .lines()
            .collect();
        assert!(
            stage.contains(&format!("ENTRYPOINT [\"{binary}\"]").as_str()),
            "the {name} target runs {binary}"
        );
        assert!(
            stage.contains(&format!("EXPOSE {}", service.port).as_str()),
            "the {name} target exposes {}",
            service.port
        );
        assert!(
            stage
                .iter()
                .any(|l| l.starts_with("COPY --from=build") && l.contains(binary)),
            "the {name} target copies {binary} from the build stage"
        );
    }
}
