//! The collector's HTTP routes.

use std::{
    borrow::Cow,
    collections::{HashMap, hash_map::Entry},
    io::Read,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Extension, Json, Router,
    body::Bytes,
    extract::{
        ConnectInfo, DefaultBodyLimit, Query, State,
        rejection::{BytesRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use prometheus_client::{
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};
use ptrack_common::{
    event::{EventMessage, Limits, TrackEvent, TrackRequest},
    health::{Health, health_handler, probes},
    metrics::{HttpMetrics, latency_buckets, metrics_handler},
};
use ptrack_wire::{ErrorBody, HealthBody, HealthState, Rejected, TrackResponse};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{
    Config,
    producer::{EventProducer, ProduceError},
    security::{KeyError, RateLimits, WriteKeys},
};

/// The header a request carries its write key in.
pub const KEY_HEADER: &str = "x-ptrack-key";

#[derive(Clone)]
pub struct AppState {
    producer: EventProducer,
    limits: Arc<Limits>,
    metrics: Arc<Metrics>,
    registry: Arc<Registry>,
    http_metrics: HttpMetrics,
    config: Arc<Config>,
    keys: WriteKeys,
    rate_limits: Arc<RateLimits>,
}

struct Metrics {
    requests: Family<Vec<(&'static str, String)>, Counter>,
    accepted: Counter,
    rejected: Counter,
    produce_latency: Histogram,
    rate_limited: Family<Vec<(&'static str, &'static str)>, Counter>,
}

impl AppState {
    /// Fails when `COLLECTOR_WRITE_KEYS_FILE` cannot be read.
    pub fn new(config: Config, producer: EventProducer) -> anyhow::Result<Self> {
        let keys = WriteKeys::load(&config.security)?;
        if keys.enabled() {
            keys.reload_in_background(Duration::from_secs(2));
        } else {
            tracing::warn!(
                "no write keys configured (COLLECTOR_WRITE_KEYS, COLLECTOR_WRITE_KEYS_FILE): \
                 POST /track accepts events from anyone"
            );
        }
        let mut registry = Registry::with_prefix("ptrack_collector");
        let metrics = Metrics {
            requests: Family::default(),
            accepted: Counter::default(),
            rejected: Counter::default(),
            produce_latency: Histogram::new(latency_buckets()),
            rate_limited: Family::default(),
        };
        registry.register(
            "requests",
            "HTTP requests to /track by status",
            metrics.requests.clone(),
        );
        registry.register(
            "events_accepted",
            "Events acknowledged by the broker",
            metrics.accepted.clone(),
        );
        registry.register(
            "events_rejected",
            "Events refused by validation",
            metrics.rejected.clone(),
        );
        registry.register(
            "produce_latency_seconds",
            "Time from produce to the broker's acknowledgement of a whole batch",
            metrics.produce_latency.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests to /track refused with 429, by the limit they hit (ip or key)",
            metrics.rate_limited.clone(),
        );
        let http_metrics = HttpMetrics::register(&mut registry);
        Ok(Self {
            producer,
            limits: Arc::new(config.limits.clone()),
            metrics: Arc::new(metrics),
            http_metrics,
            registry: Arc::new(registry),
            rate_limits: Arc::new(RateLimits::new(&config.security)),
            keys,
            config: Arc::new(config),
        })
    }
}

pub fn app(state: AppState) -> Router {
    let health = Health::default();
    // The collector has no loop of its own: it is alive while it serves.
    let _http = health.register("http", std::time::Duration::MAX);
    let producer = state.producer.clone();
    health.add_check("broker", move || {
        let producer = producer.clone();
        async move { producer.ready().await }
    });
    let track = Router::new()
        .route("/track", post(track))
        // On the body as sent: a gzip body is bounded before and after decompression.
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(cors(&state.config.cors_origins));
    let app = Router::new()
        .route("/ready", get(ready))
        .merge(track)
        .with_state(state.clone())
        .merge(probes(health.clone()))
        .merge(
            Router::new()
                .route("/health", get(health_handler))
                .with_state(health),
        )
        .merge(
            Router::new()
                .route("/metrics", get(metrics_handler))
                .with_state(state.registry.clone()),
        );
    state.http_metrics.layer(app)
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            HeaderName::from_static(KEY_HEADER),
        ])
        // The browser tracker waits as long as a 503 or 429 says.
        .expose_headers([header::RETRY_AFTER])
}

/// Errors of the API. Internal detail (broker errors) is logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unauthorized(KeyError),
    #[error("Content-Encoding {0:?} is not supported: send gzip or no encoding")]
    UnsupportedEncoding(String),
    #[error("too many requests {}; retry in {} s", limit.describe(), retry_after_secs(*.wait))]
    TooManyRequests { limit: RateLimit, wait: Duration },
    #[error("the event broker is unavailable; retry later")]
    Unavailable,
    #[error("the event broker refused the events")]
    Refused,
}

/// The rate limit a request hit; the `limit` label of `rate_limited_total`.
#[derive(Debug, Clone, Copy)]
pub enum RateLimit {
    Ip,
    Key,
}

impl RateLimit {
    fn label(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::Key => "key",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Ip => "from this address",
            Self::Key => "for this write key",
        }
    }
}

