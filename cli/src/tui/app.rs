//! The TUI's state and its one update function. No I/O here: every fact arrives as an
//! [`Event`], every time comes from the events themselves, so the tests drive it exactly.

use std::{
    collections::{BTreeMap, VecDeque},
    time::{Duration, Instant},
};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{
    event::{
        CollectorCounts, DlqOffsets, E2eDelay, Event, HealthSnapshot, InsertedRows, LagOrigin,
        LagSnapshot, LoadFigures, PartitionOffsets, ProcessorCounts, RecentEvents, Setup, SourceId,
        StoredEvent,
    },
    verdict::{self, LagSample, Verdict},
};

/// The time windows `+` and `-` step through.
pub const WINDOWS: [Duration; 7] = [
    Duration::from_secs(60),
    Duration::from_secs(2 * 60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(60 * 60),
];

/// History is kept for the widest window, so widening shows what was already seen.
const HISTORY: Duration = Duration::from_secs(60 * 60);
/// The drain rate is the lag's fall over this much recent time.
const DRAIN_OVER: Duration = Duration::from_secs(10);
/// Live `ptrack load` figures older than this mean the load has ended.
const LOAD_STALE: Duration = Duration::from_secs(5);
/// Data events kept while frozen, applied on thaw (an hour of every source at 1/s).
const HELD_MAX: usize = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Panel {
    Lag,
    Throughput,
    Events,
    Health,
    Delay,
}

impl Panel {
    pub const ALL: [Panel; 5] = [
        Panel::Lag,
        Panel::Throughput,
        Panel::Events,
        Panel::Health,
        Panel::Delay,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Self::Lag => "Consumer lag",
            Self::Throughput => "Throughput",
            Self::Events => "Recent events",
            Self::Health => "Health",
            Self::Delay => "End-to-end delay",
        }
    }

    fn step(self, by: isize) -> Self {
        let i = Self::ALL.iter().position(|p| *p == self).unwrap_or(0) as isize;
        let n = Self::ALL.len() as isize;
        Self::ALL[(i + by).rem_euclid(n) as usize]
    }
}

/// Points over time, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Series {
    points: VecDeque<(Instant, f64)>,
}

impl Series {
    fn push(&mut self, at: Instant, value: f64) {
        self.points.push_back((at, value));
        while self
            .points
            .front()
            .is_some_and(|(t, _)| at.saturating_duration_since(*t) > HISTORY)
        {
            self.points.pop_front();
        }
    }

    pub fn last(&self) -> Option<f64> {
        self.points.back().map(|(_, v)| *v)
    }

    /// The points since `start`.
    pub fn since(&self, start: Instant) -> impl Iterator<Item = (Instant, f64)> + '_ {
        self.points
            .iter()
            .copied()
            .filter(move |(t, _)| *t >= start)
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// Turns a cumulative counter into a rate over at least `span` (or since the previous
/// sample when `span` is zero); a value lower than the last is a reset (a restarted
/// process, a stats reset), counted like Prometheus does: from zero.
#[derive(Debug, Clone, Default)]
struct Counter {
    span: Duration,
    last: Option<(Instant, u64)>,
    /// The increases added up since the first sample, with when.
    history: VecDeque<(Instant, f64)>,
    total: f64,
}

impl Counter {
    fn over(span: Duration) -> Self {
        Self {
            span,
            ..Self::default()
        }
    }

