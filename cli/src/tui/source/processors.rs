//! Each processor replica's own view, from its `/status` (the partitions it holds) and
//! its `/metrics` (rows inserted, duplicates skipped, dead-lettered, and the lag of each
//! partition it holds). The TUI reads the lag from here when the broker cannot be
//! reached from this machine (docker, kube), and the inserted and dead-lettered rates
//! when PostgreSQL's statistics or the dead-letter topic cannot be read.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Replica, call, pause, prometheus};
use crate::{
    client::{Processor, ProcessorStatus},
    tui::event::{Event, ProcessorCounts, ProcessorFigures, SourceId},
};

pub const ROWS_INSERTED: &str = "ptrack_processor_rows_inserted";
pub const DUPLICATES_SKIPPED: &str = "ptrack_processor_duplicates_skipped";
pub const DEAD_LETTERED: &str = "ptrack_processor_dead_lettered";
pub const LAG: &str = "ptrack_processor_consumergroup_lag";

pub async fn run(
    replicas: Vec<Replica>,
    refresh: Duration,
    tx: mpsc::Sender<Event>,
    cancel: CancellationToken,
) {
    let clients: Vec<(String, Processor)> = replicas
        .into_iter()
        .map(|r| (r.name, Processor::new(r.url)))
        .collect();
    loop {
        let answers = futures::future::join_all(clients.iter().map(|(name, client)| async move {
            let (status, text) = tokio::join!(call(client.status()), call(client.metrics_text()));
            Ok::<_, String>(figures(name, &status?, &text?))
        }))
        .await;
        let mut replicas = Vec::new();
        let mut failed = Vec::new();
        for ((name, _), answer) in clients.iter().zip(answers) {
            match answer {
                Ok(figures) => replicas.push(figures),
                Err(err) => failed.push(format!("{name}: {err}")),
            }
        }
        let mut events = Vec::new();
        if !replicas.is_empty() {
            events.push(Event::Processors(ProcessorCounts {
                at: Instant::now(),
                replicas,
            }));
        }
        if !failed.is_empty() {
            events.push(Event::SourceError {
                source: SourceId::Processors,
                error: failed.join("; "),
            });
        }
        for event in events {
            if tx.send(event).await.is_err() {
                return;
            }
        }
        if !pause(refresh, &tx, &cancel).await {
            return;
        }
    }
}

/// One replica's figures. The partitions are the ones `/status` says it holds; each
/// one's lag is its `consumergroup_lag` gauge (or, for a replica holding one partition
/// without the gauge, the status's total).
pub fn figures(replica: &str, status: &ProcessorStatus, metrics: &str) -> ProcessorFigures {
    let counter = |name| prometheus::total(metrics, name).unwrap_or(0.0).max(0.0) as u64;
    let lags = prometheus::samples(metrics, LAG);
    let partitions = status
        .partitions
        .iter()
        .map(|p| {
            let gauge = lags
                .iter()
                .find(|s| s.label("partition") == Some(p.to_string().as_str()))
                .map(|s| s.value as i64);
            let lag = match gauge {
                Some(lag) => lag,
                None if status.partitions.len() == 1 => status.lag,
                None => 0,
            };
            (*p, lag.max(0))
        })
        .collect();
    ProcessorFigures {
        replica: replica.to_owned(),
        rows_inserted: counter(ROWS_INSERTED),
        duplicates_skipped: counter(DUPLICATES_SKIPPED),
        dead_lettered: counter(DEAD_LETTERED),
        partitions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_come_from_the_status_and_the_metrics() {
        let metrics = "# TYPE ptrack_processor_rows_inserted counter\n\
                       ptrack_processor_rows_inserted_total 1200\n\
                       ptrack_processor_duplicates_skipped_total 4\n\
                       ptrack_processor_dead_lettered_total 2\n\
                       ptrack_processor_consumergroup_lag{topic=\"t\",group=\"g\",partition=\"0\"} 15\n\
                       ptrack_processor_consumergroup_lag{topic=\"t\",group=\"g\",partition=\"2\"} 3\n\
                       ptrack_processor_consumergroup_lag{topic=\"t\",group=\"g\",partition=\"1\"} 99\n\
                       ptrack_processor_consumergroup_lag_sum{topic=\"t\",group=\"g\"} 18\n# EOF\n";
        let status = ProcessorStatus {
            group_id: "ptrack-processor".into(),
            topic: "user-tracking-events".into(),
            partitions: vec![0, 2],
            lag: 18,
        };
        let f = figures("processor-2", &status, metrics);
        assert_eq!(f.replica, "processor-2");
        assert_eq!(
            (f.rows_inserted, f.duplicates_skipped, f.dead_lettered),
            (1200, 4, 2)
        );
        assert_eq!(f.partitions, vec![(0, 15), (2, 3)], "only what it holds");
        assert_eq!(f.done(), 1206);

        // No gauge: one partition takes the status's total.
        let status = ProcessorStatus {
            partitions: vec![1],
            lag: 7,
            ..ProcessorStatus::default()
        };
        assert_eq!(figures("p", &status, "").partitions, vec![(1, 7)]);
    }
}
