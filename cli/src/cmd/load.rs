//! `ptrack load`: sends synthetic tracker traffic to the collector on a fixed timetable
//! and reports what happened; see [`crate::load`] for how.

use std::{
    io::IsTerminal,
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Url;
use tokio_util::sync::CancellationToken;

use ptrack_common::config::Secret;

use super::DataDirArgs;
use crate::{
    duration,
    load::{
        self, LoadConfig, VerifyConfig, VerifyThrough, hist,
        plan::Plan,
        plot,
        report::Settings,
        runner::{Header, RunConfig},
        stats::Live,
        threshold::{self, Threshold},
        tracker::Batching,
    },
    runtime::credentials::ClientCredentials,
};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  ptrack load --rps 2000 --duration 1m30s
  ptrack load --rps 500 --duration 30s --threshold 'p99<50ms' --threshold 'errors<0.1%'
  ptrack load -H 'X-Ptrack-Key: abc' --gzip --hist-out run.hgrm --hist-log run.hlog

Exit codes: 0 the run went through and every --threshold held; 1 an error (no request
succeeded, --verify found lost events, a file could not be written); 2 bad usage (an
unknown flag, a bad --threshold); 99 a --threshold was broken (as k6); 130 stopped by
Ctrl-C (after printing the report so far). An error (1) wins over a broken threshold.")]
pub struct LoadArgs {
    /// The collector. Batches go to `<target>/track`; a URL with a path is used as is.
    #[arg(long, env = "COLLECTOR_URL", default_value = "http://127.0.0.1:8000")]
    pub target: String,
    /// Requests per second, sent on a fixed timetable whether or not earlier requests
    /// have answered (open model); or `max`: as fast as the connections allow.
    #[arg(long, default_value = "100")]
    pub rps: String,
    /// How long to send, like 30s or 2m (10s when neither this nor --requests is given).
    #[arg(long, value_parser = duration::arg, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Send exactly this many requests.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Stages of constant rate, like 1000:10s,5000:30s, to find where latency bends.
    #[arg(long, conflicts_with_all = ["rps", "duration", "requests"])]
    pub ramp: Option<String>,
    /// Most requests in flight at once (and connections kept open).
    #[arg(long, short = 'c', default_value_t = 100)]
    pub connections: usize,
    /// A request that has not answered after this long counts as a timeout.
    #[arg(long, value_parser = duration::arg, default_value = "10s", value_name = "DURATION")]
    pub timeout: Duration,
    /// Exactly this many events in every request, instead of the session model's
    /// batches (see --batch-size and --flush-interval).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub events_per_request: Option<u32>,
    /// The simulated tracker's batch size: it sends when it holds this many events...
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub batch_size: u32,
    /// ...or when this long has passed since the first event of the batch.
    #[arg(long, value_parser = duration::arg, default_value = "5s", value_name = "DURATION")]
    pub flush_interval: Duration,
    /// Virtual users browsing at the same time.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Makes the traffic reproducible (same --seed and --connections, same events and
    /// ids); a random one is picked and printed when not given.
    #[arg(long)]
    pub seed: Option<u64>,
    /// An extra request header, like 'X-Ptrack-Key: abc' (repeatable). One named like a
    /// header ptrack load sets (content-type, host, the stack's write key) replaces it.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<Header>,
    /// Send the bodies gzipped (`Content-Encoding: gzip`), as a browser tracker may.
    #[arg(long)]
    pub gzip: bool,
    /// Fail the run (exit 99) unless this holds, like p99<50ms, p99.9<=200ms, max<1s,
    /// errors<0.1%, rps>=990 or lost==0 (with --verify). Repeatable; latency is the
    /// corrected one, any percentile pN works.
    #[arg(long, value_name = "METRIC OP VALUE", value_parser = threshold::arg)]
    pub threshold: Vec<Threshold>,
    /// Write the corrected latency's percentile distribution to FILE, as HdrHistogram's
    /// .hgrm text (values in ms), for its plotter and for comparing runs.
    #[arg(long, value_name = "FILE")]
    pub hist_out: Option<PathBuf>,
    /// Write an HdrHistogram interval log to FILE (a V2-deflate histogram of the
    /// corrected latency, in µs, per slice of the run): runs merge by adding intervals.
    #[arg(long, value_name = "FILE")]
    pub hist_log: Option<PathBuf>,
    /// The `appName` of the batches.
    #[arg(long, default_value = "ptrack-load")]
    pub app_name: String,
    /// Print the final report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also draw the run to this file: `.svg`, or a self-contained `.html` page.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// After the run, check that every accepted event was stored exactly once (through
    /// --database-url when set, else the events-api). Exits non-zero when any is lost.
    #[arg(long)]
    pub verify: bool,
    /// The events-api, for --verify.
    #[arg(long, env = "EVENTS_API_URL", default_value = "http://127.0.0.1:8001")]
    pub events_api: String,
    /// PostgreSQL, for --verify: exact and faster than the events-api.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// How long --verify waits for the pipeline to drain at most. It stops earlier
    /// when nothing new arrived for 10 s.
    #[arg(long, value_parser = duration::arg, default_value = "60s", value_name = "DURATION")]
    pub verify_timeout: Duration,
    // While sending, the running figures are kept in <DIR>/load-live.json for `ptrack
    // tui`, only when the folder exists (crate::load::live).
    #[command(flatten)]
    pub data: DataDirArgs,
}

impl LoadArgs {
    fn plan(&self) -> Result<Plan> {
        if let Some(ramp) = &self.ramp {
            return Plan::ramp(ramp);
        }
        let duration = match (self.duration, self.requests) {
            (None, None) => Some(Duration::from_secs(10)),
            (d, _) => d,
        };
        if self.rps.trim().eq_ignore_ascii_case("max") {
            return Ok(Plan::Max {
                requests: self.requests,
                duration: if self.requests.is_some() {
                    self.duration
                } else {
                    duration
                },
            });
        }
        let rps: f64 = self.rps.trim().parse().with_context(|| {
            format!(
                "--rps {:?} is not a rate: give requests per second, like 5000, or `max`",
                self.rps
            )
        })?;
        Plan::fixed(rps, duration, self.requests)
    }

    fn url(&self) -> Result<Url> {
        let mut url = Url::parse(&self.target).with_context(|| {
            format!(
                "--target {:?} is not a URL: write it like http://127.0.0.1:8000",
                self.target
            )
        })?;
        if url.path().is_empty() || url.path() == "/" {
            url.set_path("/track");
        }
        Ok(url)
    }

    fn batching(&self) -> Batching {
        Batching {
            fixed: self.events_per_request.map(|n| n as usize),
            max_batch: self.batch_size as usize,
            flush_interval: self.flush_interval,
        }
    }

    fn verify_config(&self) -> Result<VerifyConfig> {
        let through = match &self.database_url {
            Some(url) => VerifyThrough::Database(Secret::new(url.clone())),
            // With the token of a `--secure` stack (or EVENTS_API_TOKEN).
            None => {
                VerifyThrough::EventsApi(ClientCredentials::find(&self.data.data_dir).events_api(
                    Url::parse(&self.events_api).with_context(|| {
                        format!(
                            "--events-api {:?} is not a URL: write it like http://127.0.0.1:8001",
                            self.events_api
                        )
                    })?,
                ))
            }
        };
        Ok(VerifyConfig {
            through,
            timeout: self.verify_timeout,
            settle: Duration::from_secs(10),
            after_stop: false,
        })
    }

    fn settings(&self, url: &Url, plan: &Plan, seed: u64) -> Settings {
        Settings {
            target: url.to_string(),
            plan: plan.to_string(),
            connections: self.connections,
            users: self.users,
            batching: match self.events_per_request {
                Some(n) => format!("of exactly {n} events"),
                None => format!(
                    "of up to {} events, flushed every {}",
                    self.batch_size,
                    duration::format(self.flush_interval)
                ),
            },
            seed,
            timeout: duration::format(self.timeout),
        }
    }
}

/// `X-Ptrack-Key` with the stack's write key (`PTRACK_WRITE_KEY`, else the one
/// `ptrack up --secure` saved in `data_dir`) first, then `headers` (`-H`): a `-H
/// 'X-Ptrack-Key: ...'` replaces it.
pub fn with_write_key(headers: Vec<Header>, data_dir: &std::path::Path) -> Vec<Header> {
    let mut all: Vec<Header> = ClientCredentials::find(data_dir)
        .write_key_header()
        .map(|(name, value)| Header { name, value })
        .into_iter()
        .collect();
    all.extend(headers);
    all
}

pub async fn run(args: LoadArgs) -> Result<ExitCode> {
    let plan = args.plan()?;
    let url = args.url()?;
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let config = LoadConfig {
        settings: args.settings(&url, &plan, seed),
        run: RunConfig {
            url: url.clone(),
            plan: plan.clone(),
            connections: args.connections,
            timeout: args.timeout,
            users: args.users,
            batching: args.batching(),
            seed,
            app_name: args.app_name.clone(),
            keep_ids: args.verify,
            headers: with_write_key(args.headers.clone(), &args.data.data_dir),
            gzip: args.gzip,
        },
        verify: args.verify.then(|| args.verify_config()).transpose()?,
        data_dir: Some(args.data.data_dir.clone()),
    };

    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        // The first Ctrl-C stops sending and prints the report so far; a second one
        // (say, during a long --verify) quits at once.
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted twice: quitting without a report");
            std::process::exit(EXIT_INTERRUPTED.into());
        }
    });
    eprintln!(
        "ptrack load → {url}: {plan}, {} connections, seed {seed} (Ctrl-C stops and reports)",
        args.connections
    );
    let mut report = load::run(config, stop, Progress::new(plan.planned_duration())).await?;
    let lost = report.verify.as_ref().is_some_and(|v| v.lost > 0);
    report.thresholds = args.threshold.iter().map(|t| t.check(&report)).collect();

    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("cannot write the JSON report")?
        );
    } else {
        print!("{}", report.text());
    }
    if let Some(path) = &args.report {
        let picture = match path.extension().and_then(|e| e.to_str()) {
            Some("svg") => plot::svg(&report),
            _ => plot::html(&report),
        };
        std::fs::write(path, picture)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    if let Some(path) = &args.hist_out {
        write_file(path, |out| {
            hist::write_hgrm(&report.histograms.corrected, out)
        })?;
        eprintln!("latency distribution written to {}", path.display());
    }
    if let Some(path) = &args.hist_log {
        write_file(path, |out| hist::write_log(&report.histograms, out))?;
        eprintln!("histogram log written to {}", path.display());
    }

    if report.interrupted {
        eprintln!("interrupted: the report covers the run so far");
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }

    if lost {
        eprintln!("error: accepted events were lost on the way to the table");
        return Ok(ExitCode::FAILURE);
    }
    if report.requests > 0 && report.requests_ok == 0 && !report.interrupted {
        eprintln!(
            "error: no request succeeded. Is the collector running at {url}? Start it with \
             `ptrack up`, or point --target (COLLECTOR_URL) at it."
        );
        return Ok(ExitCode::FAILURE);
    }
    let broken = report.thresholds.iter().filter(|t| !t.ok).count();
    if broken > 0 {
        eprintln!(
            "error: {broken} of {} thresholds broken",
            report.thresholds.len()
        );
        return Ok(ExitCode::from(EXIT_THRESHOLDS));
    }
    Ok(ExitCode::SUCCESS)
}

