//! `ptrack up`: start the whole stack, wait until it is ready, print where to reach it.

use std::{net::IpAddr, process::ExitCode, time::Duration};

use anyhow::{Result, bail};
use clap::Args;

use super::DataDirArgs;
use crate::{
    progress::Progress,
    runtime::{
        AnyRuntime, Context, RunState, Runtime, RuntimeKind, State, UpOptions,
        credentials::Credentials,
    },
    stack::{Bind, Scale},
};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  ptrack up                                   the local stack, no Docker needed
  ptrack up --scale processor=3 --partitions 6
  ptrack up --runtime docker --build          build the project's images, then start
  ptrack up --port-offset 1000                beside another stack (collector on 9000)
  ptrack up --secure                          write key and token required, generated
  ptrack up --durable                         local: PostgreSQL and the broker fsync
  ptrack up --secure --bind 0.0.0.0           collector, web demo... open to other machines

Every port is opened on 127.0.0.1 only unless --bind (the HTTP services) or --stores-bind
(PostgreSQL and the broker) say otherwise. Without --durable the local PostgreSQL and
broker do not fsync: what they commit survives a crash of any service, not an OS crash
or power loss (which can also corrupt their files). A service gets only its own settings;
set PTRACK_<SERVICE>_<VAR> to give one service a variable (PTRACK_PROCESSOR_BATCH_SIZE=500).

Running `up` again is harmless: what runs is left alone, and the runtime, partitions,
replicas and port offset of the last `up` are reused unless given again.")]
pub struct UpArgs {
    /// Where the stack runs (default: the runtime of the last `up`, else local).
    #[arg(long, value_enum, env = "PTRACK_RUNTIME")]
    pub runtime: Option<RuntimeKind>,
    /// Partitions of the events topic, used when the topic is created (default 3).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub partitions: Option<u32>,
    /// Replicas of a service, like `docker compose --scale`: processor replicas share the
    /// consumer group and split the partitions. Repeat for several services.
    #[arg(long, value_name = "SERVICE=N")]
    pub scale: Vec<Scale>,
    /// Added to every port (broker 9092, postgres 5432, collector 8000, events-api 8001,
    /// processor 8002; replica i adds 10*i), to run beside another stack (default 0).
    #[arg(long, env = "PTRACK_PORT_OFFSET", value_name = "N")]
    pub port_offset: Option<u16>,
    /// Local runtime: use this PostgreSQL instead of starting a private cluster under the
    /// data folder. The role needs the right to create tables.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// How long to wait for every service to be ready before giving up, like 90s or 2m
    /// (a bare number is seconds).
    #[arg(long, default_value = "60s", value_parser = crate::duration::arg, value_name = "DURATION")]
    pub timeout: Duration,
    /// Docker runtime: first build the project's images (collector, processor, events-api)
    /// from the Dockerfile of the checkout ptrack runs in, showing the build output.
    #[arg(long)]
    pub build: bool,
    /// Generate a collector write key and an events-api token (kept in the data folder,
    /// mode 0600) and require them: the collector answers 401 without the key, the
    /// events-api without the token. `ptrack load` and `demo` send the key, `query`, `tui`
    /// and `load --verify` the token. Remembered; `--secure=false` turns it off.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub secure: Option<bool>,
    /// Local runtime: PostgreSQL and the broker fsync what they commit (slower), so an OS
    /// crash or power loss loses nothing committed. Remembered; `--durable=false` turns it
    /// off. Takes effect when PostgreSQL and the broker start (`ptrack down` first).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub durable: Option<bool>,
    /// Open the HTTP services' ports (collector, events-api, processor, web demo) on this
    /// address instead of 127.0.0.1: 0.0.0.0 for every interface. Other machines can then
    /// send events and read them: use it with --secure. Remembered. Local and docker.
    #[arg(long, env = "PTRACK_BIND", value_name = "IP")]
    pub bind: Option<IpAddr>,
    /// Open PostgreSQL's and the broker's ports on this address instead of 127.0.0.1.
    /// The broker has no authentication: anyone who reaches it reads and writes every
    /// event. PostgreSQL wants its generated password. Remembered. Local and docker.
    #[arg(long, env = "PTRACK_STORES_BIND", value_name = "IP")]
    pub stores_bind: Option<IpAddr>,
    #[command(flatten)]
    pub data: DataDirArgs,
}

