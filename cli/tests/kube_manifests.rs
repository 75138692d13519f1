//! kube/ as a cluster would see it: `kubectl kustomize kube/` builds, every object parses
//! into the Kubernetes API types (k8s-openapi) with no field left over, the objects fit
//! together (selectors, named ports, config keys), and they run the stack the description
//! in `ptrack::stack` describes: same images, ports, probes and environment. And the
//! conventions: generated Secret and ConfigMap, `app.kubernetes.io/*` labels, Prometheus
//! annotations, no fixed replicas under an autoscaler, non-root users, read-only root
//! filesystems, resource requests and limits, startup probes.
//!
//! No cluster runs here; `kubectl kustomize` builds offline. It builds a copy of kube/
//! with the `credentials.env` that `ptrack up --runtime kube` writes (not in git).

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, StatefulSet},
        autoscaling::v2::HorizontalPodAutoscaler,
        core::v1::{ConfigMap, Container, Namespace, PodTemplateSpec, Probe, Secret, Service},
    },
    apimachinery::pkg::{apis::meta::v1::LabelSelector, util::intstr::IntOrString},
};
use ptrack::{
    runtime::{
        credentials::{self, Credentials},
        kube,
    },
    stack::{self, ServiceName, Stack},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_yaml::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The credentials the copy of kube/ gets, as `ptrack up --runtime kube` writes them.
const PASSWORD: &str = "Pw0rdGeneratedForTheTest";

fn test_credentials() -> Credentials {
    Credentials {
        postgres_password: credentials::Secret::new(PASSWORD),
        postgres_admin_password: credentials::Secret::new("unused"),
        write_key: Some(credentials::Secret::new("WriteKeyForTheTest")),
        events_api_token: Some(credentials::Secret::new("TokenForTheTest")),
    }
}

/// A copy of kube/ with `credentials.env` written by the kube runtime's own function.
fn kube_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(workspace().join("kube")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name != kube::CREDENTIALS_FILE {
            std::fs::copy(entry.path(), dir.path().join(name)).unwrap();
        }
    }
    assert!(kube::ensure_credentials_env(dir.path(), &test_credentials()).unwrap());
    dir
}

/// What `kubectl apply -k kube/` would send, one YAML value per object.
fn kustomize() -> Vec<Value> {
    let copy = kube_copy();
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(copy.path())
        .output()
        .expect("kubectl runs (install it: https://kubernetes.io/docs/tasks/tools/)");
    assert!(
        output.status.success(),
        "kubectl kustomize kube/ failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("kustomize prints UTF-8");
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).expect("kustomize prints YAML"))
        .filter(|doc| !doc.is_null())
        .collect()
}

use serde::Deserialize as _;

/// Parses `doc` into `T` and back: a field the API type does not know (a typo, a
/// field at the wrong level) is dropped on the way and shows up as missing.
fn typed<T: DeserializeOwned + Serialize>(doc: &Value) -> T {
    let name = describe(doc);
    let object: T = serde_yaml::from_value(doc.clone())
        .unwrap_or_else(|err| panic!("{name} does not parse: {err}"));
    let back = serde_yaml::to_value(&object).expect("API objects serialize");
    let mut lost = Vec::new();
    dropped(doc, &back, String::new(), &mut lost);
    assert!(
        lost.is_empty(),
        "{name}: its API type does not know {lost:?} (a typo or a field at the wrong level?)"
    );
    object
}

