//! Events accepted and rejected by each collector replica, from its `/metrics`
//! (`ptrack_collector_events_accepted_total`, `ptrack_collector_events_rejected_total`).
//! The replicas are asked together; those that answer make one [`CollectorCounts`], and
//! the ones that do not are named in one [`Event::SourceError`].

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Replica, call, pause, prometheus};
use crate::{
    client::Collector,
    tui::event::{CollectorCounts, Event, ReplicaCounts, SourceId},
};

pub const ACCEPTED: &str = "ptrack_collector_events_accepted";
pub const REJECTED: &str = "ptrack_collector_events_rejected";

pub async fn run(
    replicas: Vec<Replica>,
    refresh: Duration,
    tx: mpsc::Sender<Event>,
    cancel: CancellationToken,
) {
    let clients: Vec<(String, Collector)> = replicas
        .into_iter()
        .map(|r| (r.name, Collector::new(r.url)))
        .collect();
    loop {
        let answers = futures::future::join_all(clients.iter().map(|(name, client)| async move {
            let text = call(client.metrics_text()).await?;
            counts(name, &text)
        }))
        .await;
        for event in events(&clients, answers, Instant::now()) {
            if tx.send(event).await.is_err() {
                return;
            }
        }
        if !pause(refresh, &tx, &cancel).await {
            return;
        }
    }
}

/// A replica's counters from its metrics text.
pub fn counts(replica: &str, text: &str) -> Result<ReplicaCounts, String> {
    let accepted = prometheus::total(text, ACCEPTED)
        .ok_or_else(|| format!("no {ACCEPTED} in its /metrics"))?;
    let rejected = prometheus::total(text, REJECTED).unwrap_or(0.0);
    Ok(ReplicaCounts {
        replica: replica.to_owned(),
        accepted: accepted.max(0.0) as u64,
        rejected: rejected.max(0.0) as u64,
    })
}

fn events(
    clients: &[(String, Collector)],
    answers: Vec<Result<ReplicaCounts, String>>,
    at: Instant,
) -> Vec<Event> {
    let mut replicas = Vec::new();
    let mut failed = Vec::new();
    for ((name, _), answer) in clients.iter().zip(answers) {
        match answer {
            Ok(counts) => replicas.push(counts),
            Err(err) => failed.push(format!("{name}: {err}")),
        }
    }
    let mut events = Vec::new();
    if !replicas.is_empty() {
        events.push(Event::Collectors(CollectorCounts { at, replicas }));
    }
    if !failed.is_empty() {
        events.push(Event::SourceError {
            source: SourceId::Collectors,
            error: failed.join("; "),
        });
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_from_the_collectors_counters() {
        let text = "# TYPE ptrack_collector_events_accepted counter\n\
                    ptrack_collector_events_accepted_total 240\n\
                    ptrack_collector_events_rejected_total 3\n# EOF\n";
        assert_eq!(
            counts("collector-2", text),
            Ok(ReplicaCounts {
                replica: "collector-2".into(),
                accepted: 240,
                rejected: 3,
            })
        );
        assert!(
            counts("collector", "something_else 1\n")
                .unwrap_err()
                .contains("no ptrack_collector_events_accepted")
        );
    }

    #[test]
    fn replicas_that_answer_are_counted_and_the_others_named() {
        let client = |name: &str| {
            (
                name.to_owned(),
                Collector::new("http://127.0.0.1:1".parse().unwrap()),
            )
        };
        let clients = [client("collector"), client("collector-2")];
        let ok = ReplicaCounts {
            replica: "collector".into(),
            accepted: 1,
            rejected: 0,
        };
        let events = events(
            &clients,
            vec![Ok(ok.clone()), Err("connection refused".into())],
            Instant::now(),
        );
        assert!(matches!(&events[0], Event::Collectors(c) if c.replicas == vec![ok]));
        assert!(matches!(
            &events[1],
            Event::SourceError { source: SourceId::Collectors, error }
                if error == "collector-2: connection refused"
        ));
    }
}
