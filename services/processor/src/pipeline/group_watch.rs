//! The group watch: the lag of this replica's partitions (metrics and `/status`), and
//! rejoining the group when a partition is left without an owner.

use std::{collections::HashMap, sync::Arc, time::Duration};

use ptrack_common::health::Reporter;
use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{Consumer, StreamConsumer},
};
use tokio_util::sync::CancellationToken;

use crate::{
    http::{SharedStatus, Status as ProcessorStatus},
    metrics::Metrics,
};

/// Every 2 s, one look at the group's partitions for two purposes: the lag of ours
/// (metrics and /status), and orphans. An orphan is a partition with messages waiting
/// that has not moved for `orphan_after` and is not ours: its owner is gone and the group
/// did not rebalance. tansu 0.6 expires a member killed with -9 but does not rebalance
/// the group then, so without rejoining its partitions would wait forever (Apache Kafka
/// rebalances by itself; this never fires there unless a member really is stuck).
pub(super) async fn watch_group(
    consumer: Arc<StreamConsumer>,
    topic: String,
    orphan_after: Duration,
    database: Reporter,
    metrics: Arc<Metrics>,
    status: SharedStatus,
    cancel: CancellationToken,
) {
    let mut moved: HashMap<i32, (i64, std::time::Instant)> = HashMap::new();
    loop {
        let probe = consumer.clone();
        let probe_topic = topic.clone();
        let looked = tokio::task::spawn_blocking(move || group_positions(&probe, &probe_topic));
        if let Ok(Some((positions, mine))) = looked.await {
            report_lag(&positions, &mine, &metrics, &status);
            let now = std::time::Instant::now();
            let mut orphans = Vec::new();
            for &(partition, committed, high) in &positions {
                let entry = moved.entry(partition).or_insert((committed, now));
                if entry.0 != committed || committed >= high {
                    *entry = (committed, now);
                } else if now.duration_since(entry.1) >= orphan_after && !mine.contains(&partition)
                {
                    orphans.push(partition);
                }
            }
            // Our own stall (the database away) is not an orphan: rejoining would not help.
            if !orphans.is_empty() && database.is_healthy() {
                tracing::warn!(
                    ?orphans,
                    "partitions with waiting messages have not moved for {orphan_after:?} and are not ours: rejoining the group"
                );
                consumer.unsubscribe();
                if let Err(err) = consumer.subscribe(&[&topic]) {
                    tracing::error!(%err, "subscribing again failed");
                }
                moved.clear();
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

/// Per partition of ours, high watermark minus committed offset.
fn report_lag(positions: &[Position], mine: &[i32], metrics: &Metrics, status: &SharedStatus) {
    let mut lags: Vec<(i32, i64)> = positions
        .iter()
        .filter(|(partition, ..)| mine.contains(partition))
        .map(|&(partition, committed, high)| (partition, (high - committed).max(0)))
        .collect();
    lags.sort_unstable();
    let ProcessorStatus {
        topic, group_id, ..
    } = status.get();
    metrics.lag.clear();
    for (partition, lag) in &lags {
        metrics
            .lag
            .get_or_create(&vec![
                ("topic", topic.clone()),
                ("group", group_id.clone()),
                ("partition", partition.to_string()),
            ])
            .set(*lag);
    }
    let total = lags.iter().map(|(_, lag)| lag).sum();
    metrics.lag_sum.clear();
    metrics
        .lag_sum
        .get_or_create(&vec![("topic", topic), ("group", group_id)])
        .set(total);
    status.update(|s| {
        s.partitions = lags.iter().map(|(p, _)| *p).collect();
        s.lag = total;
    });
}

/// `(partition, committed offset, high watermark)`.
type Position = (i32, i64, i64);

/// `(partition, committed, high watermark)` for every partition of the topic, for the
/// group, and the partitions assigned to this replica; a blocking call.
fn group_positions(consumer: &StreamConsumer, topic: &str) -> Option<(Vec<Position>, Vec<i32>)> {
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(2))
        .ok()?;
    let partitions: Vec<i32> = metadata
        .topics()
        .first()?
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut all = TopicPartitionList::new();
    for partition in &partitions {
        all.add_partition(topic, *partition);
    }
    let committed = consumer
        .committed_offsets(all, Duration::from_secs(2))
        .ok()?;
    let mut positions = Vec::new();
    for element in committed.elements() {
        let (low, high) = consumer
            .fetch_watermarks(topic, element.partition(), Duration::from_secs(2))
            .ok()?;
        let committed = match element.offset() {
            Offset::Offset(o) => o,
            _ => low,
        };
        positions.push((element.partition(), committed, high));
    }
    let mine = consumer
        .assignment()
        .ok()?
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect();
    Some((positions, mine))
}
