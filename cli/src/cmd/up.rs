//! `ptrack up`: start the whole stack, wait until it is ready, print where to reach it.

use std::{process::ExitCode, time::Duration};

use anyhow::{Result, bail};
use clap::Args;

use super::DataDirArgs;
use crate::{
    progress::Progress,
    runtime::{AnyRuntime, Context, RunState, Runtime, RuntimeKind, State, UpOptions},
    stack::Scale,
};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  ptrack up                                   the local stack, no Docker needed
  ptrack up --scale processor=3 --partitions 6
  ptrack up --runtime docker --build          build the project's images, then start
  ptrack up --port-offset 1000                beside another stack (collector on 9000)

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
    let state = State {
        runtime: runtime_kind,
        partitions,
        scale,
        port_offset: args
            .port_offset
            .or(previous.as_ref().map(|p| p.port_offset))
            .unwrap_or(0),
        external_database_url: args.database_url.filter(|url| !url.trim().is_empty()),
    };
    let context = Context::new(args.data.data_dir.clone(), state.clone())?;
    std::fs::create_dir_all(&context.data_dir)?;
    state.save(&context.data_dir)?;
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
    Ok(runtime)
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