/// A `--threshold` did not hold (k6 uses the same code).
pub const EXIT_THRESHOLDS: u8 = 99;
/// Stopped by Ctrl-C: 128 + SIGINT, as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Writes a file through a buffer, saying which one failed.
fn write_file(
    path: &std::path::Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let context = || format!("cannot write {}", path.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).with_context(context)?);
    write(&mut out).with_context(context)?;
    std::io::Write::flush(&mut out).with_context(context)
}

/// The live view: a bar with the current numbers on a terminal, a plain line a second
/// otherwise. It writes to stderr, so `--json` output stays clean.
struct Progress {
    view: View,
    /// When `--verify` last said how far it got.
    verify_said: Instant,
}

enum View {
    Bar(ProgressBar, Option<Duration>),
    Lines { last_second: u64 },
}

impl Progress {
    fn new(planned: Option<Duration>) -> Self {
        Self {
            view: View::new(planned),
            verify_said: Instant::now(),
        }
    }
}

impl load::Observer for Progress {
    fn live(&mut self, live: &Live) {
        self.view.show(live);
    }

    fn sent(&mut self) {
        self.view.finish();
        self.verify_said = Instant::now();
    }

    fn nothing_to_verify(&mut self) {
        eprintln!("verify: no event was accepted, there is nothing to look for");
    }

