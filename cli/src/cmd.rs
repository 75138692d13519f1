//! One module per subcommand: its clap arguments and its `run`.

pub mod broker;
pub mod clean;
pub mod down;
pub mod load;
pub mod logs;
pub mod status;
pub mod tui;
pub mod up;
