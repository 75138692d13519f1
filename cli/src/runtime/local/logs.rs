//! The local runtime's `logs`: each selected replica's log file read whole (or its
//! last lines), one after the other, then, with `follow`, polled for new whole lines.

use std::{path::PathBuf, time::Duration};

use anyhow::Result;
use tokio::sync::mpsc;

use super::Local;
use crate::runtime::{LogLine, Logs, LogsRequest};

/// How often a followed log file is read again.
const POLL: Duration = Duration::from_millis(200);

impl Local {
    pub(super) fn tail_logs(&self, request: &LogsRequest) -> Result<Logs> {
        let names: Vec<String> = self
            .context
            .stack
            .select(request.service.as_deref())?
            .into_iter()
            .map(|r| r.name)
            .collect();
        let files: Vec<(String, PathBuf)> = names
            .iter()
            .map(|name| (name.clone(), self.log_file(name)))
            .collect();
        let (tx, lines) = mpsc::channel(Logs::BUFFER);
        tokio::spawn(tail(files, request.tail, request.follow, tx));
        Ok(Logs { names, lines })
    }
}

/// Sends the lines of `files` until the receiver is gone or, without `follow`, every
/// file is read.
async fn tail(
    files: Vec<(String, PathBuf)>,
    last: Option<usize>,
    follow: bool,
    tx: mpsc::Sender<Result<LogLine>>,
) {
    let send = |replica: &str, line: &str| {
        tx.send(Ok(LogLine {
            replica: replica.to_owned(),
            line: line.to_owned(),
        }))
    };
    let mut offsets: Vec<(String, PathBuf, u64)> = Vec::new();
    for (name, path) in files {
        let bytes = std::fs::read(&path).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        // Only whole lines: a line still being written shows once it is complete.
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        let lines: Vec<&str> = text[..complete].lines().collect();
        let start = last.map_or(0, |n| lines.len().saturating_sub(n));
        for line in &lines[start..] {
            if send(&name, line).await.is_err() {
                return;
            }
        }
        offsets.push((name, path, complete as u64));
    }
    if !follow {
        return;
    }
    loop {
        for (name, path, offset) in &mut offsets {
            let Ok(bytes) = std::fs::read(&*path) else {
                continue;
            };
            if (bytes.len() as u64) < *offset {
                // The file was truncated or replaced: start over.
                *offset = 0;
            }
            let new = &bytes[*offset as usize..];
            let Some(end) = new.iter().rposition(|b| *b == b'\n') else {
                continue;
            };
            for line in String::from_utf8_lossy(&new[..=end]).lines() {
                if send(name, line).await.is_err() {
                    return;
                }
            }
            *offset += end as u64 + 1;
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}
