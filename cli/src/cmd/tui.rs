//! `ptrack tui`: the live cockpit beside a running stack; plain summary lines without a
//! terminal.

use std::{io::IsTerminal, process::ExitCode, time::Duration};

use anyhow::{Result, bail};
use clap::Args;

use super::DataDirArgs;
use crate::tui::{self, Options, PlainOptions, source::Sources};

#[derive(Debug, Args)]
#[command(after_help = "\
Keys: q or Esc quit, p freeze, / filter events, Tab or arrows move between panels,
Enter or e expand one, + and - change the time window, ? help.

Lag is read from the broker itself (high watermark minus the group's committed offset),
so a dead processor shows as growing lag. Verdicts per partition and for the group:
OK, LAGGING, STALLED (no commit for 10 s with messages waiting), STOPPED (no commit for
longer than the window), REWOUND (a committed offset went backwards).

Without a terminal (a pipe, CI) it prints a summary line every few seconds instead, or a
JSON object per line with --json. NO_COLOR turns colours off; the mouse is not captured.

Examples:
  ptrack tui                                   beside `ptrack up` (local defaults)
  ptrack tui --brokers 127.0.0.1:9092 --database-url postgres://...
  ptrack tui --json --every 10s | tee tui.log")]
pub struct TuiArgs {
    /// The Kafka bootstrap servers to read the lag from.
    #[arg(long, env = "KAFKA_BROKERS", value_name = "HOST:PORT[,...]",
          default_value = ptrack_common::config::DEFAULT_KAFKA_BROKERS)]
    pub brokers: String,
    /// The events topic (dead letters: `<topic>.dlq`).
    #[arg(long, env = "KAFKA_TOPIC", value_name = "TOPIC",
          default_value = ptrack_common::config::DEFAULT_KAFKA_TOPIC)]
    pub topic: String,
    /// The processors' consumer group.
    #[arg(
        long,
        env = "KAFKA_GROUP_ID",
        value_name = "GROUP",
        default_value = "ptrack-processor"
    )]
    pub group: String,
    /// The PostgreSQL the processors write to: inserted rows (from its statistics), the
    /// newest events and their delay.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL",
          default_value = ptrack_common::config::DEFAULT_DATABASE_URL, hide_default_value = true)]
    pub database_url: String,
    /// The events-api (not read yet: the newest events come from PostgreSQL for now).
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// How often the sources read the stack.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub refresh: Duration,
    /// The time window the charts and verdicts cover; + and - change it (1m to 1h).
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub window: Duration,
    /// Without a terminal: how often a summary line is printed.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub every: Duration,
    /// Print a JSON object per summary instead of drawing (also with a terminal).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataDirArgs,
}

pub async fn run(args: TuiArgs) -> Result<ExitCode> {
    if args.refresh.is_zero() || args.every.is_zero() || args.window.is_zero() {
        bail!("--refresh, --every and --window must be longer than zero");
    }
    let options = Options {
        sources: Sources {
            brokers: Some(args.brokers),
            topic: args.topic,
            group: args.group,
            database_url: Some(args.database_url),
            data_dir: Some(args.data.data_dir),
            refresh: args.refresh,
        },
        window: args.window,
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let stdout = std::io::stdout();
    if args.json || !stdout.is_terminal() {
        let plain = PlainOptions {
            json: args.json,
            every: args.every,
        };
        tui::run_plain(options, plain, &mut stdout.lock()).await?;
    } else {
        tui::run_screen(options).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `500ms`, `2s`, `5m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 500ms, 2s, 5m or 1h"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!(
            "`{text}` is not a duration like 500ms, 2s, 5m or 1h"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5x").is_err());
    }
}
