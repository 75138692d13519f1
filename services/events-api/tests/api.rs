//! The events API against a real PostgreSQL (a fresh database per test).

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode},
};
use chrono::{DateTime, Duration, Utc};
use ptrack_test_support::TestDatabase;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

async fn insert(
    pool: &PgPool,
    event_type: &str,
    location: &str,
    component: Option<&str>,
    page: &str,
    at: DateTime<Utc>,
) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        r#"INSERT INTO user_events (event_id, event_type, location_type, component_name, page_path,
               page_title, "timestamp", user_metadata, full_event_data, received_at)
           VALUES ($1, $2, $3, $4, $5, 'Title', $6, '{"lang":"en"}', '{}', now())"#,
    )
    .bind(id)
    .bind(event_type)
    .bind(location)
    .bind(component)
    .bind(page)
    .bind(at)
    .execute(pool)
    .await
    .unwrap();
    id
}

async fn get(pool: &PgPool, uri: &str) -> (StatusCode, Option<String>, Value) {
    let response = ptrack_events_api::routes::app(pool.clone())
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let cursor = response
        .headers()
        .get("x-next-cursor")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, cursor, serde_json::from_slice(&body).unwrap())
}

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_original_filters_work_and_hover_means_both_kinds() {
    let db = TestDatabase::new().await.unwrap();
    let now = Utc::now();
    let click = insert(&db.pool, "CLICK", "COMPONENT", Some("Buy"), "/pricing", now).await;
    let enter = insert(
        &db.pool,
        "HOVER_ENTER",
        "COMPONENT",
        Some("Buy"),
        "/pricing",
        now - Duration::seconds(1),
    )
    .await;
    let leave = insert(
        &db.pool,
        "HOVER_LEAVE",
        "COMPONENT",
        Some("Menu"),
        "/home",
        now - Duration::seconds(2),
    )
    .await;
    let view = insert(
        &db.pool,
        "PAGE_VIEW",
        "PAGE",
        None,
        "/home",
        now - Duration::seconds(3),
    )
    .await;

    let (status, _, all) = get(&db.pool, "/events").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ids(&all),
        [click, enter, leave, view].map(|u| u.to_string()),
        "newest first"
    );
    assert_eq!(
        all[0]["timestamp"],
        now.timestamp_millis(),
        "timestamp is Unix ms as sent"
    );
    assert_eq!(all[0]["user_metadata"], json!({"lang": "en"}));

    let (_, _, hover) = get(&db.pool, "/events?event_type=HOVER").await;
    assert_eq!(ids(&hover), [enter, leave].map(|u| u.to_string()));
    let (_, _, page) = get(&db.pool, "/events?location_type=PAGE").await;
    assert_eq!(ids(&page), [view.to_string()]);
    let (_, _, buy) = get(&db.pool, "/events?component_name=Buy").await;
    assert_eq!(ids(&buy), [click, enter].map(|u| u.to_string()));
    let (_, _, home) = get(&db.pool, "/events?page_path=/home&event_type=PAGE_VIEW").await;
    assert_eq!(ids(&home), [view.to_string()]);
    let since = (now - Duration::milliseconds(1500)).timestamp_millis();
    let (_, _, recent) = get(&db.pool, &format!("/events?since={since}")).await;
    assert_eq!(ids(&recent), [click, enter].map(|u| u.to_string()));
    let until = (now - Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (_, _, old) = get(
        &db.pool,
        &format!("/events?until={}", until.replace('+', "%2B")),
    )
    .await;
    assert_eq!(ids(&old), [view.to_string()], "until is exclusive");
}

#[tokio::test]
async fn cursor_pages_cover_everything_once_and_limit_defaults_to_30() {
    let db = TestDatabase::new().await.unwrap();
    let now = Utc::now();
    let mut expected = Vec::new();
    for i in 0..75 {
        // Pairs share a timestamp, so the cursor must break ties by event_id.
        expected.push(
            insert(
                &db.pool,
                "CLICK",
                "COMPONENT",
                Some("B"),
                "/",
                now - Duration::seconds(i / 2),
            )
            .await,
        );
    }
    let (_, cursor, first) = get(&db.pool, "/events").await;
    assert_eq!(first.as_array().unwrap().len(), 30);
    assert!(cursor.is_some());

    let mut seen = Vec::new();
    let mut next = Some(String::new());
    while let Some(cursor) = next {
        let uri = if cursor.is_empty() {
            "/events?limit=20".to_owned()
        } else {
            format!("/events?limit=20&cursor={cursor}")
        };
        let (status, cursor, page) = get(&db.pool, &uri).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(ids(&page));
        next = cursor;
    }
    assert_eq!(seen.len(), 75, "every event exactly once across pages");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 75);
}

#[tokio::test]
async fn bad_parameters_get_400_and_nothing_reaches_sql_unescaped() {
    let db = TestDatabase::new().await.unwrap();
    insert(&db.pool, "CLICK", "COMPONENT", Some("Buy"), "/", Utc::now()).await;
    for (uri, needle) in [
        ("/events?limit=abc", "limit"),
        ("/events?location_type=WINDOW", "COMPONENT or PAGE"),
        ("/events?since=last-week", "RFC 3339"),
        ("/events?cursor=zzz", "cursor"),
        ("/events?colour=red", "unknown parameter"),
        (
            "/stats?since=2020-01-01T00:00:00Z&until=2021-01-01T00:00:00Z",
            "shorter",
        ),
    ] {
        let (status, _, body) = get(&db.pool, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{uri}: {body}"
        );
    }
    let injection = "/events?component_name=x%27%3B%20DROP%20TABLE%20user_events%3B%20--";
    let (status, _, body) = get(&db.pool, injection).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([]));
    assert_eq!(db.count().await.unwrap(), 1, "the table is still there");
}

