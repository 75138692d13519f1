//! The real pipeline in-process, for tests that need events to flow end to end: the
//! embedded broker with a fresh topic, a fresh PostgreSQL database, the collector, the
//! processor and the events-api, each bound to `127.0.0.1:0` and stopped on drop.

use std::{net::SocketAddr, time::Duration};

use ptrack_test_support::{TestBroker, TestDatabase, fresh_topic};
use reqwest::Url;
use tokio_util::sync::CancellationToken;

pub struct Pipeline {
    pub db: TestDatabase,
    pub broker: TestBroker,
    pub topic: String,
    /// The processor's consumer group.
    pub group: String,
    pub collector: Collector,
    pub processor: SocketAddr,
    pub events_api: SocketAddr,
    stop: CancellationToken,
    /// Children of `stop`: the processor and the events-api can be stopped alone.
    processor_stop: CancellationToken,
    events_api_stop: CancellationToken,
}

/// The collector, which a test may stop and start again on the same address.
pub struct Collector {
    pub addr: SocketAddr,
    config: ptrack_collector::Config,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Collector {
    fn start(listener: tokio::net::TcpListener, config: ptrack_collector::Config) -> Self {
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(ptrack_collector::run(
            listener,
            config.clone(),
            stop.clone().cancelled_owned(),
        ));
        Self {
            addr,
            config,
            stop,
            task,
        }
    }

    pub async fn stop(&mut self) {
        self.stop.cancel();
        (&mut self.task).await.unwrap().unwrap();
    }

    pub async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        *self = Self::start(listener, self.config.clone());
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub async fn listener() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

impl Pipeline {
    /// The pipeline with the collector's test settings.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// The pipeline with a collector that lets `origin` (a web page's) post to it.
    pub async fn allowing_origin(origin: &str) -> Self {
        Self::start_with(|config| config.cors_origins = vec![origin.to_owned()]).await
    }

    pub async fn start_with(collector: impl FnOnce(&mut ptrack_collector::Config)) -> Self {
        let broker = TestBroker::start().await.unwrap();
        let topic = fresh_topic(&broker, 3).await.unwrap();
        let db = TestDatabase::new().await.unwrap();
        let stop = CancellationToken::new();

        let (l, _) = listener().await;
        let mut config = ptrack_collector::Config::for_tests(&broker.bootstrap(), &topic);
        collector(&mut config);
        let collector = Collector::start(l, config);

        let group = format!("processor-{topic}");
        let processor_stop = stop.child_token();
        let (l, processor) = listener().await;
        let config = ptrack_processor::Config {
            addr: processor,
            kafka: ptrack_common::kafka::KafkaSettings {
                brokers: broker.bootstrap(),
                topic: topic.clone(),
                partitions: 3,
                idempotence: true,
            },
            group_id: group.clone(),
            database_url: ptrack_common::config::Secret::new(db.url.clone()),
            batch_size: 500,
            batch_max_bytes: ptrack_processor::config::DEFAULT_BATCH_MAX_BYTES as usize,
            batch_timeout: Duration::from_millis(100),
            db_max_connections: 2,
            join_delay: Duration::ZERO,
            orphan_after: Duration::from_secs(30),
            fetch_wait: Duration::from_millis(50),
            http: Default::default(),
        };
        tokio::spawn(ptrack_processor::run(
            l,
            config,
            processor_stop.clone().cancelled_owned(),
        ));

        let (l, events_api) = listener().await;
        let mut pipeline = Self {
            db,
            broker,
            topic,
            group,
            collector,
            processor,
            events_api,
            events_api_stop: stop.child_token(),
            processor_stop,
            stop,
        };
        pipeline.serve_events_api(l);
        pipeline
    }

    fn serve_events_api(&mut self, listener: tokio::net::TcpListener) {
        self.events_api_stop = self.stop.child_token();
        let config = ptrack_events_api::Config::for_tests(self.events_api, &self.db.url);
        tokio::spawn(ptrack_events_api::run(
            listener,
            config,
            self.events_api_stop.clone().cancelled_owned(),
        ));
    }

    /// Stops the processor alone (what a crashed or hung processor looks like).
    pub fn stop_processor(&self) {
        self.processor_stop.cancel();
    }

    pub fn stop_events_api(&self) {
        self.events_api_stop.cancel();
    }

    /// Starts the events-api again on the address it had.
    pub async fn restart_events_api(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.events_api)
            .await
            .unwrap();
        self.serve_events_api(listener);
    }

    /// `http://127.0.0.1:PORT`: the collector's base URL.
    pub fn collector_url(&self) -> Url {
        format!("http://{}", self.collector.addr).parse().unwrap()
    }

    /// The collector's `POST /track`.
    pub fn track_url(&self) -> Url {
        self.collector_url().join("/track").unwrap()
    }

    pub fn events_api_url(&self) -> Url {
        format!("http://{}", self.events_api).parse().unwrap()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
