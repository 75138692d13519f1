//! The one description of the stack that every runtime (local processes, Docker, kube)
//! starts: which services exist, their images and binaries, ports, environment, health
//! checks, start order and replicas. A runtime decides only *where* things run and how
//! they reach each other (see [`Wiring`]); everything else comes from here, so the
//! runtimes cannot drift apart. It also offers the one way to enumerate replicas
//! ([`Stack::replicas`]), resolve a `ptrack logs` selector ([`Stack::select`]) and say
//! where things are reached from this machine ([`Endpoints`], and its listing for `up`).

use std::{
    collections::BTreeMap,
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    str::FromStr,
};

use anyhow::{Result, bail};
use ptrack_common::config::redact_url;
use serde::{Deserialize, Serialize};

use crate::runtime::credentials::ServiceCredentials;

/// The topic the collector writes and the processor reads.
pub const TOPIC: &str = ptrack_common::config::DEFAULT_KAFKA_TOPIC;
/// The consumer group every processor replica joins, so that they split the partitions.
pub const PROCESSOR_GROUP: &str = "ptrack-processor";
/// Database name and role of the stack's own PostgreSQL. Its password is generated at
/// the first `up` (`runtime::credentials`); on kube it comes from `kube/credentials.env`.
pub const DB_NAME: &str = "ptrack";
pub const DB_USER: &str = "ptrack";
/// The most replicas of one service: replica `i` listens on `port + 10 * i`, and 32 keeps
/// every replica's port clear of the other services' (see [`Stack::host_port`]).
pub const MAX_REPLICAS: u32 = 32;

/// The services, in start order: a service comes after everything it depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceName {
    Broker,
    Postgres,
    Processor,
    EventsApi,
    Collector,
    /// The demo shop and its analytics page: a customer's site, not part of the pipeline.
    WebDemo,
}

impl ServiceName {
    pub const ALL: [ServiceName; 6] = [
        Self::Broker,
        Self::Postgres,
        Self::Processor,
        Self::EventsApi,
        Self::Collector,
        Self::WebDemo,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Broker => "broker",
            Self::Postgres => "postgres",
            Self::Processor => "processor",
            Self::EventsApi => "events-api",
            Self::Collector => "collector",
            Self::WebDemo => "web-demo",
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceName {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match Self::ALL.into_iter().find(|n| n.as_str() == s) {
            Some(name) => Ok(name),
            None => bail!(
                "unknown service {s:?}: the services are {}",
                Self::ALL.map(|n| n.as_str()).join(", ")
            ),
        }
    }
}

/// Where the stack's ports are opened on this machine: `ptrack up --bind` for the HTTP
/// services, `--stores-bind` for PostgreSQL and the broker. Both are loopback unless
/// asked: the broker has no authentication, and PostgreSQL holds every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    pub services: IpAddr,
    pub stores: IpAddr,
}

impl Default for Bind {
    fn default() -> Self {
        Self {
            services: Self::LOOPBACK,
            stores: Self::LOOPBACK,
        }
    }
}

impl Bind {
    pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// The address the ports of `service` are opened on.
    pub fn of(&self, service: ServiceName) -> IpAddr {
        match service {
            ServiceName::Broker | ServiceName::Postgres => self.stores,
            _ => self.services,
        }
    }

    /// Whether a port of the stack is open to other machines.
    pub fn is_exposed(&self) -> bool {
        !self.services.is_loopback() || !self.stores.is_loopback()
    }
}

/// Where a client on this machine connects to a port opened on `ip`: `ip` itself, or
/// loopback for the unspecified address (`0.0.0.0`, `::`: every interface).
pub fn reach(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    }
}

/// Where *other machines* reach a port opened on `ip`: `ip` itself, or for the
/// unspecified address the address of the interface that routes to the internet (what
/// the broker advertises, what a remote browser posts to). The machine's host name is not
/// used: Debian maps it to 127.0.1.1 or 127.0.0.1.
pub fn advertised(ip: IpAddr) -> Result<IpAddr> {
    if !ip.is_unspecified() {
        return Ok(ip);
    }
    // Connecting a UDP socket only picks the route: nothing is sent.
    let (bind, probe): (SocketAddr, SocketAddr) = match ip {
        IpAddr::V4(_) => (([0, 0, 0, 0], 0).into(), ([198, 51, 100, 1], 9).into()),
        IpAddr::V6(_) => (
            (Ipv6Addr::UNSPECIFIED, 0).into(),
            ("2001:db8::1".parse::<Ipv6Addr>().expect("an address"), 9).into(),
        ),
    };
    let routed = std::net::UdpSocket::bind(bind)
        .and_then(|socket| socket.connect(probe).and_then(|()| socket.local_addr()))
        .map(|addr| addr.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified() && !ip.is_loopback());
    routed.ok_or_else(|| {
        anyhow::anyhow!(
            "{ip} opens the ports on every interface, but this machine has no route out to \
             tell other machines an address: bind a specific address instead"
        )
    })
}

/// [`advertised`], or where this machine reaches `ip` when there is no route out: the
/// address to hand out where failing is worse than a loopback-only answer.
pub fn advertised_or_local(ip: IpAddr) -> IpAddr {
    advertised(ip).unwrap_or_else(|_| reach(ip))
}

