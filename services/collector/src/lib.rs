//! The collector: `POST /track` takes the tracker's batches, checks each event, and
//! produces every valid one to Kafka, answering only once the broker has acknowledged.
//!
//! Layout:
//! - [`config`]: settings from flags and the environment (`--help` lists them).
//! - [`api`]: the HTTP routes and the error type that maps to status codes.
//! - [`producer`]: the idempotent Kafka producer and the broker-down circuit breaker.
//! - [`security`]: write keys and rate limits.

pub mod api;
pub mod config;
pub mod producer;
pub mod security;

use std::future::Future;

use anyhow::Context;
pub use config::Config;
use tokio::net::TcpListener;

/// Serves until `shutdown` resolves, then stops accepting, flushes the producer and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let producer = producer::EventProducer::new(&config).context("creating the Kafka producer")?;
    producer.ensure_topics_in_background(&config);
    let limits = config.http.clone();
    let state = api::AppState::new(config, producer.clone())?;
    let app = api::app(state);
    // The server puts the peer address on every request (`ConnectInfo<SocketAddr>`):
    // it feeds the per-address rate limit.
    ptrack_common::http::serve(listener, app, limits, shutdown)
        .await
        .context("serving HTTP")?;
    tracing::info!("collector stopping: flushing the producer");
    producer.flush().await;
    Ok(())
}
