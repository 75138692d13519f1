use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use anyhow::Result;
use clap::Args;
use ptrack_broker::EmbeddedBroker;

#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Where to listen (and what clients are told to connect to).
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub addr: SocketAddr,
    /// The SQLite file holding topics, messages and committed offsets.
    #[arg(long, default_value = ".ptrack/broker/broker.db")]
    pub data: PathBuf,
}

pub async fn run(args: BrokerArgs) -> Result<ExitCode> {
    ptrack_common::telemetry::init("info");
    let mut broker = EmbeddedBroker::start(args.addr, &args.data).await?;
    tracing::info!(addr = %args.addr, data = %args.data.display(), "broker listening");
    tokio::select! {
        _ = ptrack_common::telemetry::shutdown_signal() => {
            tracing::info!("broker stopping");
            Ok(ExitCode::SUCCESS)
        }
        stopped = broker.wait() => stopped.map(|()| ExitCode::FAILURE),
    }
}