/// Whole seconds for `Retry-After`, at least 1.
fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// What the client hears when the broker did not take a batch: 413 for a message the
/// broker finds too large (the edge check uses `KAFKA_MAX_MESSAGE_BYTES`, which may be
/// set above the broker's own limit), 503 with `Retry-After` for what can pass later, 500
/// for the rest. The broker's own words stay in the log.
impl From<ProduceError> for ApiError {
    fn from(err: ProduceError) -> Self {
        if err.is_too_large() {
            Self::TooLarge(
                "an event is larger than the event broker accepts; send smaller events".into(),
            )
        } else if err.is_transient() {
            Self::Unavailable
        } else {
            Self::Refused
        }
    }
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Refused => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Json(ErrorBody::new(self.to_string()));
        let retry_after = match self {
            Self::Unavailable => Some(1),
            Self::TooManyRequests { wait, .. } => Some(retry_after_secs(wait)),
            _ => None,
        };
        match retry_after {
            Some(secs) => (status, [(header::RETRY_AFTER, secs.to_string())], body).into_response(),
            None => (status, body).into_response(),
        }
    }
}

async fn track(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr);
    let query_key = query.ok().and_then(|Query(mut q)| q.remove("key"));
    let response = handle_track(&state, peer, query_key, &headers, body).await;
    let status = match &response {
        Ok((status, _)) => *status,
        Err(err) => err.status(),
    };
    state
        .metrics
        .requests
        .get_or_create(&vec![("status", status.as_u16().to_string())])
        .inc();
    if let Err(ApiError::TooManyRequests { limit, .. }) = &response {
        state
            .metrics
            .rate_limited
            .get_or_create(&vec![("limit", limit.label())])
            .inc();
    }
    match response {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn handle_track(
    state: &AppState,
    peer: Option<SocketAddr>,
    query_key: Option<String>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, TrackResponse), ApiError> {
    if let (Some(limiter), Some(peer)) = (&state.rate_limits.per_ip, peer) {
        limiter
            .take(&peer.ip())
            .map_err(|wait| ApiError::TooManyRequests {
                limit: RateLimit::Ip,
                wait,
            })?;
    }
    // A header or query key is checked before the body is even read.
    let outside_key = headers
        .get(KEY_HEADER)
        .map(|value| value.to_str().unwrap_or("\u{0}invalid"))
        .map(str::to_owned)
        .or(query_key);
    if let Some(key) = &outside_key {
        state
            .keys
            .check(Some(key))
            .map_err(ApiError::Unauthorized)?;
    }
    let max_body = state.config.max_body_bytes;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "the body is larger than {max_body} bytes; send smaller batches"
            ))
        } else {
            ApiError::BadRequest(format!(
                "the body could not be read: {}",
                rejection.body_text()
            ))
        }
    })?;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|value| value.to_str().unwrap_or("?"));
    let body = decode_body(encoding, &body, max_body)?;
    let request = parse_batch(&body)?;
    let key = match outside_key {
        Some(key) => Some(key),
        None => {
            let key = request.write_key.as_deref();
            state.keys.check(key).map_err(ApiError::Unauthorized)?;
            key.map(str::to_owned)
        }
    };
    state
        .rate_limits
        .check_key(key.as_deref())
        .map_err(|wait| ApiError::TooManyRequests {
            limit: RateLimit::Key,
            wait,
        })?;
    let received_at = chrono::Utc::now().timestamp_millis();
    let batch = check_batch(
        &request,
        &state.limits,
        state.config.max_message_bytes,
        received_at,
    )?;
    let Batch {
        messages,
        rejected,
        count,
    } = batch;
    state.metrics.rejected.inc_by(rejected.len() as u64);
    let accepted = messages.len();
    if accepted > 0 {
        let started = Instant::now();
        state.producer.send_all(messages).await.map_err(|err| {
            tracing::warn!(%err, events = accepted, "batch not stored");
            ApiError::from(err)
        })?;
        state
            .metrics
            .produce_latency
            .observe(started.elapsed().as_secs_f64());
        state.metrics.accepted.inc_by(accepted as u64);
    }
    let status = if accepted == 0 && count > 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, TrackResponse { accepted, rejected }))
}

/// The body as the tracker sent it, decompressed when it says `Content-Encoding: gzip`;
/// at most `max_bytes` after decompression (the body as sent is bounded by the same
/// limit before it is read).
pub fn decode_body<'a>(
    encoding: Option<&str>,
    body: &'a [u8],
    max_bytes: usize,
) -> Result<Cow<'a, [u8]>, ApiError> {
    match encoding.map(str::trim) {
        None | Some("") => Ok(Cow::Borrowed(body)),
        Some(e) if e.eq_ignore_ascii_case("identity") => Ok(Cow::Borrowed(body)),
        Some(e) if e.eq_ignore_ascii_case("gzip") || e.eq_ignore_ascii_case("x-gzip") => {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(body)
                .take(max_bytes as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|err| {
                    ApiError::BadRequest(format!("the gzip body could not be decompressed: {err}"))
                })?;
            if out.len() > max_bytes {
                return Err(ApiError::TooLarge(format!(
                    "the body is larger than {max_bytes} bytes after decompression; send smaller batches"
                )));
            }
            Ok(Cow::Owned(out))
        }
        Some(other) => Err(ApiError::UnsupportedEncoding(
            other.chars().take(40).collect(),
        )),
    }
}

