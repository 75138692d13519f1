//! The generator: `connections` workers, each with its own connection, visitors and
//! share of the timetable, and one recorder that folds their outcomes into [`Stats`].
//!
//! Worker `w` sends requests `w`, `w + C`, `w + 2C`, ... of the plan (as wrk2 does):
//! it sleeps until a request is due, or sends at once when it is already late. A slow
//! answer delays that worker's next requests; their latency still counts from when they
//! were due, so the delay shows up in the corrected latency rather than vanishing.
//! Each worker's traffic depends only on the seed and its index, so a run is
//! reproducible for the same `--seed` and `--connections`.
//!
//! Each worker owns one HTTP/1.1 connection (see `http1.rs`) and drives it itself:
//! the request and its answer run in the worker's task, with no hand-off to another
//! task per request. A connection that fails, or that the server says it will close,
//! is dropped, and the worker opens a new one for its next request.

use std::{
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail};
use ptrack_wire::TrackResponse;
use reqwest::Url;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use uuid::Uuid;

use super::{
    gzip::Gzip,
    http1::{Answer, Connection, Failure},
    plan::Plan,
    stats::{Live, Outcome, Reply, Stats, Window},
    tracker::{Batching, Visitors},
};

/// How the live view is refreshed.
const TICK: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Where the batches are POSTed.
    pub url: Url,
    pub plan: Plan,
    pub connections: usize,
    pub timeout: Duration,
    /// Virtual users in all.
    pub users: usize,
    pub batching: Batching,
    pub seed: u64,
    pub app_name: String,
    /// Keep the accepted event ids, for `--verify`.
    pub keep_ids: bool,
    /// Extra request headers (`-H`); a later one replaces an earlier one of the same
    /// name, and one named like a header of ours (`content-type`, `host`) replaces it.
    pub headers: Vec<Header>,
    /// Send the bodies gzipped (`Content-Encoding: gzip`).
    pub gzip: bool,
}

/// One `-H 'Name: value'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

impl std::str::FromStr for Header {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, value) = text.split_once(':').ok_or_else(|| {
            format!("-H {text:?} is not a header: write it like 'X-Ptrack-Key: abc'")
        })?;
        let name = name.trim();
        // RFC 9110 token characters.
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err(format!("-H {text:?}: {name:?} is not a header name"));
        }
        let value = value.trim();
        if value.chars().any(|c| c.is_ascii_control() && c != '\t') {
            return Err(format!("-H {text:?}: the value holds a control character"));
        }
        let lower = name.to_ascii_lowercase();
        if ["content-length", "transfer-encoding", "connection"].contains(&lower.as_str()) {
            return Err(format!("-H {name}: ptrack load sets this header itself"));
        }
        if lower == "content-encoding" {
            return Err(format!("-H {name}: use --gzip to send gzipped bodies"));
        }
        Ok(Self {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }
}

#[derive(Debug)]
pub struct RunResult {
    pub stats: Stats,
    /// Stopped early (Ctrl-C).
    pub interrupted: bool,
    /// From the start of the timetable to the last answer.
    pub elapsed: Duration,
    /// When the timetable started, Unix ms.
    pub started_unix_ms: i64,
}

