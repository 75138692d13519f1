//! compose.yaml runs the same stack as `ptrack up --runtime docker --secure`: the same
//! services, images, environment, health checks, restart policy, published ports (on
//! 127.0.0.1 unless PTRACK_BIND / PTRACK_STORES_BIND), volumes and start order, all computed from the stack description
//! (`ptrack::stack`) by the docker runtime's own functions. Change cli/src/stack.rs or
//! compose.yaml alone and this fails. Its credentials are compose variables from the
//! `.env` that `scripts/gen-credentials` writes, never fixed values.

use std::collections::BTreeMap;

use ptrack::{
    runtime::{
        credentials::{Secret, ServiceCredentials},
        docker,
    },
    stack::{ServiceName, Stack},
};

/// compose.yaml's credentials: variables of `.env`, which must be set.
fn variable(name: &str) -> String {
    format!("${{{name}:?run scripts/gen-credentials to write .env}}")
}

fn compose_wiring() -> ptrack::stack::Wiring {
    docker::wiring(
        &variable("POSTGRES_PASSWORD"),
        Some(ServiceCredentials {
            write_key: Secret::new(variable("PTRACK_WRITE_KEY")),
            events_api_token: Secret::new(variable("EVENTS_API_TOKEN")),
        }),
    )
}
use serde_yaml::Value;

fn compose() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../compose.yaml");
    let text = std::fs::read_to_string(path).expect("compose.yaml at the workspace root");
    serde_yaml::from_str(&text).expect("compose.yaml is YAML")
}

/// `text` as compose reads it with none of the optional variables set: `${VAR:-default}`
/// becomes `default` (`${VAR:?message}`, a required one, stays).
fn interpolated(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find('}').expect("a closed ${...}");
        let inner = &rest[start + 2..end];
        match inner.split_once(":-") {
            Some((_, default)) => out.push_str(default),
            None => out.push_str(&rest[start..=end]),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn interpolation_takes_defaults_and_keeps_required_variables() {
    assert_eq!(
        interpolated("PLAINTEXT://broker:9092,HOST://${PTRACK_STORES_BIND:-127.0.0.1}:9092"),
        "PLAINTEXT://broker:9092,HOST://127.0.0.1:9092"
    );
    assert_eq!(interpolated("${A:?set A}/${B:-b}"), "${A:?set A}/b");
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
    for var in ["PTRACK_KAFKA_IDEMPOTENCE", "PTRACK_IMAGE_BROKER"] {
        assert!(
            std::env::var_os(var).is_none(),
            "unset {var} to run this test"
        );
    }
    let compose = compose();
    let stack = Stack::default();
    let wiring = compose_wiring();
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
            .map(|(k, v)| (scalar(k), interpolated(&scalar(v))))
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
        // Loopback unless the user sets the variable that `ptrack up --bind` (the HTTP
        // services) or `--stores-bind` (PostgreSQL and the broker) mirror.
        let variable = match service.name {
            ServiceName::Broker | ServiceName::Postgres => "PTRACK_STORES_BIND",
            _ => "PTRACK_BIND",
        };
        let expected: Vec<String> = if docker::published(service.name) {
            vec![format!(
                "${{{variable}:-127.0.0.1}}:{}:{}",
                stack.host_port(service.name, 0),
                docker::published_container_port(service)
            )]
        } else {
            vec![]
        };
        assert_eq!(
            ports, expected,
            "{name}: published on 127.0.0.1 unless asked"
        );
        assert_eq!(
            scalar(&entry["restart"]),
            format!("on-failure:{}", docker::RESTART_RETRIES),
            "{name}: restart policy"
        );

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
fn credentials_are_generated_not_written_in_compose() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../compose.yaml")).unwrap();
    assert!(
        !text.contains("ptrack:ptrack@") && !text.contains("POSTGRES_PASSWORD: ptrack"),
        "no fixed password in compose.yaml"
    );
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let ignored = std::process::Command::new("git")
        .args(["check-ignore", "-q", ".env"])
        .current_dir(workspace)
        .status()
        .unwrap();
    assert!(
        ignored.success(),
        "git ignores the .env of generated credentials"
    );

    // scripts/gen-credentials writes every variable compose.yaml requires, once.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scripts")).unwrap();
    std::fs::create_dir_all(dir.path().join("kube")).unwrap();
    let script = dir.path().join("scripts/gen-credentials");
    std::fs::copy(format!("{workspace}/scripts/gen-credentials"), &script).unwrap();
    let run = || {
        let status = std::process::Command::new(&script).status().unwrap();
        assert!(status.success());
        std::fs::read_to_string(dir.path().join(".env")).unwrap()
    };
    let env = run();
    for var in ["POSTGRES_PASSWORD", "PTRACK_WRITE_KEY", "EVENTS_API_TOKEN"] {
        assert!(text.contains(&variable(var)), "compose.yaml requires {var}");
        let line = env
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{var}=")))
            .unwrap_or_else(|| panic!(".env has {var}"));
        assert_eq!(line.len(), 32, "{var}");
        assert!(line.chars().all(|c| c.is_ascii_alphanumeric()), "{var}");
    }
    assert_eq!(run(), env, "an existing .env is kept");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(dir.path().join(".env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let kube = std::fs::read_to_string(dir.path().join("kube/credentials.env")).unwrap();
    let password = kube
        .lines()
        .find_map(|l| l.strip_prefix("POSTGRES_PASSWORD="))
        .unwrap();
    assert!(kube.contains(&format!(
        "DATABASE_URL=postgres://ptrack:{password}@postgres:5432/ptrack"
    )));
    assert!(kube.contains("WRITE_KEY=") && kube.contains("EVENTS_API_TOKEN="));
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
