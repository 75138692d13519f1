use anyhow::Context;
use ptrack_web_demo::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_args();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| {
            format!(
                "binding WEB_DEMO_ADDR {}: is another demo running? Set WEB_DEMO_ADDR to another port",
                config.addr
            )
        })?;
    tracing::info!(
        url = %format!("http://{}", listener.local_addr()?),
        collector = %config.collector_url,
        events_api = %config.events_api_url,
        "web demo listening"
    );
    ptrack_web_demo::run(listener, config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
