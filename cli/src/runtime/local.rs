//! The local runtime: the embedded broker (`ptrack broker`), a private PostgreSQL cluster
//! made with `initdb` under the data folder (or the user's `DATABASE_URL`), and the
//! services, all as detached background processes with pid and log files:
//!
//! ```text
//! DATA/state.json          what `up` was asked for
//! DATA/run/NAME.pid        one per process (PostgreSQL keeps its own postmaster.pid)
//! DATA/logs/NAME.log       one per process
//! DATA/broker/broker.db    topics, messages, committed offsets (SQLite)
//! DATA/postgres/           the cluster
//! ```
//!
//! This file holds what the parts share: the folders, the processes' names and pids,
//! how the services are wired.
//!
//! Layout:
//! - [`up`](self::up): the `up` scheduler: start each replica once its dependencies
//!   are ready, wait for readiness, explain a failure with the log's tail.
//! - [`stop`](self::stop): `down` and `clean`: stop every process, services first.
//! - [`status`](self::status): state, health, uptime and partitions of each replica.
//! - [`logs`](self::logs): reading and following the log files.
//! - [`process`]: spawn, find and stop a detached process.
//! - [`postgres`]: the private cluster.

mod logs;
pub mod postgres;
pub mod process;
mod status;
mod stop;
mod up;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Result;
use ptrack_common::config::redact_url;

use self::{postgres::Cluster, process::PidFile};
use super::{
    Context, Endpoint, Endpoints, Logs, LogsRequest, Observer, ReplicaStatus, Runtime, UpOptions,
    remove_data_dir,
};
use crate::stack::{Replica, ServiceName, Wiring, database_url};

#[derive(Debug)]
pub struct Local {
    context: Context,
}

impl Local {
    pub fn new(context: Context) -> Self {
        Self { context }
    }

    fn data(&self) -> &Path {
        &self.context.data_dir
    }

    fn run_dir(&self) -> PathBuf {
        self.data().join("run")
    }

    fn logs_dir(&self) -> PathBuf {
        self.data().join("logs")
    }

    fn log_file(&self, name: &str) -> PathBuf {
        self.logs_dir().join(format!("{name}.log"))
    }

    fn pid_file(&self, name: &str) -> PidFile {
        PidFile::new(self.run_dir().join(format!("{name}.pid")))
    }

    fn cluster(&self) -> Cluster {
        Cluster::new(
            self.data().join("postgres"),
            self.log_file("postgres"),
            self.context.stack.host_port(ServiceName::Postgres, 0),
        )
    }

    fn external_database(&self) -> Option<&str> {
        self.context.state.external_database_url.as_deref()
    }

    /// Every process, in start order; each listens on 127.0.0.1 at its host port.
    fn replicas(&self) -> Vec<Replica> {
        self.context.stack.replicas()
    }

    fn wiring(&self) -> Wiring {
        let stack = &self.context.stack;
        Wiring {
            kafka_brokers: format!("127.0.0.1:{}", stack.host_port(ServiceName::Broker, 0)),
            database_url: self.external_database().map_or_else(
                || database_url("127.0.0.1", stack.host_port(ServiceName::Postgres, 0)),
                str::to_owned,
            ),
            kafka_idempotence: false,
        }
    }

    /// The file name the process of `service` runs (to tell it from a reused pid).
    fn program_name(service: ServiceName) -> String {
        match service {
            ServiceName::Broker => std::env::current_exe()
                .ok()
                .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "ptrack".into()),
            other => binary(other).unwrap_or("postgres").to_owned(),
        }
    }

    /// The pid of `replica`'s process while it runs.
    fn running(&self, replica: &Replica) -> Option<i32> {
        match replica.service {
            ServiceName::Postgres => self.cluster().pid(),
            service => self
                .pid_file(&replica.name)
                .running(&Self::program_name(service)),
        }
    }

    /// Every pid file in the run folder, by replica name.
    fn pid_files(&self) -> Vec<(String, PidFile)> {
        let Ok(entries) = std::fs::read_dir(self.run_dir()) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let path = entry.path();
                let name = path.file_name()?.to_str()?.strip_suffix(".pid")?.to_owned();
                Some((name, PidFile::new(path)))
            })
            .collect()
    }
}

/// The binary that runs `service`, if the project builds one.
fn binary(service: ServiceName) -> Option<&'static str> {
    crate::stack::Stack::default().service(service).binary
}

/// Logs in as the services do: `Ok` when PostgreSQL accepts them.
async fn login(url: &str) -> Result<(), String> {
    use sqlx::Connection;
    match tokio::time::timeout(Duration::from_secs(3), sqlx::PgConnection::connect(url)).await {
        Ok(Ok(conn)) => {
            conn.close().await.ok();
            Ok(())
        }
        Ok(Err(err)) => Err(format!("{}: {err}", redact_url(url))),
        Err(_) => Err(format!("{}: no answer within 3 s", redact_url(url))),
    }
}

impl Runtime for Local {
    async fn up(&self, options: &UpOptions, observer: &mut dyn Observer) -> Result<Vec<Endpoint>> {
        self.start_all(options, observer).await?;
        Ok(self.endpoints().listing())
    }

    async fn down(&self, observer: &mut dyn Observer) -> Result<()> {
        tokio::task::block_in_place(|| self.stop_all(observer));
        Ok(())
    }

    async fn clean(&self, observer: &mut dyn Observer) -> Result<()> {
        tokio::task::block_in_place(|| self.stop_all(observer));
        remove_data_dir(self.data())
    }

    async fn status(&self) -> Result<Vec<ReplicaStatus>> {
        Ok(self.replica_statuses().await)
    }

    async fn logs(&self, request: &LogsRequest) -> Result<Logs> {
        self.tail_logs(request)
    }

    fn endpoints(&self) -> Endpoints {
        let stack = &self.context.stack;
        Endpoints {
            database_external: self.external_database().is_some(),
            ..Endpoints::on_host(
                stack,
                Some(format!(
                    "127.0.0.1:{}",
                    stack.host_port(ServiceName::Broker, 0)
                )),
                Some(self.wiring().database_url),
            )
        }
    }
}