/// Reads the body as a tracker batch.
pub fn parse_batch(body: &[u8]) -> Result<TrackRequest<'_>, ApiError> {
    serde_json::from_slice(body).map_err(|err| {
        ApiError::BadRequest(format!(
            "the body is not a tracker batch ({{\"events\": [...]}}): {err}"
        ))
    })
}

/// A batch checked event by event: the messages to produce, `(key, payload)`, and the
/// events refused, each with its reason.
pub struct Batch {
    pub messages: Vec<(String, Vec<u8>)>,
    pub rejected: Vec<Rejected>,
    /// Events in the request.
    pub count: usize,
}

/// Checks a batch: its size and app fields as a whole, then each event, a repeated
/// `event_id` and a message larger than the broker takes (`max_message_bytes`).
pub fn check_batch(
    request: &TrackRequest<'_>,
    limits: &Limits,
    max_message_bytes: usize,
    received_at: i64,
) -> Result<Batch, ApiError> {
    let count = request.events.len();
    if count > limits.max_events_per_batch {
        return Err(ApiError::TooLarge(format!(
            "{count} events in one request; at most {} are accepted",
            limits.max_events_per_batch
        )));
    }
    request
        .check_app_fields(limits)
        .map_err(ApiError::BadRequest)?;
    // What a Kafka record adds around its key and value, with room to spare.
    const RECORD_OVERHEAD: usize = 512;
    let mut messages = Vec::with_capacity(count);
    let mut rejected = Vec::new();
    let mut first_of = HashMap::with_capacity(count);
    for (index, raw) in request.events.iter().enumerate() {
        let event = match TrackEvent::from_json(raw.get(), limits) {
            Ok(event) => event,
            Err(reason) => {
                rejected.push(Rejected { index, reason });
                continue;
            }
        };
        match first_of.entry(event.event_id) {
            Entry::Occupied(first) => {
                rejected.push(Rejected {
                    index,
                    reason: format!(
                        "duplicate event_id in batch (the same as event {})",
                        first.get()
                    ),
                });
                continue;
            }
            Entry::Vacant(slot) => {
                slot.insert(index);
            }
        }
        let message = EventMessage {
            event: raw,
            app_name: request.app_name.as_deref().map(Cow::Borrowed),
            app_version: request.app_version.as_deref().map(Cow::Borrowed),
            received_at,
        };
        // Serialising checked JSON text and plain strings cannot fail.
        let payload = serde_json::to_vec(&message).expect("an event message serialises");
        let key = event.partition_key();
        let size = payload.len() + key.len() + RECORD_OVERHEAD;
        if size > max_message_bytes {
            rejected.push(Rejected {
                index,
                reason: format!(
                    "the event's message is {size} bytes; the event broker takes at most {max_message_bytes}"
                ),
            });
            continue;
        }
        messages.push((key, payload));
    }
    Ok(Batch {
        messages,
        rejected,
        count,
    })
}

/// `GET /ready`: 200 once the broker answers and the topic exists.
async fn ready(State(state): State<AppState>) -> Response {
    match state.producer.ready().await {
        Ok(()) => Json(HealthBody::new(HealthState::Ready)).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthBody::with_reason(HealthState::NotReady, reason)),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::{error::KafkaError, types::RDKafkaErrorCode};

    use super::*;

    async fn answer(err: ProduceError) -> (StatusCode, Option<String>, String) {
        let response = ApiError::from(err).into_response();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        (
            status,
            retry_after,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_message_the_broker_finds_too_large_is_a_413_not_a_500() {
        for code in [
            RDKafkaErrorCode::MessageSizeTooLarge,
            RDKafkaErrorCode::InvalidMessageSize,
        ] {
            let (status, retry_after, body) =
                answer(ProduceError::from(KafkaError::MessageProduction(code))).await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{code:?}");
            assert_eq!(retry_after, None, "retrying the same event cannot help");
            assert!(body.contains("send smaller events"), "{body}");
            assert!(!body.contains("Broker"), "no broker text: {body}");
        }
    }

    #[tokio::test]
    async fn a_broker_away_is_a_503_with_retry_after_and_other_refusals_a_500() {
        let (status, retry_after, _) = answer(ProduceError::from(KafkaError::MessageProduction(
            RDKafkaErrorCode::BrokerTransportFailure,
        )))
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after.as_deref(), Some("1"));
        let (status, _, _) = answer(ProduceError::TimedOut).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let (status, _, body) = answer(ProduceError::from(KafkaError::MessageProduction(
            RDKafkaErrorCode::TopicAuthorizationFailed,
        )))
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.contains("Authorization"), "no broker text: {body}");
    }
}