/// The paths of `written` that are missing or different in `parsed`.
fn dropped(written: &Value, parsed: &Value, path: String, out: &mut Vec<String>) {
    match (written, parsed) {
        (Value::Mapping(w), Value::Mapping(p)) => {
            for (key, value) in w {
                let key_text = key.as_str().unwrap_or("?");
                let here = format!("{path}.{key_text}");
                match p.get(key) {
                    Some(other) => dropped(value, other, here, out),
                    None => out.push(here),
                }
            }
        }
        (Value::Sequence(w), Value::Sequence(p)) if w.len() == p.len() => {
            for (i, (a, b)) in w.iter().zip(p).enumerate() {
                dropped(a, b, format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a == b => {}
        _ => out.push(path),
    }
}

fn describe(doc: &Value) -> String {
    format!(
        "{} {}",
        doc["kind"].as_str().unwrap_or("?"),
        doc["metadata"]["name"].as_str().unwrap_or("?")
    )
}

#[derive(Default)]
struct Objects {
    namespaces: Vec<Namespace>,
    config_maps: Vec<ConfigMap>,
    secrets: Vec<Secret>,
    services: Vec<Service>,
    deployments: Vec<Deployment>,
    stateful_sets: Vec<StatefulSet>,
    autoscalers: Vec<HorizontalPodAutoscaler>,
}

fn objects() -> Objects {
    let mut all = Objects::default();
    for doc in kustomize() {
        match doc["kind"].as_str() {
            Some("Namespace") => all.namespaces.push(typed(&doc)),
            Some("ConfigMap") => all.config_maps.push(typed(&doc)),
            Some("Secret") => {
                // kustomize wraps long base64 values over lines, which the API server's
                // decoder (Go's) skips; k8s-openapi's does not.
                let mut doc = doc;
                if let Some(data) = doc.get_mut("data").and_then(Value::as_mapping_mut) {
                    for (_, value) in data.iter_mut() {
                        if let Some(text) = value.as_str() {
                            *value = Value::String(text.split_whitespace().collect());
                        }
                    }
                }
                all.secrets.push(typed(&doc))
            }
            Some("Service") => all.services.push(typed(&doc)),
            Some("Deployment") => all.deployments.push(typed(&doc)),
            Some("StatefulSet") => all.stateful_sets.push(typed(&doc)),
            Some("HorizontalPodAutoscaler") => all.autoscalers.push(typed(&doc)),
            _ => panic!(
                "{}: add its kind to this test so it gets checked",
                describe(&doc)
            ),
        }
    }
    all
}

impl Objects {
    /// Every pod template, by workload name.
    fn workloads(&self) -> BTreeMap<String, &PodTemplateSpec> {
        let deployments = self
            .deployments
            .iter()
            .map(|d| (d.metadata.name.clone().unwrap(), &d.spec.template));
        let stateful_sets = self
            .stateful_sets
            .iter()
            .map(|s| (s.metadata.name.clone().unwrap(), &s.spec.template));
        deployments.chain(stateful_sets).collect()
    }

    /// The one container of workload `name`.
    fn container(&self, name: &str) -> &Container {
        let workloads = self.workloads();
        let template = workloads
            .get(name)
            .unwrap_or_else(|| panic!("kube/ has no Deployment or StatefulSet named {name}"));
        let containers = &template.spec.as_ref().unwrap().containers;
        assert_eq!(containers.len(), 1, "{name} runs one container");
        &containers[0]
    }

    fn config_map(&self, name: &str) -> &BTreeMap<String, String> {
        let map = self
            .config_maps
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("kube/ has no ConfigMap {name}"));
        map.data.as_ref().unwrap()
    }

    /// A Secret's values (`data` is base64 in YAML; the API type decodes it).
    fn secret(&self, name: &str) -> BTreeMap<String, String> {
        let secret = self
            .secrets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("kube/ has no Secret {name}"));
        let mut values: BTreeMap<String, String> = secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), String::from_utf8(v.0.clone()).unwrap()))
            .collect();
        values.extend(secret.string_data.clone().unwrap_or_default());
        values
    }

    /// The one ConfigMap kustomize generated as `name` (its name gets a content hash).
    fn generated_config_map(&self, name: &str) -> &BTreeMap<String, String> {
        let found: Vec<_> = self
            .config_maps
            .iter()
            .filter(|c| {
                c.metadata
                    .name
                    .as_deref()
                    .and_then(|n| n.strip_prefix(name))
                    .is_some_and(|hash| hash.starts_with('-') && hash.len() > 1)
            })
            .collect();
        assert_eq!(found.len(), 1, "one generated ConfigMap {name}-<hash>");
        found[0].data.as_ref().unwrap()
    }

    /// The environment `container` sees, with config map and secret references resolved.
    fn env(&self, container: &Container) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for source in container.env_from.iter().flatten() {
            if let Some(map) = &source.config_map_ref {
                env.extend(self.config_map(&map.name).clone());
            }
            if let Some(secret) = &source.secret_ref {
                env.extend(self.secret(&secret.name));
            }
        }
        for var in container.env.iter().flatten() {
            let value = match (&var.value, &var.value_from) {
                (Some(value), None) => value.clone(),
                (None, Some(from)) => {
                    let key = from
                        .secret_key_ref
                        .as_ref()
                        .unwrap_or_else(|| panic!("{}: only secret references", var.name));
                    self.secret(&key.name).remove(&key.key).unwrap_or_else(|| {
                        panic!("{}: Secret {} has no key {}", var.name, key.name, key.key)
                    })
                }
                _ => panic!("{} has neither a value nor a reference", var.name),
            };
            env.insert(var.name.clone(), value);
        }
        env
    }
}

