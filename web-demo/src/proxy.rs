//! `GET /api/events` and `GET /api/stats`: the events API's answers, forwarded with
//! their query, status and body. The analytics page reads them from its own origin, so
//! the events API needs no CORS and the same works inside docker or kube. With
//! `EVENTS_API_TOKEN` set, the proxy sends it as a bearer token (the browser never sees it).

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderName, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/events", get(|s, u| forward(s, u, "/events")))
        .route("/api/stats", get(|s, u| forward(s, u, "/stats")))
}

/// Why the events API gave no answer. The message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "the events API is not reachable at {0}: start the stack with `ptrack up`, or set EVENTS_API_URL"
    )]
    Unreachable(String),
    #[error("the events API at {0} did not answer in time; it may be overloaded, retry later")]
    Timeout(String),
    #[error("the events API at {0} sent an answer that could not be read")]
    BadAnswer(String),
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Unreachable(_) | Self::BadAnswer(_) => StatusCode::BAD_GATEWAY,
        };
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

/// The events API's headers worth passing on.
const PASSED: &[HeaderName] = &[header::CONTENT_TYPE];

async fn forward(
    State(state): State<AppState>,
    uri: Uri,
    path: &'static str,
) -> Result<Response, ProxyError> {
    let base = &state.config.events_api_url;
    let url = match uri.query() {
        Some(query) => format!("{base}{path}?{query}"),
        None => format!("{base}{path}"),
    };
    let mut request = state.http.get(&url);
    if let Some(token) = &state.config.events_api_token {
        request = request.bearer_auth(&token.0);
    }
    let answer = request.send().await.map_err(|err| {
        tracing::warn!(%err, %url, "events API request failed");
        if err.is_timeout() {
            ProxyError::Timeout(base.clone())
        } else {
            ProxyError::Unreachable(base.clone())
        }
    })?;
    let status = StatusCode::from_u16(answer.status().as_u16())
        .map_err(|_| ProxyError::BadAnswer(base.clone()))?;
    let mut response = Response::builder().status(status);
    for name in PASSED {
        if let Some(value) = answer.headers().get(name.as_str()) {
            response = response.header(name.as_str(), value.as_bytes());
        }
    }
    if let Some(cursor) = answer.headers().get("x-next-cursor") {
        response = response.header("x-next-cursor", cursor.as_bytes());
    }
    let body = answer.bytes().await.map_err(|err| {
        tracing::warn!(%err, %url, "events API answer could not be read");
        ProxyError::BadAnswer(base.clone())
    })?;
    response
        .header(header::CACHE_CONTROL, "no-store")
        .body(body.into())
        .map_err(|_| ProxyError::BadAnswer(base.clone()))
}
