//! The handlers. Every value from a request reaches SQL as a bound parameter.

use std::collections::{BTreeMap, HashMap};

use axum::{
    Json, Router,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode},
    middleware,
    response::IntoResponse,
    routing::get,
};
use chrono::{DateTime, Utc};
use ptrack_wire::{
    HealthBody, HealthState, MinuteCount, NEXT_CURSOR_HEADER, NO_VALUE, Stats, StoredEvent,
};
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use crate::{
    auth::{BearerToken, require_token},
    error::ApiError,
    query::{Cursor, EventsQuery, StatsBy, StatsQuery, shown},
};

/// The routes on one pool, with no token: what the handler tests use.
pub fn app(pool: PgPool) -> Router {
    router(pool.clone(), pool, None)
}

/// The routes: the data (`/events`, `/events/{id}`, `/stats`) on `queries`, behind
/// `token` when there is one, and `/health` on `health`, always open. Giving `/health`
/// a pool of its own keeps it answering while slow queries hold every connection of the
/// other.
pub fn router(queries: PgPool, health_pool: PgPool, token: Option<BearerToken>) -> Router {
    let data = Router::new()
        .route("/events", get(events))
        .route("/events/{event_id}", get(event))
        .route("/stats", get(stats))
        .with_state(queries);
    let data = match token {
        Some(token) => data.route_layer(middleware::from_fn_with_state(token, require_token)),
        None => data,
    };
    data.merge(
        Router::new()
            .route("/health", get(health))
            .with_state(health_pool),
    )
}

