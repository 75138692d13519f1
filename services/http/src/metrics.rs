//! `/metrics` in the OpenMetrics text format from a service's own registry (so tests that
//! run several services in one process keep their numbers apart), and the
//! request-duration histogram every HTTP service has ([`HttpMetrics`]), the web demo
//! included.
//!
//! prometheus-client writes OpenMetrics (`# TYPE x counter` then `x_total`, `# EOF` at
//! the end), so the answer says so: `application/openmetrics-text; version=1.0.0`. A
//! scraper that asked for the classic text format gets OpenMetrics all the same, with the
//! right type; Prometheus asks for OpenMetrics first.

use std::{sync::Arc, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{family::Family, histogram::Histogram},
    registry::Registry,
};

/// The content type of the OpenMetrics text format, which is what `/metrics` serves.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets in seconds, from 0.5 ms to 8 s.
pub fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.0005, 2.0, 15)
}

/// `GET /metrics`.
pub async fn metrics_handler(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    let mut body = String::new();
    match encode(&mut body, &registry) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
            body,
        ),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("encoding metrics failed: {err}"),
        ),
    }
}

/// `<prefix>_http_request_duration_seconds{method, route, status}`: how long each request
/// took until its answer's headers, by the route's template (`/events/{event_id}`, never
/// the raw path, so that the label set stays small) and status code. Requests that
/// match no route count under `route="unmatched"`.
#[derive(Clone)]
pub struct HttpMetrics {
    duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

impl HttpMetrics {
    /// Registers the histogram in the service's registry.
    pub fn register(registry: &mut Registry) -> Self {
        let duration: Family<RequestLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(latency_buckets()));
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status code",
            duration.clone(),
        );
        Self { duration }
    }

    /// Measures every request to `router`'s routes (and its fallback); call it last, once
    /// every route is in.
    pub fn layer<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        router.layer(axum::middleware::from_fn_with_state(self.clone(), measure))
    }
}

async fn measure(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .duration
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The method as a label; anything unusual is `other`, so that clients cannot grow the
/// label set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}
