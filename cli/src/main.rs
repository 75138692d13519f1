use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    ptrack::main(ptrack::Cli::parse())
}
