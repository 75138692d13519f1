//! `ptrack query`: the stored events through the events-api; `query stats` and
//! `query trace EVENT_ID`.

use std::{
    io::{BufWriter, IsTerminal, Write},
    process::ExitCode,
};

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Url;
use uuid::Uuid;

use super::DataDirArgs;
use crate::{
    client::{EventsApi, EventsQuery, base_url},
    query::{
        self, NOTHING_MATCHED, QueryError,
        follow::{self, Notice},
        output::{Format, Writer},
        stats::By,
        time::parse_time,
        trace::Trace,
    },
    runtime::credentials::ClientCredentials,
    runtime::{AnyRuntime, Context, Runtime},
};

/// Where the events-api is when neither --api-url nor a started stack says.
const DEFAULT_API_URL: &str = "http://127.0.0.1:8001";
/// The most events `--follow` prints before the new ones.
const MAX_FOLLOW_LAST: u64 = 10_000;

/// The exit codes, for every `--help` of `ptrack query`. A macro so that `concat!` can
/// put it under the examples.
macro_rules! exit_codes {
    () => {
        "Exit codes: 0 found, 1 error (the events-api unreachable, a refused request),
2 bad usage (an unknown flag, a bad --since), 3 nothing matched (no event, an unknown
event id, zero counts)."
    };
}

