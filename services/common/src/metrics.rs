//! Prometheus metrics in the OpenMetrics text format at `/metrics`, one registry per
//! service, and the request-duration histogram every HTTP service has: they live in
//! `ptrack-http` (the web demo serves them too) and are re-exported here.

pub use ptrack_http::metrics::{
    HttpMetrics, OPENMETRICS_CONTENT_TYPE, latency_buckets, metrics_handler,
};
