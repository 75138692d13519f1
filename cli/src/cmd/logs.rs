//! `ptrack logs`: the logs of one service or all, each line prefixed by its replica.

use std::{io::Write, process::ExitCode};

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use clap::Args;

use super::DataDirArgs;
use crate::runtime::{AnyRuntime, Context, Logs, LogsRequest, Runtime};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  ptrack logs                     every service, one after the other
  ptrack logs processor -f        all processor replicas, then follow
  ptrack logs processor-2 -n 50   one replica's last 50 lines
  ptrack logs --since 10m -t      the last ten minutes, each line with its time
  ptrack logs collector --since 2026-12-03T10:00:00Z -f")]
pub struct LogsArgs {
    /// A service (broker, postgres, processor, events-api, collector; all its replicas)
    /// or one replica (processor-2). All services when left out.
    pub service: Option<String>,
    /// Keep printing new lines as they are written (Ctrl-C stops).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only the last N lines of each log (of those since --since).
    #[arg(long, short = 'n', value_name = "N")]
    pub tail: Option<usize>,
    /// Only lines written since this time: RFC 3339 (2026-12-03T10:00:00Z) or a time ago
    /// (10m, 1h30m). Local runtime: a line's time is the one it starts with (the line
    /// before's for one without).
    #[arg(long, value_name = "TIME", value_parser = since_arg)]
    pub since: Option<DateTime<Utc>>,
    /// Start each line with the time it was written (RFC 3339, UTC), as `docker compose
    /// logs -t`.
    #[arg(long, short = 't')]
    pub timestamps: bool,
    #[command(flatten)]
    pub data: DataDirArgs,
}

fn since_arg(text: &str) -> Result<DateTime<Utc>, String> {
    crate::query::time::parse_time("--since", text, Utc::now()).map_err(|err| format!("{err:#}"))
}

pub async fn run(args: LogsArgs) -> Result<ExitCode> {
    let Some(context) = Context::load(&args.data.data_dir)? else {
        bail!(
            "no stack was started with the data folder {}: start one with `ptrack up`",
            args.data.data_dir.display()
        );
    };
    let request = LogsRequest {
        service: args.service,
        follow: args.follow,
        tail: args.tail,
        since: args.since,
        timestamps: args.timestamps,
    };
    let logs = AnyRuntime::new(context)?.logs(&request).await?;
    print(logs).await
}

/// Prints each line as `name | line`, names padded so the lines align, until the logs end
/// or the reader goes away (`ptrack logs | head`: then quietly). A log that failed is
/// reported once the others have ended.
async fn print(mut logs: Logs) -> Result<ExitCode> {
    let width = logs.names.iter().map(String::len).max().unwrap_or(0);
    let mut failure = None;
    while let Some(item) = logs.lines.recv().await {
        match item {
            Ok(log) => {
                let mut out = std::io::stdout().lock();
                if writeln!(out, "{:<width$} | {}", log.replica, log.line).is_err() {
                    // A closed pipe: nobody reads; dropping `logs` stops the readers.
                    return Ok(ExitCode::SUCCESS);
                }
            }
            Err(err) => {
                failure.get_or_insert(err);
            }
        }
    }
    match failure {
        Some(err) => Err(err),
        None => Ok(ExitCode::SUCCESS),
    }
}
