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
    args_conflicts_with_subcommands = true,
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
    /// How many events, newest first; 0 for every one, streamed page by page. With
    /// --follow: the last N oldest first, then new ones (0: only new ones, like tail).
    #[arg(short = 'n', long, default_value_t = 30, value_name = "N")]
    pub limit: u64,
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

/// Where the events-api is.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// The events-api; default: the one of the stack started with --data-dir, else
    /// http://127.0.0.1:8001.
    #[arg(long, env = "PTRACK_API_URL", value_name = "URL")]
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
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The event's id (the EVENT_ID column of `ptrack query`).
    #[arg(value_name = "EVENT_ID")]
    pub event_id: Uuid,
    /// table on a terminal, json when piped.
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<ReportFormat>,
    #[command(flatten)]
    pub api: ApiArgs,
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

pub async fn run(args: QueryArgs) -> Result<ExitCode> {
    match args.command {
        Some(QueryCommand::Stats(stats)) => run_stats(stats).await,
        Some(QueryCommand::Trace(trace)) => run_trace(trace).await,
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
    let limit = (!args.all && args.limit > 0).then_some(args.limit);
    let mut writer = Writer::new(format, BufWriter::new(stdout), Utc::now(), colour(terminal));

    if args.follow {
        if format == Format::Json {
            bail!("--follow writes events as they come: use -o ndjson instead of -o json");
        }
        // As with `tail -n 0 -f`, -n 0 prints only the new events.
        let last = match args.limit {
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

async fn run_stats(args: StatsArgs) -> Result<ExitCode> {
    let api = events_api(&args.api)?;
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

async fn run_trace(args: TraceArgs) -> Result<ExitCode> {
    let api = events_api(&args.api)?;
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
