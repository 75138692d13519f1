//! The collector's HTTP routes.

use std::{borrow::Cow, sync::Arc, time::Instant};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::{HeaderValue, Method, StatusCode, header},
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
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    decompression::RequestDecompressionLayer,
};

use crate::{
    Config,
    producer::{EventProducer, ProduceError},
};

#[derive(Clone)]
pub struct AppState {
    producer: EventProducer,
    limits: Arc<Limits>,
    metrics: Arc<Metrics>,
    registry: Arc<Registry>,
    http_metrics: HttpMetrics,
    config: Arc<Config>,
}

struct Metrics {
    requests: Family<Vec<(&'static str, String)>, Counter>,
    accepted: Counter,
    rejected: Counter,
    produce_latency: Histogram,
}

impl AppState {
    pub fn new(config: Config, producer: EventProducer) -> Self {
        let mut registry = Registry::with_prefix("ptrack_collector");
        let metrics = Metrics {
            requests: Family::default(),
            accepted: Counter::default(),
            rejected: Counter::default(),
            produce_latency: Histogram::new(latency_buckets()),
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
        let http_metrics = HttpMetrics::register(&mut registry);
        Self {
            producer,
            limits: Arc::new(config.limits.clone()),
            metrics: Arc::new(metrics),
            http_metrics,
            registry: Arc::new(registry),
            config: Arc::new(config),
        }
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
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(RequestDecompressionLayer::new())
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
        .allow_headers([header::CONTENT_TYPE, header::CONTENT_ENCODING])
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
    #[error("the event broker is unavailable; retry later")]
    Unavailable,
    #[error("the event broker refused the events")]
    Refused,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Refused => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Json(ErrorBody::new(self.to_string()));
        if matches!(self, Self::Unavailable) {
            (status, [(header::RETRY_AFTER, "1")], body).into_response()
        } else {
            (status, body).into_response()
        }
    }
}

async fn track(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let response = handle_track(&state, body).await;
    let status = match &response {
        Ok((status, _)) => *status,
        Err(err) => err.status(),
    };
    state
        .metrics
        .requests
        .get_or_create(&vec![("status", status.as_u16().to_string())])
        .inc();
    match response {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn handle_track(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, TrackResponse), ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "the body is larger than {} bytes (after decompression); send smaller batches",
                state.config.max_body_bytes
            ))
        } else {
            ApiError::BadRequest(format!(
                "the body could not be read: {}",
                rejection.body_text()
            ))
        }
    })?;
    let request: TrackRequest = serde_json::from_slice(&body).map_err(|err| {
        ApiError::BadRequest(format!(
            "the body is not a tracker batch ({{\"events\": [...]}}): {err}"
        ))
    })?;
    let limits = &state.limits;
    if request.events.len() > limits.max_events_per_batch {
        return Err(ApiError::TooLarge(format!(
            "{} events in one request; at most {} are accepted",
            request.events.len(),
            limits.max_events_per_batch
        )));
    }
    let received_at = chrono::Utc::now().timestamp_millis();
    let mut messages = Vec::with_capacity(request.events.len());
    let mut rejected = Vec::new();
    let count = request.events.len();
    for (index, raw) in request.events.iter().enumerate() {
        match TrackEvent::from_json(raw.get(), limits) {
            Ok(event) => {
                let message = EventMessage {
                    event: raw,
                    app_name: request.app_name.as_deref().map(Cow::Borrowed),
                    app_version: request.app_version.as_deref().map(Cow::Borrowed),
                    received_at,
                };
                // Serialising checked JSON text and plain strings cannot fail.
                let payload = serde_json::to_vec(&message).expect("an event message serialises");
                messages.push((event.partition_key(), payload));
            }
            Err(reason) => rejected.push(Rejected { index, reason }),
        }
    }
    state.metrics.rejected.inc_by(rejected.len() as u64);
    let accepted = messages.len();
    if accepted > 0 {
        let started = Instant::now();
        state.producer.send_all(messages).await.map_err(|err| {
            tracing::warn!(%err, events = accepted, "batch not stored");
            match err {
                ProduceError::Unavailable(_) => ApiError::Unavailable,
                ProduceError::Refused(_) => ApiError::Refused,
            }
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