/// The port a probe or service names, as a number, through the container's named ports.
fn port_number(container: &Container, port: &IntOrString) -> i32 {
    match port {
        IntOrString::Int(port) => *port,
        IntOrString::String(name) => {
            container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name))
                .unwrap_or_else(|| panic!("{} has no port named {name}", container.name))
                .container_port
        }
    }
}

/// The stack description's probe, as kube/ should write it.
fn assert_probe(container: &Container, probe: Option<&Probe>, expected: stack::Probe, port: u16) {
    let what = format!("{}'s probe", container.name);
    let probe = probe.unwrap_or_else(|| panic!("{what} is missing"));
    match expected {
        stack::Probe::Http { path } => {
            let http = probe
                .http_get
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: expected GET {path}"));
            assert_eq!(http.path.as_deref(), Some(path), "{what}");
            assert_eq!(
                port_number(container, &http.port),
                i32::from(port),
                "{what}"
            );
        }
        stack::Probe::Tcp => {
            let tcp = probe
                .tcp_socket
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: expected a TCP check"));
            assert_eq!(port_number(container, &tcp.port), i32::from(port), "{what}");
        }
    }
}

#[test]
fn every_object_parses_into_the_api_types() {
    let all = objects();
    assert_eq!(all.namespaces.len(), 1);
    assert_eq!(
        all.deployments.len(),
        4,
        "collector, processor, events-api, web-demo"
    );
    assert_eq!(all.stateful_sets.len(), 2, "broker, postgres");

    // Every manifest in kube/ is part of the kustomization: none is forgotten.
    let kustomization: Value = serde_yaml::from_str(
        &std::fs::read_to_string(workspace().join("kube/kustomization.yaml")).unwrap(),
    )
    .unwrap();
    let listed: BTreeSet<&str> = kustomization["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for entry in std::fs::read_dir(workspace().join("kube")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            assert!(
                listed.contains(name.as_str()),
                "kube/{name} is not in kustomization.yaml"
            );
        }
    }
}

#[test]
fn everything_lives_in_the_ptrack_namespace() {
    let all = objects();
    assert_eq!(all.namespaces[0].metadata.name.as_deref(), Some("ptrack"));
    let namespaced = all
        .config_maps
        .iter()
        .map(|o| &o.metadata)
        .chain(all.secrets.iter().map(|o| &o.metadata))
        .chain(all.services.iter().map(|o| &o.metadata))
        .chain(all.deployments.iter().map(|o| &o.metadata))
        .chain(all.stateful_sets.iter().map(|o| &o.metadata))
        .chain(all.autoscalers.iter().map(|o| &o.metadata));
    for meta in namespaced {
        assert_eq!(
            meta.namespace.as_deref(),
            Some("ptrack"),
            "{:?} is outside the ptrack namespace",
            meta.name
        );
    }
}

/// Every label the selector of workload `name` matches on is on its pod template: what a
/// Deployment and a StatefulSet alike need to own their pods.
fn assert_selects_own_pods(
    name: Option<&str>,
    selector: &LabelSelector,
    template: &PodTemplateSpec,
) {
    let labels = template.metadata.as_ref().unwrap().labels.as_ref().unwrap();
    for (k, v) in selector.match_labels.iter().flatten() {
        assert_eq!(
            labels.get(k),
            Some(v),
            "{name:?}: its selector's {k}={v} does not match its pod template"
        );
    }
}