    fn rate(&mut self, at: Instant, value: u64) -> Option<f64> {
        let Some((then, before)) = self.last else {
            self.last = Some((at, value));
            self.history.push_back((at, 0.0));
            return None;
        };
        if at <= then {
            return None;
        }
        self.total += if value >= before {
            value - before
        } else {
            value
        } as f64;
        self.last = Some((at, value));
        self.history.push_back((at, self.total));
        // Keep, as the first point, the newest one at least `span` old.
        while self.history.len() > 2 && at.saturating_duration_since(self.history[1].0) >= self.span
        {
            self.history.pop_front();
        }
        let (start, base) = *self.history.front()?;
        Some((self.total - base) / at.saturating_duration_since(start).as_secs_f64())
    }
}

/// How much a counter grew from `before` to `value`; a lower value is a restart, counted
/// from zero.
fn increase(before: u64, value: u64) -> u64 {
    if value >= before {
        value - before
    } else {
        value
    }
}

/// PostgreSQL's backends flush their statistics at most once a second, so the inserted
/// counter moves in steps: its rate is taken over this much time.
const INSERTED_SPAN: Duration = Duration::from_secs(5);

/// Per second, on one time axis.
#[derive(Debug, Clone, Default)]
pub struct Throughput {
    pub accepted: Series,
    pub rejected: Series,
    pub inserted: Series,
    pub dead_lettered: Series,
    /// Into the topic (the sum of high watermarks) and out of it (committed offsets).
    pub produced: Series,
    pub consumed: Series,
    pub load_sent: Series,
    pub load_p99_ms: Series,
    pub replicas: BTreeMap<String, ReplicaRates>,
    /// From the processors' own `/metrics`: what is shown when PostgreSQL's statistics
    /// or the dead-letter topic cannot be read from here.
    pub processors_inserted: Series,
    pub processors_dead_lettered: Series,
    /// Each processor replica's own rates, from its `/metrics`.
    pub processors: BTreeMap<String, ProcessorRates>,
    /// Over [`INSERTED_SPAN`]; the others from one sample to the next.
    inserted_counter: Counter,
    dlq_counter: Counter,
    produced_counter: Counter,
    consumed_counter: Counter,
}

#[derive(Debug, Clone, Default)]
pub struct ReplicaRates {
    pub accepted: Series,
    pub rejected: Series,
    accepted_counter: Counter,
    rejected_counter: Counter,
}

#[derive(Debug, Clone, Default)]
pub struct ProcessorRates {
    pub inserted: Series,
    pub dead_lettered: Series,
    inserted_counter: Counter,
    dlq_counter: Counter,
}

/// Where a figure comes from, to say so on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `pg_stat_user_tables.n_tup_ins`.
    PostgresStats,
    /// The dead-letter topic's watermarks.
    DlqTopic,
    /// The processors' `/metrics` counters.
    ProcessorMetrics,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::PostgresStats => "PostgreSQL stats",
            Self::DlqTopic => "dlq topic",
            Self::ProcessorMetrics => "processors' metrics",
        })
    }
}

/// A partition as the processors report it (when the broker is not reachable from here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The replica that last reported holding it.
    pub replica: String,
    pub lag: i64,
    /// Stands in for the committed offset: grows by what the holding replica finished
    /// (written, skipped, dead-lettered) while it held the partition; it never goes back,
    /// so a restart or a move to another replica is no rewind.
    pub progress: i64,
    /// The holder's `done` counter when last seen.
    holder_done: u64,
}

#[derive(Debug, Clone, Default)]
pub struct LagState {
    pub origin: Option<LagOrigin>,
    /// The partitions the processors reported (processors' lag only). A replica that
    /// stops answering keeps its partitions here with their last figures, so that the
    /// verdict turns STALLED, until another replica reports them.
    pub held: BTreeMap<i32, Held>,
    pub partitions: BTreeMap<i32, VecDeque<LagSample>>,
    pub total: Series,
    pub dlq: Option<DlqOffsets>,
}

/// Whether a source answers.
#[derive(Debug, Clone, Default)]
pub struct SourceState {
    pub last_ok: Option<Instant>,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Ui {
    pub selected: Panel,
    pub expanded: Option<Panel>,
    pub frozen: bool,
    pub help: bool,
    /// Matched against each event's type and page, ignoring case.
    pub filter: String,
    pub editing_filter: bool,
}

/// How the lag drains at the current rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Drain {
    Unknown,
    Drained,
    /// Lag falls; empty after this long at the current rate.
    In(Duration),
    NotDraining,
}

pub struct App {
    /// Where the sources read from; what the health panel says about it.
    pub setup: Setup,
    pub window: Duration,
    pub refresh: Duration,
    pub now: Instant,
    pub lag: LagState,
    pub throughput: Throughput,
    pub recent: Vec<StoredEvent>,
    /// Where the shown events came from.
    pub recent_from: Option<SourceId>,
    pub health: Option<HealthSnapshot>,
    pub delay: Option<E2eDelay>,
    pub delay_p99: Series,
    pub load: Option<LoadFigures>,
    pub sources: BTreeMap<SourceId, SourceState>,
    pub ui: Ui,
    pub quit: bool,
    /// Colours on (off under `NO_COLOR`): text carries every state either way.
    pub color: bool,
    held: VecDeque<Event>,
}

impl App {
    pub fn new(window: Duration, refresh: Duration, now: Instant) -> Self {
        Self {
            setup: Setup::default(),
            window,
            refresh,
            now,
            lag: LagState::default(),
            throughput: Throughput {
                inserted_counter: Counter::over(INSERTED_SPAN),
                ..Throughput::default()
            },
            recent: Vec::new(),
            recent_from: None,
            health: None,
            delay: None,
            delay_p99: Series::default(),
            load: None,
            sources: BTreeMap::new(),
            ui: Ui {
                selected: Panel::Lag,
                expanded: None,
                frozen: false,
                help: false,
                filter: String::new(),
                editing_filter: false,
            },
            quit: false,
            color: true,
            held: VecDeque::new(),
        }
    }

