//! `ptrack tui`: the live cockpit beside a running stack; plain summary lines without a
//! terminal. Where to read from comes from the stack remembered in the data folder (the
//! addresses `ptrack status` uses), each flag overriding its part; with no stack and no
//! flags, the local runtime's default addresses.

use std::{io::IsTerminal, process::ExitCode, time::Duration};

use anyhow::{Result, bail};
use clap::Args;
use reqwest::Url;

use super::DataDirArgs;
use crate::{
    client::base_url,
    runtime::{AnyRuntime, Context, Runtime, RuntimeKind},
    stack::{Endpoints, ReplicaAddr, Stack},
    tui::{
        self, Options, PlainOptions,
        event::{DelayMethod, Setup},
        source::{Replica, Sources},
    },
};

#[derive(Debug, Args)]
#[command(after_help = "\
Keys: q or Esc quit, p freeze, / filter events, Tab or arrows move between panels,
Enter or e expand one (throughput: each collector replica), + and - change the time
window, ? help.

Where it reads from: the stack started with this data folder (`ptrack up`), as `ptrack
status` reaches it; each flag below replaces its part. With no stack there and no flags,
the local runtime's defaults (broker 127.0.0.1:9092, PostgreSQL :5432, collector :8000,
events-api :8001, processor :8002), and the health panel says no stack was found.

Lag is read from the broker itself (high watermark minus the group's committed offset),
so a dead processor shows as growing lag. Where the broker cannot be reached from here
(the docker and kube runtimes), the lag panel shows the processors' own figures
(`/status` and `/metrics`), marked as such. Verdicts per partition and for the group:
OK, LAGGING, STALLED (no commit for 10 s with messages waiting), STOPPED (no commit for
longer than the window), REWOUND (a committed offset went backwards).

Inserted rows per second come from PostgreSQL's statistics, or from the processors'
counters when PostgreSQL cannot be read; dead letters from the dead-letter topic, or the
processors' counters. The recent events come through the events-api (PostgreSQL when it
does not answer). The end-to-end delay is inserted_at - received_at of the rows stored
last: it writes nothing, and it measures collector to table only (not the browser's
batching or network). A running `ptrack load` with the same data folder shows its sent
rate and corrected p99 (it writes DATA_DIR/load-live.json once a second).

Without a terminal (a pipe, CI) it prints a summary line every few seconds instead, or a
JSON object per line with --json. NO_COLOR turns colours off; the mouse is not captured.

Examples:
  ptrack tui                                   beside `ptrack up`
  ptrack tui --brokers 127.0.0.1:9092 --database-url postgres://...
  ptrack tui --collector-url http://10.0.0.5:8000 --collector-url http://10.0.0.6:8000
  ptrack tui --json --every 10s | tee tui.log")]