/// Every HTTP service's readiness: it works and its dependencies (broker, database)
/// answer. Kubernetes and compose route traffic and order start-up by it.
pub const READYZ: &str = "/readyz";
/// Every HTTP service's liveness: the process and its loops work, no dependency checked
/// (a database outage must not get the services restarted).
pub const LIVEZ: &str = "/livez";

/// How to tell that a service is up, from outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Probe {
    /// `GET path` answers 2xx.
    Http { path: &'static str },
    /// The port accepts a TCP connection.
    Tcp,
}

/// One service of the stack, independent of where it runs.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: ServiceName,
    /// The container image (docker, kube). Public images for the broker and PostgreSQL,
    /// the project's own images (built from its Dockerfiles) for the rest.
    pub image: String,
    /// The project's binary (local runtime), also the name of the cargo package that
    /// builds it; `None` for the broker and PostgreSQL, which the local runtime provides
    /// itself.
    pub binary: Option<&'static str>,
    /// The port the service listens on inside its container, and its default host port.
    pub port: u16,
    /// The variable that tells the service where to listen (`COLLECTOR_ADDR`, ...).
    pub addr_env: Option<&'static str>,
    /// Up and able to do its work: traffic may be sent. `ptrack up` waits for this.
    pub readiness: Probe,
    /// Alive at all: a failing liveness probe means restart it (kube).
    pub liveness: Probe,
    /// Services that must be ready before this one starts.
    pub depends_on: &'static [ServiceName],
    /// How many copies run; only [`Service::scalable`] services can have more than one.
    pub replicas: u32,
    pub scalable: bool,
    /// Variables that do not depend on the runtime (the wiring adds the rest).
    pub env: BTreeMap<String, String>,
}

/// How services reach each other and where they listen: the part a runtime decides.
#[derive(Debug, Clone)]
pub struct Wiring {
    /// `KAFKA_BROKERS` as the services see it (`127.0.0.1:9092`, `broker:9092`).
    pub kafka_brokers: String,
    /// `DATABASE_URL` as the services see it.
    pub database_url: String,
    /// `POSTGRES_PASSWORD` of the stack's PostgreSQL container (docker); the password
    /// in `database_url`.
    pub database_password: String,
    /// `--secure`: the collector's write key and the events-api's token, which the web
    /// demo gets too (its page sends the key, its proxy the token).
    pub credentials: Option<ServiceCredentials>,
    /// The idempotent producer. `false` against tansu (the local runtime's broker): tansu
    /// 0.6 panics on an idempotent producer's retry after a broker restart (see
    /// `KafkaSettings::idempotence`).
    pub kafka_idempotence: bool,
    /// The events-api as the web demo's *server* reaches it (`http://127.0.0.1:8001`,
    /// `http://events-api:8001`). The browser's side, the collector, is always reached
    /// through the host (see [`Stack::browser_collector_url`]).
    pub events_api_url: String,
}

/// The whole stack as `ptrack up` was asked to start it.
#[derive(Debug, Clone, Serialize)]
pub struct Stack {
    pub services: Vec<Service>,
    /// Partitions of the events topic, created by `up` when the topic is missing.
    pub partitions: u32,
    /// Added to every default host port, so that two stacks (or a test and a developer's
    /// stack) can run side by side.
    pub port_offset: u16,
    /// Where the ports are opened on this machine (local runtime, docker).
    pub bind: Bind,
}

/// `--scale processor=3`: a service and its number of replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    pub service: ServiceName,
    pub replicas: u32,
}

impl FromStr for Scale {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let Some((service, replicas)) = s.split_once('=') else {
            bail!("expected SERVICE=N, like processor=3, not {s:?}");
        };
        let service: ServiceName = service.trim().parse()?;
        let replicas: u32 = match replicas.trim().parse() {
            Ok(n) if (1..=MAX_REPLICAS).contains(&n) => n,
            _ => bail!(
                "the number of {service} replicas must be 1 to {MAX_REPLICAS}, not {replicas:?}"
            ),
        };
        Ok(Self { service, replicas })
    }
}

impl Default for Stack {
    fn default() -> Self {
        Self::new(3, &[], 0).expect("the default stack is valid")
    }
}

impl Stack {
    /// The stack with `partitions` partitions, `scale` replicas and host ports shifted by
    /// `port_offset`.
    pub fn new(partitions: u32, scale: &[Scale], port_offset: u16) -> Result<Self> {
        if partitions == 0 {
            bail!("the topic needs at least one partition");
        }
        if port_offset > 50_000 {
            bail!("the port offset {port_offset} is too large: ports must stay below 65536");
        }
        let mut services = default_services(partitions);
        for scale in scale {
            let Some(service) = services.iter_mut().find(|s| s.name == scale.service) else {
                continue;
            };
            if !service.scalable && scale.replicas != 1 {
                bail!(
                    "{} cannot be scaled: only processor and collector can run several replicas",
                    scale.service
                );
            }
            service.replicas = scale.replicas;
        }
        Ok(Self {
            services,
            partitions,
            port_offset,
            bind: Bind::default(),
        })
    }

    pub fn service(&self, name: ServiceName) -> &Service {
        // Every name has a service: `default_services` lists all of `ServiceName::ALL`.
        self.services
            .iter()
            .find(|s| s.name == name)
            .expect("every service is in the stack")
    }

