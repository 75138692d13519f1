//! `ptrack demo`: the README's first command. Brings the stack up when it is not up (the
//! `ptrack up` code path, local runtime by default), sends a modest synthetic load
//! through it in the background (the `ptrack load` code path) and watches it with
//! `ptrack tui`; at the end, the load's report and how to stop the stack.

use std::{
    ffi::OsString,
    io::{IsTerminal, Write},
    path::Path,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use reqwest::Url;
use tokio_util::sync::CancellationToken;

use ptrack_common::config::Secret;

use super::{
    DataDirArgs,
    up::{self, UpArgs},
};
use crate::{
    duration,
    load::{
        self, LoadConfig, VerifyConfig, VerifyThrough,
        plan::Plan,
        report::{Report, Settings},
        runner::RunConfig,
        tracker::Batching,
    },
    runtime::credentials::ClientCredentials,
    runtime::{AnyRuntime, Context, Endpoints, Health, RunState, Runtime, RuntimeKind, UpOptions},
    tui::{self, PlainOptions},
};

#[derive(Debug, Args)]
#[command(after_help = "\
On a terminal the TUI runs until you quit it (q, Esc or Ctrl-C); quitting stops the load,
checks that every event it got accepted was stored exactly once (a second Ctrl-C skips
that) and prints its report. Without a terminal (CI, a pipe) the TUI's summary lines are
printed for --duration (30s by default), then the load is checked the same way. Lost
events make the command exit 1.

The stack keeps running afterwards; `ptrack down` stops it, `ptrack clean --yes` deletes
its data too.

Examples:
  ptrack demo                                  until you quit the TUI
  ptrack demo --duration 20s < /dev/null | cat CI-like: summary lines, report, verdict
  ptrack demo --rps 500 --port-offset 1000     more traffic, beside another stack")]
pub struct DemoArgs {
    /// Requests per second to the collector, each a tracker's batch of up to 10 events
    /// (4 to 5 on average: 50 requests/s is some 220 events/s).
    #[arg(long, default_value_t = 50.0, value_name = "N")]
    pub rps: f64,
    /// How long the load runs, like 30s or 5m. Default: until you quit the TUI on a
    /// terminal, 30s without one.
    #[arg(long, value_parser = duration::arg, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Print the TUI's summary lines instead of drawing it, even on a terminal.
    #[arg(long)]
    pub plain: bool,
    /// With summary lines: how often one is printed.
    #[arg(long, default_value = "5s", value_parser = duration::arg, value_name = "DURATION")]
    pub every: Duration,
    /// Added to every port of the stack, when `demo` brings it up (as `ptrack up
    /// --port-offset`; default: that of the last `up`, else 0).
    #[arg(long, env = "PTRACK_PORT_OFFSET", value_name = "N")]
    pub port_offset: Option<u16>,
    /// When `demo` brings the stack up: use this PostgreSQL instead of starting a private
    /// cluster under the data folder (as `ptrack up`).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub data: DataDirArgs,
}

/// A duration without a terminal, when none is given: enough to see the pipeline settle.
const PLAIN_DURATION: Duration = Duration::from_secs(30);
/// "Until quit" on a terminal: a timetable has an end, so a day stands in for none.
const UNTIL_QUIT: Duration = Duration::from_secs(24 * 3600);

pub async fn run(args: DemoArgs) -> Result<ExitCode> {
    if !(args.rps.is_finite() && args.rps > 0.0) {
        bail!("--rps must be a positive number of requests per second");
    }
    if args.every.is_zero() || args.duration.is_some_and(|d| d.is_zero()) {
        bail!("--every and --duration must be longer than zero");
    }
    let screen = !args.plain && std::io::stdout().is_terminal();
    let duration = match (args.duration, screen) {
        (Some(d), _) => Some(d),
        (None, true) => None,
        (None, false) => Some(PLAIN_DURATION),
    };

    let runtime = bring_up(&args).await?;
    let endpoints = runtime.endpoints();
    let config = load_config(&args, &endpoints, duration)?;
    let kind = match &runtime {
        AnyRuntime::Local(_) => RuntimeKind::Local,
        AnyRuntime::Docker(_) => RuntimeKind::Docker,
        AnyRuntime::Kube(_) => RuntimeKind::Kube,
    };
    let options = super::tui::stack_options(kind, endpoints.clone(), &args.data.data_dir)?;
    let verifies = config.verify.is_some();
    eprintln!(
        "\nptrack demo: {} to {}{}; watched by `ptrack tui`{}",
        config.settings.plan,
        config.settings.target,
        if verifies {
            ", then every accepted event is looked for in the table"
        } else {
            ""
        },
        if screen {
            " (q quits)"
        } else {
            ", a summary line every few seconds"
        }
    );
    let stop = CancellationToken::new();
    let observer = Observer {
        talk: !screen,
        stopped: stop.clone(),
        said: Instant::now(),
    };
    let load = load::run(config, stop.clone(), observer);
    tokio::pin!(load);
    let watch = async {
        if screen {
            tui::run_screen(options).await
        } else {
            let plain = PlainOptions {
                json: false,
                every: args.every,
            };
            tui::run_plain(options, plain, &mut std::io::stdout().lock()).await
        }
    };
    // The TUI ends the demo when it is quit (q, Ctrl-C); the load ends it when its
    // --duration is over and it has been verified. Whichever ends first stops the other.
    let (report, watched) = tokio::select! {
        report = &mut load => (report, Ok(())),
        watched = watch => {
            stop.cancel();
            if verifies {
                eprintln!(
                    "stopping the load; then every accepted event is looked for in the table \
                     (Ctrl-C skips)..."
                );
            } else {
                eprintln!("stopping the load...");
            }
            let report = tokio::select! {
                report = &mut load => report,
                // The TUI caught the first Ctrl-C; a second one quits at once.
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("interrupted twice: quitting without a report");
                    return Ok(ExitCode::from(130));
                }
            };
            (report, watched)
        }
    };
    let report = report.context("the demo's load failed")?;
    print_report(&report);
    say_how_to_stop(&args.data.data_dir);
    watched.context("the TUI failed")?;
    Ok(verdict(&report))
}