#[test]
fn services_select_workloads_and_their_ports_exist() {
    let all = objects();
    let workloads = all.workloads();
    for service in &all.services {
        let name = service.metadata.name.as_deref().unwrap();
        let spec = service.spec.as_ref().unwrap();
        let selector = spec.selector.as_ref().unwrap();
        let selected: Vec<_> = workloads
            .iter()
            .filter(|(_, template)| {
                let labels = template.metadata.as_ref().unwrap().labels.as_ref().unwrap();
                selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            })
            .collect();
        assert_eq!(selected.len(), 1, "Service {name} selects one workload");
        let container = &selected[0].1.spec.as_ref().unwrap().containers[0];
        for port in spec.ports.iter().flatten() {
            let target = port
                .target_port
                .clone()
                .unwrap_or(IntOrString::Int(port.port));
            assert_eq!(
                port_number(container, &target),
                port.port,
                "Service {name} port {}",
                port.port
            );
        }
    }
    // Each workload's selector matches its own pods.
    for deployment in &all.deployments {
        let spec = &deployment.spec;
        assert_selects_own_pods(
            deployment.metadata.name.as_deref(),
            &spec.selector,
            &spec.template,
        );
    }
    for set in &all.stateful_sets {
        let spec = &set.spec;
        assert_selects_own_pods(set.metadata.name.as_deref(), &spec.selector, &spec.template);
        let governing = spec.service_name.as_deref().unwrap();
        assert!(
            all.services
                .iter()
                .any(|s| s.metadata.name.as_deref() == Some(governing)),
            "StatefulSet {:?} names Service {governing}, which does not exist",
            set.metadata.name
        );
    }
}

#[test]
fn workloads_run_the_stack_description() {
    let all = objects();
    let stack = Stack::default();
    let wiring = kube::wiring(PASSWORD, test_credentials().service_credentials().unwrap());
    for service in &stack.services {
        let name = service.name.as_str();
        let container = all.container(name);
        assert_eq!(
            container.image.as_deref(),
            Some(service.image.as_str()),
            "{name}'s image"
        );
        let ports: Vec<i32> = container
            .ports
            .iter()
            .flatten()
            .map(|p| p.container_port)
            .collect();
        assert!(
            ports.contains(&i32::from(service.port)),
            "{name} listens on {}",
            service.port
        );
        assert_probe(
            container,
            container.readiness_probe.as_ref(),
            service.readiness,
            service.port,
        );
        assert_probe(
            container,
            container.liveness_probe.as_ref(),
            service.liveness,
            service.port,
        );
        // A slow first start (a JVM, an initdb) is the startup probe's, so the liveness
        // probe needs no long initial delay.
        assert_probe(
            container,
            container.startup_probe.as_ref(),
            service.liveness,
            service.port,
        );
        assert!(
            container
                .liveness_probe
                .as_ref()
                .unwrap()
                .initial_delay_seconds
                .is_none(),
            "{name}: the startup probe holds the liveness probe back"
        );

        let env = all.env(container);
        let listen = format!("0.0.0.0:{}", service.port).parse().unwrap();
        let mut expected = stack.env(service.name, listen, &wiring);
        expected.extend(kube::extra_env(service.name));
        assert_eq!(env, expected, "{name}'s environment");
    }
}

#[test]
fn postgres_keeps_data_on_a_volume_and_credentials_in_a_secret() {
    let all = objects();
    let set = all
        .stateful_sets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("postgres"))
        .expect("a postgres StatefulSet");
    let spec = &set.spec;
    let claims = spec
        .volume_claim_templates
        .as_ref()
        .expect("a PVC template");
    let claim = claims[0].metadata.name.as_deref().unwrap();
    let container = all.container("postgres");
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == claim)
        .expect("the claim is mounted");
    assert_eq!(mount.mount_path, "/var/lib/postgresql/data");
    // The password is not written into the workload: it comes from the Secret.
    assert!(
        container
            .env
            .iter()
            .flatten()
            .all(|v| v.name != "POSTGRES_PASSWORD" || v.value.is_none()),
        "POSTGRES_PASSWORD must come from the Secret"
    );
    let from_secret = container
        .env
        .iter()
        .flatten()
        .filter(|v| v.name == "POSTGRES_PASSWORD")
        .filter_map(|v| v.value_from.as_ref()?.secret_key_ref.as_ref())
        .any(|key| all.secret(&key.name).get(&key.key).map(String::as_str) == Some(PASSWORD));
    assert!(
        from_secret,
        "postgres reads its password from the generated Secret"
    );
}