/// Runs the plan until it is done or `stop` is cancelled; `on_tick` gets the live
/// numbers four times a second.
pub async fn run(
    config: RunConfig,
    stop: CancellationToken,
    on_tick: impl FnMut(&Live) + Send + 'static,
) -> Result<RunResult> {
    let connections = config.connections.max(1);
    let target = Arc::new(Target::resolve(&config).await?);
    let bucket = bucket_width(&config.plan);
    // A little head start so every worker is waiting when the first request is due.
    let start = Instant::now() + Duration::from_millis(20);
    // Event times come from the monotonic clock from here: one clock read fewer a
    // request.
    let unix_start_ms =
        unix_ms() + start.saturating_duration_since(Instant::now()).as_millis() as i64;
    let (tx, rx) = mpsc::unbounded_channel();
    let claimed = Arc::new(AtomicU64::new(0));
    let users_each = config.users.div_ceil(connections).max(1);
    let mut workers = Vec::with_capacity(connections);
    for index in 0..connections {
        let worker = Worker {
            index: index as u64,
            connections: connections as u64,
            target: target.clone(),
            plan: config.plan.clone(),
            visitors: Visitors::new(
                worker_seed(config.seed, index as u64),
                users_each,
                config.batching.clone(),
                &config.app_name,
            ),
            keep_ids: config.keep_ids,
            gzip: config.gzip.then(Gzip::new),
            start,
            unix_start_ms,
            claimed: claimed.clone(),
            stop: stop.clone(),
            tx: tx.clone(),
        };
        workers.push(tokio::spawn(worker.run()));
    }
    drop(tx);

    // The recorder runs as a task of the runtime, next to the workers, rather than on
    // the caller's thread: handing outcomes across threads costs more than recording.
    let stats = tokio::spawn(record(rx, start, bucket, on_tick))
        .await
        .context("the load recorder panicked")?;
    for worker in workers {
        worker.await.context("a load worker panicked")?;
    }
    Ok(RunResult {
        elapsed: Duration::from_micros(stats.last_done_us),
        stats,
        interrupted: stop.is_cancelled(),
        started_unix_ms: unix_start_ms,
    })
}

/// Folds the workers' outcomes into [`Stats`] until every worker is done.
async fn record(
    mut rx: mpsc::UnboundedReceiver<Vec<Outcome>>,
    start: Instant,
    bucket: Duration,
    mut on_tick: impl FnMut(&Live),
) -> Stats {
    let mut stats = Stats::new(bucket.as_micros() as u64);
    let mut window = Window::new(0);
    let mut ticks = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            outcomes = rx.recv() => match outcomes {
                Some(outcomes) => {
                    for outcome in outcomes {
                        window.record(&outcome);
                        stats.record(outcome);
                    }
                }
                None => break,
            },
            _ = ticks.tick() => {
                let now = micros_since(start);
                on_tick(&window.live(now, &stats));
                if now.saturating_sub(window.started_us) >= 1_000_000 {
                    window = window.next(now);
                }
            }
        }
    }
    stats
}

/// A worker hands its outcomes over in batches of this many, or older than [`HAND_OVER`]:
/// one wake-up of the recorder per request would cost more than the request.
const HAND_OVER_COUNT: usize = 64;
const HAND_OVER: Duration = Duration::from_millis(50);

/// About 150 slices over the run, each at least 100 ms.
fn bucket_width(plan: &Plan) -> Duration {
    let total = plan.planned_duration().unwrap_or(Duration::from_secs(60));
    (total / 150).max(Duration::from_millis(100))
}

