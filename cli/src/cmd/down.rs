//! `ptrack down`: stop the whole stack and keep its data.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::DataDirArgs;
use crate::{
    progress::Progress,
    runtime::{AnyRuntime, Context, Runtime},
};

#[derive(Debug, Args)]
#[command(after_help = "\
Services get SIGTERM (containers: a stop) and are killed if they have not stopped after a
grace period. Topics, events and the database stay: `ptrack up` brings them back, and
`ptrack clean` deletes them.")]
pub struct DownArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
}

pub async fn run(args: DownArgs) -> Result<ExitCode> {
    let Some(context) = Context::load(&args.data.data_dir)? else {
        eprintln!(
            "Nothing to stop: no stack was started with the data folder {}.",
            args.data.data_dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let data_dir = context.data_dir.clone();
    let kind = context.state.runtime;
    // Plain lines: what is stopped, as it happens.
    let mut progress = Progress::with_terminal(false);
    AnyRuntime::new(context)?.down(&mut progress).await?;
    eprintln!(
        "The {kind} stack is stopped; its data stays in {} (`ptrack up` starts it again, `ptrack clean` deletes it).",
        data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