#[test]
fn the_broker_is_kafka_in_kraft_mode_on_a_volume() {
    let all = objects();
    let container = all.container("broker");
    assert!(
        container
            .image
            .as_deref()
            .unwrap()
            .starts_with("apache/kafka:")
    );
    let env = all.env(container);
    assert!(
        env["KAFKA_PROCESS_ROLES"].contains("controller"),
        "KRaft: the node is its own controller"
    );
    assert!(env.keys().all(|k| !k.contains("ZOOKEEPER")));
    let set = all
        .stateful_sets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("broker"))
        .unwrap();
    let claims = set.spec.volume_claim_templates.as_ref().unwrap();
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == claims[0].metadata.name.as_deref().unwrap())
        .expect("the broker's claim is mounted");
    assert!(
        env["KAFKA_LOG_DIRS"].starts_with(&mount.mount_path),
        "the Kafka log is on the volume"
    );
}

#[test]
fn the_collector_autoscales_and_processors_stop_at_the_partition_count() {
    let all = objects();
    let partitions: i32 = all.generated_config_map("ptrack-config")["KAFKA_PARTITIONS"]
        .parse()
        .unwrap();
    let autoscaler = |name: &str| {
        &all.autoscalers
            .iter()
            .find(|h| h.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no HorizontalPodAutoscaler for {name}"))
            .spec
    };
    let collector = autoscaler("collector");
    assert_eq!(collector.scale_target_ref.kind, "Deployment");
    assert_eq!(collector.scale_target_ref.name, "collector");
    assert!(collector.max_replicas > collector.min_replicas.unwrap_or(1));

    let processor = autoscaler("processor");
    assert_eq!(processor.scale_target_ref.name, "processor");
    assert_eq!(
        processor.max_replicas, partitions,
        "processor replicas beyond KAFKA_PARTITIONS would idle"
    );
    // The autoscalers own the replica counts: a fixed `replicas` would be reset by every
    // `kubectl apply`, fighting them.
    for hpa in &all.autoscalers {
        let target = &hpa.spec.scale_target_ref.name;
        let deployment = all
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_ref() == Some(target))
            .unwrap_or_else(|| panic!("the autoscaler's target {target} is a Deployment"));
        assert_eq!(
            deployment.spec.replicas, None,
            "{target}: no fixed replicas where an autoscaler owns the count"
        );
    }
    assert_eq!(
        partitions,
        Stack::default().partitions as i32,
        "kube/ and the stack description agree on the partition count"
    );
}