/// Spreads the seed over the workers (SplitMix64), so neighbours are unrelated.
fn worker_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add((index + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn micros_since(start: Instant) -> u64 {
    since(start, Instant::now()).as_micros() as u64
}

/// From `earlier` to `later`, or zero.
fn since(earlier: Instant, later: Instant) -> Duration {
    later.saturating_duration_since(earlier)
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Where the requests go, worked out once for all workers.
struct Target {
    /// The addresses the host resolved to, tried in order when connecting.
    addrs: Vec<SocketAddr>,
    /// Every request's head up to the value of its `Content-Length`.
    head: Vec<u8>,
    /// A request that has not answered after this long is given up (a timeout).
    timeout: Duration,
    /// Connecting takes at most this long, within `timeout`.
    connect_timeout: Duration,
}

impl Target {
    async fn resolve(config: &RunConfig) -> Result<Self> {
        let (url, timeout) = (&config.url, config.timeout);
        if url.scheme() != "http" {
            bail!(
                "ptrack load speaks plain HTTP/1.1: give --target as http://host:port (got {url})"
            );
        }
        let host = url
            .host_str()
            .with_context(|| format!("--target {url} has no host"))?;
        let port = url.port_or_known_default().unwrap_or(80);
        // An IPv6 literal comes in brackets, which resolving does not want.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
            .await
            .with_context(|| format!("cannot resolve {host}: check the host of --target"))?
            .collect();
        if addrs.is_empty() {
            bail!("{host} resolves to no address: check the host of --target");
        }
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let mut headers = vec![
            ("host".to_owned(), authority),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        if config.gzip {
            headers.push(("content-encoding".to_owned(), "gzip".to_owned()));
        }
        for extra in &config.headers {
            match headers
                .iter_mut()
                .find(|(name, _)| name.eq_ignore_ascii_case(&extra.name))
            {
                Some(same) => *same = (extra.name.clone(), extra.value.clone()),
                None => headers.push((extra.name.clone(), extra.value.clone())),
            }
        }
        // Written once: every request copies these bytes and adds its length.
        // `Url` has percent-encoded anything that could break the request line.
        let mut head = format!("POST {path} HTTP/1.1\r\n");
        for (name, value) in &headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("content-length: ");
        Ok(Self {
            addrs,
            head: head.into_bytes(),
            timeout,
            connect_timeout: timeout.min(Duration::from_secs(5)),
        })
    }

    /// Writes the head of a request carrying `body_len` bytes into `head`.
    fn write_head(&self, body_len: usize, head: &mut Vec<u8>) {
        head.clear();
        head.extend_from_slice(&self.head);
        head.extend_from_slice(itoa::Buffer::new().format(body_len).as_bytes());
        head.extend_from_slice(b"\r\n\r\n");
    }
}

/// Sends one request on the worker's connection, opening one first when there is none;
/// the answer's body lands in `answer`. A connection that failed, or that the answer
/// says cannot carry another request, is dropped: the next request opens a new one.
async fn send(
    target: &Target,
    link: &mut Option<Connection>,
    head: &[u8],
    body: &[u8],
    answer: &mut Vec<u8>,
) -> Result<u16, Failure> {
    let open = match link {
        Some(open) => open,
        None => link.insert(Connection::open(&target.addrs, target.connect_timeout).await?),
    };
    match open.exchange(head, body, answer).await {
        Ok(Answer { status, reusable }) => {
            if !reusable {
                *link = None;
            }
            Ok(status)
        }
        Err(failure) => {
            *link = None;
            Err(failure)
        }
    }
}

/// Resolves when an idle connection is closed (the server hung up); never without one.
async fn closed(link: &Option<Connection>) {
    match link {
        Some(open) => open.closed().await,
        None => std::future::pending().await,
    }
}

/// How soon a worker that is busy sending notices that the run was stopped.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// How much room a worker's body buffer keeps: the session model's batches are a few kB.
const BODY_ROOM: usize = 16 * 1024;

struct Worker {
    index: u64,
    connections: u64,
    target: Arc<Target>,
    plan: Plan,
    visitors: Visitors,
    keep_ids: bool,
    /// `--gzip`: the worker's compressor.
    gzip: Option<Gzip>,
    start: Instant,
    /// `start` as Unix ms.
    unix_start_ms: i64,
    claimed: Arc<AtomicU64>,
    stop: CancellationToken,
    tx: mpsc::UnboundedSender<Vec<Outcome>>,
}

impl Worker {
    async fn run(mut self) {
        // One wait for Ctrl-C while waiting for the timetable, for the whole run.
        let stopped = self.stop.clone().cancelled_owned();
        tokio::pin!(stopped);
        // One timer while sending, for the whole run too: it rings every STOP_CHECK to
        // look for a stop and a request past its deadline, and is moved only then (or
        // for a timeout shorter than that), not for every request.
        let alarm = tokio::time::sleep(STOP_CHECK);
        tokio::pin!(alarm);
        let mut link: Option<Connection> = None;
        // Each request's head and body, and each answer's body, are written into the
        // same memory every time.
        let mut head = Vec::with_capacity(256);
        let mut body = Vec::with_capacity(BODY_ROOM);
        let mut zipped = Vec::with_capacity(if self.gzip.is_some() { BODY_ROOM } else { 0 });
        let mut answer = Vec::with_capacity(1024);
        let mut ids: Vec<Uuid> = Vec::new();
        let mut turn = 0;
        let mut pending = Vec::with_capacity(HAND_OVER_COUNT);
        let mut now = Instant::now();
        let mut handed = now;
        while let Some(due) = self.next_due(turn, now) {
            turn += 1;
            let at = self.start + due;
            // A long wait: hand over what is done first, so the live view keeps up.
            if at > now + HAND_OVER && !pending.is_empty() {
                handed = now;
                let full = std::mem::replace(&mut pending, Vec::with_capacity(HAND_OVER_COUNT));
                if self.tx.send(full).is_err() {
                    return;
                }
            }
            if at > now {
                if !wait_until(at, stopped.as_mut(), &mut link).await {
                    break;
                }
                now = Instant::now();
            }
            body.clear();
            ids.clear();
            let now_ms = self.unix_start_ms + since(self.start, now).as_millis() as i64;
            let written = self.visitors.write_batch(now_ms, &mut body, &mut ids);
            let payload = match &mut self.gzip {
                Some(gzip) => {
                    gzip.compress(&body, &mut zipped);
                    &zipped
                }
                None => &body,
            };
            self.target.write_head(payload.len(), &mut head);
            let sent = Instant::now();
            let sent_us = since(self.start, sent).as_micros() as u64;
            let deadline = tokio::time::Instant::from_std(sent + self.target.timeout);
            if alarm.deadline() > deadline {
                alarm.as_mut().reset(deadline);
            }
            let status = {
                let exchange = send(&self.target, &mut link, &head, payload, &mut answer);
                tokio::pin!(exchange);
                loop {
                    tokio::select! {
                        biased;
                        answer = &mut exchange => break Some(answer),
                        () = &mut alarm => {
                            if self.stop.is_cancelled() {
                                break None;
                            }
                            let now = tokio::time::Instant::now();
                            if now >= deadline {
                                let detail = format!("no answer after {}", crate::duration::format(self.target.timeout));
                                break Some(Err(Failure { kind: "timeout", detail }));
                            }
                            alarm.as_mut().reset(deadline.min(now + STOP_CHECK));
                        }
                    }
                }
            };
            let Some(status) = status else { break };
            now = Instant::now();
            let done_us = since(self.start, now).as_micros() as u64;
            let (reply, rejected) = match status {
                Ok(status) => reply(status, &answer),
                Err(Failure { kind, detail }) => {
                    // A timed-out request is still on the connection: it cannot carry
                    // another. (Other failures dropped it already.)
                    link = None;
                    (Reply::Error { kind, detail }, Vec::new())
                }
            };
            let accepted_ids = match &reply {
                Reply::Status {
                    code: 200..=299,
                    accepted: Some(_),
                    ..
                } if self.keep_ids => accepted(std::mem::take(&mut ids), &rejected),
                _ => Vec::new(),
            };
            let outcome = Outcome {
                due_us: (due.as_micros() as u64).min(sent_us),
                sent_us,
                done_us,
                events: written.events,
                oldest_ms: written.oldest_ms,
                reply,
                accepted_ids,
            };
            pending.push(outcome);
            if pending.len() >= HAND_OVER_COUNT || since(handed, now) >= HAND_OVER {
                handed = now;
                let full = std::mem::replace(&mut pending, Vec::with_capacity(HAND_OVER_COUNT));
                if self.tx.send(full).is_err() {
                    return;
                }
            }
        }
        if !pending.is_empty() {
            let _ = self.tx.send(pending);
        }
    }

    /// When this worker's `turn`-th request is due, or `None` when it is done. (A stop
    /// is noticed while waiting or sending.)
    fn next_due(&self, turn: u64, now: Instant) -> Option<Duration> {
        match &self.plan {
            Plan::Open { .. } => self.plan.due(self.index + turn * self.connections),
            Plan::Max { requests, duration } => {
                let now = since(self.start, now);
                if duration.is_some_and(|d| now >= d) {
                    return None;
                }
                if let Some(n) = requests
                    && self.claimed.fetch_add(1, Ordering::Relaxed) >= *n
                {
                    return None;
                }
                // Closed model: a request is due when the previous one answered.
                Some(now)
            }
        }
    }
}

/// The ids of a batch less the ones the collector rejected (by index).
fn accepted(ids: Vec<uuid::Uuid>, rejected: &[usize]) -> Vec<uuid::Uuid> {
    if rejected.is_empty() {
        return ids;
    }
    ids.into_iter()
        .enumerate()
        .filter(|(i, _)| !rejected.contains(i))
        .map(|(_, id)| id)
        .collect()
}

/// Sleeps until `at`, keeping an eye on the idle connection meanwhile: one the server
/// closes is dropped at once, rather than found dead when the next request goes out.
/// `false` when the run was stopped.
async fn wait_until(
    at: Instant,
    mut stopped: Pin<&mut WaitForCancellationFutureOwned>,
    link: &mut Option<Connection>,
) -> bool {
    let sleep = tokio::time::sleep_until(at.into());
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return true,
            () = stopped.as_mut() => return false,
            () = closed(link) => *link = None,
        }
    }
}

/// The HTTP answer; the collector's counts and the indices of the events it rejected,
/// when the body says so.
fn reply(code: u16, body: &[u8]) -> (Reply, Vec<usize>) {
    match serde_json::from_slice::<TrackResponse>(body) {
        Ok(reply) => (
            Reply::Status {
                code,
                accepted: Some(reply.accepted as u64),
                rejected: reply.rejected.len() as u64,
            },
            reply.rejected.into_iter().map(|r| r.index).collect(),
        ),
        Err(_) => (
            Reply::Status {
                code,
                accepted: None,
                rejected: 0,
            },
            Vec::new(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::{TcpListener, TcpStream},
    };

    use super::*;

    /// What the test server does after reading the `n`-th request (from 0) of a
    /// connection.
    #[derive(Debug, Clone, Copy)]
    enum Then {
        Answer,
        /// Answers with `Connection: close`, then closes.
        AnswerAndClose,
        /// Answers, then closes the idle connection 20 ms later without a word (as a
        /// server's keep-alive timeout does).
        AnswerAndDropIdle,
        /// Closes without answering.
        HangUp,
        /// Never answers.
        Stall,
    }

    /// A raw HTTP/1.1 server following `script`; also counts the connections it took.
    async fn serve(script: fn(usize) -> Then) -> (Url, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/track", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(stream, script));
            }
        });
        (url.parse().unwrap(), connections)
    }

    async fn connection(mut stream: TcpStream, script: fn(usize) -> Then) {
        let mut buffer = Vec::new();
        for n in 0.. {
            if !read_request(&mut stream, &mut buffer).await {
                return;
            }
            let then = script(n);
            let body = r#"{"accepted":1,"rejected":[]}"#;
            let close = if matches!(then, Then::AnswerAndClose) {
                "connection: close\r\n"
            } else {
                ""
            };
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{close}\r\n{body}",
                body.len()
            );
            match then {
                Then::Answer => {}
                Then::AnswerAndClose => {
                    let _ = stream.write_all(answer.as_bytes()).await;
                    return;
                }
                Then::AnswerAndDropIdle => {
                    let _ = stream.write_all(answer.as_bytes()).await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    return;
                }
                Then::HangUp => return,
                Then::Stall => std::future::pending().await,
            }
            if stream.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    /// Reads one request (head and body) off `stream`; `false` at the end of it.
    async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if buffer.len() >= end + 4 + length {
                    buffer.drain(..end + 4 + length);
                    return true;
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    async fn run_against(url: Url, requests: u64, rps: f64, timeout: Duration) -> Stats {
        let config = RunConfig {
            url,
            plan: Plan::fixed(rps, None, Some(requests)).unwrap(),
            connections: 1,
            timeout,
            users: 5,
            batching: Batching::default(),
            seed: 1,
            app_name: "runner-test".into(),
            keep_ids: true,
            headers: Vec::new(),
            gzip: false,
        };
        run(config, CancellationToken::new(), |_| {})
            .await
            .unwrap()
            .stats
    }

    #[tokio::test]
    async fn a_connection_the_server_closes_is_replaced_without_failing_a_request() {
        let (url, connections) = serve(|n| {
            if n == 2 {
                Then::AnswerAndClose
            } else {
                Then::Answer
            }
        })
        .await;
        let stats = run_against(url, 30, 1000.0, Duration::from_secs(5)).await;
        assert_eq!(stats.statuses.get(&200), Some(&30), "{:?}", stats.errors);
        assert_eq!(connections.load(Ordering::Relaxed), 10);

        // Closed while idle between two requests: noticed while waiting.
        let (url, connections) = serve(|_| Then::AnswerAndDropIdle).await;
        let stats = run_against(url, 6, 10.0, Duration::from_secs(5)).await;
        assert_eq!(stats.statuses.get(&200), Some(&6), "{:?}", stats.errors);
        assert_eq!(connections.load(Ordering::Relaxed), 6);
    }

    #[tokio::test]
    async fn a_stop_is_noticed_while_a_request_hangs() {
        let (url, _) = serve(|_| Then::Stall).await;
        let config = RunConfig {
            url,
            plan: Plan::fixed(10.0, None, Some(10)).unwrap(),
            connections: 1,
            timeout: Duration::from_secs(30),
            users: 5,
            batching: Batching::default(),
            seed: 1,
            app_name: "runner-test".into(),
            keep_ids: false,
            headers: Vec::new(),
            gzip: false,
        };
        let stop = CancellationToken::new();
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stopper.cancel();
        });
        let started = Instant::now();
        let result = run(config, stop, |_| {}).await.unwrap();
        assert!(result.interrupted);
        assert!(
            started.elapsed() < Duration::from_millis(300) + 3 * STOP_CHECK,
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            result.stats.requests, 0,
            "the hanging request is not counted"
        );
    }

    #[tokio::test]
    async fn hang_ups_and_timeouts_are_counted_and_the_next_request_reconnects() {
        let (url, connections) = serve(|n| if n == 0 { Then::Answer } else { Then::HangUp }).await;
        let stats = run_against(url, 10, 1000.0, Duration::from_secs(5)).await;
        assert_eq!(stats.requests, 10);
        assert_eq!(stats.statuses.get(&200), Some(&5));
        assert_eq!(stats.errors.get("request"), Some(&5), "{:?}", stats.errors);
        assert_eq!(connections.load(Ordering::Relaxed), 5);

        let (url, connections) = serve(|n| if n == 0 { Then::Answer } else { Then::Stall }).await;
        let stats = run_against(url, 6, 1000.0, Duration::from_millis(200)).await;
        assert_eq!(stats.statuses.get(&200), Some(&3));
        assert_eq!(stats.errors.get("timeout"), Some(&3), "{:?}", stats.errors);
        assert_eq!(connections.load(Ordering::Relaxed), 3);
        // A timed-out request counts as long as the timeout.
        assert!(
            stats.uncorrected.max() >= 200_000,
            "{}",
            stats.uncorrected.max()
        );
    }
}