#[tokio::test]
async fn stats_count_by_type_and_by_minute() {
    let db = TestDatabase::new().await.unwrap();
    let minute = DateTime::from_timestamp(Utc::now().timestamp() / 60 * 60 - 600, 0).unwrap();
    for (event_type, offset) in [
        ("CLICK", 1),
        ("CLICK", 5),
        ("PAGE_VIEW", 10),
        ("CLICK", 65),
        ("HOVER_ENTER", 70),
    ] {
        insert(
            &db.pool,
            event_type,
            "COMPONENT",
            None,
            "/",
            minute + Duration::seconds(offset),
        )
        .await;
    }
    insert(
        &db.pool,
        "CLICK",
        "COMPONENT",
        None,
        "/",
        minute - Duration::hours(3),
    )
    .await;
    let (status, _, stats) = get(&db.pool, "/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stats["total"], 5,
        "the default range is the last hour: {stats}"
    );
    assert_eq!(
        stats["by_type"],
        json!({"CLICK": 3, "PAGE_VIEW": 1, "HOVER_ENTER": 1})
    );
    let minutes = stats["by_minute"].as_array().unwrap();
    assert_eq!(minutes.len(), 2);
    assert_eq!(minutes[0]["total"], 3);
    assert_eq!(minutes[0]["by_type"], json!({"CLICK": 2, "PAGE_VIEW": 1}));
    assert_eq!(minutes[1]["by_type"], json!({"CLICK": 1, "HOVER_ENTER": 1}));
    let (_, _, health) = get(&db.pool, "/health").await;
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn one_event_by_id_with_its_kafka_position_when_recorded() {
    let db = TestDatabase::new().await.unwrap();
    let now = Utc::now();
    let old = insert(&db.pool, "CLICK", "COMPONENT", Some("Buy"), "/", now).await;
    let traced = insert(&db.pool, "PAGE_VIEW", "PAGE", None, "/home", now).await;
    let kafka_time = now - Duration::milliseconds(5);
    sqlx::query(
        "UPDATE user_events SET kafka_partition = 2, kafka_offset = 41, kafka_timestamp = $2
         WHERE event_id = $1",
    )
    .bind(traced)
    .bind(kafka_time)
    .execute(&db.pool)
    .await
    .unwrap();

    let (status, _, event) = get(&db.pool, &format!("/events/{traced}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(event["event_id"], traced.to_string());
    assert_eq!(event["kafka_partition"], 2);
    assert_eq!(event["kafka_offset"], 41);
    let read: ptrack_wire::StoredEvent = serde_json::from_value(event).unwrap();
    assert_eq!(
        read.kafka_timestamp.unwrap().timestamp_micros(),
        kafka_time.timestamp_micros()
    );

    // A row stored before the position was recorded: the fields are left out, and
    // GET /events keeps the 15 fields it always had for it.
    let (status, _, event) = get(&db.pool, &format!("/events/{old}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(event.get("kafka_offset").is_none(), "{event}");
    let (_, _, list) = get(&db.pool, "/events?event_type=CLICK").await;
    assert_eq!(list[0].as_object().unwrap().len(), 15, "{list}");
    let (_, _, list) = get(&db.pool, "/events?event_type=PAGE_VIEW").await;
    assert_eq!(list[0]["kafka_offset"], 41);

    let missing = Uuid::new_v4();
    let (status, _, body) = get(&db.pool, &format!("/events/{missing}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains(&missing.to_string()),
        "{body}"
    );
    let (status, _, body) = get(&db.pool, "/events/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("UUID"), "{body}");
}

#[tokio::test]
async fn stats_count_by_page_or_component_only_when_asked() {
    let db = TestDatabase::new().await.unwrap();
    let now = Utc::now() - Duration::minutes(1);
    for (event_type, location, component, page) in [
        ("CLICK", "COMPONENT", Some("Buy"), "/pricing"),
        ("CLICK", "COMPONENT", Some("Buy"), "/cart"),
        ("HOVER_ENTER", "COMPONENT", Some("Menu"), "/pricing"),
        ("PAGE_VIEW", "PAGE", None, "/pricing"),
    ] {
        insert(&db.pool, event_type, location, component, page, now).await;
    }
    let (_, _, plain) = get(&db.pool, "/stats").await;
    assert!(plain.get("by_page").is_none() && plain.get("by_component").is_none());

    let (status, _, pages) = get(&db.pool, "/stats?by=page").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pages["by_page"], json!({"/pricing": 3, "/cart": 1}));
    assert_eq!(pages["total"], 4);
    assert!(pages.get("by_component").is_none());

    let (_, _, components) = get(&db.pool, "/stats?by=component").await;
    assert_eq!(
        components["by_component"],
        json!({"Buy": 2, "Menu": 1, ptrack_wire::NO_VALUE: 1})
    );
    let (status, _, body) = get(&db.pool, "/stats?by=browser").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("page or component")
    );
}
