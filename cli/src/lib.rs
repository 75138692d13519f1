//! `ptrack`: the developer's cockpit for the event pipeline.
//!
//! Layout:
//! - [`cmd`]: one file per subcommand behind the [`Command`] enum.
//! - [`client`]: the typed HTTP client of the services (events-api, processor,
//!   collector); the only place that builds their URLs.
//! - [`stack`]: the one description of the stack (services, images, ports, environment,
//!   health checks, start order, replicas) that every runtime starts.
//! - [`runtime`]: where the stack runs (local processes, docker, kube), behind one trait;
//!   runtimes print nothing: they report to an observer and return values.
//! - [`progress`]: per-service progress with elapsed time for `ptrack up`: the terminal's
//!   observer of a runtime.
//! - [`tui`]: `ptrack tui`, the live cockpit: lag and verdicts, throughput, events, health.
//! - [`query`]: `ptrack query`: stored events through the events-api (filters, output
//!   formats, `--follow`), `query stats` and `query trace`.
//! - [`duration`]: durations as people write them (`1h30m`), parsed and printed.

pub mod client;
pub mod cmd;
pub mod duration;
pub mod load;
pub mod progress;
pub mod query;
pub mod runtime;
pub mod stack;
pub mod tui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Start, stop, watch, load and query the ptrack event pipeline.
#[derive(Debug, Parser)]
#[command(name = "ptrack", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The first command to try: brings the stack up if it is not (local runtime), sends
    /// a modest synthetic load through it and opens the TUI on it; quitting stops the
    /// load and prints its report (summary lines, a verified report and a verdict without
    /// a terminal).
    Demo(cmd::demo::DemoArgs),
    /// Starts the whole stack (broker, PostgreSQL, processor, events-api, collector), waits
    /// until every service is ready and prints where to reach it.
    Up(cmd::up::UpArgs),
    /// Stops the whole stack; its data stays.
    Down(cmd::down::DownArgs),
    /// Stops the stack and deletes its data (asks first unless --yes).
    Clean(cmd::clean::CleanArgs),
    /// Shows each service and replica: state, health, address, uptime, partitions.
    Status(cmd::status::StatusArgs),
    /// Prints the logs of one service or all, each line prefixed by its replica.
    Logs(cmd::logs::LogsArgs),
    /// Runs the embedded Kafka-protocol broker (tansu, SQLite) in the foreground; the
    /// local runtime of `ptrack up` starts it in the background.
    #[command(hide = true)]
    Broker(cmd::broker::BrokerArgs),
    /// Sends synthetic tracker traffic to the collector at an exact rate and reports
    /// the latency (corrected for coordinated omission), errors and, with --verify,
    /// whether every accepted event was stored exactly once.
    // Boxed: its many options would make every `Command` that large.
    Load(Box<cmd::load::LoadArgs>),
    /// Watches the running pipeline live: consumer lag with a verdict per partition,
    /// throughput, recent events, health and end-to-end delay (summary lines without a
    /// terminal).
    Tui(cmd::tui::TuiArgs),
    /// Reads the stored events through the events-api: filters, a table or JSON/CSV,
    /// --follow; `query stats` counts, `query trace EVENT_ID` shows one event's journey.
    Query(Box<cmd::query::QueryArgs>),
    /// Prints the shell completion script for bash, zsh or fish.
    Completions(cmd::completions::CompletionsArgs),
}

/// Runs a command on a multi-threaded runtime; errors print with their causes.
pub fn main(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Demo(args) => cmd::demo::run(args).await,
            Command::Up(args) => cmd::up::run(args).await,
            Command::Down(args) => cmd::down::run(args).await,
            Command::Clean(args) => cmd::clean::run(args).await,
            Command::Status(args) => cmd::status::run(args).await,
            Command::Logs(args) => cmd::logs::run(args).await,
            Command::Broker(args) => cmd::broker::run(args).await,
            Command::Load(args) => cmd::load::run(*args).await,
            Command::Tui(args) => cmd::tui::run(args).await,
            Command::Query(args) => cmd::query::run(*args).await,
            Command::Completions(args) => cmd::completions::run(args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        // clap's own checks: no two options of a command with one name or short flag,
        // globals that do not clash with a subcommand's options, ...
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
