//! `ptrack clean`: stop the stack and delete its data, after asking.

use std::{
    io::{BufRead, IsTerminal, Write},
    process::ExitCode,
};

use anyhow::{Result, bail};
use clap::Args;

use super::DataDirArgs;
use crate::{
    progress::Progress,
    runtime::{AnyRuntime, Context, Runtime, remove_data_dir},
};

#[derive(Debug, Args)]
#[command(after_help = "\
Deletes every event, topic and log of the stack: the data folder, and the docker runtime's
volumes. Without a terminal to ask on, --yes is required.")]
pub struct CleanArgs {
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub data: DataDirArgs,
}

pub async fn run(args: CleanArgs) -> Result<ExitCode> {
    let context = Context::load(&args.data.data_dir)?;
    let dir = std::path::absolute(&args.data.data_dir)?;
    if context.is_none() && !dir.exists() {
        eprintln!("Nothing to clean: {} does not exist.", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes {
        let what = match &context {
            Some(c) => format!(
                "Stop the {} stack and delete all its data ({})?",
                c.state.runtime,
                dir.display()
            ),
            None => format!("Delete {}?", dir.display()),
        };
        if !std::io::stdin().is_terminal() {
            bail!("{what} Not without confirmation: run `ptrack clean --yes`");
        }
        eprint!("{what} [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            eprintln!("Nothing deleted.");
            return Ok(ExitCode::FAILURE);
        }
    }
    if let Some(context) = context {
        // Plain lines: what is stopped and removed, as it happens.
        let mut progress = Progress::with_terminal(false);
        AnyRuntime::new(context)?.clean(&mut progress).await?;
    }
    remove_data_dir(&dir)?;
    eprintln!("Deleted {}.", dir.display());
    Ok(ExitCode::SUCCESS)
}