    /// The host port of replica `replica` (0-based): the default port plus the offset,
    /// plus 10 per replica (collector 8000, 8010, ...; processor 8002, 8012, ...).
    pub fn host_port(&self, name: ServiceName, replica: u32) -> u16 {
        // At most MAX_REPLICAS replicas and an offset of 50_000 keep this below 65536.
        self.service(name).port + self.port_offset + 10 * replica as u16
    }

    /// Where a client on this machine reaches replica `replica` of `name` (see
    /// [`Replica::local_addr`]).
    pub fn local_addr(&self, name: ServiceName, replica: u32) -> SocketAddr {
        SocketAddr::new(reach(self.bind.of(name)), self.host_port(name, replica))
    }

    /// A warning when there are more processor replicas than partitions.
    pub fn idle_processors(&self) -> Option<String> {
        let replicas = self.service(ServiceName::Processor).replicas;
        (replicas > self.partitions).then(|| {
            format!(
                "{replicas} processor replicas share {} partitions: {} of them will idle \
                 (raise --partitions on a new stack to use them all)",
                self.partitions,
                replicas - self.partitions
            )
        })
    }

    /// Every variable of `name`, listening on `listen`, wired by `wiring`: only what
    /// that service reads (the collector gets no `DATABASE_URL`, the events-api no Kafka
    /// settings, the web demo neither).
    pub fn env(
        &self,
        name: ServiceName,
        listen: SocketAddr,
        wiring: &Wiring,
    ) -> BTreeMap<String, String> {
        let service = self.service(name);
        let mut env = service.env.clone();
        if matches!(name, ServiceName::Processor | ServiceName::Collector) {
            env.insert("KAFKA_BROKERS".into(), wiring.kafka_brokers.clone());
            env.insert("KAFKA_TOPIC".into(), TOPIC.into());
            env.insert("KAFKA_PARTITIONS".into(), self.partitions.to_string());
            env.insert(
                "KAFKA_IDEMPOTENCE".into(),
                wiring.kafka_idempotence.to_string(),
            );
        }
        if matches!(name, ServiceName::Processor | ServiceName::EventsApi) {
            env.insert("DATABASE_URL".into(), wiring.database_url.clone());
        }
        if name == ServiceName::Postgres {
            env.insert("POSTGRES_PASSWORD".into(), wiring.database_password.clone());
        }
        if let Some(credentials) = &wiring.credentials {
            let key = credentials.write_key.expose().to_owned();
            let token = credentials.events_api_token.expose().to_owned();
            match name {
                ServiceName::Collector => {
                    env.insert("COLLECTOR_WRITE_KEYS".into(), key);
                }
                ServiceName::EventsApi => {
                    env.insert("EVENTS_API_TOKEN".into(), token);
                }
                ServiceName::WebDemo => {
                    env.insert("WEB_DEMO_WRITE_KEY".into(), key);
                    env.insert("EVENTS_API_TOKEN".into(), token);
                }
                _ => {}
            }
        }
        // Idempotence is off exactly when the broker is tansu (see `Wiring`), which does
        // not rebalance when a member killed with -9 expires: a processor rejoins when
        // partitions with waiting messages stay still for 15 s and are nobody's.
        if name == ServiceName::Processor && !wiring.kafka_idempotence {
            env.insert("KAFKA_ORPHAN_AFTER_MS".into(), "15000".into());
        }
        match name {
            ServiceName::Collector => {
                env.insert("CORS_ALLOWED_ORIGINS".into(), self.web_demo_origins());
            }
            ServiceName::WebDemo => {
                env.insert("COLLECTOR_URL".into(), self.browser_collector_url());
                env.insert("EVENTS_API_URL".into(), wiring.events_api_url.clone());
            }
            _ => {}
        }
        if let Some(addr_env) = service.addr_env {
            env.insert(addr_env.into(), listen.to_string());
        }
        env
    }

    /// Where the visitor's *browser* posts the demo's events: the first collector at its
    /// host port on 127.0.0.1, which is where the local runtime listens, where docker
    /// publishes it, and where `kubectl port-forward` (as `up` lists it) puts it; or, with
    /// `up --bind`, at the address other machines reach it on.
    pub fn browser_collector_url(&self) -> String {
        let port = self.host_port(ServiceName::Collector, 0);
        format!("http://{}", SocketAddr::new(self.public_host(), port))
    }

    /// The web demo's origins as a browser has them (`localhost` and `127.0.0.1` at the
    /// demo's host port, and the address other machines use with `up --bind`): the
    /// collector's `CORS_ALLOWED_ORIGINS`.
    pub fn web_demo_origins(&self) -> String {
        let port = self.host_port(ServiceName::WebDemo, 0);
        let mut origins = format!("http://localhost:{port},http://127.0.0.1:{port}");
        let public = self.public_host();
        if !public.is_loopback() {
            origins.push_str(&format!(",http://{}", SocketAddr::new(public, port)));
        }
        origins
    }

    /// The address browsers reach the HTTP services at: loopback unless `up --bind`.
    fn public_host(&self) -> IpAddr {
        advertised_or_local(self.bind.services)
    }

    /// Replica names as `status` and `logs` show them: `collector`, or `processor-1`,
    /// `processor-2`... when there are several.
    pub fn replica_names(&self, name: ServiceName) -> Vec<String> {
        replica_names(name, self.service(name).replicas)
    }

