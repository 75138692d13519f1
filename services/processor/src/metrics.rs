use std::sync::Arc;

use prometheus_client::{
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use ptrack_common::metrics::latency_buckets;

pub struct Metrics {
    pub registry: Arc<Registry>,
    pub rows_inserted: Counter,
    pub duplicates_skipped: Counter,
    pub batches: Counter,
    pub batch_latency: Histogram,
    pub dead_lettered: Counter,
    /// Messages the dead-letter topic refused for good (too large, say): logged, skipped.
    pub dead_letter_failures: Counter,
    pub database_errors: Counter,
    /// High watermark minus this consumer's position, per assigned partition.
    pub lag: Family<Vec<(&'static str, String)>, Gauge>,
    pub lag_total: Gauge,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ptrack_processor");
        let metrics = Self {
            registry: Arc::default(),
            rows_inserted: Counter::default(),
            duplicates_skipped: Counter::default(),
            batches: Counter::default(),
            batch_latency: Histogram::new(latency_buckets()),
            dead_lettered: Counter::default(),
            dead_letter_failures: Counter::default(),
            database_errors: Counter::default(),
            lag: Family::default(),
            lag_total: Gauge::default(),
        };
        registry.register(
            "rows_inserted",
            "Rows written to user_events",
            metrics.rows_inserted.clone(),
        );
        registry.register(
            "duplicates_skipped",
            "Events already stored (a replay), skipped by ON CONFLICT",
            metrics.duplicates_skipped.clone(),
        );
        registry.register("batches", "Batches written", metrics.batches.clone());
        registry.register(
            "batch_latency_seconds",
            "Time to write one batch, database commit included",
            metrics.batch_latency.clone(),
        );
        registry.register(
            "dead_lettered",
            "Messages sent to the dead-letter topic",
            metrics.dead_lettered.clone(),
        );
        registry.register(
            "dead_letter_failures",
            "Messages the dead-letter topic refused for good (too large, say); logged and skipped",
            metrics.dead_letter_failures.clone(),
        );
        registry.register(
            "database_errors",
            "Failed batch writes (each is retried)",
            metrics.database_errors.clone(),
        );
        registry.register(
            "consumer_lag",
            "Messages behind the high watermark, per partition",
            metrics.lag.clone(),
        );
        registry.register(
            "consumer_lag_total",
            "Messages behind, all assigned partitions",
            metrics.lag_total.clone(),
        );
        Self {
            registry: Arc::new(registry),
            ..metrics
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
