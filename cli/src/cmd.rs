//! One module per subcommand: its clap arguments and its `run`; and the arguments the
//! stack commands share ([`DataDirArgs`]).

use std::path::PathBuf;

use clap::Args;

pub mod broker;
pub mod clean;
pub mod completions;
pub mod demo;
pub mod down;
pub mod load;
pub mod logs;
pub mod query;
pub mod status;
pub mod tui;
pub mod up;

/// Where the stack keeps its state, logs and (local runtime) data; shared by the stack
/// commands.
#[derive(Debug, Clone, Args)]
pub struct DataDirArgs {
    /// The stack's folder: remembered runtime, pid files, logs, and the local runtime's
    /// broker and PostgreSQL data.
    /// Global: `ptrack query --data-dir D stats` works as `ptrack query stats --data-dir D`.
    #[arg(
        long,
        env = "PTRACK_DATA_DIR",
        default_value = ".ptrack",
        value_name = "DIR",
        global = true
    )]
    pub data_dir: PathBuf,
}