pub async fn run(args: UpArgs) -> Result<ExitCode> {
    start(args).await?;
    println!(
        "\n`ptrack status` shows each service, `ptrack logs -f` follows the logs, `ptrack down` stops it all."
    );
    Ok(ExitCode::SUCCESS)
}

/// What `ptrack up` does before its closing hint, for the commands that bring the stack
/// up on their way (`ptrack demo`): starts what is not running, shows the progress and
/// the endpoints, and returns the runtime to reach the stack through.
pub async fn start(args: UpArgs) -> Result<AnyRuntime> {
    let previous = State::load(&args.data.data_dir)?;
    let runtime_kind = args
        .runtime
        .or(previous.as_ref().map(|p| p.runtime))
        .unwrap_or_default();
    if let Some(previous) = &previous
        && previous.runtime != runtime_kind
        && still_running(&args.data.data_dir).await
    {
        bail!(
            "a {} stack from this data folder is still running: stop it with `ptrack down` \
             first, or use another --data-dir",
            previous.runtime
        );
    }
    let mut scale = previous
        .as_ref()
        .map(|p| p.scale.clone())
        .unwrap_or_default();
    for s in &args.scale {
        scale.insert(s.service, s.replicas);
    }
    let mut partitions = args.partitions.unwrap_or(3);
    if let Some(previous) = &previous {
        if args
            .partitions
            .is_some_and(|asked| asked != previous.partitions)
        {
            eprintln!(
                "note: the topic keeps the {} partitions it was made with; to change them, \
                 `ptrack clean` first (that deletes the events)",
                previous.partitions
            );
        }
        partitions = previous.partitions;
        if let Some(asked) = args.port_offset
            && asked != previous.port_offset
            && still_running(&args.data.data_dir).await
        {
            bail!(
                "the stack runs with --port-offset {}: stop it with `ptrack down` before moving \
                 it to --port-offset {asked}",
                previous.port_offset
            );
        }
    }
    // On kube the manifests always read a write key and a token from the Secret.
    let secure = runtime_kind == RuntimeKind::Kube
        || args
            .secure
            .or(previous.as_ref().map(|p| p.secure))
            .unwrap_or(false);
    let durable = args
        .durable
        .or(previous.as_ref().map(|p| p.durable))
        .unwrap_or(false);
    if previous.as_ref().is_some_and(|p| p.durable != durable)
        && still_running(&args.data.data_dir).await
    {
        eprintln!(
            "note: PostgreSQL and the broker that run keep fsync {}: stop them with \
             `ptrack down` and run `ptrack up --durable={durable}` again to change it",
            if durable { "off" } else { "on" }
        );
    }
    let remembered = previous.as_ref().map(|p| p.bind).unwrap_or_default();
    let bind = Bind {
        services: args.bind.unwrap_or(remembered.services),
        stores: args.stores_bind.unwrap_or(remembered.stores),
    };
    if runtime_kind == RuntimeKind::Kube && bind.is_exposed() {
        bail!(
            "--bind and --stores-bind are for the local and docker runtimes: on kube, the \
             cluster's Services and Ingresses decide what is reachable"
        );
    }
    for ip in [bind.services, bind.stores] {
        // 0.0.0.0 needs an address to tell other machines (the broker advertises it).
        crate::stack::advertised(ip)?;
    }
    if bind != remembered && still_running(&args.data.data_dir).await {
        bail!(
            "the stack runs with its ports on {} (stores on {}): stop it with `ptrack down` \
             before opening them on {} (stores on {})",
            remembered.services,
            remembered.stores,
            bind.services,
            bind.stores
        );
    }
    let state = State {
        runtime: runtime_kind,
        partitions,
        scale,
        port_offset: args
            .port_offset
            .or(previous.as_ref().map(|p| p.port_offset))
            .unwrap_or(0),
        external_database_url: args.database_url.filter(|url| !url.trim().is_empty()),
        secure,
        durable,
        bind,
    };
    let context = Context::new(args.data.data_dir.clone(), state.clone())?;
    std::fs::create_dir_all(&context.data_dir)?;
    state.save(&context.data_dir)?;
    Credentials::ensure(&context.data_dir, secure)?;
    let data_dir = context.data_dir.clone();
    eprintln!(
        "Starting the {} stack (data in {})",
        runtime_kind,
        data_dir.display()
    );
    let started = std::time::Instant::now();
    let runtime = AnyRuntime::new(context)?;
    let options = UpOptions {
        timeout: args.timeout,
        build: args.build,
    };
    let mut progress = Progress::new();
    let endpoints = runtime.up(&options, &mut progress).await?;
    drop(progress);
    println!(
        "\nThe stack is ready ({}):",
        crate::duration::format(started.elapsed())
    );
    let width = endpoints.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for endpoint in &endpoints {
        println!("  {:<width$}  {}", endpoint.name, endpoint.url);
    }
    print!("{}", notes(&state, &data_dir));
    Ok(runtime)
}

