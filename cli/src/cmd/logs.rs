//! `ptrack logs`: the logs of one service or all, each line prefixed by its replica.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

use super::up::DataDirArgs;
use crate::runtime::{AnyRuntime, Context, LogsRequest, Runtime};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  ptrack logs                     every service, one after the other
  ptrack logs processor -f        all processor replicas, then follow
  ptrack logs processor-2 -n 50   one replica's last 50 lines")]
pub struct LogsArgs {
    /// A service (broker, postgres, processor, events-api, collector; all its replicas)
    /// or one replica (processor-2). All services when left out.
    pub service: Option<String>,
    /// Keep printing new lines as they are written (Ctrl-C stops).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only the last N lines of each log.
    #[arg(long, short = 'n', value_name = "N")]
    pub tail: Option<usize>,
    #[command(flatten)]
    pub data: DataDirArgs,
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
    };
    AnyRuntime::new(context)?.logs(&request).await?;
    Ok(ExitCode::SUCCESS)
}
