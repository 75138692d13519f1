//! What the ptrack services share: the event model, configuration, Kafka settings,
//! health, metrics, logging and the database schema.
//!
//! Layout:
//! - [`event`]: the tracker's payload, validation, and the Kafka message.
//! - [`config`]: typed settings from the environment; secrets that never print.
//! - [`kafka`]: client settings, topic creation, transient/permanent error classification.
//! - [`health`]: component health reported by the loops, served at `/health`, and the
//!   probes `/livez` (the loops beat) and `/readyz` (and the dependencies answer).
//! - [`metrics`]: OpenMetrics text at `/metrics`; the request-duration histogram.
//! - [`http`]: the server every service runs on (read timeouts, a connection cap).
//! - [`telemetry`]: logging and the shutdown signal.
//! - [`db`]: migrations of `user_events` and connecting.

pub mod config;
pub mod db;
pub mod event;
pub mod health;
pub mod http;
pub mod kafka;
pub mod metrics;
pub mod telemetry;
