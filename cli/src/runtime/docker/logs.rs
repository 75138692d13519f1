//! The docker runtime's `logs`: each selected container's log through the Engine API,
//! one task per container, cut into lines; the Engine streams only what is new when
//! following, and filters by time and adds times itself (`--since`, `--timestamps`).

use anyhow::Result;
use bollard::{Docker as Engine, query_parameters::LogsOptionsBuilder};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::Docker;
use crate::runtime::{LogLine, Logs, LogsRequest};

impl Docker {
    pub(super) async fn container_logs(&self, request: &LogsRequest) -> Result<Logs> {
        let engine = self.engine().await?;
        let names: Vec<String> = self
            .context
            .stack
            .select(request.service.as_deref())?
            .into_iter()
            .map(|r| r.name)
            .collect();
        let (tx, lines) = mpsc::channel(Logs::BUFFER);
        for replica in &names {
            tokio::spawn(follow(
                engine.clone(),
                self.container_name(replica),
                replica.clone(),
                request.clone(),
                tx.clone(),
            ));
        }
        Ok(Logs { names, lines })
    }
}

/// Sends the lines of `container`'s log as `replica`'s; a log that cannot be read ends
/// with a line saying why.
async fn follow(
    engine: Engine,
    container: String,
    replica: String,
    request: LogsRequest,
    tx: mpsc::Sender<Result<LogLine>>,
) {
    let send = |line: &str| {
        tx.send(Ok(LogLine {
            replica: replica.clone(),
            line: line.to_owned(),
        }))
    };
    let tail = request.tail.map_or("all".to_owned(), |n| n.to_string());
    // The Engine keeps each line's time: `since` filters on it (whole seconds), and
    // `timestamps` starts each line with it in RFC 3339, as `docker logs -t` does.
    let since = request
        .since
        .map_or(0, |t| i32::try_from(t.timestamp()).unwrap_or(i32::MAX));
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .follow(request.follow)
        .tail(&tail)
        .since(since)
        .timestamps(request.timestamps)
        .build();
    let mut logs = engine.logs(&container, Some(options));
    let mut pending = String::new();
    while let Some(chunk) = logs.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => {
                let why = match err {
                    bollard::errors::Error::DockerResponseServerError {
                        status_code: 404, ..
                    } => "no container (is the stack up? see `ptrack status`)".to_owned(),
                    other => other.to_string(),
                };
                let _ = send(&format!("[{why}]")).await;
                return;
            }
        };
        pending.push_str(&chunk.to_string());
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            if send(line.trim_end()).await.is_err() {
                // Nobody reads any more.
                return;
            }
        }
    }
    if !pending.is_empty() {
        let _ = send(pending.trim_end()).await;
    }
}