#[test]
fn credentials_and_settings_come_from_kustomize_generators() {
    // No Secret is written in a manifest: kustomize generates it from credentials.env,
    // which git ignores.
    for entry in std::fs::read_dir(workspace().join("kube")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                !text.contains("kind: Secret") && !text.contains("kind: ConfigMap"),
                "{}: Secrets and ConfigMaps come from the generators in kustomization.yaml",
                path.display()
            );
        }
    }
    let kustomization: Value = serde_yaml::from_str(
        &std::fs::read_to_string(workspace().join("kube/kustomization.yaml")).unwrap(),
    )
    .unwrap();
    let generator = |kind: &str, name: &str| -> Vec<String> {
        let found = kustomization[kind]
            .as_sequence()
            .unwrap_or_else(|| panic!("kustomization.yaml has a {kind}"))
            .iter()
            .find(|g| g["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("{kind} {name}"));
        assert!(
            found["literals"].is_null(),
            "{kind} {name}: values in files, not literals"
        );
        found["envs"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        generator("secretGenerator", "ptrack-credentials"),
        [kube::CREDENTIALS_FILE]
    );
    assert_eq!(
        generator("configMapGenerator", "ptrack-config"),
        [kube::CONFIG_FILE]
    );
    let ignored = Command::new("git")
        .args(["check-ignore", "-q", "kube/credentials.env"])
        .current_dir(workspace())
        .status()
        .unwrap();
    assert!(ignored.success(), "git ignores kube/credentials.env");

    // The generated names carry a hash of the content, and every reference follows it:
    // a new password or setting rolls the pods.
    let all = objects();
    assert_eq!(all.secrets.len(), 1);
    let secret_name = all.secrets[0].metadata.name.clone().unwrap();
    assert!(
        secret_name.starts_with("ptrack-credentials-"),
        "{secret_name}"
    );
    assert_eq!(
        all.secret(&secret_name).keys().collect::<Vec<_>>(),
        [
            "DATABASE_URL",
            "EVENTS_API_TOKEN",
            "POSTGRES_PASSWORD",
            "WRITE_KEY"
        ]
    );
    all.generated_config_map("ptrack-config");
    let other = kube_copy();
    let config = other.path().join(kube::CONFIG_FILE);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("KAFKA_IDEMPOTENCE=true", "KAFKA_IDEMPOTENCE=false"),
    )
    .unwrap();
    let rendered = Command::new("kubectl")
        .arg("kustomize")
        .arg(other.path())
        .output()
        .unwrap();
    let rendered = String::from_utf8(rendered.stdout).unwrap();
    let first = all.config_maps[0].metadata.name.clone().unwrap();
    assert!(
        !rendered.contains(&first) && rendered.contains("name: ptrack-config-"),
        "a changed setting gives the ConfigMap a new name, which rolls the pods"
    );
}

#[test]
fn workloads_follow_the_kubernetes_conventions() {
    let all = objects();
    let stack = Stack::default();
    for service in &stack.services {
        let name = service.name.as_str();
        let workloads = all.workloads();
        let template = workloads[name];
        let meta = template.metadata.as_ref().unwrap();
        let labels = meta.labels.as_ref().unwrap();
        for (key, value) in [
            ("app.kubernetes.io/name", Some(name)),
            ("app.kubernetes.io/part-of", Some("ptrack")),
            ("app.kubernetes.io/instance", Some("ptrack")),
            ("app.kubernetes.io/component", None),
        ] {
            let found = labels
                .get(key)
                .unwrap_or_else(|| panic!("{name}'s pods have no label {key}"));
            if let Some(value) = value {
                assert_eq!(found, value, "{name}: {key}");
            }
        }

        // Prometheus finds the services that serve /metrics.
        let annotations = meta.annotations.clone().unwrap_or_default();
        let metrics = matches!(
            service.name,
            ServiceName::Collector
                | ServiceName::Processor
                | ServiceName::EventsApi
                | ServiceName::WebDemo
        );
        if metrics {
            assert_eq!(annotations["prometheus.io/scrape"], "true", "{name}");
            assert_eq!(annotations["prometheus.io/port"], service.port.to_string());
            assert_eq!(annotations["prometheus.io/path"], "/metrics");
        } else {
            assert!(!annotations.contains_key("prometheus.io/scrape"), "{name}");
        }

        // A numeric non-root user; a read-only root filesystem, with emptyDirs where
        // the process must write (the broker's image writes its configuration at start).
        let pod = template.spec.as_ref().unwrap();
        let pod_security = pod.security_context.as_ref().unwrap();
        assert_eq!(pod_security.run_as_non_root, Some(true), "{name}");
        assert!(
            pod_security.run_as_user.is_some_and(|uid| uid > 0),
            "{name} runs as a numeric user"
        );
        let container = all.container(name);
        let security = container.security_context.as_ref().unwrap();
        assert_eq!(security.allow_privilege_escalation, Some(false), "{name}");
        if service.name != ServiceName::Broker {
            assert_eq!(security.read_only_root_filesystem, Some(true), "{name}");
            let mounts: Vec<&str> = container
                .volume_mounts
                .iter()
                .flatten()
                .map(|m| m.mount_path.as_str())
                .collect();
            assert!(mounts.contains(&"/tmp"), "{name} has a writable /tmp");
            for mount in container.volume_mounts.iter().flatten() {
                let is_volume = pod
                    .volumes
                    .iter()
                    .flatten()
                    .any(|v| v.name == mount.name && v.empty_dir.is_some());
                let is_claim = all.stateful_sets.iter().any(|s| {
                    s.spec
                        .volume_claim_templates
                        .iter()
                        .flatten()
                        .any(|c| c.metadata.name.as_deref() == Some(&mount.name))
                });
                assert!(
                    is_volume || is_claim,
                    "{name}: {} is an emptyDir or a claim",
                    mount.name
                );
            }
        }

        // Requests and limits for CPU and memory.
        let resources = container.resources.as_ref().unwrap();
        for what in [&resources.requests, &resources.limits] {
            let what = what.as_ref().unwrap_or_else(|| panic!("{name}: resources"));
            assert!(
                what.contains_key("cpu") && what.contains_key("memory"),
                "{name}"
            );
        }
    }
}

/// A stand-in for `kubectl` (no cluster runs here): it records each call's arguments,
/// answers `get pods -o json` with two pods, and fails `rollout status` for the workload
/// named in `FAKE_KUBECTL_FAIL_ROLLOUT`.
const FAKE_KUBECTL: &str = r#"#!/bin/bash
printf '%s\n' "$*" >>"$FAKE_KUBECTL_LOG"
case "$*" in
  *"get pods"*)
    cat <<'JSON'
{"items": [
  {"metadata": {"name": "broker-0", "labels": {"app.kubernetes.io/name": "broker"}},
   "status": {"phase": "Running", "podIP": "10.1.0.7", "startTime": "2026-01-01T00:00:00Z",
              "conditions": [{"type": "Ready", "status": "True"}]}},
  {"metadata": {"name": "collector-5d9f-x2x", "labels": {"app.kubernetes.io/name": "collector"}},
   "status": {"phase": "Running", "podIP": "10.1.0.9",
              "conditions": [{"type": "Ready", "status": "False"}]}}
]}
JSON
    ;;
  *"rollout status"*)
    if [ -n "${FAKE_KUBECTL_FAIL_ROLLOUT:-}" ] && [[ "$*" == *"$FAKE_KUBECTL_FAIL_ROLLOUT"* ]]; then
      echo "error: timed out waiting for the condition" >&2
      exit 1
    fi
    ;;
  *" logs "*) echo "collector log line" ;;