    /// The replicas of `name`, in order, with their names and host ports.
    pub fn replicas_of(&self, name: ServiceName) -> Vec<Replica> {
        self.replica_names(name)
            .into_iter()
            .zip(0..)
            .map(|(replica, index)| Replica {
                service: name,
                index,
                name: replica,
                host_port: self.host_port(name, index),
                bind: self.bind.of(name),
            })
            .collect()
    }

    /// Every replica of the stack, in start order.
    pub fn replicas(&self) -> Vec<Replica> {
        self.services
            .iter()
            .flat_map(|service| self.replicas_of(service.name))
            .collect()
    }

    /// The replicas `ptrack logs SELECTOR` means: all of them (`None`), every replica of a
    /// service (`processor`) or one replica (`processor-2`), in start order.
    pub fn select(&self, selector: Option<&str>) -> Result<Vec<Replica>> {
        let all = self.replicas();
        let Some(asked) = selector else {
            return Ok(all);
        };
        let chosen: Vec<Replica> = all
            .iter()
            .filter(|r| r.name == asked || r.service.as_str() == asked)
            .cloned()
            .collect();
        if chosen.is_empty() {
            let names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
            bail!(
                "no service or replica named {asked:?}: choose one of {}",
                names.join(", ")
            );
        }
        Ok(chosen)
    }
}

/// One copy of a service: what `status` shows on a line and `logs` prefixes lines with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub service: ServiceName,
    /// 0-based; replica `i` listens on its service's port plus `10 * i` on the host.
    pub index: u32,
    /// `collector`, or `processor-1`, `processor-2`... when there are several.
    pub name: String,
    /// Where the local runtime listens, and where docker publishes it (on `bind`).
    pub host_port: u16,
    /// The address the host port is opened on (127.0.0.1 unless `up --bind`).
    pub bind: IpAddr,
}

impl Replica {
    /// Where the local runtime listens, and docker publishes: `<bind>:<host port>`.
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.host_port)
    }

    /// Where a client on this machine connects: `127.0.0.1:<host port>` unless bound to
    /// another address.
    pub fn local_addr(&self) -> SocketAddr {
        SocketAddr::new(reach(self.bind), self.host_port)
    }
}

/// A line of what `ptrack up` prints at the end: where to reach the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub name: String,
    pub url: String,
}

/// Where each part of the stack is reachable *from this machine*, for the commands that
/// talk to it (`up`'s listing, the TUI, query commands). A runtime fills it from the
/// stack without probing anything: it says where things should be, not whether they
/// answer (`ptrack status` says that).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    /// Every collector replica (`POST /track`) reachable from here, first the one to
    /// send to. Empty on kube: the pods are reached only through `kubectl port-forward`.
    pub collectors: Vec<ReplicaAddr>,
    /// Every processor replica (`GET /status`, `/metrics`): each holds its own
    /// partitions, so a view of the pipeline asks them all. Empty on kube, as above.
    pub processors: Vec<ReplicaAddr>,
    /// The events-api (`GET /events`, `/stats`); `None` on kube, as above.
    pub events_api: Option<SocketAddr>,
    /// The web demo, to open in a browser; `None` on kube, as above.
    pub web_demo: Option<SocketAddr>,
    /// The Kafka bootstrap address. `None` when the broker cannot be reached from the
    /// host: docker's broker advertises `broker:9092`, a name only the stack's network
    /// resolves, and kube's lives in the cluster.
    pub broker: Option<String>,
    /// The database URL, as the services use it. `None` where PostgreSQL is not reachable
    /// from the host (kube). It holds a password: `up` lists it redacted.
    pub database_url: Option<String>,
    /// The URL is the user's own (`DATABASE_URL` at `up`), not the stack's.
    pub database_external: bool,
    /// The topic the collector writes and the processors read.
    pub topic: String,
    /// The processors' consumer group: its committed offsets give the lag.
    pub group: String,
}

/// A replica and where it is reached from this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaAddr {
    /// `collector`, `processor-2`...
    pub name: String,
    pub addr: SocketAddr,
}

impl Endpoints {
    /// Nothing reachable from the host but the names (kube).
    pub fn unreachable() -> Self {
        Self {
            collectors: Vec::new(),
            processors: Vec::new(),
            events_api: None,
            web_demo: None,
            broker: None,
            database_url: None,
            database_external: false,
            topic: TOPIC.to_owned(),
            group: PROCESSOR_GROUP.to_owned(),
        }
    }

    /// Every service of `stack` on 127.0.0.1 at its host port (the local runtime, and
    /// docker's published ports); the broker and database as given.
    pub fn on_host(stack: &Stack, broker: Option<String>, database_url: Option<String>) -> Self {
        let addrs = |name| {
            stack
                .replicas_of(name)
                .into_iter()
                .map(|r| ReplicaAddr {
                    addr: r.local_addr(),
                    name: r.name,
                })
                .collect::<Vec<_>>()
        };
        Self {
            collectors: addrs(ServiceName::Collector),
            processors: addrs(ServiceName::Processor),
            events_api: addrs(ServiceName::EventsApi).first().map(|r| r.addr),
            web_demo: addrs(ServiceName::WebDemo).first().map(|r| r.addr),
            broker,
            database_url,
            ..Self::unreachable()
        }
    }

