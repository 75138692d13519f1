//! A collector stand-in for `ptrack load`'s tests (load.rs drives the library, load_ci.rs
//! the binary): it answers like the collector, slowly or with 503s when asked, and
//! remembers every request, so a test can count what was sent and look at it.

use std::{
    io::Read,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use reqwest::Url;
use serde_json::{Value, json};

/// What the server does with each request, and what it got.
#[derive(Clone, Default)]
pub struct RecordingServer {
    delay: Duration,
    fail_every: Option<u64>,
    /// Each request's headers and (gunzipped when it said gzip) body; shared by the
    /// clones, so the test keeps one while the server runs with another.
    seen: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

impl RecordingServer {
    /// Each answer takes `delay`: a slow collector.
    pub fn delayed(self, delay: Duration) -> Self {
        Self { delay, ..self }
    }

    /// Every `n`-th request gets a 503: a collector that is sometimes busy.
    pub fn failing_every(self, n: u64) -> Self {
        Self {
            fail_every: Some(n),
            ..self
        }
    }

    /// Serves `POST /track` on `127.0.0.1:0` until the test ends; its URL.
    pub async fn serve(&self) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/track", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/track", post(track))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url.parse().unwrap()
    }

    /// How many requests came so far.
    pub fn requests(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Every request so far: its headers and its (gunzipped) JSON body.
    pub fn seen(&self) -> Vec<(HeaderMap, Value)> {
        self.seen.lock().unwrap().clone()
    }

    /// The JSON body of every request so far.
    pub fn bodies(&self) -> Vec<Value> {
        self.seen().into_iter().map(|(_, body)| body).collect()
    }
}

async fn track(
    State(server): State<RecordingServer>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    tokio::time::sleep(server.delay).await;
    let gzipped = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let body = if gzipped {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .expect("a gzip body");
        plain
    } else {
        body.to_vec()
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let events = body["events"].as_array().map_or(0, Vec::len);
    let n = {
        let mut seen = server.seen.lock().unwrap();
        seen.push((headers, body));
        seen.len() as u64
    };
    if server.fail_every.is_some_and(|every| n % every == 0) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "busy"})),
        );
    }
    (
        StatusCode::OK,
        Json(json!({"accepted": events, "rejected": []})),
    )
}
