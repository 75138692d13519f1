use anyhow::Context;
use ptrack_events_api::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config: Config = ptrack_common::config::parse();
    ptrack_common::telemetry::init("info");
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| {
            format!(
                "binding EVENTS_API_ADDR {}: is another events-api running?",
                config.addr
            )
        })?;
    tracing::info!(addr = %config.addr, database = %config.database_url, "events-api listening");
    ptrack_events_api::run(
        listener,
        config,
        ptrack_common::telemetry::shutdown_signal(),
    )
    .await
}