    /// Applies one event; whether anything on screen may have changed.
    pub fn update(&mut self, event: Event) -> bool {
        match event {
            Event::Key(key) => self.key(key),
            Event::Resize(..) => true,
            Event::Interrupt => {
                self.quit = true;
                true
            }
            Event::Tick(now) => {
                if self.ui.frozen || now <= self.now {
                    return false;
                }
                self.now = now;
                true
            }
            data if self.ui.frozen => {
                if self.held.len() == HELD_MAX {
                    self.held.pop_front();
                }
                self.held.push_back(data);
                false
            }
            data => {
                self.data(data);
                true
            }
        }
    }

    fn data(&mut self, event: Event) {
        match event {
            Event::Lag(snapshot) => self.lag_snapshot(snapshot),
            Event::Collectors(counts) => self.collectors(counts),
            Event::Processors(counts) => self.processors(counts),
            Event::Inserted(rows) => self.inserted_rows(rows),
            Event::Recent(RecentEvents { from, events }) => {
                // The events-api is the product's read path: while it answers, the
                // database's copy of the same list is not shown.
                let api_answers = self
                    .sources
                    .get(&SourceId::EventsApi)
                    .is_some_and(|s| s.last_ok.is_some() && s.error.is_none());
                if from == SourceId::EventsApi || !api_answers {
                    self.recent = events;
                    self.recent_from = Some(from);
                }
                let now = self.now;
                self.ok(from, now);
            }
            Event::Health(health) => {
                self.health = Some(health);
                let now = self.now;
                self.ok(SourceId::Runtime, now);
            }
            Event::Delay(delay) => {
                self.advance(delay.at);
                self.delay_p99.push(delay.at, delay.p99.as_secs_f64());
                self.delay = Some(delay);
                self.ok(delay.from, delay.at);
            }
            Event::Load(figures) => {
                self.advance(figures.at);
                self.throughput.load_sent.push(figures.at, figures.sent_rps);
                self.throughput
                    .load_p99_ms
                    .push(figures.at, figures.corrected_p99_ms);
                self.load = Some(figures);
                self.ok(SourceId::Load, figures.at);
            }
            Event::SourceError { source, error } => {
                self.sources.entry(source).or_default().error = Some(error);
            }
            Event::Key(_) | Event::Resize(..) | Event::Tick(_) | Event::Interrupt => {}
        }
    }

    fn advance(&mut self, at: Instant) {
        if at > self.now {
            self.now = at;
        }
    }

    fn ok(&mut self, source: SourceId, at: Instant) {
        let state = self.sources.entry(source).or_default();
        state.last_ok = Some(at);
        state.error = None;
    }

    fn lag_snapshot(&mut self, s: LagSnapshot) {
        self.advance(s.at);
        let mut total = 0;
        let mut high_sum = 0u64;
        let mut committed_sum = 0u64;
        for p in &s.partitions {
            let samples = self.lag.partitions.entry(p.partition).or_default();
            samples.push_back(LagSample {
                at: s.at,
                lag: p.lag(),
                committed: p.committed,
            });
            while samples
                .front()
                .is_some_and(|f| s.at.saturating_duration_since(f.at) > HISTORY)
            {
                samples.pop_front();
            }
            total += p.lag();
            high_sum += p.high_watermark.max(0) as u64;
            committed_sum += p.committed.unwrap_or(p.low_watermark).max(0) as u64;
        }
        // A partition that disappeared (topic recreated) no longer counts.
        let known: Vec<i32> = s.partitions.iter().map(|p| p.partition).collect();
        self.lag.partitions.retain(|p, _| known.contains(p));
        self.lag.total.push(s.at, total as f64);
        let t = &mut self.throughput;
        // The processors' stand-in offsets are no topic offsets: no topic rates from them.
        if s.origin == LagOrigin::Broker {
            if let Some(rate) = t.produced_counter.rate(s.at, high_sum) {
                t.produced.push(s.at, rate);
            }
            if let Some(rate) = t.consumed_counter.rate(s.at, committed_sum) {
                t.consumed.push(s.at, rate);
            }
        }
        if let Some(dlq) = s.dlq
            && let Some(rate) = t.dlq_counter.rate(s.at, dlq.high_watermark.max(0) as u64)
        {
            t.dead_lettered.push(s.at, rate);
        }
        self.lag.dlq = s.dlq;
        self.lag.origin = Some(s.origin);
        let source = match s.origin {
            LagOrigin::Broker => SourceId::Broker,
            LagOrigin::Processors => SourceId::Processors,
        };
        self.ok(source, s.at);
    }

    fn collectors(&mut self, counts: CollectorCounts) {
        self.advance(counts.at);
        let (mut accepted, mut rejected, mut any) = (0.0, 0.0, false);
        for r in &counts.replicas {
            let rates = self
                .throughput
                .replicas
                .entry(r.replica.clone())
                .or_default();
            if let (Some(a), Some(j)) = (
                rates.accepted_counter.rate(counts.at, r.accepted),
                rates.rejected_counter.rate(counts.at, r.rejected),
            ) {
                rates.accepted.push(counts.at, a);
                rates.rejected.push(counts.at, j);
                accepted += a;
                rejected += j;
                any = true;
            }
        }
        if any {
            self.throughput.accepted.push(counts.at, accepted);
            self.throughput.rejected.push(counts.at, rejected);
        }
        self.ok(SourceId::Collectors, counts.at);
    }