    fn verifying(&mut self, found: u64, expected: u64) {
        if self.verify_said.elapsed() >= Duration::from_secs(2) {
            self.verify_said = Instant::now();
            eprintln!("verify: {found} of {expected} accepted events stored so far");
        }
    }
}

impl View {
    fn new(planned: Option<Duration>) -> Self {
        if !(std::io::stderr().is_terminal() && std::io::stdout().is_terminal()) {
            return Self::Lines { last_second: 0 };
        }
        let bar = match planned {
            Some(d) => ProgressBar::new(d.as_millis() as u64),
            None => ProgressBar::new_spinner(),
        };
        // The template is a literal known to be valid.
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{bar:30}] {msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        Self::Bar(bar, planned)
    }

    fn line(live: &Live) -> String {
        format!(
            "{:>6.1}s  {:>8.1} req/s  {} sent  {} failed  p50 {:.2} ms  p99 {:.2} ms  behind {:.1} ms",
            live.elapsed_us as f64 / 1e6,
            live.rate,
            live.requests,
            live.failed,
            live.p50_ms,
            live.p99_ms,
            live.behind_ms
        )
    }

    fn show(&mut self, live: &Live) {
        match self {
            Self::Bar(bar, planned) => {
                let ms = live.elapsed_us / 1000;
                match planned {
                    Some(d) => bar.set_position(ms.min(d.as_millis() as u64)),
                    None => bar.tick(),
                }
                bar.set_message(Self::line(live));
            }
            Self::Lines { last_second } => {
                let second = live.elapsed_us / 1_000_000;
                if second > *last_second {
                    *last_second = second;
                    eprintln!("{}", Self::line(live));
                }
            }
        }
    }

    fn finish(&self) {
        if let Self::Bar(bar, _) = self {
            bar.finish_and_clear();
        }
    }
}
