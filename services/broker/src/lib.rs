//! The embedded Kafka-protocol broker: tansu with SQLite storage, in this process.
//!
//! The local runtime (`ptrack up`) and the tests use it so that nothing but Rust and
//! PostgreSQL is needed on a developer's machine. Users of `compose.yaml` and `kube/` get
//! Apache Kafka instead; the services cannot tell the difference.
//!
//! # tansu 0.6, as measured here
//!
//! How it is embedded: `tansu-broker` and `tansu-storage` at `=0.6.0` with default
//! features off and `dynostore` + `libsql` on both (without the same storage features on
//! both, the broker has no storage engine and refuses to start); the broker is built with
//! `Broker::builder()` and its `serve` future is spawned on this runtime. It is ready in
//! about 50 ms. It cannot bind port 0 (the caller picks a free port first) and has no
//! shutdown handle: aborting its task stops it and frees the port.
//!
//! Storage is SQLite (`sqlite://` URL, one file): topics, messages and committed offsets
//! survive the broker being stopped or killed (with the changes in
//! `vendor/tansu-storage`, nothing is fsynced, so an OS crash can lose the latest ones).
//! `memory://` is not usable: it reports a wrong high watermark (negative lag) and skips
//! the rest of a batch when a fetch starts mid-batch, losing messages on resume and on
//! rebalance. `null://` keeps nothing.
//!
//! What clients must allow for:
//! - Topics are not auto-created: the services create theirs
//!   (`ptrack_common::kafka::ensure_topics`).
//! - Describing or listing consumer groups fails (the broker drops the connection), so
//!   lag is computed for a known group id from its committed offsets and the partitions'
//!   watermarks (the processor's group watch, which `/status` and `ptrack status` show).
//! - librdkafka older than 2.2 cannot talk to it (an ApiVersions parsing bug on the
//!   client's side): Debian's `librdkafka-dev` and `kcat` (2.0.2) are too old, which is
//!   why `rdkafka` is built with its bundled librdkafka.
//! - An idempotent producer's retry after a broker restart makes tansu panic: a broker
//!   restarted under load needs `KAFKA_IDEMPOTENCE=false` (the local runtime and the tests
//!   set it; the processor's `ON CONFLICT` makes the duplicates harmless).
//! - A member killed with -9 expires but the group is not rebalanced, so its partitions
//!   wait: the processor rejoins the group when a partition is orphaned
//!   (`KAFKA_ORPHAN_AFTER_MS`), and a replacement can wait before joining
//!   (`KAFKA_JOIN_DELAY_MS`).
//! - A fetch is held for the whole `fetch.wait.max.ms` (half of it from 250 ms up) even
//!   when data is there, so the processor asks for 50 ms (`KAFKA_FETCH_WAIT_MS`) instead
//!   of librdkafka's 500.
//!
//! Producing, consumer groups with manual commits, committed offsets, watermarks and a
//! rebalance between two live members behave as with Apache Kafka.

use std::{net::SocketAddr, path::Path, time::Duration};

use anyhow::{Context, Result, bail};
use tansu_broker::{broker::Broker, coordinator::group::administrator::Controller};
use tansu_storage::StorageContainer;
use tokio::task::JoinHandle;
use url::Url;

/// A broker serving on `addr`, storing everything in one SQLite file.
///
/// Dropping the handle stops the broker and frees the port; the data stays in the file,
/// so a broker started again on the same file sees the same topics, messages and
/// committed offsets.
#[derive(Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl EmbeddedBroker {
    /// Starts a broker and waits until it accepts connections.
    ///
    /// tansu has no way to bind port 0, so the caller picks the port (see
    /// [`free_port`]).
    pub async fn start(addr: SocketAddr, database: &Path) -> Result<Self> {
        Self::start_advertising(addr, None, database).await
    }

    /// Like [`start`](Self::start), but tells clients to connect to `advertise`
    /// (`HOST:PORT`) rather than to `addr`: a broker in a container listens on
    /// `0.0.0.0:9092` and is reached by its network alias, like `kafka:9092`.
    pub async fn start_advertising(
        addr: SocketAddr,
        advertise: Option<&str>,
        database: &Path,
    ) -> Result<Self> {
        if let Some(parent) = database.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating the broker data folder {}", parent.display()))?;
        }
        let listener = Url::parse(&format!("tcp://{addr}")).context("broker listener URL")?;
        let advertised = match advertise {
            Some(advertise) => Url::parse(&format!("tcp://{advertise}")).with_context(|| {
                format!("the advertised address {advertise:?}: expected HOST:PORT")
            })?,
            None => listener.clone(),
        };
        // tansu joins the URL's path to the working directory after stripping one
        // leading '/': an absolute path needs one '/' more to stay absolute.
        let database = std::path::absolute(database).context("the broker database path")?;
        let storage = Url::parse(&format!("sqlite:///{}", database.display()))
            .context("broker storage URL")?;
        let mut broker = Broker::<Controller<StorageContainer>, StorageContainer>::builder()
            .node_id(111)
            .cluster_id("ptrack")
            .incarnation_id(uuid::Uuid::new_v4())
            .advertised_listener(advertised)
            .listener(listener)
            .storage(storage)
            .silent(true)
            .build()
            .await
            .with_context(|| format!("starting the broker on {} ({})", addr, database.display()))?;
        let task = tokio::spawn(async move {
            if let Err(err) = broker.serve(tokio::time::Instant::now()).await {
                tracing::error!(%err, "the embedded broker stopped");
            }
        });
        let started = Self { addr, task };
        started.wait_until_listening().await?;
        Ok(started)
    }

    async fn wait_until_listening(&self) -> Result<()> {
        for _ in 0..200 {
            if self.task.is_finished() {
                bail!(
                    "the broker stopped at start: is {} already in use?",
                    self.addr
                );
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("the broker did not listen on {} within 5 s", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `bootstrap.servers` string clients use.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// Runs until the broker task ends (it only ends on an error).
    pub async fn wait(&mut self) -> Result<()> {
        (&mut self.task).await.context("broker task")?;
        bail!("the broker on {} stopped", self.addr)
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