esac
"#;

struct FakeKubectl {
    dir: tempfile::TempDir,
    /// A copy of kube/ without credentials.env: `up` writes one there.
    manifests: tempfile::TempDir,
}

impl FakeKubectl {
    fn new() -> Self {
        let manifests = kube_copy();
        std::fs::remove_file(manifests.path().join(kube::CREDENTIALS_FILE)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let kubectl = bin.join("kubectl");
        std::fs::write(&kubectl, FAKE_KUBECTL).unwrap();
        std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir, manifests }
    }

    fn ptrack(&self, args: &[&str], fail_rollout: Option<&str>) -> std::process::Output {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = common::ptrack();
        command
            .current_dir(workspace())
            .env("PATH", path)
            .env("PTRACK_DATA_DIR", self.dir.path().join("data"))
            .env("FAKE_KUBECTL_LOG", self.dir.path().join("calls"))
            .env_remove("PTRACK_KUBECTL")
            .env("PTRACK_KUBE_DIR", self.manifests.path());
        if let Some(workload) = fail_rollout {
            command.env("FAKE_KUBECTL_FAIL_ROLLOUT", workload);
        }
        common::run(command, args)
    }

    /// The kubectl calls since the last look.
    fn calls(&self) -> Vec<String> {
        let path = self.dir.path().join("calls");
        let calls = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        calls.lines().map(str::to_owned).collect()
    }
}