#[derive(Debug, Args)]
#[command(
    after_help = concat!(
        "Examples:
  ptrack query                                  the last 30 events
  ptrack query --type HOVER --since 15m         both hover kinds of the last 15 minutes
  ptrack query --page /pricing -o wide          every column
  ptrack query --all --since 2h | jq .event_id  one JSON object per line when piped
  ptrack query -f --type CLICK                  like tail -f
  ptrack query stats --by page --since 1h
  ptrack query trace 2f1c4f0e-8a3b-4c55-9d3e-1a2b3c4d5e6f

Times (--since, --until): RFC 3339 (2026-12-03T10:00:00Z), Unix milliseconds
(1764756000000) or a time ago (15m, 2h, 1h30m, 7d); --until is exclusive. Events are
filtered by their browser time. --follow looks 30 s back (in event time) for events
stored late; an event stored later than that is not shown.

",
        exit_codes!()
    )
)]
pub struct QueryArgs {
    #[command(subcommand)]
    pub command: Option<QueryCommand>,
    #[command(flatten)]
    pub filters: Filters,
    /// How many events, newest first (default 30); 0 for every one, streamed page by page.
    /// With --follow: the last N oldest first, then new ones (0: only new ones, like tail).
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<u64>,
    /// Every matching event (the same as -n 0).
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
    /// table (aligned, relative times) on a terminal, ndjson when piped; wide adds every
    /// column; json is one array; csv has a header line. JSON and CSV times are UTC RFC 3339.
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<Format>,
    /// Print the last N events, then new ones as they are stored, until Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

impl QueryArgs {
    /// The first option of the event list that was given, for `query stats` / `trace`
    /// to refuse rather than ignore (`ptrack query --type CLICK stats`).
    fn list_flag(&self) -> Option<&'static str> {
        let f = &self.filters;
        [
            (f.event_type.is_some(), "--type"),
            (f.location.is_some(), "--location"),
            (f.component.is_some(), "--component"),
            (f.page.is_some(), "--page"),
            (f.range.since.is_some(), "--since"),
            (f.range.until.is_some(), "--until"),
            (self.limit.is_some(), "--limit"),
            (self.all, "--all"),
            (self.output.is_some(), "--output"),
            (self.follow, "--follow"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// Counts over a time range (default: the last hour) by type, page, component or
    /// minute.
    #[command(after_help = exit_codes!())]
    Stats(StatsArgs),
    /// One event's journey: created in the browser, received by the collector, written
    /// to Kafka (partition and offset), stored by the processor; each stage's time and
    /// the delay from the one before.
    #[command(after_help = exit_codes!())]
    Trace(TraceArgs),
}

/// The filters of `GET /events`.
#[derive(Debug, Args)]
pub struct Filters {
    /// An event type: CLICK, PAGE_VIEW, ...; HOVER means both hover kinds.
    #[arg(long = "type", short = 't', value_name = "TYPE")]
    pub event_type: Option<String>,
    /// Where the event happened.
    #[arg(long, value_enum, value_name = "LOCATION")]
    pub location: Option<Location>,
    /// A component name, exactly.
    #[arg(long, value_name = "NAME")]
    pub component: Option<String>,
    /// A page path, exactly (like /pricing).
    #[arg(long, value_name = "PATH")]
    pub page: Option<String>,
    #[command(flatten)]
    pub range: TimeRange,
}

#[derive(Debug, Args)]
pub struct TimeRange {
    /// Events from this time: RFC 3339, Unix ms, or a time ago like 15m or 2h.
    #[arg(long, value_parser = parse_since, value_name = "TIME")]
    pub since: Option<DateTime<Utc>>,
    /// Events before this time (exclusive); the same forms as --since.
    #[arg(long, value_parser = parse_until, value_name = "TIME")]
    pub until: Option<DateTime<Utc>>,
}

fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    parse_time("--since", text, Utc::now()).map_err(|err| err.to_string())
}

fn parse_until(text: &str) -> Result<DateTime<Utc>, String> {
    parse_time("--until", text, Utc::now()).map_err(|err| err.to_string())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Location {
    Component,
    Page,
}

/// Where the events-api is; before or after `stats` / `trace` (global).
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// The events-api; default: the one of the stack started with --data-dir, else
    /// http://127.0.0.1:8001.
    #[arg(long, env = "PTRACK_API_URL", value_name = "URL", global = true)]
    pub api_url: Option<String>,
    #[command(flatten)]
    pub data: DataDirArgs,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// What the counts are grouped by.
    #[arg(long, value_enum, default_value = "type")]
    pub by: By,
    #[command(flatten)]
    pub range: TimeRange,
    /// table on a terminal, json (the events-api's body) when piped.
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<ReportFormat>,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The event's id (the EVENT_ID column of `ptrack query`).
    #[arg(value_name = "EVENT_ID")]
    pub event_id: Uuid,
    /// table on a terminal, json when piped.
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<ReportFormat>,
}

/// `-o` of `stats` and `trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
}

impl ReportFormat {
    fn or_default(format: Option<Self>) -> Self {
        format.unwrap_or(if std::io::stdout().is_terminal() {
            Self::Table
        } else {
            Self::Json
        })
    }
}

/// `-n` without a value.
const DEFAULT_LIMIT: u64 = 30;

pub async fn run(args: QueryArgs) -> Result<ExitCode> {
    if let Some(command) = &args.command
        && let Some(flag) = args.list_flag()
    {
        let (name, own): (&str, &[&str]) = match command {
            QueryCommand::Stats(_) => ("stats", &["--since", "--until", "--output"]),
            QueryCommand::Trace(_) => ("trace", &["--output"]),
        };
        let message = if own.contains(&flag) {
            format!("{flag} goes after `{name}`: ptrack query {name} {flag} ...")
        } else {
            format!(
                "{flag} is an option of the event list, not of `query {name}` (see `ptrack \
                 query {name} --help`)"
            )
        };
        let mut cli = <crate::Cli as clap::CommandFactory>::command();
        // Built, the subcommand's usage line reads `ptrack query ...`.
        cli.build();
        let query = cli
            .find_subcommand_mut("query")
            .expect("ptrack has a query command");
        query
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit();
    }
    match args.command {
        Some(QueryCommand::Stats(stats)) => run_stats(stats, &args.api).await,
        Some(QueryCommand::Trace(trace)) => run_trace(trace, &args.api).await,
        None => run_list(args).await,
    }
}

async fn run_list(args: QueryArgs) -> Result<ExitCode> {
    let api = events_api(&args.api)?;
    let filters = args.filters;
    let query = EventsQuery {
        event_type: filters.event_type,
        location_type: filters.location.map(|l| {
            match l {
                Location::Component => "COMPONENT",
                Location::Page => "PAGE",
            }
            .to_owned()
        }),
        component_name: filters.component,
        page_path: filters.page,
        since: filters.range.since,
        until: filters.range.until,
        limit: None,
        cursor: None,
    };
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let format = args.output.unwrap_or(if terminal {
        Format::Table
    } else {
        Format::Ndjson
    });
    let asked = args.limit.unwrap_or(DEFAULT_LIMIT);
    let limit = (!args.all && asked > 0).then_some(asked);
    let mut writer = Writer::new(format, BufWriter::new(stdout), Utc::now(), colour(terminal));

    if args.follow {
        if format == Format::Json {
            bail!("--follow writes events as they come: use -o ndjson instead of -o json");
        }
        // As with `tail -n 0 -f`, -n 0 prints only the new events.
        let last = match asked {
            _ if args.all => bail!(
                "--follow prints the last N events (at most {MAX_FOLLOW_LAST}) before the new \
                 ones: give -n N instead of --all"
            ),
            n if n <= MAX_FOLLOW_LAST => n,
            _ => bail!(
                "--follow prints at most the last {MAX_FOLLOW_LAST} events before the new ones"
            ),
        };
        let notice = |notice: Notice| match notice {
            Notice::NotAnswering(reason) => {
                eprintln!("events-api not answering: {reason}; retrying")
            }
            Notice::Answering => eprintln!("events-api answering again"),
        };
        let stop = async {
            // Without a signal handler, Ctrl-C ends the process anyway.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        return match follow::follow(&api, query, last, &mut writer, notice, stop).await {
            Ok(()) => finish(writer),
            Err(err) => query_error(err),
        };
    }

    let written = match query::list(&api, query, limit, &mut writer).await {
        Ok(written) => written,
        Err(err) => return query_error(err),
    };
    if let Err(err) = writer.finish() {
        return query_error(err.into());
    }
    if written == 0 {
        eprintln!("no events matched");
        return Ok(ExitCode::from(NOTHING_MATCHED));
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_stats(args: StatsArgs, api: &ApiArgs) -> Result<ExitCode> {
    let api = events_api(api)?;
    let stats = api
        .stats_by(args.range.since, args.range.until, args.by.api())
        .await?;
    let mut out = BufWriter::new(std::io::stdout());
    let written = match ReportFormat::or_default(args.output) {
        ReportFormat::Json => serde_json::to_writer_pretty(&mut out, &stats)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        ReportFormat::Table => query::stats::table(&stats, args.by, &mut out),
    }
    .and_then(|()| out.flush());
    if let Err(err) = written {
        return query_error(err.into());
    }
    if stats.total == 0 {
        eprintln!("no events between the two times");
        return Ok(ExitCode::from(NOTHING_MATCHED));
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_trace(args: TraceArgs, api: &ApiArgs) -> Result<ExitCode> {
    let api = events_api(api)?;
    let Some(event) = api.event(args.event_id).await? else {
        eprintln!(
            "no event {} is stored: check the id (`ptrack query` lists events with their \
             EVENT_ID), or wait a moment if it was just sent",
            args.event_id
        );
        return Ok(ExitCode::from(NOTHING_MATCHED));
    };
    let trace = Trace::new(&event);
    let mut out = BufWriter::new(std::io::stdout());
    let written = match ReportFormat::or_default(args.output) {
        ReportFormat::Json => serde_json::to_writer_pretty(&mut out, &trace)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        ReportFormat::Table => trace.write_text(&mut out),
    }
    .and_then(|()| out.flush());
    if let Err(err) = written {
        return query_error(err.into());
    }
    Ok(ExitCode::SUCCESS)
}

fn finish<W: Write>(writer: Writer<W>) -> Result<ExitCode> {
    match writer.finish() {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(err) => query_error(err.into()),
    }
}

/// A closed pipe ends quietly with 0; anything else is the error.
fn query_error(err: QueryError) -> Result<ExitCode> {
    if err.is_closed_pipe() {
        return Ok(ExitCode::SUCCESS);
    }
    Err(err.into())
}

/// Colours on a terminal, unless `NO_COLOR` is set.
fn colour(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The events-api: --api-url, else the stack's from the data folder, else the default;
/// the token (`EVENTS_API_TOKEN`, else the one `ptrack up --secure` saved) is sent as a
/// bearer token when there is one.
fn events_api(args: &ApiArgs) -> Result<EventsApi> {
    let base = match &args.api_url {
        Some(url) => Url::parse(url).with_context(|| {
            format!("--api-url {url:?} is not a URL: write it like {DEFAULT_API_URL}")
        })?,
        None => stack_api(&args.data)
            .unwrap_or_else(|| Url::parse(DEFAULT_API_URL).expect("the default is a URL")),
    };
    Ok(ClientCredentials::find(&args.data.data_dir).events_api(base))
}

/// The events-api of the stack `ptrack up` started with this data folder, if it is
/// reachable from here.
fn stack_api(data: &DataDirArgs) -> Option<Url> {
    let context = Context::load(&data.data_dir).ok()??;
    let runtime = AnyRuntime::new(context).ok()?;
    runtime.endpoints().events_api.map(base_url)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::{Cli, Command};

    fn query(args: &[&str]) -> QueryArgs {
        let cli = Cli::try_parse_from([&["ptrack", "query"], args].concat())
            .unwrap_or_else(|err| panic!("{args:?}: {err}"));
        match cli.command {
            Command::Query(args) => *args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn where_the_events_api_is_may_come_before_or_after_the_subcommand() {
        for args in [
            &["--api-url", "http://h:1", "stats", "--by", "page"][..],
            &["stats", "--api-url", "http://h:1", "--by", "page"],
            &[
                "--data-dir",
                "d",
                "--api-url",
                "http://h:1",
                "trace",
                "--",
                "00000000-0000-0000-0000-000000000000",
            ],
            &[
                "trace",
                "00000000-0000-0000-0000-000000000000",
                "--data-dir",
                "d",
                "--api-url",
                "http://h:1",
            ],
        ] {
            let parsed = query(args);
            assert!(parsed.command.is_some(), "{args:?}");
            assert_eq!(
                parsed.api.api_url.as_deref(),
                Some("http://h:1"),
                "{args:?}"
            );
            assert_eq!(parsed.list_flag(), None, "{args:?}");
        }
    }

    #[test]
    fn an_option_of_the_list_before_a_subcommand_is_named_not_ignored() {
        assert_eq!(
            query(&["--type", "CLICK", "stats"]).list_flag(),
            Some("--type")
        );
        assert_eq!(
            query(&["--since", "1h", "stats"]).list_flag(),
            Some("--since")
        );
        assert_eq!(query(&["-n", "5", "stats"]).list_flag(), Some("--limit"));
        assert_eq!(
            query(&[
                "-o",
                "json",
                "trace",
                "00000000-0000-0000-0000-000000000000"
            ])
            .list_flag(),
            Some("--output")
        );
        // The list itself: its own options, and -n defaults to 30 in run_list.
        let list = query(&["--type", "CLICK", "-n", "5"]);
        assert!(list.command.is_none());
        assert_eq!(list.limit, Some(5));
        assert_eq!(query(&[]).limit, None);
    }
}
