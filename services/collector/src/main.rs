use anyhow::Context;
use ptrack_collector::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config: Config = ptrack_common::config::parse();
    ptrack_common::telemetry::init("info");
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| {
            format!(
                "binding COLLECTOR_ADDR {}: is another collector running?",
                config.addr
            )
        })?;
    tracing::info!(addr = %config.addr, brokers = %config.kafka.brokers, topic = %config.kafka.topic, "collector listening");
    ptrack_collector::run(
        listener,
        config,
        ptrack_common::telemetry::shutdown_signal(),
    )
    .await
}