#[test]
fn ptrack_drives_kubectl() {
    let kubectl = FakeKubectl::new();
    let up = kubectl.ptrack(&["up", "--runtime", "kube", "--scale", "processor=2"], None);
    assert!(up.status.success());
    let calls = kubectl.calls();
    let apply = calls
        .iter()
        .position(|c| c.starts_with("apply -k "))
        .expect("kubectl apply -k");
    assert!(
        Path::new(calls[apply].trim_start_matches("apply -k "))
            .join("kustomization.yaml")
            .is_file(),
        "applies the kube/ folder: {}",
        calls[apply]
    );
    // `up` wrote the Secret's input from the data folder's generated credentials.
    let written = kubectl.manifests.path().join(kube::CREDENTIALS_FILE);
    let text = std::fs::read_to_string(&written).unwrap();
    let saved = Credentials::load(&kubectl.dir.path().join("data"))
        .unwrap()
        .expect("up generated the credentials");
    assert!(text.contains(&format!(
        "WRITE_KEY={}",
        saved.write_key.as_ref().unwrap().expose()
    )));
    assert!(text.contains(&format!(
        "POSTGRES_PASSWORD={}",
        saved.postgres_password.expose()
    )));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&written).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let rest: Vec<&str> = calls[apply + 1..].iter().map(String::as_str).collect();
    assert_eq!(
        rest,
        [
            "-n ptrack scale deployment/processor --replicas 2",
            r#"-n ptrack patch hpa/processor --type merge -p {"spec":{"minReplicas":2}}"#,
            "-n ptrack rollout status statefulset/broker --timeout=300s",
            "-n ptrack rollout status statefulset/postgres --timeout=300s",
            "-n ptrack rollout status deployment/processor --timeout=300s",
            "-n ptrack rollout status deployment/events-api --timeout=300s",
            "-n ptrack rollout status deployment/collector --timeout=300s",
            "-n ptrack rollout status deployment/web-demo --timeout=300s",
        ]
    );

    // The runtime is remembered: status, down and clean need no --runtime.
    let status = kubectl.ptrack(&["status", "--json"], None);
    assert!(status.status.success());
    assert_eq!(
        kubectl.calls(),
        ["-n ptrack get pods -l app.kubernetes.io/part-of=ptrack -o json"]
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["runtime"], "kube");
    assert_eq!(
        status["all_healthy"], false,
        "the collector pod is not ready"
    );
    let pods: Vec<(&str, &str, &str)> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["health"].as_str().unwrap(),
                s["address"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pods,
        [
            ("broker-0", "healthy", "10.1.0.7:9092"),
            ("collector-5d9f-x2x", "unhealthy", "10.1.0.9:8000")
        ]
    );

    let logs = kubectl.ptrack(&["logs", "collector", "--tail", "5"], None);
    assert!(logs.status.success());
    assert_eq!(
        kubectl.calls(),
        ["-n ptrack logs -l app.kubernetes.io/name=collector --tail=5"]
    );
    assert!(String::from_utf8_lossy(&logs.stdout).contains("collector | collector log line"));

    assert!(kubectl.ptrack(&["down"], None).status.success());
    assert_eq!(
        kubectl.calls(),
        ["-n ptrack scale deployment,statefulset --all --replicas=0"],
        "down keeps the namespace and its volume claims"
    );

    assert!(kubectl.ptrack(&["clean", "--yes"], None).status.success());
    let calls = kubectl.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].starts_with("delete -k ") && calls[0].ends_with(" --ignore-not-found"));
}

#[test]
fn a_rollout_that_fails_names_the_service_and_shows_its_log() {
    let kubectl = FakeKubectl::new();
    let up = kubectl.ptrack(&["up", "--runtime", "kube"], Some("deployment/collector"));
    assert!(!up.status.success());
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(
        stderr.contains("collector did not become ready"),
        "{stderr}"
    );
    assert!(stderr.contains("collector log line"), "{stderr}");
    assert!(
        stderr.contains("kubectl -n ptrack describe deployment/collector"),
        "{stderr}"
    );
    let calls = kubectl.calls();
    assert!(
        !calls.iter().any(|c| c.contains(" scale ")),
        "nothing is scaled without --scale: {calls:?}"
    );
}
