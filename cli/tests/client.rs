//! `ptrack::client` against the real events-api, started in-process on a fresh database,
//! and against an address where nothing listens.

use std::{collections::HashSet, time::Duration};

use chrono::{DateTime, Utc};
use ptrack::client::{ClientError, EventsApi, EventsQuery, Processor};
use ptrack_test_support::TestDatabase;
use ptrack_wire::HealthState;
use reqwest::{StatusCode, Url};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The events-api on a fresh database; stopped when the token drops.
struct Api {
    db: TestDatabase,
    api: EventsApi,
    _stop: tokio_util::sync::DropGuard,
}

async fn start() -> Api {
    let db = TestDatabase::new().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let config = ptrack_events_api::Config::for_tests(addr, &db.url);
    tokio::spawn(ptrack_events_api::run(
        listener,
        config,
        stop.clone().cancelled_owned(),
    ));
    Api {
        db,
        api: EventsApi::new(format!("http://{addr}").parse().unwrap()),
        _stop: stop.drop_guard(),
    }
}

/// Stores `n` clicks, one a millisecond back from `newest`, two of them at the same
/// millisecond (the cursor must tell them apart); their ids.
async fn store(db: &TestDatabase, n: usize, newest: DateTime<Utc>) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = Uuid::new_v4();
        let at = newest - chrono::Duration::milliseconds((i / 2 * 2) as i64);
        sqlx::query(
            r#"INSERT INTO user_events (event_id, event_type, location_type, component_name,
                   page_path, "timestamp", full_event_data, received_at)
               VALUES ($1, 'CLICK', 'COMPONENT', 'SignupButton', '/pricing', $2, '{}', now())"#,
        )
        .bind(id)
        .bind(at)
        .execute(&db.pool)
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_follow_the_cursor_to_every_event_exactly_once() {
    let api = start().await;
    let newest = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    let stored = store(&api.db, 23, newest).await;

    let query = EventsQuery {
        event_type: Some("CLICK".into()),
        limit: Some(5),
        ..EventsQuery::default()
    };
    let first = api.api.events(&query).await.unwrap();
    assert_eq!(first.events.len(), 5);
    assert!(first.next_cursor.is_some());
    assert_eq!(first.events[0].timestamp, newest, "newest first, in ms");

    let mut pages = api.api.pages(query);
    let (mut seen, mut count, mut sizes) = (HashSet::new(), 0, Vec::new());
    while let Some(page) = pages.next_page().await.unwrap() {
        sizes.push(page.events.len());
        for event in page.events {
            count += 1;
            seen.insert(event.event_id);
        }
    }
    assert_eq!(sizes, [5, 5, 5, 5, 3]);
    assert_eq!(count, 23, "no event twice");
    assert_eq!(seen, stored.into_iter().collect::<HashSet<_>>());
    assert!(
        pages.next_page().await.unwrap().is_none(),
        "done stays done"
    );

    // A filter that matches nothing is one empty page.
    let none = EventsQuery {
        event_type: Some("PAGE_VIEW".into()),
        ..EventsQuery::default()
    };
    let page = api.api.events(&none).await.unwrap();
    assert!(page.events.is_empty() && page.next_cursor.is_none());

    let stats = api
        .api
        .stats(Some(newest - chrono::Duration::minutes(5)), None)
        .await
        .unwrap();
    assert_eq!(stats.total, 23);
    assert_eq!(stats.by_type["CLICK"], 23);
    assert_eq!(api.api.health().await.unwrap().status, HealthState::Ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_query_carries_the_servers_reason() {
    let api = start().await;
    let bad = EventsQuery {
        location_type: Some("SIDEBAR".into()),
        ..EventsQuery::default()
    };
    let err = api.api.events(&bad).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    assert!(
        err.reason().contains("expected COMPONENT or PAGE"),
        "{}",
        err.reason()
    );
    assert!(err.to_string().contains("400 Bad Request"), "{err}");

    let backwards = api
        .api
        .stats(
            Some(Utc::now()),
            Some(Utc::now() - chrono::Duration::hours(1)),
        )
        .await
        .unwrap_err();
    assert!(
        backwards
            .reason()
            .contains("since must be earlier than until")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_service_says_to_start_the_stack() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let base: Url = format!("http://{closed}").parse().unwrap();
    let started = std::time::Instant::now();
    let err = EventsApi::new(base.clone())
        .events(&EventsQuery::default())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.is_unreachable(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&closed.to_string()), "{text}");
    assert!(text.contains("ptrack up"), "{text}");
    assert!(text.contains("connection refused"), "{text}");

    let err = Processor::new(base).status().await.unwrap_err();
    assert!(matches!(
        err,
        ClientError::Unreachable {
            service: "processor",
            ..
        }
    ));
}
