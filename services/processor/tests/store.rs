//! The batch write against a real PostgreSQL: the COPY fast path, and the replay path
//! that stores only the new events.

use ptrack_common::event::{EventMessage, Limits, ReceivedEvent};
use ptrack_processor::store::{Columns, KafkaPosition, insert_batch};
use ptrack_test_support::{TestDatabase, tracker_event};
use serde_json::json;

/// The events as a batch; the n-th one read at partition n % 3, offset 1000 + n, except
/// the last, whose position is unknown.
fn columns(events: &[serde_json::Value]) -> Columns {
    let mut columns = Columns::with_capacity(events.len());
    for (n, event) in events.iter().enumerate() {
        let event = serde_json::value::to_raw_value(event).unwrap();
        let message = EventMessage {
            event: &event,
            app_name: Some("shop".into()),
            app_version: None,
            received_at: 1_764_000_000_000,
        };
        let bytes = serde_json::to_vec(&message).unwrap();
        let position = (n + 1 < events.len()).then_some(KafkaPosition {
            partition: n as i32 % 3,
            offset: 1000 + n as i64,
            timestamp_ms: Some(1_764_000_000_005 + n as i64),
        });
        columns.push_from(
            ReceivedEvent::decode(&bytes, &Limits::default()).unwrap(),
            position,
        );
    }
    columns
}

#[tokio::test]
async fn a_replayed_batch_stores_only_the_new_events() {
    let db = TestDatabase::new().await.unwrap();
    let mut first: Vec<_> = (0..5)
        .map(|i| tracker_event("CLICK", &format!("B{i}")))
        .collect();
    // Strings that COPY's text format must escape survive the round trip.
    first[0]["page_title"] = json!("tab\there \\ back\\slash\nnew line");
    assert_eq!(insert_batch(&db.pool, &columns(&first)).await.unwrap(), 5);
    let title: String =
        sqlx::query_scalar("SELECT page_title FROM user_events WHERE event_id = $1")
            .bind(
                first[0]["event_id"]
                    .as_str()
                    .unwrap()
                    .parse::<uuid::Uuid>()
                    .unwrap(),
            )
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(title, "tab\there \\ back\\slash\nnew line");

    let mut replay = first[2..].to_vec();
    replay.extend((0..4).map(|i| tracker_event("HOVER_ENTER", &format!("H{i}"))));
    assert_eq!(
        insert_batch(&db.pool, &columns(&replay)).await.unwrap(),
        4,
        "only the 4 new events are stored"
    );
    assert_eq!(db.count().await.unwrap(), 9);
    assert_eq!(insert_batch(&db.pool, &columns(&replay)).await.unwrap(), 0);
    assert_eq!(db.count().await.unwrap(), 9);

    // Both paths store the Kafka position: COPY (the first batch) and INSERT ... UNNEST
    // (the replay's new events); an unknown position is NULL.
    let position = |event: &serde_json::Value| {
        let id: uuid::Uuid = event["event_id"].as_str().unwrap().parse().unwrap();
        let pool = db.pool.clone();
        async move {
            sqlx::query_as::<
                _,
                (
                    Option<i32>,
                    Option<i64>,
                    Option<chrono::DateTime<chrono::Utc>>,
                ),
            >(
                "SELECT kafka_partition, kafka_offset, kafka_timestamp FROM user_events
                 WHERE event_id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let (partition, offset, at) = position(&first[1]).await;
    assert_eq!((partition, offset), (Some(1), Some(1001)));
    assert_eq!(at.unwrap().timestamp_millis(), 1_764_000_000_006);
    assert_eq!(position(&first[4]).await, (None, None, None));
    let (partition, offset, _) = position(&replay[4]).await;
    assert_eq!((partition, offset), (Some(1), Some(1004)), "through UNNEST");
    assert_eq!(position(&replay[6]).await, (None, None, None));
}
