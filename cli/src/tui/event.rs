//! The one event type the TUI runs on: keys and resizes from the terminal, the clock's
//! tick, and each source's data or failure. Sources send snapshots (cumulative counters,
//! offsets, lists); the [`App`](super::app::App) turns them into series and rates.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use serde::Serialize;

use crate::runtime::ReplicaStatus;

#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    Resize(u16, u16),
    /// Time passed: rates age, windows slide, verdicts can change with no new data.
    Tick(Instant),
    /// SIGINT (Ctrl-C when the terminal is not in raw mode) or SIGTERM: quit.
    Interrupt,
    Lag(LagSnapshot),
    Collectors(CollectorCounts),
    Processors(ProcessorCounts),
    Inserted(InsertedRows),
    Recent(RecentEvents),
    Health(HealthSnapshot),
    Delay(E2eDelay),
    Load(LoadFigures),
    /// A source did not answer; it keeps retrying by itself.
    SourceError {
        source: SourceId,
        error: String,
    },
}

/// Which source a failure or a freshness mark belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceId {
    Broker,
    Database,
    Collectors,
    Processors,
    EventsApi,
    Runtime,
    Load,
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Broker => "broker",
            Self::Database => "database",
            Self::Collectors => "collectors",
            Self::Processors => "processors",
            Self::EventsApi => "events-api",
            Self::Runtime => "runtime",
            Self::Load => "load",
        })
    }
}

/// Offsets of the events topic read from the broker at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct LagSnapshot {
    pub at: Instant,
    pub partitions: Vec<PartitionOffsets>,
    /// The dead-letter topic, summed over its partitions; `None` when it does not exist.
    pub dlq: Option<DlqOffsets>,
    /// Where the figures come from: the broker, or (when the broker cannot be reached from
    /// here) the processors' own report, which the lag panel marks as such.
    pub origin: LagOrigin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LagOrigin {
    Broker,
    Processors,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    pub partition: i32,
    /// The first offset still kept: the lag of a group that never committed starts here.
    pub low_watermark: i64,
    pub high_watermark: i64,
    /// The group's committed offset; `None` when it has never committed on this partition.
    pub committed: Option<i64>,
}

impl PartitionOffsets {
    /// Messages written but not yet committed by the group.
    pub fn lag(&self) -> i64 {
        (self.high_watermark - self.committed.unwrap_or(self.low_watermark)).max(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DlqOffsets {
    /// Every message ever dead-lettered (a counter: its rate is dead letters per second).
    pub high_watermark: i64,
    /// Messages still kept in the dead-letter topic.
    pub depth: i64,
}

/// Events accepted and rejected so far by each collector replica (cumulative counters, as
/// its `/metrics` reports them; a restart resets them).
#[derive(Debug, Clone, PartialEq)]
pub struct CollectorCounts {
    pub at: Instant,
    pub replicas: Vec<ReplicaCounts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaCounts {
    pub replica: String,
    pub accepted: u64,
    pub rejected: u64,
}

/// Each processor replica's own counters and the lag of the partitions it holds, from its
/// `/metrics` and `/status` (only the replicas that answered).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessorCounts {
    pub at: Instant,
    pub replicas: Vec<ProcessorFigures>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcessorFigures {
    pub replica: String,
    /// `ptrack_processor_rows_inserted_total`: rows this replica wrote (a counter).
    pub rows_inserted: u64,
    /// `ptrack_processor_duplicates_skipped_total`: replayed events it skipped.
    pub duplicates_skipped: u64,
    /// `ptrack_processor_dead_lettered_total`: messages it sent to the dead-letter topic.
    pub dead_lettered: u64,
    /// `(partition, lag)` of each partition it holds (`/status`, and the per-partition
    /// `ptrack_processor_consumergroup_lag` gauge), its own view, refreshed every 2 s.
    pub partitions: Vec<(i32, i64)>,
}

impl ProcessorFigures {
    /// Messages this replica has finished with: written, skipped as replays, or
    /// dead-lettered. It only moves when the replica commits a batch.
    pub fn done(&self) -> u64 {
        self.rows_inserted + self.duplicates_skipped + self.dead_lettered
    }
}

/// Where the TUI reads from and how that was found, shown in the health panel. Decided
/// once at start from the data folder and the flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Setup {
    /// How the endpoints were found, in words: `local stack in .ptrack`, or no stack and
    /// the local defaults.
    pub found: String,
    /// Whether a stack was found in the data folder.
    pub stack_found: bool,
    /// The Kafka bootstrap servers; `None` when the broker is not reachable from here
    /// (docker, kube): the lag then comes from the processors.
    pub broker: Option<String>,
    /// The database, its password hidden; `None` when not reachable from here.
    pub database: Option<String>,
    pub events_api: Option<String>,
    pub collectors: usize,
    pub processors: usize,
    pub delay: Option<DelayMethod>,
}

/// Rows inserted into `user_events` as PostgreSQL's statistics count them
/// (`pg_stat_user_tables.n_tup_ins`, a counter; a stats reset sets it back to zero).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InsertedRows {
    pub at: Instant,
    pub rows: u64,
}

/// The newest stored events, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentEvents {
    /// The events-api (the product's read path), or PostgreSQL when the API does not
    /// answer.
    pub from: SourceId,
    pub events: Vec<StoredEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    pub timestamp: DateTime<Utc>,
    pub event_type: String,
    pub page_path: Option<String>,
    pub component_name: Option<String>,
}

/// Each service and replica, as `ptrack status` sees them.
#[derive(Debug, Clone)]
pub struct HealthSnapshot {
    pub replicas: Vec<ReplicaStatus>,
}

/// How long events take from the collector to the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct E2eDelay {
    pub at: Instant,
    pub from: SourceId,
    pub method: DelayMethod,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// How many events the figures are computed from.
    pub samples: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DelayMethod {
    /// A tagged event sent every few seconds and looked for.
    Canary,
    /// `inserted_at - received_at` of the rows stored last (by their stored time, not the
    /// browser's clock).
    RowTimestamps,
}

impl std::fmt::Display for DelayMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Canary => "from a canary event",
            Self::RowTimestamps => "newest stored rows: inserted_at - received_at",
        })
    }
}

/// A running `ptrack load`'s live figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadFigures {
    pub at: Instant,
    pub pid: u32,
    pub target_rps: Option<f64>,
    pub sent_rps: f64,
    pub corrected_p99_ms: f64,
}