/// The stack of the data folder, brought up through `ptrack up`'s code unless every
/// part of it already runs and is healthy.
async fn bring_up(args: &DemoArgs) -> Result<AnyRuntime> {
    let data_dir = &args.data.data_dir;
    if let Some(context) = Context::load(data_dir)?
        && args
            .port_offset
            .is_none_or(|asked| asked == context.state.port_offset)
    {
        let runtime_kind = context.state.runtime;
        let runtime = AnyRuntime::new(context)?;
        let statuses = runtime.status().await.unwrap_or_default();
        let up = !statuses.is_empty()
            && statuses.iter().all(|s| {
                s.state == RunState::External
                    || (s.state == RunState::Running && s.health == Health::Healthy)
            });
        if up {
            eprintln!(
                "The {runtime_kind} stack of {} is up: the demo uses it.",
                data_dir.display()
            );
            return Ok(runtime);
        }
    }
    up::start(UpArgs {
        // The runtime of the last `up` in this data folder, else local.
        runtime: None,
        partitions: None,
        scale: Vec::new(),
        port_offset: args.port_offset,
        database_url: args.database_url.clone(),
        timeout: UpOptions::DEFAULT_TIMEOUT,
        build: false,
        // As the last `up` of this data folder left them.
        secure: None,
        durable: None,
        bind: None,
        stores_bind: None,
        data: args.data.clone(),
    })
    .await
}

