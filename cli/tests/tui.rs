//! `ptrack tui`'s sources against the real things: the embedded broker (lag, committed
//! offsets, dead letters) and PostgreSQL (inserted rows from its statistics, the newest
//! events, their delay).

use std::time::Duration;

use ptrack::tui::{
    event::Event,
    source::{lag, postgres},
};
use ptrack_test_support::{TestBroker, TestDatabase, fresh_topic};
use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer},
    producer::{FutureProducer, FutureRecord},
};
use sqlx::Connection;

async fn produce(broker: &TestBroker, topic: &str, partition: i32, n: usize) {
    let producer: FutureProducer = broker.client_config().create().unwrap();
    for i in 0..n {
        let payload = format!("message {i}");
        producer
            .send(
                FutureRecord::<(), _>::to(topic)
                    .partition(partition)
                    .payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(err, _)| err)
            .unwrap();
    }
}

#[tokio::test]
async fn lag_is_the_high_watermark_minus_the_groups_commit_per_partition() {
    let broker = TestBroker::start().await.unwrap();
    let topic = fresh_topic(&broker, 3).await.unwrap();
    let group = format!("group-{topic}");
    produce(&broker, &topic, 0, 7).await;
    produce(&broker, &topic, 2, 3).await;
    produce(&broker, &ptrack_common::kafka::dlq_topic(&topic), 0, 2).await;

    // The group commits 5 on partition 0, as a processor would after a batch.
    let committer: BaseConsumer = broker
        .client_config()
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset(&topic, 0, Offset::Offset(5))
        .unwrap();
    let committed =
        tokio::task::spawn_blocking(move || committer.commit(&offsets, CommitMode::Sync))
            .await
            .unwrap();
    committed.unwrap();

    let config = lag::LagConfig {
        brokers: broker.bootstrap(),
        topic: topic.clone(),
        group,
        refresh: Duration::from_secs(1),
    };
    let snapshot = tokio::task::spawn_blocking(move || {
        let consumer = lag::connect(&config).unwrap();
        lag::snapshot(&consumer, &config)
    })
    .await
    .unwrap()
    .unwrap();

    let seen: Vec<(i32, i64, Option<i64>, i64)> = snapshot
        .partitions
        .iter()
        .map(|p| (p.partition, p.high_watermark, p.committed, p.lag()))
        .collect();
    assert_eq!(
        seen,
        vec![(0, 7, Some(5), 2), (1, 0, None, 0), (2, 3, None, 3)]
    );
    let dlq = snapshot.dlq.expect("the dead-letter topic exists");
    assert_eq!((dlq.high_watermark, dlq.depth), (2, 2));
}

#[tokio::test]
async fn a_missing_topic_or_a_dead_broker_is_an_error_in_words() {
    let mut broker = TestBroker::start().await.unwrap();
    let config = lag::LagConfig {
        brokers: broker.bootstrap(),
        topic: "no-such-topic".into(),
        group: "g".into(),
        refresh: Duration::from_secs(1),
    };
    let consumer = lag::connect(&config).unwrap();
    let (consumer, config, error) = tokio::task::spawn_blocking(move || {
        let error = lag::snapshot(&consumer, &config).unwrap_err();
        (consumer, config, error)
    })
    .await
    .unwrap();
    assert!(
        format!("{error:#}").contains("the topic no-such-topic does not exist yet"),
        "{error:#}"
    );
    broker.stop();
    let error = tokio::task::spawn_blocking(move || lag::snapshot(&consumer, &config).unwrap_err())
        .await
        .unwrap();
    assert!(
        format!("{error:#}").contains("does not answer"),
        "{error:#}"
    );
}

#[tokio::test]
async fn inserted_rows_come_from_postgres_statistics_with_the_newest_events() {
    let db = TestDatabase::new().await.unwrap();
    sqlx::query(
        "INSERT INTO user_events (event_id, event_type, location_type, component_name, \
         page_path, \"timestamp\", full_event_data, received_at, inserted_at) \
         SELECT gen_random_uuid(), 'CLICK', 'COMPONENT', 'Buy', '/pricing', \
                now() - make_interval(secs => i), '{}', now() - interval '2 seconds', now() \
         FROM generate_series(1, 25) AS i",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    // Stored ten minutes ago by a browser whose clock runs a day ahead: the newest by
    // `timestamp`, but not among the rows stored last, so not in the delay.
    sqlx::query(
        "INSERT INTO user_events (event_id, event_type, location_type, component_name, \
         page_path, \"timestamp\", full_event_data, received_at, inserted_at) \
         SELECT gen_random_uuid(), 'HOVER_ENTER', 'COMPONENT', 'Buy', '/pricing', \
                now() + interval '1 day', '{}', now() - interval '11 minutes', \
                now() - interval '10 minutes' \
         FROM generate_series(1, 5)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    // Statistics are flushed by the inserting backend within about a second.
    let mut events = Vec::new();
    for _ in 0..150 {
        events = postgres::poll(&mut conn).await.unwrap();
        let inserted = events.iter().find_map(|e| match e {
            Event::Inserted(rows) => Some(rows.rows),
            _ => None,
        });
        if inserted == Some(30) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Inserted(r) if r.rows == 30)),
        "n_tup_ins never counted the 30 rows: {events:?}"
    );
    let recent = events
        .iter()
        .find_map(|e| match e {
            Event::Recent(r) => Some(r),
            _ => None,
        })
        .expect("recent events");
    assert_eq!(recent.events.len(), 30);
    assert_eq!(
        recent.events[0].event_type, "HOVER_ENTER",
        "newest by browser time"
    );
    assert_eq!(recent.events[0].page_path.as_deref(), Some("/pricing"));
    let delay = events
        .iter()
        .find_map(|e| match e {
            Event::Delay(d) => Some(*d),
            _ => None,
        })
        .expect("a delay");
    assert_eq!(delay.samples, 25, "only the rows stored in the last minute");
    assert!(
        (Duration::from_millis(1900)..Duration::from_millis(2100)).contains(&delay.p50),
        "{delay:?}"
    );
    assert!(delay.max < Duration::from_millis(2100), "{delay:?}");
}