    /// What `ptrack up` prints: the collectors first (where events go), then the broker,
    /// PostgreSQL, the processors, the events-api and last the web demo (what a person
    /// opens), each that is reachable from here.
    pub fn listing(&self) -> Vec<Endpoint> {
        let mut endpoints = Vec::new();
        for (i, c) in self.collectors.iter().enumerate() {
            let name = if i == 0 {
                "collector (send events here: POST /track)".to_owned()
            } else {
                format!("{} (also accepts POST /track)", c.name)
            };
            endpoints.push(Endpoint {
                name,
                url: crate::client::url(c.addr, "/track").to_string(),
            });
        }
        if let Some(broker) = &self.broker {
            endpoints.push(Endpoint {
                name: "broker (Kafka protocol)".to_owned(),
                url: broker.clone(),
            });
        }
        if let Some(url) = &self.database_url {
            // Generated or the user's, the password is not printed: `ptrack status` and
            // the other commands read it from the data folder themselves.
            endpoints.push(Endpoint {
                name: "postgres".to_owned(),
                url: redact_url(url),
            });
        }
        for p in &self.processors {
            endpoints.push(Endpoint {
                name: format!("{} (GET /status, /metrics)", p.name),
                url: crate::client::url(p.addr, "/status").to_string(),
            });
        }
        if let Some(addr) = self.events_api {
            endpoints.push(Endpoint {
                name: "events-api (GET /events, /stats)".to_owned(),
                url: crate::client::url(addr, "/events").to_string(),
            });
        }
        if let Some(addr) = self.web_demo {
            endpoints.push(Endpoint {
                name: "web demo (open in a browser; analytics at /analytics)".to_owned(),
                url: crate::client::url(addr, "/").to_string(),
            });
        }
        endpoints
    }
}

/// What `ptrack up` prints when the services live in a cluster (kube): each of the
/// project's services by its in-cluster address, and how to forward it to this machine.
pub fn port_forward_listing(stack: &Stack, namespace: &str) -> Vec<Endpoint> {
    stack
        .services
        .iter()
        .filter(|s| s.binary.is_some())
        .map(|s| Endpoint {
            name: match s.name {
                // The visitor's browser posts to the collector on this machine.
                ServiceName::WebDemo => {
                    "web-demo (open in a browser; forward the collector too)".to_owned()
                }
                name => name.to_string(),
            },
            url: format!(
                "http://{}.{namespace}.svc:{} (from here: kubectl -n {namespace} \
                 port-forward svc/{} {}:{})",
                s.name,
                s.port,
                s.name,
                stack.host_port(s.name, 0),
                s.port
            ),
        })
        .collect()
}

/// `collector` for a single replica, `processor-1`... for several.
pub fn replica_names(name: ServiceName, replicas: u32) -> Vec<String> {
    if replicas <= 1 {
        vec![name.to_string()]
    } else {
        (1..=replicas).map(|i| format!("{name}-{i}")).collect()
    }
}

/// `http://events-api:8001`: a service by its name and container port, as the other
/// services reach it on the stack's network (docker) or in its namespace (kube).
pub fn in_network_url(name: ServiceName) -> String {
    let port = Stack::default().service(name).port;
    format!("http://{name}:{port}")
}

/// `postgres://ptrack:PASSWORD@HOST:PORT/ptrack`.
/// `ip` as the host part of a URL (an IPv6 address in brackets).
pub fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

