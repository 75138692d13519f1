//! The batch write against a real PostgreSQL: the COPY fast path, and the replay path
//! that stores only the new events.

use ptrack_common::event::{EventMessage, Limits, ReceivedEvent};
use ptrack_processor::store::{Columns, insert_batch};
use ptrack_test_support::{TestDatabase, tracker_event};
use serde_json::json;

fn columns(events: &[serde_json::Value]) -> Columns {
    let mut columns = Columns::with_capacity(events.len());
    for event in events {
        let event = serde_json::value::to_raw_value(event).unwrap();
        let message = EventMessage {
            event: &event,
            app_name: Some("shop".into()),
            app_version: None,
            received_at: 1_764_000_000_000,
        };
        let bytes = serde_json::to_vec(&message).unwrap();
        columns.push(ReceivedEvent::decode(&bytes, &Limits::default()).unwrap());
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
}
