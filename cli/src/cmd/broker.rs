use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use anyhow::Result;
use clap::Args;
use ptrack_broker::EmbeddedBroker;

#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Where to listen (and what clients are told to connect to, unless --advertise).
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub addr: SocketAddr,
    /// The HOST:PORT clients are told to connect to, when it differs from --addr: in a
    /// container the broker listens on 0.0.0.0:9092 and is reached as kafka:9092.
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise: Option<String>,
    /// The SQLite file holding topics, messages and committed offsets.
    #[arg(long, default_value = ".ptrack/broker/broker.db")]
    pub data: PathBuf,
}

pub async fn run(args: BrokerArgs) -> Result<ExitCode> {
    // tansu logs every decoded field of every request at `info` (hundreds of MB a
    // minute under load, and about half of the broker's CPU): only its warnings by default.
    ptrack_common::telemetry::init("warn,ptrack=info,ptrack_broker=info");
    let mut broker =
        EmbeddedBroker::start_advertising(args.addr, args.advertise.as_deref(), &args.data).await?;
    tracing::info!(addr = %args.addr, advertise = ?args.advertise, data = %args.data.display(), "broker listening");
    tokio::select! {
        _ = ptrack_common::telemetry::shutdown_signal() => {
            tracing::info!("broker stopping");
            Ok(ExitCode::SUCCESS)
        }
        stopped = broker.wait() => stopped.map(|()| ExitCode::FAILURE),
    }
}