pub fn database_url(host: &str, port: u16, password: &str) -> String {
    format!("postgres://{DB_USER}:{password}@{host}:{port}/{DB_NAME}")
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn default_services(partitions: u32) -> Vec<Service> {
    use ServiceName::*;
    let partitions = partitions.to_string();
    vec![
        Service {
            name: Broker,
            // Apache Kafka in KRaft mode (no ZooKeeper), one node that is both broker and
            // controller. The local runtime runs tansu in its place (`ptrack broker`).
            image: "apache/kafka:3.9.0".into(),
            binary: None,
            port: 9092,
            addr_env: None,
            readiness: Probe::Tcp,
            liveness: Probe::Tcp,
            depends_on: &[],
            replicas: 1,
            scalable: false,
            env: vars(&[
                ("KAFKA_NODE_ID", "1"),
                ("KAFKA_PROCESS_ROLES", "broker,controller"),
                ("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093"),
                ("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://broker:9092"),
                ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER"),
                (
                    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                    "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                ),
                ("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@broker:9093"),
                ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1"),
                ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1"),
                ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1"),
                ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0"),
                // The services create the topic with the partitions asked for.
                ("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false"),
                ("KAFKA_NUM_PARTITIONS", &partitions),
            ]),
        },
        Service {
            name: Postgres,
            image: "postgres:15".into(),
            binary: None,
            port: 5432,
            addr_env: None,
            readiness: Probe::Tcp,
            liveness: Probe::Tcp,
            depends_on: &[],
            replicas: 1,
            scalable: false,
            // POSTGRES_PASSWORD comes from the wiring: generated, never fixed.
            env: vars(&[("POSTGRES_USER", DB_USER), ("POSTGRES_DB", DB_NAME)]),
        },
        Service {
            name: Processor,
            image: "ptrack/processor:latest".into(),
            binary: Some("ptrack-processor"),
            port: 8002,
            addr_env: Some("PROCESSOR_ADDR"),
            readiness: Probe::Http { path: READYZ },
            liveness: Probe::Http { path: LIVEZ },
            depends_on: &[Broker, Postgres],
            replicas: 1,
            scalable: true,
            env: vars(&[("KAFKA_GROUP_ID", PROCESSOR_GROUP)]),
        },
        Service {
            name: EventsApi,
            image: "ptrack/events-api:latest".into(),
            binary: Some("ptrack-events-api"),
            port: 8001,
            addr_env: Some("EVENTS_API_ADDR"),
            readiness: Probe::Http { path: READYZ },
            liveness: Probe::Http { path: LIVEZ },
            // The processor runs the migrations that create the tables it reads.
            depends_on: &[Postgres, Processor],
            replicas: 1,
            scalable: false,
            env: BTreeMap::new(),
        },
        Service {
            name: Collector,
            image: "ptrack/collector:latest".into(),
            binary: Some("ptrack-collector"),
            port: 8000,
            addr_env: Some("COLLECTOR_ADDR"),
            readiness: Probe::Http { path: READYZ },
            liveness: Probe::Http { path: LIVEZ },
            depends_on: &[Broker],
            replicas: 1,
            scalable: true,
            env: BTreeMap::new(),
        },
        Service {
            name: WebDemo,
            image: "ptrack/web-demo:latest".into(),
            binary: Some("ptrack-web-demo"),
            port: 3000,
            addr_env: Some("WEB_DEMO_ADDR"),
            readiness: Probe::Http { path: READYZ },
            liveness: Probe::Http { path: LIVEZ },
            // Its pages post to the collector and read the events-api.
            depends_on: &[EventsApi, Collector],
            replicas: 1,
            scalable: false,
            env: BTreeMap::new(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wiring() -> Wiring {
        Wiring {
            kafka_brokers: "127.0.0.1:9092".into(),
            database_url: database_url("127.0.0.1", 5432, "pw"),
            database_password: "pw".into(),
            credentials: None,
            kafka_idempotence: false,
            events_api_url: "http://127.0.0.1:8001".into(),
        }
    }

    #[test]
    fn dependencies_start_first() {
        let stack = Stack::default();
        for (i, service) in stack.services.iter().enumerate() {
            for dep in service.depends_on {
                let at = stack.services.iter().position(|s| s.name == *dep);
                assert!(at < Some(i), "{} starts before {dep}", service.name);
            }
        }
        assert_eq!(
            stack.services.iter().map(|s| s.name).collect::<Vec<_>>(),
            ServiceName::ALL
        );
    }

    #[test]
    fn scale_and_ports() {
        let scale = [
            "processor=3".parse().unwrap(),
            "collector=2".parse().unwrap(),
        ];
        let stack = Stack::new(2, &scale, 100).unwrap();
        assert_eq!(stack.host_port(ServiceName::Collector, 0), 8100);
        assert_eq!(stack.host_port(ServiceName::Collector, 1), 8110);
        assert_eq!(stack.host_port(ServiceName::Processor, 2), 8122);
        assert_eq!(stack.host_port(ServiceName::Broker, 0), 9192);
        assert_eq!(
            stack.replica_names(ServiceName::Processor),
            ["processor-1", "processor-2", "processor-3"]
        );
        assert_eq!(stack.replica_names(ServiceName::EventsApi), ["events-api"]);
        assert!(
            stack
                .idle_processors()
                .unwrap()
                .contains("1 of them will idle")
        );
        assert!(
            Stack::new(3, &scale, 0)
                .unwrap()
                .idle_processors()
                .is_none()
        );
    }

    #[test]
    fn bad_scale_says_what_is_allowed() {
        let err = "events-api=2".parse::<Scale>().unwrap();
        let err = Stack::new(3, &[err], 0).unwrap_err().to_string();
        assert!(err.contains("only processor and collector"), "{err}");
        let err = "processor=0".parse::<Scale>().unwrap_err().to_string();
        assert!(err.contains("1 to 32"), "{err}");
        let err = "web=1".parse::<Scale>().unwrap_err().to_string();
        assert!(err.contains("collector"), "{err}");
        assert!("processor".parse::<Scale>().is_err());
    }

    #[test]
    fn services_get_the_wiring() {
        let stack = Stack::new(6, &[], 0).unwrap();
        let env = stack.env(
            ServiceName::Processor,
            "127.0.0.1:8002".parse().unwrap(),
            &wiring(),
        );
        assert_eq!(env["PROCESSOR_ADDR"], "127.0.0.1:8002");
        assert_eq!(env["KAFKA_PARTITIONS"], "6");
        assert_eq!(env["KAFKA_IDEMPOTENCE"], "false");
        assert_eq!(env["KAFKA_GROUP_ID"], PROCESSOR_GROUP);
        assert_eq!(
            env["DATABASE_URL"],
            "postgres://ptrack:pw@127.0.0.1:5432/ptrack"
        );
        assert_eq!(
            env["KAFKA_ORPHAN_AFTER_MS"], "15000",
            "tansu needs orphans watched closely"
        );
        let kafka = Wiring {
            kafka_idempotence: true,
            ..wiring()
        };
        let env = stack.env(
            ServiceName::Processor,
            "0.0.0.0:8002".parse().unwrap(),
            &kafka,
        );
        assert!(
            !env.contains_key("KAFKA_ORPHAN_AFTER_MS"),
            "Apache Kafka rebalances by itself"
        );
        let env = stack.env(
            ServiceName::Postgres,
            "0.0.0.0:5432".parse().unwrap(),
            &wiring(),
        );
        assert!(!env.contains_key("DATABASE_URL"));
        assert_eq!(env["POSTGRES_DB"], "ptrack");
        assert_eq!(env["POSTGRES_PASSWORD"], "pw", "generated, not fixed");
    }

    #[test]
    fn each_service_gets_only_its_own_settings() {
        let stack = Stack::default();
        let listen = "127.0.0.1:1".parse().unwrap();
        let names = |name, wiring: &Wiring| -> Vec<String> {
            stack.env(name, listen, wiring).into_keys().collect()
        };
        let open = wiring();
        assert_eq!(
            names(ServiceName::Collector, &open),
            [
                "COLLECTOR_ADDR",
                "CORS_ALLOWED_ORIGINS",
                "KAFKA_BROKERS",
                "KAFKA_IDEMPOTENCE",
                "KAFKA_PARTITIONS",
                "KAFKA_TOPIC"
            ],
            "no DATABASE_URL for the collector"
        );
        assert_eq!(
            names(ServiceName::EventsApi, &open),
            ["DATABASE_URL", "EVENTS_API_ADDR"],
            "no Kafka settings for the events-api"
        );

        // --secure: the key to the collector and the demo page, the token to the
        // events-api and the demo's proxy; nothing to the processor.
        let secure = Wiring {
            credentials: Some(ServiceCredentials {
                write_key: crate::runtime::credentials::Secret::new("k"),
                events_api_token: crate::runtime::credentials::Secret::new("t"),
            }),
            ..wiring()
        };
        let env = |name| stack.env(name, listen, &secure);
        assert_eq!(env(ServiceName::Collector)["COLLECTOR_WRITE_KEYS"], "k");
        assert_eq!(env(ServiceName::EventsApi)["EVENTS_API_TOKEN"], "t");
        assert_eq!(env(ServiceName::WebDemo)["WEB_DEMO_WRITE_KEY"], "k");
        assert_eq!(env(ServiceName::WebDemo)["EVENTS_API_TOKEN"], "t");
        let processor = env(ServiceName::Processor);
        assert!(processor.values().all(|v| v != "k" && v != "t"));
        assert!(!env(ServiceName::Collector).contains_key("EVENTS_API_TOKEN"));
        for service in &stack.services {
            if service.binary.is_some() {
                assert_eq!(service.readiness, Probe::Http { path: READYZ });
                assert_eq!(service.liveness, Probe::Http { path: LIVEZ });
            }
        }
    }

    #[test]
    fn the_web_demo_is_wired_as_a_browser_reaches_it() {
        // With a port offset the demo's origin moves, and the collector follows it.
        let stack = Stack::new(3, &[], 7).unwrap();
        let wiring = Wiring {
            events_api_url: "http://events-api:8001".into(),
            ..wiring()
        };
        let env = stack.env(
            ServiceName::WebDemo,
            "0.0.0.0:3000".parse().unwrap(),
            &wiring,
        );
        let expected = [
            ("COLLECTOR_URL", "http://127.0.0.1:8007"),
            ("EVENTS_API_URL", "http://events-api:8001"),
            ("WEB_DEMO_ADDR", "0.0.0.0:3000"),
        ];
        assert_eq!(
            env,
            expected
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            "the demo knows nothing of Kafka or PostgreSQL"
        );
        let env = stack.env(
            ServiceName::Collector,
            "127.0.0.1:8007".parse().unwrap(),
            &wiring,
        );
        assert_eq!(
            env["CORS_ALLOWED_ORIGINS"],
            "http://localhost:3007,http://127.0.0.1:3007"
        );
        assert!(!stack.service(ServiceName::WebDemo).scalable);
        let err = Stack::new(3, &["web-demo=2".parse().unwrap()], 0).unwrap_err();
        assert!(err.to_string().contains("cannot be scaled"), "{err}");
    }

    #[test]
    fn replicas_have_names_indexes_and_host_ports() {
        let scale = ["processor=2".parse().unwrap()];
        let stack = Stack::new(3, &scale, 100).unwrap();
        let replicas = stack.replicas();
        let names: Vec<&str> = replicas.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "broker",
                "postgres",
                "processor-1",
                "processor-2",
                "events-api",
                "collector",
                "web-demo"
            ]
        );
        let second = &replicas[3];
        assert_eq!(second.service, ServiceName::Processor);
        assert_eq!(second.index, 1);
        assert_eq!(second.host_port, 8112);
        assert_eq!(second.local_addr().to_string(), "127.0.0.1:8112");
    }

    #[test]
    fn a_selector_picks_a_service_or_one_replica() {
        let scale = ["processor=2".parse().unwrap()];
        let stack = Stack::new(3, &scale, 0).unwrap();
        let names = |selector| -> Vec<String> {
            stack
                .select(selector)
                .unwrap()
                .into_iter()
                .map(|r| r.name)
                .collect()
        };
        assert_eq!(names(None).len(), 7);
        assert_eq!(names(Some("processor")), ["processor-1", "processor-2"]);
        assert_eq!(names(Some("processor-2")), ["processor-2"]);
        assert_eq!(names(Some("events-api")), ["events-api"]);
        let err = stack.select(Some("processor-3")).unwrap_err().to_string();
        assert_eq!(
            err,
            "no service or replica named \"processor-3\": choose one of broker, postgres, \
             processor-1, processor-2, events-api, collector, web-demo"
        );
    }

    #[test]
    fn up_lists_what_is_reachable_collectors_first() {
        let scale = ["collector=2".parse().unwrap()];
        let stack = Stack::new(3, &scale, 0).unwrap();
        let own = database_url("127.0.0.1", 5432, "generated");
        let endpoints = Endpoints::on_host(&stack, Some("127.0.0.1:9092".into()), Some(own));
        assert_eq!(endpoints.collectors.len(), 2);
        assert_eq!(endpoints.collectors[1].addr.to_string(), "127.0.0.1:8010");
        assert_eq!(endpoints.processors[0].name, "processor");
        assert_eq!(
            endpoints.events_api,
            Some("127.0.0.1:8001".parse().unwrap())
        );
        assert_eq!(endpoints.topic, TOPIC);
        assert_eq!(endpoints.group, PROCESSOR_GROUP);
        let listing: Vec<(String, String)> = endpoints
            .listing()
            .into_iter()
            .map(|e| (e.name, e.url))
            .collect();
        let expected = [
            (
                "collector (send events here: POST /track)",
                "http://127.0.0.1:8000/track",
            ),
            (
                "collector-2 (also accepts POST /track)",
                "http://127.0.0.1:8010/track",
            ),
            ("broker (Kafka protocol)", "127.0.0.1:9092"),
            ("postgres", "postgres://ptrack:***@127.0.0.1:5432/ptrack"),
            (
                "processor (GET /status, /metrics)",
                "http://127.0.0.1:8002/status",
            ),
            (
                "events-api (GET /events, /stats)",
                "http://127.0.0.1:8001/events",
            ),
            (
                "web demo (open in a browser; analytics at /analytics)",
                "http://127.0.0.1:3000/",
            ),
        ]
        .map(|(n, u)| (n.to_owned(), u.to_owned()));
        assert_eq!(listing, expected);

        // A broker only the stack's network reaches is not listed; a user's database
        // URL is listed without its password.
        let theirs = Endpoints {
            database_external: true,
            ..Endpoints::on_host(
                &stack,
                None,
                Some("postgres://me:secret@db.example:5432/events".into()),
            )
        };
        let listing = theirs.listing();
        assert!(!listing.iter().any(|e| e.name.starts_with("broker")));
        let postgres = listing.iter().find(|e| e.name == "postgres").unwrap();
        assert_eq!(postgres.url, "postgres://me:***@db.example:5432/events");
        assert_eq!(
            theirs.database_url.as_deref(),
            Some("postgres://me:secret@db.example:5432/events"),
            "the URL itself stays whole for whoever connects"
        );
    }

    #[test]
    fn in_a_cluster_up_lists_how_to_forward_each_service() {
        let stack = Stack::new(3, &[], 5).unwrap();
        let listing = port_forward_listing(&stack, "ptrack");
        let names: Vec<&str> = listing.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "processor",
                "events-api",
                "collector",
                "web-demo (open in a browser; forward the collector too)"
            ]
        );
        assert_eq!(
            listing[2].url,
            "http://collector.ptrack.svc:8000 (from here: kubectl -n ptrack port-forward \
             svc/collector 8005:8000)"
        );
        let nothing = Endpoints::unreachable();
        assert!(nothing.listing().is_empty());
        assert!(nothing.broker.is_none() && nothing.database_url.is_none());
    }

    #[test]
    fn bind_opens_the_ports_elsewhere_and_clients_here_still_reach_them() {
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        let lan: IpAddr = "192.0.2.10".parse().unwrap();
        assert_eq!(reach(any), Bind::LOOPBACK);
        assert_eq!(
            reach("::".parse().unwrap()),
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        );
        assert_eq!(reach(lan), lan);
        assert_eq!(advertised(lan).unwrap(), lan);
        assert!(!Bind::default().is_exposed());

        let stack = Stack {
            bind: Bind {
                services: lan,
                stores: any,
            },
            ..Stack::default()
        };
        assert!(stack.bind.is_exposed());
        let collector = &stack.replicas_of(ServiceName::Collector)[0];
        assert_eq!(collector.listen_addr().to_string(), "192.0.2.10:8000");
        assert_eq!(collector.local_addr().to_string(), "192.0.2.10:8000");
        let broker = &stack.replicas_of(ServiceName::Broker)[0];
        assert_eq!(broker.listen_addr().to_string(), "0.0.0.0:9092");
        assert_eq!(broker.local_addr().to_string(), "127.0.0.1:9092");
        assert_eq!(stack.browser_collector_url(), "http://192.0.2.10:8000");
        assert_eq!(
            stack.web_demo_origins(),
            "http://localhost:3000,http://127.0.0.1:3000,http://192.0.2.10:3000"
        );
        let env = stack.env(ServiceName::Collector, collector.listen_addr(), &wiring());
        assert_eq!(env["COLLECTOR_ADDR"], "192.0.2.10:8000");
        assert_eq!(url_host("::1".parse().unwrap()), "[::1]");
    }
}
