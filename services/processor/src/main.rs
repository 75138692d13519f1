use anyhow::Context;
use ptrack_processor::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config: Config = ptrack_common::config::parse();
    ptrack_common::telemetry::init("info");
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| {
            format!(
                "binding PROCESSOR_ADDR {}: is another processor running there?",
                config.addr
            )
        })?;
    tracing::info!(addr = %config.addr, brokers = %config.kafka.brokers, topic = %config.kafka.topic, database = %config.database_url, "processor starting");
    ptrack_processor::run(
        listener,
        config,
        ptrack_common::telemetry::shutdown_signal(),
    )
    .await
}