/// The query string as name → value, or a 400 that does not repeat the parser's text.
fn params(
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<HashMap<String, String>, ApiError> {
    query.map(|Query(params)| params).map_err(|err| {
        tracing::debug!(%err, "unreadable query string");
        ApiError::BadRequest(
            "the query string could not be read: expected name=value pairs joined by &".into(),
        )
    })
}

/// One row of `user_events` as `/events` reads it; it is sent as a [`StoredEvent`] (the
/// wire crate's type: `sqlx` stays out of it).
#[derive(Debug, FromRow)]
struct EventRow {
    pub event_id: Uuid,
    pub event_type: String,
    pub location_type: String,
    pub component_name: Option<String>,
    pub page_path: Option<String>,
    pub page_title: Option<String>,
    pub timestamp: DateTime<Utc>,
    pub user_metadata: Value,
    pub full_event_data: Value,
    pub received_at: DateTime<Utc>,
    pub app_name: Option<String>,
    pub app_version: Option<String>,
    pub session_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub inserted_at: DateTime<Utc>,
    pub kafka_partition: Option<i32>,
    pub kafka_offset: Option<i64>,
    pub kafka_timestamp: Option<DateTime<Utc>>,
}

/// The columns of [`EventRow`], for every statement that reads one. A macro so that
/// `concat!` can build whole statements from it.
macro_rules! event_columns {
    () => {
        r#"event_id, event_type, location_type, component_name, page_path, page_title,
           "timestamp", user_metadata, full_event_data, received_at, app_name,
           app_version, session_id, anonymous_id, inserted_at,
           kafka_partition, kafka_offset, kafka_timestamp"#
    };
}

impl From<EventRow> for StoredEvent {
    fn from(row: EventRow) -> Self {
        Self {
            event_id: row.event_id,
            event_type: row.event_type,
            location_type: row.location_type,
            component_name: row.component_name,
            page_path: row.page_path,
            page_title: row.page_title,
            timestamp: row.timestamp,
            user_metadata: row.user_metadata,
            full_event_data: row.full_event_data,
            received_at: row.received_at,
            app_name: row.app_name,
            app_version: row.app_version,
            session_id: row.session_id,
            anonymous_id: row.anonymous_id,
            inserted_at: row.inserted_at,
            kafka_partition: row.kafka_partition,
            kafka_offset: row.kafka_offset,
            kafka_timestamp: row.kafka_timestamp,
        }
    }
}

/// `GET /events`: newest first. The body is the JSON array the original API returned;
/// when there may be more, `X-Next-Cursor` holds the `cursor` of the next page.
async fn events(
    State(pool): State<PgPool>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let q = EventsQuery::parse(&params(query)?)?;
    let rows: Vec<EventRow> = sqlx::query_as(concat!(
        "SELECT ",
        event_columns!(),
        r#" FROM user_events
           WHERE ($1::text[] IS NULL OR event_type = ANY($1))
             AND ($2::text IS NULL OR location_type = $2)
             AND ($3::text IS NULL OR component_name = $3)
             AND ($4::text IS NULL OR page_path = $4)
             AND ($5::timestamptz IS NULL OR "timestamp" >= $5)
             AND ($6::timestamptz IS NULL OR "timestamp" < $6)
             AND ($7::timestamptz IS NULL OR ("timestamp", event_id) < ($7, $8::uuid))
           ORDER BY "timestamp" DESC, event_id DESC
           LIMIT $9"#
    ))
    .bind(&q.event_types)
    .bind(&q.location_type)
    .bind(&q.component_name)
    .bind(&q.page_path)
    .bind(q.since)
    .bind(q.until)
    .bind(q.cursor.map(|c| c.timestamp))
    .bind(q.cursor.map(|c| c.event_id))
    .bind(q.limit)
    .fetch_all(&pool)
    .await?;
    let mut headers = HeaderMap::new();
    if rows.len() as i64 == q.limit
        && let Some(last) = rows.last()
    {
        let cursor = Cursor {
            timestamp: last.timestamp,
            event_id: last.event_id,
        };
        // A cursor is digits, '_' and a UUID: always a valid header value.
        if let Ok(value) = HeaderValue::from_str(&cursor.encode()) {
            headers.insert(NEXT_CURSOR_HEADER, value);
        }
    }
    let events: Vec<StoredEvent> = rows.into_iter().map(StoredEvent::from).collect();
    Ok((headers, Json(events)))
}

/// `GET /events/{event_id}`: one event, with where it was in Kafka when the processor
/// recorded it (what `ptrack query trace` shows). `404` when no such event is stored.
async fn event(
    State(pool): State<PgPool>,
    event_id: Result<Path<String>, PathRejection>,
) -> Result<Json<StoredEvent>, ApiError> {
    let not_an_id = |shown: &str| {
        ApiError::BadRequest(format!(
            "{shown} is not an event id: expected a UUID like 2f1c4f0e-8a3b-4c55-9d3e-1a2b3c4d5e6f"
        ))
    };
    let Ok(Path(event_id)) = event_id else {
        return Err(not_an_id("the path"));
    };
    let id: Uuid = event_id.parse().map_err(|_| not_an_id(&shown(&event_id)))?;
    let row: Option<EventRow> = sqlx::query_as(concat!(
        "SELECT ",
        event_columns!(),
        " FROM user_events WHERE event_id = $1"
    ))
    .bind(id)
    .fetch_optional(&pool)
    .await?;
    match row {
        Some(row) => Ok(Json(row.into())),
        None => Err(ApiError::NotFound(format!(
            "no event {id} is stored (yet): check the id, or wait for the processor to catch up"
        ))),
    }
}

/// `GET /stats`: counts by event type and by minute over `[since, until)`; with
/// `by=page` or `by=component`, by page or component as well.
async fn stats(
    State(pool): State<PgPool>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Stats>, ApiError> {
    let q = StatsQuery::parse(&params(query)?, Utc::now())?;
    let rows: Vec<(DateTime<Utc>, String, i64)> = sqlx::query_as(
        r#"SELECT date_trunc('minute', "timestamp") AS minute, event_type, count(*)
           FROM user_events
           WHERE "timestamp" >= $1 AND "timestamp" < $2
           GROUP BY 1, 2
           ORDER BY 1, 2"#,
    )
    .bind(q.since)
    .bind(q.until)
    .fetch_all(&pool)
    .await?;
    let mut stats = Stats {
        since: q.since,
        until: q.until,
        total: 0,
        by_type: BTreeMap::new(),
        by_minute: Vec::new(),
        by_page: None,
        by_component: None,
    };
    for (minute, event_type, count) in rows {
        stats.total += count;
        *stats.by_type.entry(event_type.clone()).or_default() += count;
        match stats.by_minute.last_mut() {
            Some(last) if last.minute == minute => {
                last.total += count;
                last.by_type.insert(event_type, count);
            }
            _ => stats.by_minute.push(MinuteCount {
                minute,
                total: count,
                by_type: BTreeMap::from([(event_type, count)]),
            }),
        }
    }
    if let Some(by) = q.by {
        let sql = match by {
            StatsBy::Page => {
                r#"SELECT page_path, count(*) FROM user_events
                   WHERE "timestamp" >= $1 AND "timestamp" < $2 GROUP BY 1"#
            }
            StatsBy::Component => {
                r#"SELECT component_name, count(*) FROM user_events
                   WHERE "timestamp" >= $1 AND "timestamp" < $2 GROUP BY 1"#
            }
        };
        let counts: Vec<(Option<String>, i64)> = sqlx::query_as(sql)
            .bind(q.since)
            .bind(q.until)
            .fetch_all(&pool)
            .await?;
        let mut map = BTreeMap::new();
        for (key, count) in counts {
            *map.entry(key.unwrap_or_else(|| NO_VALUE.to_owned()))
                .or_default() += count;
        }
        match by {
            StatsBy::Page => stats.by_page = Some(map),
            StatsBy::Component => stats.by_component = Some(map),
        }
    }
    Ok(Json(stats))
}

/// `GET /health`: 200 when the database answers. The driver's error is logged, not
/// sent: the endpoint is open to anyone.
async fn health(State(pool): State<PgPool>) -> impl IntoResponse {
    match sqlx::query("SELECT 1").execute(&pool).await {
        Ok(_) => (StatusCode::OK, Json(HealthBody::new(HealthState::Ok))),
        Err(err) => {
            tracing::warn!(%err, "health check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(HealthBody::with_reason(
                    HealthState::Unhealthy,
                    "the database is not reachable (the events-api's log says why)".to_owned(),
                )),
            )
        }
    }
}