/// `ptrack load`'s defaults (100 connections, 1000 visitors whose trackers batch up to 10
/// events or flush every 5 s), at `--rps` on the first collector; verified through
/// PostgreSQL when it is reachable, else through the events-api.
fn load_config(
    args: &DemoArgs,
    endpoints: &Endpoints,
    duration: Option<Duration>,
) -> Result<LoadConfig> {
    let Some(collector) = endpoints.collectors.first() else {
        bail!(
            "this stack's collector cannot be reached from this machine (kube): use \
             `kubectl -n ptrack port-forward svc/collector 8000` and `ptrack load`, or run \
             the demo on the local runtime with another --data-dir"
        );
    };
    let url = Url::parse(&format!("http://{}/track", collector.addr))
        .context("the collector's address is not a URL")?;
    let plan = Plan::fixed(args.rps, Some(duration.unwrap_or(UNTIL_QUIT)), None)?;
    let seed = rand::random();
    let batching = Batching::default();
    let connections = 100;
    let timeout = Duration::from_secs(10);
    let users = 1000;
    let through = match (&endpoints.database_url, endpoints.events_api) {
        (Some(url), _) => Some(VerifyThrough::Database(Secret::new(url.clone()))),
        (None, Some(addr)) => Some(VerifyThrough::EventsApi(
            ClientCredentials::find(&args.data.data_dir).events_api(crate::client::base_url(addr)),
        )),
        (None, None) => None,
    };
    Ok(LoadConfig {
        settings: Settings {
            target: url.to_string(),
            plan: match duration {
                Some(_) => plan.to_string(),
                None => format!("{} requests/s until quit", args.rps),
            },
            connections,
            users,
            batching: format!(
                "of up to {} events, flushed every {}",
                batching.max_batch,
                duration::format(batching.flush_interval)
            ),
            seed,
            timeout: duration::format(timeout),
        },
        run: RunConfig {
            url,
            plan,
            connections,
            timeout,
            users,
            batching,
            seed,
            app_name: "ptrack-demo".to_owned(),
            keep_ids: through.is_some(),
            // The stack's write key, when `up --secure` made one.
            headers: super::load::with_write_key(Vec::new(), &args.data.data_dir),
            gzip: false,
        },
        verify: through.map(|through| VerifyConfig {
            through,
            timeout: Duration::from_secs(60),
            settle: Duration::from_secs(10),
            // Quitting stops the load, then looks for what was accepted until then.
            after_stop: true,
        }),
        data_dir: Some(args.data.data_dir.clone()),
    })
}

/// The load's report on stdout; a closed pipe is not an error worth a panic.
fn print_report(report: &Report) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\n{}", report.text()).and_then(|()| out.flush());
}

/// The stack outlives the demo: how to look at it and how to stop it, as commands to
/// copy (with the data folder when it is not the default).
fn say_how_to_stop(data_dir: &Path) {
    let program = std::env::args_os()
        .next()
        .filter(|p| p.to_string_lossy().contains('/'))
        .unwrap_or_else(|| OsString::from("ptrack"));
    let program = program.to_string_lossy();
    let dir = if data_dir == Path::new(".ptrack") {
        String::new()
    } else {
        format!(" --data-dir {}", data_dir.display())
    };
    let commands = [
        (
            format!("{program} status{dir}"),
            "each service and its health",
        ),
        (format!("{program} tui{dir}"), "watch it again"),
        (format!("{program} logs{dir} -f"), "follow the logs"),
        (format!("{program} down{dir}"), "stop it (the data stays)"),
        (
            format!("{program} clean --yes{dir}"),
            "stop it and delete its data",
        ),
    ];
    let width = commands.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    let mut text = String::from("The stack is still up:\n");
    for (command, what) in commands {
        text.push_str(&format!("  {command:<width$}  {what}\n"));
    }
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{text}").and_then(|()| out.flush());
}

/// Failure when accepted events were lost, or when nothing at all was accepted.
fn verdict(report: &Report) -> ExitCode {
    if report.verify.as_ref().is_some_and(|v| v.lost > 0) {
        eprintln!(
            "error: accepted events were lost on the way to the table: look for the ids \
             above in `ptrack logs processor`"
        );
        return ExitCode::FAILURE;
    }
    if report.requests > 0 && report.requests_ok == 0 && !report.interrupted {
        eprintln!(
            "error: the collector accepted no request: see `ptrack status` and `ptrack logs \
             collector`"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The load's news: nothing while the TUI draws (it owns the screen); without it, or
/// once it is quit, how far the check has got, every few seconds.
struct Observer {
    talk: bool,
    /// Stopped early (the TUI was quit): the screen is the terminal's again.
    stopped: CancellationToken,
    said: Instant,
}

impl load::Observer for Observer {
    fn sent(&mut self) {
        if self.talk && !self.stopped.is_cancelled() {
            eprintln!("the load has sent its last request: looking for its events in the table");
        }
        self.said = Instant::now();
    }

    fn verifying(&mut self, found: u64, expected: u64) {
        if (self.talk || self.stopped.is_cancelled())
            && self.said.elapsed() >= Duration::from_secs(2)
        {
            self.said = Instant::now();
            eprintln!("verify: {found} of {expected} accepted events stored so far");
        }
    }
}