    fn processors(&mut self, counts: ProcessorCounts) {
        self.advance(counts.at);
        let (mut inserted, mut dead, mut any) = (0.0, 0.0, false);
        for r in &counts.replicas {
            let rates = self
                .throughput
                .processors
                .entry(r.replica.clone())
                .or_default();
            if let (Some(i), Some(d)) = (
                rates.inserted_counter.rate(counts.at, r.rows_inserted),
                rates.dlq_counter.rate(counts.at, r.dead_lettered),
            ) {
                rates.inserted.push(counts.at, i);
                rates.dead_lettered.push(counts.at, d);
                inserted += i;
                dead += d;
                any = true;
            }
        }
        if any {
            self.throughput
                .processors_inserted
                .push(counts.at, inserted);
            self.throughput
                .processors_dead_lettered
                .push(counts.at, dead);
        }
        self.ok(SourceId::Processors, counts.at);
        if self.setup.broker.is_none() {
            self.lag_from_processors(&counts);
        }
    }

    /// The lag as the processors see it, when the broker cannot be read from here. Each
    /// partition's stand-in for a committed offset moves when its holder finishes
    /// messages, so the verdicts keep their meaning: lag waiting and no progress is a
    /// stall, and a replica that stops answering leaves its partitions stuck.
    fn lag_from_processors(&mut self, counts: &ProcessorCounts) {
        for r in &counts.replicas {
            let done = r.done();
            for &(partition, lag) in &r.partitions {
                let held = self.lag.held.entry(partition).or_insert_with(|| Held {
                    replica: r.replica.clone(),
                    lag,
                    progress: 0,
                    holder_done: done,
                });
                if held.replica == r.replica {
                    held.progress += increase(held.holder_done, done) as i64;
                } else {
                    held.replica = r.replica.clone();
                }
                held.holder_done = done;
                held.lag = lag;
            }
        }
        let partitions = self
            .lag
            .held
            .iter()
            .map(|(p, h)| PartitionOffsets {
                partition: *p,
                low_watermark: 0,
                high_watermark: h.progress + h.lag,
                committed: Some(h.progress),
            })
            .collect();
        self.lag_snapshot(LagSnapshot {
            at: counts.at,
            partitions,
            dlq: None,
            origin: LagOrigin::Processors,
        });
    }

    /// Rows inserted per second: PostgreSQL's statistics while they can be read, else
    /// the processors' own counters.
    pub fn inserted(&self) -> (&Series, Origin) {
        let t = &self.throughput;
        let database_silent =
            t.inserted.is_empty() || self.source_error(SourceId::Database).is_some();
        if database_silent && !t.processors_inserted.is_empty() {
            (&t.processors_inserted, Origin::ProcessorMetrics)
        } else {
            (&t.inserted, Origin::PostgresStats)
        }
    }

    /// Dead letters per second: the dead-letter topic's high watermarks while the broker
    /// can be read, else the processors' own counters.
    pub fn dead_lettered(&self) -> (&Series, Origin) {
        let t = &self.throughput;
        let broker_silent =
            t.dead_lettered.is_empty() || self.source_error(SourceId::Broker).is_some();
        if broker_silent && !t.processors_dead_lettered.is_empty() {
            (&t.processors_dead_lettered, Origin::ProcessorMetrics)
        } else {
            (&t.dead_lettered, Origin::DlqTopic)
        }
    }

    fn inserted_rows(&mut self, rows: InsertedRows) {
        self.advance(rows.at);
        let t = &mut self.throughput;
        if let Some(rate) = t.inserted_counter.rate(rows.at, rows.rows) {
            t.inserted.push(rows.at, rate);
        }
        self.ok(SourceId::Database, rows.at);
    }

