//! The local runtime's `up`: a scheduler that starts each replica once everything it
//! depends on is ready, polls every started replica's readiness, and on a failure names
//! the replica with the tail of its log.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    process::Child,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow, bail};
use ptrack_common::{
    config::redact_url,
    kafka::{KafkaSettings, dlq_topic, ensure_topics},
};

use super::{Local, login, postgres, process};
use crate::{
    runtime::{Observer, UpOptions, check, probe_client},
    stack::{Replica, ServiceName, TOPIC},
};

/// How long a replica of an earlier `--scale` has between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = super::stop::STOP_GRACE;
/// Lines of a log shown when its service fails.
const TAIL_ON_FAILURE: usize = 20;

#[derive(Debug)]
enum Phase {
    /// Its dependencies are not ready yet.
    Waiting,
    Starting {
        /// Present when this `up` started it: lets a crash be seen at once.
        child: Option<Child>,
        since: Instant,
    },
    Ready,
}

impl Local {
    /// Everything `up` does but say where the stack is.
    pub(super) async fn start_all(
        &self,
        options: &UpOptions,
        observer: &mut dyn Observer,
    ) -> Result<()> {
        for dir in [self.data().to_owned(), self.run_dir(), self.logs_dir()] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        if process::is_root() && self.external_database().is_none() {
            // PostgreSQL runs as an unprivileged user, who must traverse this folder.
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(self.data())?;
            let mode = meta.permissions().mode();
            if mode & 0o001 == 0 {
                std::fs::set_permissions(
                    self.data(),
                    std::fs::Permissions::from_mode(mode | 0o011),
                )?;
            }
        }
        let programs = self.programs()?;
        self.stop_extra_replicas(observer);
        if let Some(warning) = self.context.stack.idle_processors() {
            observer.note(&format!("note: {warning}"));
        }
        let replicas = self.replicas();
        let names: Vec<String> = replicas.iter().map(|r| r.name.clone()).collect();
        observer.names(&names);
        let mut phases: Vec<Phase> = replicas.iter().map(|_| Phase::Waiting).collect();
        let mut last_error: Vec<String> = vec![String::new(); replicas.len()];
        for replica in &replicas {
            let deps = &self.context.stack.service(replica.service).depends_on;
            let what = if deps.is_empty() {
                "starting".to_owned()
            } else {
                let names: Vec<&str> = deps.iter().map(|d| d.as_str()).collect();
                format!("waiting for {}", names.join(", "))
            };
            observer.begin(&replica.name, &what);
        }
        let client = probe_client();
        let deadline = Instant::now() + options.timeout;
        loop {
            let ready: BTreeSet<ServiceName> = ServiceName::ALL
                .into_iter()
                .filter(|s| {
                    replicas
                        .iter()
                        .zip(&phases)
                        .filter(|(r, _)| r.service == *s)
                        .all(|(_, p)| matches!(p, Phase::Ready))
                })
                .collect();
            for (i, replica) in replicas.iter().enumerate() {
                let deps = self.context.stack.service(replica.service).depends_on;
                if matches!(phases[i], Phase::Waiting) && deps.iter().all(|d| ready.contains(d)) {
                    let was_running = self.running(replica).is_some();
                    let child = match self.start(replica, &programs).await {
                        Ok(child) => child,
                        Err(err) => {
                            observer.failed(&replica.name, "could not start");
                            return Err(self.failure(replica, &format!("{err:#}")));
                        }
                    };
                    if was_running {
                        observer.update(&replica.name, "already running");
                    } else if !deps.is_empty() {
                        observer.update(&replica.name, "starting");
                    }
                    phases[i] = Phase::Starting {
                        child,
                        since: Instant::now(),
                    };
                }
            }
            for (i, replica) in replicas.iter().enumerate() {
                let Phase::Starting { child, since } = &mut phases[i] else {
                    continue;
                };
                if let Some(child) = child
                    && let Ok(Some(status)) = child.try_wait()
                {
                    observer.failed(&replica.name, &format!("exited ({status})"));
                    self.pid_file(&replica.name).remove();
                    return Err(self.failure(replica, &format!("the process exited ({status})")));
                }
                if replica.service == ServiceName::Postgres
                    && self.external_database().is_none()
                    && self.cluster().pid().is_none()
                    && since.elapsed() > Duration::from_secs(5)
                {
                    observer.failed(&replica.name, "PostgreSQL is not running");
                    return Err(self.failure(replica, "PostgreSQL stopped while starting"));
                }
                match self.ready(&client, replica).await {
                    Ok(what) => {
                        observer.ready(&replica.name, &format!("ready at {what}"));
                        phases[i] = Phase::Ready;
                    }
                    Err(why) => {
                        last_error[i] = why;
                    }
                }
            }
            if phases.iter().all(|p| matches!(p, Phase::Ready)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let (i, replica) = replicas
                    .iter()
                    .enumerate()
                    .find(|(i, _)| matches!(phases[*i], Phase::Starting { .. }))
                    .or_else(|| {
                        replicas
                            .iter()
                            .enumerate()
                            .find(|(i, _)| !matches!(phases[*i], Phase::Ready))
                    })
                    // Not all are ready (checked above), so one is found.
                    .expect("a replica that is not ready");
                let why = if last_error[i].is_empty() {
                    "its dependencies never became ready".to_owned()
                } else {
                    last_error[i].clone()
                };
                observer.failed(&replica.name, "not ready in time");
                return Err(self.failure(
                    replica,
                    &format!("not ready within {} s: {why}", options.timeout.as_secs()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The programs `up` starts, or how to build the missing ones.
    fn programs(&self) -> Result<BTreeMap<ServiceName, PathBuf>> {
        let mut found = BTreeMap::new();
        let mut missing = Vec::new();
        let exe = std::env::current_exe().context("finding the ptrack executable")?;
        found.insert(ServiceName::Broker, exe.clone());
        for service in &self.context.stack.services {
            let Some(name) = service.binary else { continue };
            match process::find_binary(name) {
                Some(path) => {
                    found.insert(service.name, path);
                }
                None => missing.push(name),
            }
        }
        if !missing.is_empty() {
            let packages: Vec<String> = missing.iter().map(|m| format!("-p {m}")).collect();
            bail!(
                "{} not found next to {} nor on PATH: build them with `cargo build --release {}` \
                 (and run the ptrack from the same target folder), or put them on PATH",
                missing.join(", "),
                exe.display(),
                packages.join(" ")
            );
        }
        if self.external_database().is_none() {
            postgres::bin_dir()?;
        }
        Ok(found)
    }

    /// Stops processes of replicas the stack no longer has (after `--scale` went down).
    fn stop_extra_replicas(&self, observer: &mut dyn Observer) {
        let wanted: BTreeSet<String> = self.replicas().into_iter().map(|r| r.name).collect();
        for (name, pid_file) in self.pid_files() {
            if wanted.contains(&name) {
                continue;
            }
            if let Some(pid) = pid_file.read().filter(|pid| process::alive(*pid)) {
                observer.note(&format!("stopping {name} (no longer in the stack)"));
                process::stop(pid, process::SIGTERM, STOP_GRACE);
            }
            pid_file.remove();
        }
    }

    /// Starts `replica` unless it runs. Returns the child when it was started now.
    async fn start(
        &self,
        replica: &Replica,
        programs: &BTreeMap<ServiceName, PathBuf>,
    ) -> Result<Option<Child>> {
        if self.running(replica).is_some() {
            return Ok(None);
        }
        if replica.service == ServiceName::Postgres {
            if self.external_database().is_some() {
                return Ok(None);
            }
            let cluster = self.cluster();
            port_free(replica).await?;
            tokio::task::block_in_place(|| -> Result<()> {
                cluster.init()?;
                cluster.start()
            })?;
            return Ok(None);
        }
        port_free(replica).await?;
        let program = &programs[&replica.service];
        let (args, stack_env) = match replica.service {
            ServiceName::Broker => (
                broker_args(replica, &self.data().join("broker").join("broker.db"))?,
                // Read by the vendored tansu-storage (PTRACK-PATCH.md): `full` fsyncs
                // every commit.
                BTreeMap::from([(
                    "TANSU_SQLITE_SYNCHRONOUS".to_owned(),
                    if self.context.state.durable {
                        "full"
                    } else {
                        "off"
                    }
                    .to_owned(),
                )]),
            ),
            service => (
                Vec::new(),
                self.context
                    .stack
                    .env(service, replica.listen_addr(), &self.wiring()),
            ),
        };
        let env = super::process_env(replica.service, stack_env, std::env::vars());
        let child = process::spawn(
            program,
            &args,
            &env,
            &self.log_file(&replica.name),
            &self.pid_file(&replica.name),
            self.data(),
        )?;
        Ok(Some(child))
    }

    /// One readiness check of `replica`: `Ok` with what to show, or why not yet.
    async fn ready(&self, client: &reqwest::Client, replica: &Replica) -> Result<String, String> {
        let stack = &self.context.stack;
        let addr = replica.local_addr();
        match replica.service {
            ServiceName::Broker => {
                check(client, stack.service(replica.service).readiness, addr).await?;
                let settings = KafkaSettings {
                    brokers: addr.to_string(),
                    topic: TOPIC.to_owned(),
                    partitions: stack.partitions as i32,
                    idempotence: false,
                };
                let topics = [(TOPIC, stack.partitions as i32), (&*dlq_topic(TOPIC), 1)];
                match tokio::time::timeout(
                    Duration::from_secs(15),
                    ensure_topics(&settings.client_config(), &topics),
                )
                .await
                {
                    Ok(Ok(())) => Ok(format!(
                        "{addr} (topic {TOPIC}, {} partitions)",
                        stack.partitions
                    )),
                    Ok(Err(err)) => Err(format!("creating the topic {TOPIC}: {err}")),
                    Err(_) => Err(format!("creating the topic {TOPIC} timed out")),
                }
            }
            ServiceName::Postgres => match self.external_database() {
                Some(url) => login(url)
                    .await
                    .map(|()| format!("{} (DATABASE_URL)", redact_url(url))),
                // The private cluster's password is a fixed local one: shown whole.
                None => match self.cluster().ensure_database().await {
                    Ok(()) => Ok(redact_url(&self.wiring().database_url)),
                    Err(err) => Err(format!("{err:#}")),
                },
            },
            service => {
                let probe = stack.service(service).readiness;
                check(client, probe, addr).await?;
                Ok(crate::client::base_url(addr)
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned())
            }
        }
    }

    fn failure(&self, replica: &Replica, why: &str) -> anyhow::Error {
        let log = self.log_file(&replica.name);
        let tail = if log.exists() {
            format!(
                "\n--- last lines of {} ---\n{}\n---",
                log.display(),
                process::tail(&log, TAIL_ON_FAILURE)
            )
        } else {
            String::new()
        };
        anyhow!(
            "{} is not ready: {why}{tail}\n\
             The rest of the stack is left as it is: see `ptrack status`, `ptrack logs {}`, \
             and stop it with `ptrack down`.",
            replica.name,
            replica.name,
        )
    }
}

/// Fails when another program holds `replica`'s port.
/// `ptrack broker`'s arguments for `replica`, keeping its data in `db`. Opened on every
/// interface (`--stores-bind 0.0.0.0`), it advertises the address other machines reach
/// it at; clients here bootstrap through 127.0.0.1 and then use that address too.
fn broker_args(replica: &Replica, db: &std::path::Path) -> Result<Vec<String>> {
    let listen = replica.listen_addr();
    let mut args = vec![
        "broker".to_owned(),
        "--addr".to_owned(),
        listen.to_string(),
        "--data".to_owned(),
        db.display().to_string(),
    ];
    if listen.ip().is_unspecified() {
        let public = crate::stack::advertised(listen.ip())?;
        args.push("--advertise".to_owned());
        args.push(std::net::SocketAddr::new(public, listen.port()).to_string());
    }
    Ok(args)
}

async fn port_free(replica: &Replica) -> Result<()> {
    let taken = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::net::TcpStream::connect(replica.local_addr()),
    )
    .await
    .is_ok_and(|connected| connected.is_ok());
    if taken {
        bail!(
            "port {} for {} is already in use by another program: stop it, or move this \
             stack with `ptrack up --port-offset N` (PTRACK_PORT_OFFSET)",
            replica.host_port,
            replica.name
        );
    }
    Ok(())
}