/// What `up` says after the endpoints: how to use a `--secure` stack's credentials, or
/// that the stack is open; and what the local runtime risks without `--durable`.
fn notes(state: &State, data_dir: &std::path::Path) -> String {
    let file = Credentials::path(data_dir);
    let file = file.display();
    let mut out = String::new();
    if state.secure {
        out.push_str(&format!(
            "\nSecured: the collector requires the write key (header X-Ptrack-Key, or ?key= / \
             a writeKey field), the events-api the bearer token. Both are in {file} \
             (readable by you only); ptrack load, demo, query and tui send them. \
             For other clients:\n  \
             export PTRACK_WRITE_KEY=$(jq -r .write_key {file})\n  \
             export EVENTS_API_TOKEN=$(jq -r .events_api_token {file})\n  \
             curl -H \"Authorization: Bearer $EVENTS_API_TOKEN\" ...\n"
        ));
    } else if state.bind.services.is_loopback() {
        out.push_str(
            "\nOpen: the collector accepts events without a write key and the events-api \
             answers without a token (fine on 127.0.0.1; `ptrack up --secure` requires both).\n",
        );
    } else {
        out.push_str(&format!(
            "\nOpen to other machines: the collector accepts events without a write key and \
             the events-api serves them without a token to anyone who reaches {}. `ptrack up \
             --secure` requires both.\n",
            shown(state.bind.services)
        ));
    }
    if !state.bind.stores.is_loopback() {
        out.push_str(&format!(
            "PostgreSQL and the broker are open on {}: the broker has no authentication \
             (anyone who reaches it reads and writes the events), PostgreSQL wants the \
             generated password. `ptrack down`, then `ptrack up --stores-bind 127.0.0.1` to \
             close them.\n",
            shown(state.bind.stores)
        ));
    }
    if state.runtime == RuntimeKind::Local {
        if state.durable {
            out.push_str("Durable: PostgreSQL and the broker fsync every commit.\n");
        } else {
            out.push_str(
                "Not durable: PostgreSQL runs with fsync=off and the broker without fsync. \
                 A crash or kill of any service loses nothing; an OS crash or power loss can \
                 lose the latest events or corrupt the data. `ptrack down`, then `ptrack up \
                 --durable` for fsync.\n",
            );
        }
    }
    out
}

/// A bind address as `up` names it: `0.0.0.0` with the address other machines use.
fn shown(ip: std::net::IpAddr) -> String {
    match crate::stack::advertised(ip) {
        Ok(public) if public != ip => format!("{ip} (other machines: {public})"),
        _ => ip.to_string(),
    }
}

/// Whether anything of the stack remembered in `data_dir` still runs.
async fn still_running(data_dir: &std::path::Path) -> bool {
    let Ok(Some(context)) = Context::load(data_dir) else {
        return false;
    };
    let Ok(runtime) = AnyRuntime::new(context) else {
        return false;
    };
    runtime
        .status()
        .await
        .is_ok_and(|statuses| statuses.iter().any(|s| s.state == RunState::Running))
}