    fn key(&mut self, key: KeyEvent) -> bool {
        let ctrl_c =
            key.modifiers.contains(KeyModifiers::CONTROL) && matches!(key.code, KeyCode::Char('c'));
        if ctrl_c {
            self.quit = true;
            return true;
        }
        if self.ui.editing_filter {
            match key.code {
                KeyCode::Esc => {
                    self.ui.filter.clear();
                    self.ui.editing_filter = false;
                }
                KeyCode::Enter => self.ui.editing_filter = false,
                KeyCode::Backspace => {
                    self.ui.filter.pop();
                }
                KeyCode::Char(c) => self.ui.filter.push(c),
                _ => return false,
            }
            return true;
        }
        if self.ui.help {
            match key.code {
                KeyCode::Char('q') => self.quit = true,
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter => self.ui.help = false,
                _ => return false,
            }
            return true;
        }
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Esc if self.ui.expanded.is_some() => self.ui.expanded = None,
            KeyCode::Esc => self.quit = true,
            KeyCode::Char('p') => {
                self.ui.frozen = !self.ui.frozen;
                if !self.ui.frozen {
                    for event in std::mem::take(&mut self.held) {
                        self.data(event);
                    }
                }
            }
            KeyCode::Char('/') => {
                self.ui.editing_filter = true;
                self.ui.selected = Panel::Events;
            }
            KeyCode::Tab | KeyCode::Right | KeyCode::Down => {
                self.ui.selected = self.ui.selected.step(1);
                if self.ui.expanded.is_some() {
                    self.ui.expanded = Some(self.ui.selected);
                }
            }
            KeyCode::BackTab | KeyCode::Left | KeyCode::Up => {
                self.ui.selected = self.ui.selected.step(-1);
                if self.ui.expanded.is_some() {
                    self.ui.expanded = Some(self.ui.selected);
                }
            }
            KeyCode::Enter | KeyCode::Char('e') => {
                self.ui.expanded = match self.ui.expanded {
                    Some(_) => None,
                    None => Some(self.ui.selected),
                }
            }
            KeyCode::Char('+') | KeyCode::Char('=') => self.step_window(1),
            KeyCode::Char('-') => self.step_window(-1),
            KeyCode::Char('?') => self.ui.help = true,
            _ => return false,
        }
        true
    }

    fn step_window(&mut self, by: isize) {
        let i = WINDOWS
            .iter()
            .position(|w| *w >= self.window)
            .unwrap_or(WINDOWS.len() - 1) as isize;
        self.window = WINDOWS[(i + by).clamp(0, WINDOWS.len() as isize - 1) as usize];
    }

    /// Where the visible window starts.
    pub fn window_start(&self) -> Instant {
        self.now.checked_sub(self.window).unwrap_or(self.now)
    }

    /// Each partition's latest lag and verdict.
    pub fn partitions(&self) -> Vec<(i32, Option<LagSample>, Verdict)> {
        self.lag
            .partitions
            .iter()
            .map(|(p, samples)| {
                let samples: Vec<LagSample> = samples.iter().copied().collect();
                (
                    *p,
                    samples.last().copied(),
                    verdict::partition(&samples, self.now, self.window),
                )
            })
            .collect()
    }

    pub fn group_verdict(&self) -> Verdict {
        let verdicts: Vec<(i32, Verdict)> = self
            .partitions()
            .into_iter()
            .map(|(p, _, v)| (p, v))
            .collect();
        verdict::group(&verdicts)
    }

    pub fn total_lag(&self) -> Option<i64> {
        self.lag.total.last().map(|v| v as i64)
    }

    /// The time to drain the total lag at its fall over the last ten seconds.
    pub fn drain(&self) -> Drain {
        let Some(total) = self.lag.total.last() else {
            return Drain::Unknown;
        };
        if total <= 0.0 {
            return Drain::Drained;
        }
        let recent: Vec<(Instant, f64)> = self
            .lag
            .total
            .since(self.now.checked_sub(DRAIN_OVER).unwrap_or(self.now))
            .collect();
        let (Some(first), Some(last)) = (recent.first(), recent.last()) else {
            return Drain::Unknown;
        };
        let dt = last.0.saturating_duration_since(first.0).as_secs_f64();
        if dt <= 0.0 {
            return Drain::Unknown;
        }
        let fall = (first.1 - last.1) / dt;
        if fall <= 0.0 {
            Drain::NotDraining
        } else {
            Drain::In(Duration::from_secs_f64(total / fall))
        }
    }

    /// The recent events that match the filter.
    pub fn filtered_events(&self) -> impl Iterator<Item = &StoredEvent> {
        let filter = self.ui.filter.to_lowercase();
        self.recent.iter().filter(move |e| {
            filter.is_empty()
                || e.event_type.to_lowercase().contains(&filter)
                || e.page_path
                    .as_deref()
                    .is_some_and(|p| p.to_lowercase().contains(&filter))
        })
    }

    /// The load's figures while it runs.
    pub fn live_load(&self) -> Option<&LoadFigures> {
        self.load
            .as_ref()
            .filter(|l| self.now.saturating_duration_since(l.at) < LOAD_STALE)
    }

    /// Why a source does not answer, if it does not.
    pub fn source_error(&self, source: SourceId) -> Option<&str> {
        self.sources.get(&source)?.error.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use super::*;
    use crate::tui::{
        event::{ProcessorFigures, ReplicaCounts},
        verdict::Status,
    };

    fn app(t0: Instant) -> App {
        App::new(Duration::from_secs(300), Duration::from_secs(1), t0)
    }

    fn key(code: KeyCode) -> Event {
        Event::Key(KeyEvent::from(code))
    }

    fn lag(at: Instant, high: i64, committed: Option<i64>, dlq_high: i64) -> Event {
        Event::Lag(LagSnapshot {
            at,
            partitions: vec![PartitionOffsets {
                partition: 0,
                low_watermark: 0,
                high_watermark: high,
                committed,
            }],
            dlq: Some(DlqOffsets {
                high_watermark: dlq_high,
                depth: dlq_high,
            }),
            origin: LagOrigin::Broker,
        })
    }

    #[test]
    fn counters_become_rates_and_a_reset_counts_from_zero() {
        let t0 = Instant::now();
        let mut counter = Counter::default();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(counter.rate(at(0), 1000), None, "one sample is no rate");
        assert_eq!(counter.rate(at(2), 1400), Some(200.0));
        // A reset: 30 since.
        assert_eq!(counter.rate(at(3), 30), Some(30.0));
        // The same instant twice gives no rate and does not break the next.
        assert_eq!(counter.rate(at(3), 40), None);
        assert_eq!(counter.rate(at(4), 50), Some(20.0));
    }

    #[test]
    fn inserted_rows_are_a_rate_over_five_seconds_because_statistics_come_in_steps() {
        let t0 = Instant::now();
        let mut app = app(t0);
        // 100 rows a second, flushed every other second: 0 and 200 a second, sample
        // to sample.
        for s in 0..=12u64 {
            app.update(Event::Inserted(InsertedRows {
                at: t0 + Duration::from_secs(s),
                rows: 200 * (s / 2),
            }));
            if s >= 6 {
                let rate = app.throughput.inserted.last().unwrap();
                assert!((80.0..=120.0).contains(&rate), "{rate} at {s}s");
            }
        }
    }

    #[test]
    fn collector_replicas_are_summed_and_a_restarted_replica_counts_from_zero() {
        let t0 = Instant::now();
        let mut app = app(t0);
        let counts = |s: u64, a: [u64; 2]| {
            Event::Collectors(CollectorCounts {
                at: t0 + Duration::from_secs(s),
                replicas: vec![
                    ReplicaCounts {
                        replica: "collector-1".into(),
                        accepted: a[0],
                        rejected: 0,
                    },
                    ReplicaCounts {
                        replica: "collector-2".into(),
                        accepted: a[1],
                        rejected: 0,
                    },
                ],
            })
        };
        app.update(counts(0, [100, 100]));
        app.update(counts(1, [300, 150]));
        assert_eq!(app.throughput.accepted.last(), Some(250.0));
        app.update(counts(2, [500, 20]));
        assert_eq!(app.throughput.accepted.last(), Some(220.0));
        assert_eq!(
            app.throughput.replicas["collector-2"].accepted.last(),
            Some(20.0)
        );
    }

    #[test]
    fn lag_snapshots_give_the_total_the_topic_rates_and_dead_letters() {
        let t0 = Instant::now();
        let mut app = app(t0);
        app.update(lag(t0, 100, Some(40), 1));
        app.update(lag(t0 + Duration::from_secs(1), 300, Some(290), 4));
        assert_eq!(app.total_lag(), Some(10));
        assert_eq!(app.throughput.produced.last(), Some(200.0));
        assert_eq!(app.throughput.consumed.last(), Some(250.0));
        assert_eq!(app.throughput.dead_lettered.last(), Some(3.0));
        assert_eq!(app.lag.dlq.map(|d| d.depth), Some(4));
        assert_eq!(app.drain(), Drain::In(Duration::from_millis(200)));
    }

    #[test]
    fn drain_time_is_drained_or_not_draining() {
        let t0 = Instant::now();
        let mut app = app(t0);
        assert_eq!(app.drain(), Drain::Unknown);
        app.update(lag(t0, 10, Some(10), 0));
        assert_eq!(app.drain(), Drain::Drained);
        app.update(lag(t0 + Duration::from_secs(1), 20, Some(10), 0));
        app.update(lag(t0 + Duration::from_secs(2), 30, Some(10), 0));
        assert_eq!(app.drain(), Drain::NotDraining);
    }

    #[test]
    fn a_source_error_shows_until_the_source_answers_again() {
        let t0 = Instant::now();
        let mut app = app(t0);
        app.update(Event::SourceError {
            source: SourceId::Broker,
            error: "connection refused".into(),
        });
        assert_eq!(
            app.source_error(SourceId::Broker),
            Some("connection refused")
        );
        app.update(lag(t0, 1, Some(1), 0));
        assert_eq!(app.source_error(SourceId::Broker), None);
    }

    #[test]
    fn a_dead_processor_turns_stalled_then_stopped_as_time_passes() {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(60), Duration::from_secs(1), t0);
        for s in 0..=70u64 {
            // Producers keep writing; commits stop at 500 after 5 s.
            let committed = (100 * s as i64).min(500);
            app.update(lag(
                t0 + Duration::from_secs(s),
                100 * s as i64 + 10,
                Some(committed),
                0,
            ));
            let status = app.group_verdict().status;
            match s {
                0..=14 => assert_ne!(status, Status::Stalled, "at {s}s"),
                16..=64 => assert_eq!(status, Status::Stalled, "at {s}s"),
                66.. => assert_eq!(status, Status::Stopped, "at {s}s"),
                _ => {}
            }
        }
    }

    #[test]
    fn keys_move_expand_freeze_filter_and_quit() {
        let t0 = Instant::now();
        let mut app = app(t0);
        assert!(app.update(key(KeyCode::Tab)));
        assert_eq!(app.ui.selected, Panel::Throughput);
        app.update(key(KeyCode::Left));
        app.update(key(KeyCode::Left));
        assert_eq!(app.ui.selected, Panel::Delay, "moving wraps around");
        app.update(key(KeyCode::Enter));
        assert_eq!(app.ui.expanded, Some(Panel::Delay));
        app.update(key(KeyCode::Esc));
        assert_eq!(app.ui.expanded, None, "Esc first closes the expanded panel");
        assert!(!app.quit);

        app.update(key(KeyCode::Char('?')));
        assert!(app.ui.help);
        assert!(
            !app.update(key(KeyCode::Char('x'))),
            "other keys do nothing in help"
        );
        app.update(key(KeyCode::Esc));
        assert!(!app.ui.help && !app.quit);

        app.update(key(KeyCode::Char('/')));
        for c in "q/p".chars() {
            app.update(key(KeyCode::Char(c)));
        }
        assert!(
            !app.quit && !app.ui.frozen,
            "typed into the filter, not commands"
        );
        assert_eq!(app.ui.filter, "q/p");
        app.update(key(KeyCode::Backspace));
        app.update(key(KeyCode::Enter));
        assert_eq!(app.ui.filter, "q/");
        assert!(!app.ui.editing_filter);

        app.update(key(KeyCode::Char('q')));
        assert!(app.quit);
        let mut app = self::app(t0);
        app.update(Event::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
        )));
        assert!(app.quit, "Ctrl-C quits in raw mode");
    }

    #[test]
    fn plus_and_minus_step_the_window_within_its_bounds() {
        let mut app = app(Instant::now());
        app.update(key(KeyCode::Char('+')));
        assert_eq!(app.window, Duration::from_secs(600));
        for _ in 0..10 {
            app.update(key(KeyCode::Char('-')));
        }
        assert_eq!(app.window, Duration::from_secs(60));
        // A window off the steps (--window 90s) moves to the neighbouring steps.
        app.window = Duration::from_secs(90);
        app.update(key(KeyCode::Char('+')));
        assert_eq!(app.window, Duration::from_secs(300));
    }

    #[test]
    fn frozen_holds_data_and_time_then_applies_everything_on_resume() {
        let t0 = Instant::now();
        let mut app = app(t0);
        app.update(lag(t0, 10, Some(10), 0));
        app.update(key(KeyCode::Char('p')));
        assert!(!app.update(lag(t0 + Duration::from_secs(1), 50, Some(10), 0)));
        assert!(!app.update(Event::Tick(t0 + Duration::from_secs(2))));
        assert_eq!(app.total_lag(), Some(0), "the screen stays as it was");
        assert_eq!(app.now, t0);
        app.update(key(KeyCode::Char('p')));
        assert_eq!(app.total_lag(), Some(40), "nothing was lost");
    }

    #[test]
    fn ticks_move_time_forward_only() {
        let t0 = Instant::now();
        let mut app = app(t0);
        assert!(app.update(Event::Tick(t0 + Duration::from_secs(1))));
        assert!(!app.update(Event::Tick(t0)));
        assert_eq!(app.now, t0 + Duration::from_secs(1));
    }

    fn figures(
        replica: &str,
        inserted: u64,
        dead: u64,
        partitions: &[(i32, i64)],
    ) -> ProcessorFigures {
        ProcessorFigures {
            replica: replica.into(),
            rows_inserted: inserted,
            duplicates_skipped: 0,
            dead_lettered: dead,
            partitions: partitions.to_vec(),
        }
    }

    fn processors(at: Instant, replicas: Vec<ProcessorFigures>) -> Event {
        Event::Processors(ProcessorCounts { at, replicas })
    }

    #[test]
    fn inserted_and_dead_letters_fall_back_to_the_processors_counters_and_say_so() {
        let t0 = Instant::now();
        let mut app = app(t0);
        app.setup.broker = Some("127.0.0.1:9092".into());
        let s = |n: u64| t0 + Duration::from_secs(n);
        app.update(processors(s(0), vec![figures("processor", 0, 0, &[])]));
        app.update(processors(
            s(1),
            vec![
                figures("processor", 300, 2, &[]),
                figures("processor-2", 0, 0, &[]),
            ],
        ));
        app.update(processors(
            s(2),
            vec![
                figures("processor", 600, 4, &[]),
                figures("processor-2", 100, 0, &[]),
            ],
        ));
        let (inserted, origin) = app.inserted();
        // 300/s from one, 100/s from the other (its first reading was at 1 s).
        assert_eq!(
            (inserted.last(), origin),
            (Some(400.0), Origin::ProcessorMetrics)
        );
        assert_eq!(app.dead_lettered().0.last(), Some(2.0));
        assert_eq!(app.dead_lettered().1, Origin::ProcessorMetrics);
        assert!(app.lag.partitions.is_empty(), "the broker gives the lag");

        // PostgreSQL and the dead-letter topic answer: their figures win.
        for n in [2, 8] {
            app.update(Event::Inserted(InsertedRows {
                at: s(n),
                rows: 100 * n,
            }));
            app.update(lag(s(n), 10, Some(10), n as i64));
        }
        assert_eq!(app.inserted().1, Origin::PostgresStats);
        assert_eq!(app.inserted().0.last(), Some(100.0));
        assert_eq!(app.dead_lettered().1, Origin::DlqTopic);
        // PostgreSQL stops answering: the processors' figures again.
        app.update(Event::SourceError {
            source: SourceId::Database,
            error: "connection refused".into(),
        });
        assert_eq!(app.inserted().1, Origin::ProcessorMetrics);
    }

    #[test]
    fn without_a_broker_the_processors_lag_gets_verdicts_and_a_silent_replica_stalls() {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(60), Duration::from_secs(1), t0);
        assert!(app.setup.broker.is_none());
        let s = |n: u64| t0 + Duration::from_secs(n);
        // Two replicas work steadily with some lag: no stall.
        for n in 0..=15u64 {
            app.update(processors(
                s(n),
                vec![
                    figures("processor", 100 * n, 0, &[(0, 40), (1, 30)]),
                    figures("processor-2", 50 * n, 0, &[(2, 20)]),
                ],
            ));
        }
        assert_eq!(app.lag.origin, Some(LagOrigin::Processors));
        assert_eq!(app.total_lag(), Some(90));
        let status = app.group_verdict().status;
        assert!(matches!(status, Status::Ok | Status::Lagging), "{status:?}");
        assert!(
            app.throughput.produced.is_empty(),
            "no topic rates from stand-ins"
        );
        assert_eq!(app.lag.held[&2].replica, "processor-2");

        // processor-2 stops answering: its partition keeps its last figures and stalls.
        for n in 16..=30u64 {
            app.update(processors(
                s(n),
                vec![figures("processor", 100 * n, 0, &[(0, 40), (1, 30)])],
            ));
        }
        let verdict = app.group_verdict();
        assert_eq!(verdict.status, Status::Stalled, "{verdict:?}");
        assert!(verdict.reason.contains("partition 2"), "{verdict:?}");

        // The group moves partition 2 to a restarted processor (counters from zero): no
        // rewind, and progress makes it OK again.
        for n in 31..=45u64 {
            app.update(processors(
                s(n),
                vec![figures(
                    "processor",
                    10 * (n - 30),
                    0,
                    &[(0, 0), (1, 0), (2, 0)],
                )],
            ));
        }
        assert_eq!(app.group_verdict().status, Status::Ok);
        assert_eq!(app.lag.held[&2].replica, "processor");
    }

    #[test]
    fn recent_events_come_from_the_events_api_while_it_answers() {
        let t0 = Instant::now();
        let mut app = app(t0);
        let recent = |from, event_type: &str| {
            Event::Recent(RecentEvents {
                from,
                events: vec![StoredEvent {
                    timestamp: chrono::Utc::now(),
                    event_type: event_type.into(),
                    page_path: None,
                    component_name: None,
                }],
            })
        };
        app.update(recent(SourceId::Database, "FROM_DB"));
        assert_eq!(app.recent[0].event_type, "FROM_DB");
        app.update(recent(SourceId::EventsApi, "FROM_API"));
        app.update(recent(SourceId::Database, "FROM_DB"));
        assert_eq!(app.recent[0].event_type, "FROM_API");
        assert_eq!(app.recent_from, Some(SourceId::EventsApi));
        app.update(Event::SourceError {
            source: SourceId::EventsApi,
            error: "connection refused".into(),
        });
        app.update(recent(SourceId::Database, "FROM_DB"));
        assert_eq!(app.recent[0].event_type, "FROM_DB");
        assert_eq!(app.recent_from, Some(SourceId::Database));
    }

    #[test]
    fn load_figures_show_only_while_fresh() {
        let t0 = Instant::now();
        let mut app = app(t0);
        app.update(Event::Load(LoadFigures {
            at: t0,
            pid: 1,
            target_rps: None,
            sent_rps: 500.0,
            corrected_p99_ms: 3.0,
        }));
        assert!(app.live_load().is_some());
        app.update(Event::Tick(t0 + Duration::from_secs(6)));
        assert!(app.live_load().is_none());
    }
}