pub struct TuiArgs {
    /// The Kafka bootstrap servers to read the lag from [default: the stack's, when
    /// reachable from here].
    #[arg(long, env = "KAFKA_BROKERS", value_name = "HOST:PORT[,...]")]
    pub brokers: Option<String>,
    /// The events topic (dead letters: `<topic>.dlq`) [default: the stack's].
    #[arg(long, env = "KAFKA_TOPIC", value_name = "TOPIC")]
    pub topic: Option<String>,
    /// The processors' consumer group [default: the stack's].
    #[arg(long, env = "KAFKA_GROUP_ID", value_name = "GROUP")]
    pub group: Option<String>,
    /// The PostgreSQL the processors write to: inserted rows (from its statistics) and
    /// the delay [default: the stack's, when reachable from here].
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// The events-api, for the recent events [default: the stack's]. (Kept as text: a
    /// `Url` here would make this the one huge variant of the command enum.)
    #[arg(long, value_name = "URL", value_parser = url_text)]
    pub api_url: Option<String>,
    /// A collector replica, for its accepted and rejected counters; repeat for each
    /// [default: the stack's].
    #[arg(long = "collector-url", value_name = "URL")]
    pub collector_urls: Vec<Url>,
    /// A processor replica, for its partitions, lag and counters; repeat for each
    /// [default: the stack's].
    #[arg(long = "processor-url", value_name = "URL")]
    pub processor_urls: Vec<Url>,
    /// How often the sources read the stack.
    #[arg(long, default_value = "1s", value_parser = crate::duration::arg, value_name = "DURATION")]
    pub refresh: Duration,
    /// The time window the charts and verdicts cover; + and - change it (1m to 1h).
    #[arg(long, default_value = "5m", value_parser = crate::duration::arg, value_name = "DURATION")]
    pub window: Duration,
    /// Without a terminal: how often a summary line is printed.
    #[arg(long, default_value = "5s", value_parser = crate::duration::arg, value_name = "DURATION")]
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
    let found = match Context::load(&args.data.data_dir)? {
        Some(context) => {
            let kind = context.state.runtime;
            Some((kind, AnyRuntime::new(context)?.endpoints()))
        }
        None => None,
    };
    let (sources, setup) = resolve(&args, found);
    let options = Options {
        sources,
        setup,
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

/// What `ptrack tui --data-dir DIR` would watch for a stack whose endpoints are known
/// (`ptrack demo` has just started it): the same defaults, environment and discovery.
pub fn stack_options(
    kind: RuntimeKind,
    endpoints: Endpoints,
    data_dir: &std::path::Path,
) -> Result<Options> {
    #[derive(clap::Parser)]
    struct Defaults {
        #[command(flatten)]
        args: TuiArgs,
    }
    let mut argv = vec![std::ffi::OsString::from("tui"), "--data-dir".into()];
    argv.push(data_dir.as_os_str().to_owned());
    let args = <Defaults as clap::Parser>::try_parse_from(argv)?.args;
    let (sources, setup) = resolve(&args, Some((kind, endpoints)));
    Ok(Options {
        sources,
        setup,
        window: args.window,
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    })
}

/// The sources from the stack found in the data folder (its runtime and endpoints), or
/// the local defaults, each flag replacing its part; and what to say about it.
pub fn resolve(args: &TuiArgs, found: Option<(RuntimeKind, Endpoints)>) -> (Sources, Setup) {
    let data_dir = &args.data.data_dir;
    let stack_found = found.is_some();
    let (found_text, endpoints) = match found {
        Some((kind, endpoints)) => (format!("{kind} stack in {}", data_dir.display()), endpoints),
        None => (
            format!(
                "no stack in {}: {} (start one with `ptrack up`)",
                data_dir.display(),
                if any_flag(args) {
                    "the flags, and the local defaults for the rest"
                } else {
                    "the local defaults"
                }
            ),
            local_defaults(),
        ),
    };
    let replicas = |flags: &[Url], found: &[ReplicaAddr], service: &str| -> Vec<Replica> {
        if flags.is_empty() {
            found
                .iter()
                .map(|r| Replica {
                    name: r.name.clone(),
                    url: base_url(r.addr),
                })
                .collect()
        } else {
            flags
                .iter()
                .enumerate()
                .map(|(i, url)| Replica {
                    name: if flags.len() == 1 {
                        service.to_owned()
                    } else {
                        format!("{service}-{}", i + 1)
                    },
                    url: url.clone(),
                })
                .collect()
        }
    };
    let sources = Sources {
        brokers: args.brokers.clone().or(endpoints.broker.clone()),
        topic: args.topic.clone().unwrap_or(endpoints.topic.clone()),
        group: args.group.clone().unwrap_or(endpoints.group.clone()),
        database_url: args.database_url.clone().or(endpoints.database_url.clone()),
        events_api: args
            .api_url
            .as_deref()
            .and_then(|url| Url::parse(url).ok())
            .or_else(|| endpoints.events_api.map(base_url)),
        collectors: replicas(&args.collector_urls, &endpoints.collectors, "collector"),
        processors: replicas(&args.processor_urls, &endpoints.processors, "processor"),
        stack_dir: stack_found.then(|| data_dir.clone()),
        data_dir: Some(data_dir.clone()),
        refresh: args.refresh,
    };
    let setup = Setup {
        found: found_text,
        stack_found,
        broker: sources.brokers.clone(),
        database: sources
            .database_url
            .as_deref()
            .map(ptrack_common::config::redact_url),
        events_api: sources.events_api.as_ref().map(Url::to_string),
        collectors: sources.collectors.len(),
        processors: sources.processors.len(),
        delay: sources
            .database_url
            .is_some()
            .then_some(DelayMethod::RowTimestamps),
    };
    (sources, setup)
}

fn any_flag(args: &TuiArgs) -> bool {
    args.brokers.is_some()
        || args.database_url.is_some()
        || args.api_url.is_some()
        || !args.collector_urls.is_empty()
        || !args.processor_urls.is_empty()
}

/// Where the local runtime puts a default stack (`ptrack up` with no options).
fn local_defaults() -> Endpoints {
    Endpoints::on_host(
        &Stack::default(),
        Some(ptrack_common::config::DEFAULT_KAFKA_BROKERS.to_owned()),
        Some(ptrack_common::config::DEFAULT_DATABASE_URL.to_owned()),
    )
}

/// A URL, checked, as text.
fn url_text(text: &str) -> Result<String, String> {
    Url::parse(text)
        .map(|_| text.to_owned())
        .map_err(|err| format!("`{text}` is not a URL like http://127.0.0.1:8001: {err}"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn args(flags: &[&str]) -> TuiArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            tui: TuiArgs,
        }
        let mut argv = vec!["ptrack-tui", "--data-dir", "/tmp/stack"];
        argv.extend(flags);
        <Cli as clap::Parser>::try_parse_from(argv).unwrap().tui
    }

    #[test]
    fn no_stack_and_no_flags_is_the_local_defaults_and_says_so() {
        // The test environment's own settings must not leak in.
        let mut a = args(&[]);
        (a.brokers, a.database_url, a.topic, a.group) = (None, None, None, None);
        let (sources, setup) = resolve(&a, None);
        assert_eq!(sources.brokers.as_deref(), Some("127.0.0.1:9092"));
        assert_eq!(
            sources.database_url.as_deref(),
            Some(ptrack_common::config::DEFAULT_DATABASE_URL)
        );
        assert_eq!(
            sources.events_api.unwrap().as_str(),
            "http://127.0.0.1:8001/"
        );
        assert_eq!(sources.collectors[0].url.as_str(), "http://127.0.0.1:8000/");
        assert_eq!(sources.processors[0].url.as_str(), "http://127.0.0.1:8002/");
        assert_eq!(sources.topic, "user-tracking-events");
        assert_eq!(sources.group, "ptrack-processor");
        assert_eq!(sources.stack_dir, None, "no runtime to ask for status");
        assert_eq!(sources.data_dir, Some(PathBuf::from("/tmp/stack")));
        assert!(!setup.stack_found);
        assert_eq!(
            setup.found,
            "no stack in /tmp/stack: the local defaults (start one with `ptrack up`)"
        );
    }

    #[test]
    fn a_stack_without_a_reachable_broker_reads_the_processors_and_flags_override() {
        let stack = Stack::new(3, &["processor=2".parse().unwrap()], 100).unwrap();
        // As docker reports it: no broker from here.
        let docker = Endpoints::on_host(&stack, None, Some("postgres://u:secret@h:1/d".into()));
        let mut a = args(&[]);
        (a.brokers, a.database_url, a.topic, a.group) = (None, None, None, None);
        let (sources, setup) = resolve(&a, Some((RuntimeKind::Docker, docker.clone())));
        assert_eq!(sources.brokers, None);
        assert_eq!(setup.broker, None);
        assert_eq!(sources.processors.len(), 2);
        assert_eq!(sources.processors[1].name, "processor-2");
        assert_eq!(sources.processors[1].url.as_str(), "http://127.0.0.1:8112/");
        assert_eq!(sources.stack_dir, Some(PathBuf::from("/tmp/stack")));
        assert!(
            setup.found.starts_with("docker stack in /tmp/stack"),
            "{}",
            setup.found
        );
        assert!(!setup.database.unwrap().contains("secret"));

        let a = args(&[
            "--brokers",
            "b:9092",
            "--api-url",
            "http://api:1",
            "--collector-url",
            "http://c1:2",
            "--collector-url",
            "http://c2:2",
            "--topic",
            "t",
            "--group",
            "g",
        ]);
        let (sources, _) = resolve(&a, Some((RuntimeKind::Docker, docker)));
        assert_eq!(sources.brokers.as_deref(), Some("b:9092"));
        assert_eq!(sources.events_api.unwrap().as_str(), "http://api:1/");
        let names: Vec<&str> = sources.collectors.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["collector-1", "collector-2"],
            "named like the stack's"
        );
        assert_eq!((sources.topic.as_str(), sources.group.as_str()), ("t", "g"));
        assert_eq!(sources.processors.len(), 2, "no flag: the stack's");
    }
}
