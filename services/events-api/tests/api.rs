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

/// Percent-encodes every byte but letters and digits, as a client library would.
fn encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// What a hostile or buggy client sends: SQL, quotes, wildcards, NULs, bytes that are not
/// UTF-8, very long values.
fn hostile_values() -> Vec<String> {
    let mut values: Vec<String> = [
        "' OR '1'='1",
        "x'; DROP TABLE user_events; --",
        "1) OR 1=1 --",
        "Buy' UNION SELECT event_id::text FROM user_events --",
        "Robert'); DELETE FROM user_events WHERE ('1'='1",
        "$1",
        "%",
        "_",
        "\\'",
        "Buy\0",
        "\0",
        "{\"$gt\": \"\"}",
        "2026-01-01T00:00:00Z'; SELECT pg_sleep(10); --",
        "99999999999999999999999",
        "-9223372036854775808",
        "9223372036854775807",
        "NaN",
        "\u{feff}\u{202e}",
    ]
    .iter()
    .map(|v| encoded(v))
    .collect();
    values.push("%FF%FE".into());
    values.push(encoded(&"A".repeat(5000)));
    values
}

/// Every filter of `GET /events` and `GET /stats`, and the id of `GET /events/{id}`,
/// with every hostile value: a 400 with a reason, or an empty answer; never a 5xx, never
/// the stored event, and the table is intact.
#[tokio::test]
async fn injection_strings_in_every_filter_get_400_or_nothing() {
    let db = TestDatabase::new().await.unwrap();
    let stored = insert(
        &db.pool,
        "CLICK",
        "COMPONENT",
        Some("Buy"),
        "/pricing",
        Utc::now() - Duration::minutes(1),
    )
    .await;
    let filters = [
        "/events?event_type=",
        "/events?location_type=",
        "/events?component_name=",
        "/events?page_path=",
        "/events?since=",
        "/events?until=",
        "/events?limit=",
        "/events?cursor=",
        "/stats?since=",
        "/stats?until=",
        "/stats?by=",
        "/events/",
    ];
    for filter in filters {
        for value in hostile_values() {
            let uri = format!("{filter}{value}");
            let (status, _, body) = get(&db.pool, &uri).await;
            match status {
                StatusCode::BAD_REQUEST => {
                    let reason = body["error"].as_str().unwrap_or_default();
                    assert!(!reason.is_empty(), "{uri}: a reason");
                    assert!(reason.len() < 300, "{uri}: a short reason: {reason}");
                    for internal in ["SQL", "database", "postgres", "sqlx"] {
                        assert!(!reason.contains(internal), "{uri}: {reason}");
                    }
                }
                StatusCode::OK if filter.starts_with("/stats") => {
                    assert_eq!(body["total"], 0, "{uri}: {body}");
                }
                // A huge limit is a valid one (capped at 1000): the one event, no more.
                StatusCode::OK if filter.ends_with("limit=") => {
                    assert_eq!(body.as_array().map(Vec::len), Some(1), "{uri}");
                }
                StatusCode::OK => assert_eq!(body, json!([]), "{uri}"),
                other => panic!("{uri}: {other} {body}"),
            }
        }
    }
    assert_eq!(db.count().await.unwrap(), 1, "the table is intact");
    let (status, _, event) = get(&db.pool, &format!("/events/{stored}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(event["component_name"], "Buy");
}

/// The values that answered 503 (or dropped the connection) before: a NUL in a text
/// filter, times outside PostgreSQL's range, `/stats` with an extreme `until`, a cursor
/// at the end of time.
#[tokio::test]
async fn values_the_database_cannot_take_are_400_with_the_reason() {
    let db = TestDatabase::new().await.unwrap();
    insert(&db.pool, "CLICK", "COMPONENT", Some("Buy"), "/", Utc::now()).await;
    for (uri, needle) in [
        ("/events?component_name=Buy%00", "NUL"),
        ("/events?page_path=%00", "NUL"),
        ("/events?event_type=CLICK%00", "NUL"),
        ("/events?since=-210000000000000", "out of range"),
        ("/events?until=-9223372036854775808", "out of range"),
        ("/events?since=8210298326400000", "out of range"),
        ("/stats?until=-9223372036854775808", "out of range"),
        ("/stats?until=9223372036854775807", "out of range"),
        ("/stats?since=-8334601228800000", "out of range"),
        (
            "/events?cursor=-9223372036854775808_00000000-0000-0000-0000-000000000000",
            "cursor",
        ),
        (
            "/events?cursor=9223372036854775807_00000000-0000-0000-0000-000000000000",
            "cursor",
        ),
        ("/events?limit=9223372036854775808", "limit"),
    ] {
        let (status, _, body) = get(&db.pool, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        let reason = body["error"].as_str().unwrap();
        assert!(reason.contains(needle), "{uri}: {reason}");
        assert!(
            !reason.contains("9223372036854775807_") && !reason.contains("00000000-0000"),
            "the cursor is not echoed: {reason}"
        );
    }
    // The edges of the accepted range work against the real database.
    for uri in [
        "/events?since=0001-01-01T00:00:00Z",
        "/events?until=9999-12-31T23:59:59.999999Z",
        "/stats?until=0001-01-01T00:00:00Z",
        "/stats?until=9999-12-31T23:59:59Z",
        "/events?limit=9223372036854775807",
    ] {
        let (status, _, body) = get(&db.pool, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    }
    let (_, _, all) = get(&db.pool, "/events?since=0001-01-01T00:00:00Z").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
}

/// The real server on a port, for the tests that need real HTTP and concurrency.
struct Server {
    url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn serve(
    config_for: impl FnOnce(std::net::SocketAddr) -> ptrack_events_api::Config,
) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ptrack_events_api::run(listener, config_for(addr), async {
        let _ = stopped.await;
    }));
    Server {
        url: format!("http://{addr}"),
        _stop: stop,
    }
}

#[tokio::test]
async fn with_a_token_every_data_route_needs_it_and_the_probes_stay_open() {
    let db = TestDatabase::new().await.unwrap();
    let id = insert(&db.pool, "CLICK", "COMPONENT", Some("Buy"), "/", Utc::now()).await;
    let token = "tok-7f3a9c1e5b2d4e6f8a0b";
    let server = serve(|addr| ptrack_events_api::Config {
        token: Some(ptrack_events_api::auth::BearerToken::new(token)),
        ..ptrack_events_api::Config::for_tests(addr, &db.url)
    })
    .await;
    let http = reqwest::Client::new();
    for path in ["/events", &format!("/events/{id}"), "/stats"] {
        let url = format!("{}{path}", server.url);
        let missing = http.get(&url).send().await.unwrap();
        assert_eq!(missing.status(), 401, "{path} without a token");
        assert_eq!(
            missing.headers()["www-authenticate"].to_str().unwrap(),
            r#"Bearer realm="ptrack""#
        );
        let body: Value = missing.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");

        for wrong in [
            format!("Bearer {token}x"),
            "Bearer ".to_owned(),
            format!("Basic {token}"),
            token.to_owned(),
        ] {
            let refused = http
                .get(&url)
                .header("authorization", &wrong)
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 401, "{path} with {wrong:?}");
            assert!(refused.headers().contains_key("www-authenticate"));
            let body = refused.text().await.unwrap();
            assert!(!body.contains(token), "the token is never echoed: {body}");
        }
        let wrong = http.get(&url).bearer_auth("not-it").send().await.unwrap();
        assert!(
            wrong.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );

        let right = http.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(right.status(), 200, "{path} with the token");
        let lower = http
            .get(&url)
            .header("authorization", format!("bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(lower.status(), 200, "the scheme is case-insensitive");
    }
    let health = http
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "/health needs no token");
}

/// The web demo's analytics proxy sends `EVENTS_API_TOKEN` when it has it: through it
/// the page reads the events; without it the events API's 401 comes through as it is.
#[tokio::test]
async fn the_web_demo_proxy_sends_the_token() {
    let db = TestDatabase::new().await.unwrap();
    let id = insert(&db.pool, "CLICK", "COMPONENT", Some("Buy"), "/", Utc::now()).await;
    let token = "tok-proxy-5e1d";
    let api = serve(|addr| ptrack_events_api::Config {
        token: Some(ptrack_events_api::auth::BearerToken::new(token)),
        ..ptrack_events_api::Config::for_tests(addr, &db.url)
    })
    .await;
    let demo_get = |with_token: bool, path: &'static str| {
        let mut config = ptrack_web_demo::Config::for_tests("http://127.0.0.1:9", &api.url);
        if with_token {
            config.events_api_token = Some(ptrack_web_demo::config::Token(token.into()));
        }
        async move {
            let response = ptrack_web_demo::app(config)
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let (status, events) = demo_get(true, "/api/events").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&events), [id.to_string()]);
    let (status, stats) = demo_get(true, "/api/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["total"], 1);
    let (status, body) = demo_get(false, "/api/events").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

/// One slow query (here: a table lock held elsewhere) neither starves `/health` nor
/// hangs: the statement timeout stops it with a 504 that says so, a request that finds
/// no free connection gets a 503 with `Retry-After`, and the API serves again after.
#[tokio::test]
async fn slow_queries_time_out_cleanly_and_never_starve_health() {
    let db = TestDatabase::new().await.unwrap();
    insert(&db.pool, "CLICK", "COMPONENT", Some("Buy"), "/", Utc::now()).await;
    let server = serve(|addr| ptrack_events_api::Config {
        statement_timeout: std::time::Duration::from_millis(2000),
        db_max_connections: 1,
        ..ptrack_events_api::Config::for_tests(addr, &db.url)
    })
    .await;
    let http = reqwest::Client::new();
    let health_url = format!("{}/health", server.url);
    assert_eq!(http.get(&health_url).send().await.unwrap().status(), 200);

    let mut lock = db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE user_events IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let slow: Vec<_> = ["/events", "/stats", "/events?event_type=CLICK"]
        .into_iter()
        .map(|path| {
            let http = http.clone();
            let url = format!("{}{path}", server.url);
            tokio::spawn(async move {
                let response = http.get(url).send().await.unwrap();
                let status = response.status().as_u16();
                let retry_after = response.headers().get("retry-after").cloned();
                let body: Value = response.json().await.unwrap();
                (status, retry_after, body)
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for _ in 0..3 {
        let asked = std::time::Instant::now();
        let health = http.get(&health_url).send().await.unwrap();
        assert_eq!(
            health.status(),
            200,
            "/health while every query connection waits"
        );
        assert!(
            asked.elapsed() < std::time::Duration::from_millis(500),
            "/health answered in {:?}",
            asked.elapsed()
        );
    }
    let mut statuses = Vec::new();
    for request in slow {
        let (status, retry_after, body) = request.await.unwrap();
        let reason = body["error"].as_str().unwrap();
        assert!(
            !reason.contains("statement") && !reason.contains("cancel"),
            "{reason}"
        );
        match status {
            504 => assert!(reason.contains("took too long"), "{reason}"),
            503 => {
                assert!(reason.contains("busy"), "{reason}");
                assert!(retry_after.is_some(), "503 says when to retry");
            }
            other => panic!("{other}: {body}"),
        }
        statuses.push(status);
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [503, 504, 504],
        "one connection: two time out in turn, the third waits too long"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "no hang"
    );
    lock.rollback().await.unwrap();
    let after = http
        .get(format!("{}/events", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200, "the API serves again");
}
