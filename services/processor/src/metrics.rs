use std::sync::Arc;

use prometheus_client::{
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use ptrack_common::metrics::{HttpMetrics, latency_buckets};

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
    /// `consumergroup_lag{topic, group, partition}`: high watermark minus the group's
    /// committed offset, per partition this replica holds (named and labelled as
    /// kafka_exporter's `kafka_consumergroup_lag`).
    pub lag: Family<Vec<(&'static str, String)>, Gauge>,
    /// `consumergroup_lag_sum{topic, group}`: the same, all partitions it holds.
    pub lag_sum: Family<Vec<(&'static str, String)>, Gauge>,
    /// The request-duration histogram of `/health`, `/metrics`, `/status`...
    pub http: HttpMetrics,
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
            lag_sum: Family::default(),
            http: HttpMetrics::register(&mut registry),
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
            "consumergroup_lag",
            "Messages behind the high watermark, per partition this replica holds",
            metrics.lag.clone(),
        );
        registry.register(
            "consumergroup_lag_sum",
            "Messages behind the high watermark, all partitions this replica holds",
            metrics.lag_sum.clone(),
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
