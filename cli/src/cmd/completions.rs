//! `ptrack completions SHELL`: the shell's completion script for every subcommand and
//! flag, generated from the clap definition (clap_complete), on stdout.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Debug, Args)]
#[command(after_help = "\
Install:
  bash  ptrack completions bash > ~/.local/share/bash-completion/completions/ptrack
  zsh   ptrack completions zsh > ~/.zfunc/_ptrack   (with fpath+=(~/.zfunc) before compinit)
  fish  ptrack completions fish > ~/.config/fish/completions/ptrack.fish")]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish (also elvish, powershell).
    #[arg(value_enum)]
    pub shell: Shell,
}

pub async fn run(args: CompletionsArgs) -> Result<ExitCode> {
    let mut command = crate::Cli::command();
    clap_complete::generate(args.shell, &mut command, "ptrack", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
