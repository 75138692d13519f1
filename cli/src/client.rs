//! The one way the CLI talks to the services over HTTP: typed calls that return the
//! wire crate's types ([`ptrack_wire`]), and one error type that says whether the
//! service was not there, refused the request (with its reason), or sent something
//! unreadable. Every service URL the CLI asks is built here.
//!
//! - [`EventsApi`]: `GET /events` one page at a time ([`EventsApi::events`]) or every
//!   page through the cursor ([`EventsApi::pages`]), `GET /stats`, `GET /health`.
//! - [`Processor`]: `GET /status`, `GET /metrics`, `GET /health`.
//! - [`Collector`]: `POST /track`, `GET /metrics`, `GET /ready`, `GET /health`. (`ptrack
//!   load`'s hot path writes its own requests: `load/http1.rs`.)
//! - [`probe`]: one readiness check, for the runtimes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ptrack::client::ClientError> {
//! use ptrack::client::{EventsApi, EventsQuery};
//! let api = EventsApi::new("http://127.0.0.1:8001".parse().unwrap());
//! let mut pages = api.pages(EventsQuery { event_type: Some("CLICK".into()), ..Default::default() });
//! while let Some(page) = pages.next_page().await? {
//!     for event in page.events {
//!         println!("{} {}", event.event_id, event.event_type);
//!     }
//! }
//! # Ok(()) }
//! ```

use std::{net::SocketAddr, time::Duration};

use chrono::{DateTime, SecondsFormat, Utc};
use ptrack_common::config::Secret;
use ptrack_wire::{ErrorBody, HealthBody, NEXT_CURSOR_HEADER, StoredEvent, TrackResponse};
use reqwest::{StatusCode, Url};
use serde::{Serialize, de::DeserializeOwned};

pub use ptrack_wire::{ProcessorStatus, Stats, TrackBatch};

/// How long a call may take before the service counts as unreachable.
const TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: connection refused, or no answer in time.
    #[error(
        "the {service} is not reachable at {url} ({reason}). Is the stack up? Start it with \
         `ptrack up`, or point ptrack at where the {service} runs"
    )]
    Unreachable {
        service: &'static str,
        url: Url,
        /// `connection refused`, `timed out`, ...
        reason: String,
    },
    /// An answer other than 2xx; `body` is the server's text.
    #[error("the {service} answered {status} to {url}: {}", reason_of(.body))]
    Status {
        service: &'static str,
        url: Url,
        status: StatusCode,
        body: String,
    },
    /// A 2xx answer whose body is not what the service sends.
    #[error("the {service} at {url} sent a body that is not {what}: {source}")]
    Decode {
        service: &'static str,
        url: Url,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// The server's reason for a refused request (the `error` or `reason` of its JSON
    /// body, else the body itself), or what went wrong on the way.
    pub fn reason(&self) -> String {
        match self {
            Self::Unreachable { reason, .. } => reason.clone(),
            Self::Status { body, .. } => reason_of(body),
            Self::Decode { source, .. } => source.to_string(),
        }
    }

    /// Whether the service did not answer at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }

    /// The HTTP status of a refused request.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// One short line without the URL, for a table cell: `connection refused`,
    /// `503 Service Unavailable {"status":...}`.
    pub fn brief(&self) -> String {
        match self {
            Self::Unreachable { reason, .. } => reason.clone(),
            Self::Status { status, body, .. } => format!("{status} {}", body.trim()),
            Self::Decode { what, .. } => format!("the body is not {what}"),
        }
    }
}

/// The `error` (refused requests) or `reason` (health) of a JSON body, else the text.
fn reason_of(body: &str) -> String {
    if let Ok(ErrorBody { error }) = serde_json::from_str(body) {
        return error;
    }
    if let Ok(HealthBody {
        reason: Some(reason),
        ..
    }) = serde_json::from_str(body)
    {
        return reason;
    }
    let mut text = body.trim().to_owned();
    truncate(&mut text, 500);
    text
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
}

/// What a transport error says, without the URL (the error adds it once).
fn transport_reason(err: &reqwest::Error) -> String {
    let mut text = if err.is_connect() {
        "connection refused".to_owned()
    } else if err.is_timeout() {
        "timed out".to_owned()
    } else {
        let mut text = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    };
    truncate(&mut text, 200);
    text
}

/// `http://<addr>`: where a service listening on `addr` is reached.
pub fn base_url(addr: SocketAddr) -> Url {
    // An IP address and a port always make a valid URL.
    Url::parse(&format!("http://{addr}")).expect("http://ip:port is a URL")
}

/// `http://<addr><path>`: a service's resource, as printed for people (`ptrack up`'s
/// endpoint list) and as requested.
pub fn url(addr: SocketAddr, path: &str) -> Url {
    let mut url = base_url(addr);
    url.set_path(path);
    url
}

/// An HTTP client with the given timeouts. Only fails when a TLS backend cannot
/// initialise, and reqwest is built without TLS here.
fn http_client(timeout: Duration, connect_timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .build()
        .expect("an HTTP client without TLS builds")
}

/// The client for probes: short timeouts, so a hung service reads as unhealthy.
pub fn probe_http() -> reqwest::Client {
    http_client(Duration::from_secs(2), Duration::from_secs(1))
}

/// `GET url`: `Ok` on 2xx; the body is not read. What the runtimes' health checks do.
pub async fn probe(http: &reqwest::Client, url: Url) -> Result<(), ClientError> {
    Service::with_http("service", url, http.clone())
        .get_response(None, &[] as &[(&str, String)])
        .await
        .map(drop)
}

/// What the three clients share: a base URL, an HTTP client, an optional token.
#[derive(Clone)]
struct Service {
    name: &'static str,
    base: Url,
    http: reqwest::Client,
    /// Sent as `Authorization: Bearer ...` when set; never printed.
    token: Option<Secret>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Service {
    fn new(name: &'static str, base: Url) -> Self {
        Self::with_http(name, base, http_client(TIMEOUT, CONNECT_TIMEOUT))
    }

    fn with_http(name: &'static str, base: Url, http: reqwest::Client) -> Self {
        Self {
            name,
            base,
            http,
            token: None,
        }
    }

    /// `path` under the base URL; `None` is the base itself.
    fn url(&self, path: Option<&str>) -> Url {
        match path {
            None => self.base.clone(),
            Some(path) => {
                let mut url = self.base.clone();
                // A base like http://host/prefix keeps its prefix.
                let joined = format!("{}/{path}", url.path().trim_end_matches('/'));
                url.set_path(&joined);
                url
            }
        }
    }

    fn unreachable(&self, url: &Url, err: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            service: self.name,
            url: url.clone(),
            reason: transport_reason(err),
        }
    }

    /// Sends `request`; a 2xx answer, or the error.
    async fn send(
        &self,
        url: &Url,
        mut request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        let response = request
            .send()
            .await
            .map_err(|err| self.unreachable(url, &err))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        Err(ClientError::Status {
            service: self.name,
            url: url.clone(),
            status,
            body,
        })
    }

    async fn get_response<Q: Serialize + ?Sized>(
        &self,
        path: Option<&str>,
        query: &Q,
    ) -> Result<reqwest::Response, ClientError> {
        let url = self.url(path);
        self.send(&url, self.http.get(url.clone()).query(query))
            .await
    }

    async fn decode<T: DeserializeOwned>(
        &self,
        url: Url,
        response: reqwest::Response,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|err| self.unreachable(&url, &err))?;
        serde_json::from_slice(&bytes).map_err(|source| ClientError::Decode {
            service: self.name,
            url,
            what,
            source,
        })
    }

    async fn get_json<T: DeserializeOwned, Q: Serialize + ?Sized>(
        &self,
        path: &str,
        query: &Q,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let response = self.get_response(Some(path), query).await?;
        self.decode(self.url(Some(path)), response, what).await
    }

    async fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let url = self.url(Some(path));
        let response = self
            .get_response(Some(path), &[] as &[(&str, String)])
            .await?;
        response
            .text()
            .await
            .map_err(|err| self.unreachable(&url, &err))
    }

    /// `GET path` as a health body; a 503 with a health body is an `Ok` that says
    /// unhealthy, anything else not 2xx an error.
    async fn health(&self, path: &str) -> Result<HealthBody, ClientError> {
        match self
            .get_json(path, &[] as &[(&str, String)], "a health report")
            .await
        {
            Err(ClientError::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                body,
                service,
                url,
            }) => serde_json::from_str(&body).map_err(|_| ClientError::Status {
                service,
                url,
                status: StatusCode::SERVICE_UNAVAILABLE,
                body,
            }),
            other => other,
        }
    }
}

/// `GET /events` filters; `None` leaves a filter out. Mirrors the events-api's query
/// parameters (`services/events-api/src/query.rs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventsQuery {
    /// `CLICK`, `PAGE_VIEW`, ...; `HOVER` means both hover kinds.
    pub event_type: Option<String>,
    /// `COMPONENT` or `PAGE`.
    pub location_type: Option<String>,
    pub component_name: Option<String>,
    pub page_path: Option<String>,
    /// Event times from `since` (inclusive)...
    pub since: Option<DateTime<Utc>>,
    /// ...to `until` (exclusive).
    pub until: Option<DateTime<Utc>>,
    /// Events per page: the API's default is 30, its maximum 1000.
    pub limit: Option<u32>,
    /// Where the page starts: a previous page's [`Page::next_cursor`].
    pub cursor: Option<String>,
}

impl EventsQuery {
    fn params(&self) -> Vec<(&'static str, String)> {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        let mut params = Vec::new();
        let mut text = |name, value: &Option<String>| {
            if let Some(value) = value {
                params.push((name, value.clone()));
            }
        };
        text("event_type", &self.event_type);
        text("location_type", &self.location_type);
        text("component_name", &self.component_name);
        text("page_path", &self.page_path);
        text("cursor", &self.cursor);
        if let Some(since) = &self.since {
            params.push(("since", time(since)));
        }
        if let Some(until) = &self.until {
            params.push(("until", time(until)));
        }
        if let Some(limit) = self.limit {
            params.push(("limit", limit.to_string()));
        }
        params
    }
}

/// One page of `GET /events`, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub events: Vec<StoredEvent>,
    /// The `cursor` of the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// The events-api.
#[derive(Debug, Clone)]
pub struct EventsApi {
    service: Service,
}

impl EventsApi {
    /// The events-api at `base`, like `http://127.0.0.1:8001`.
    pub fn new(base: Url) -> Self {
        Self {
            service: Service::new("events-api", base),
        }
    }

    /// Sends `Authorization: Bearer <token>` with every request.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.service.token = Some(Secret::new(token.into()));
        self
    }

    pub fn base(&self) -> &Url {
        &self.service.base
    }

    /// One page of events.
    pub async fn events(&self, query: &EventsQuery) -> Result<Page, ClientError> {
        let url = self.service.url(Some("events"));
        let response = self
            .service
            .get_response(Some("events"), &query.params())
            .await?;
        let next_cursor = response
            .headers()
            .get(NEXT_CURSOR_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let events = self
            .service
            .decode(url, response, "a list of events")
            .await?;
        Ok(Page {
            events,
            next_cursor,
        })
    }

    /// Every page of `query`, one at a time, following the cursor from `query.cursor`
    /// (or the newest event). Only one page is held at a time.
    pub fn pages(&self, query: EventsQuery) -> Pager {
        Pager {
            api: self.clone(),
            query,
            done: false,
        }
    }

    /// Counts by event type and by minute over `[since, until)`; the API's default is
    /// the last hour.
    pub async fn stats(
        &self,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Stats, ClientError> {
        let query = EventsQuery {
            since,
            until,
            ..EventsQuery::default()
        };
        self.service
            .get_json("stats", &query.params(), "statistics")
            .await
    }

    /// `GET /health`: an answer (healthy or not), or an error when there was none.
    pub async fn health(&self) -> Result<HealthBody, ClientError> {
        self.service.health("health").await
    }
}

/// The pages of one query; see [`EventsApi::pages`].
#[derive(Debug)]
pub struct Pager {
    api: EventsApi,
    query: EventsQuery,
    done: bool,
}

impl Pager {
    /// The next page, or `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Page>, ClientError> {
        if self.done {
            return Ok(None);
        }
        let page = self.api.events(&self.query).await?;
        match &page.next_cursor {
            Some(cursor) => self.query.cursor = Some(cursor.clone()),
            None => self.done = true,
        }
        Ok(Some(page))
    }
}

/// A processor replica.
#[derive(Debug, Clone)]
pub struct Processor {
    service: Service,
}

impl Processor {
    /// The processor at `base`, like `http://127.0.0.1:8002`.
    pub fn new(base: Url) -> Self {
        Self {
            service: Service::new("processor", base),
        }
    }

    /// The same, on a client of the caller's (the runtimes' short-timeout probes).
    pub fn with_http(base: Url, http: reqwest::Client) -> Self {
        Self {
            service: Service::with_http("processor", base, http),
        }
    }

    pub fn base(&self) -> &Url {
        &self.service.base
    }

    /// The partitions this replica holds and its lag.
    pub async fn status(&self) -> Result<ProcessorStatus, ClientError> {
        self.service
            .get_json("status", &[] as &[(&str, String)], "a processor status")
            .await
    }

    /// `GET /metrics`: Prometheus text.
    pub async fn metrics_text(&self) -> Result<String, ClientError> {
        self.service.get_text("metrics").await
    }

    pub async fn health(&self) -> Result<HealthBody, ClientError> {
        self.service.health("health").await
    }
}

/// A collector replica.
#[derive(Debug, Clone)]
pub struct Collector {
    service: Service,
}

impl Collector {
    /// The collector at `base`, like `http://127.0.0.1:8000`.
    pub fn new(base: Url) -> Self {
        Self {
            service: Service::new("collector", base),
        }
    }

    pub fn base(&self) -> &Url {
        &self.service.base
    }

    /// `POST /track`: the broker has the accepted events when this returns `Ok`. A
    /// batch with no valid event is a `400` error whose body is a [`TrackResponse`].
    pub async fn track<E: Serialize>(
        &self,
        batch: &TrackBatch<E>,
    ) -> Result<TrackResponse, ClientError> {
        let url = self.service.url(Some("track"));
        let request = self.service.http.post(url.clone()).json(batch);
        let response = self.service.send(&url, request).await?;
        self.service.decode(url, response, "a track response").await
    }

    /// `GET /metrics`: Prometheus text.
    pub async fn metrics_text(&self) -> Result<String, ClientError> {
        self.service.get_text("metrics").await
    }

    /// `GET /ready`: whether the broker answers and the topic exists.
    pub async fn ready(&self) -> Result<HealthBody, ClientError> {
        self.service.health("ready").await
    }

    pub async fn health(&self) -> Result<HealthBody, ClientError> {
        self.service.health("health").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_a_base_path_and_queries_use_the_apis_names() {
        let api = Service::new("events-api", "http://h:1/prefix/".parse().unwrap());
        assert_eq!(api.url(Some("events")).as_str(), "http://h:1/prefix/events");
        let bare = Service::new("events-api", "http://h:1".parse().unwrap());
        assert_eq!(bare.url(Some("stats")).as_str(), "http://h:1/stats");
        assert_eq!(
            base_url("127.0.0.1:8002".parse().unwrap()).as_str(),
            "http://127.0.0.1:8002/"
        );

        let query = EventsQuery {
            event_type: Some("HOVER".into()),
            since: DateTime::from_timestamp_millis(1_764_000_000_123),
            limit: Some(1000),
            ..EventsQuery::default()
        };
        assert_eq!(
            query.params(),
            [
                ("event_type", "HOVER".to_owned()),
                ("since", "2025-11-24T16:00:00.123Z".to_owned()),
                ("limit", "1000".to_owned()),
            ]
        );
    }

    #[test]
    fn a_refusal_reads_as_the_servers_reason_and_the_token_never_prints() {
        assert_eq!(
            reason_of(r#"{"error": "limit=\"x\": bad"}"#),
            "limit=\"x\": bad"
        );
        assert_eq!(
            reason_of(r#"{"status": "unhealthy", "reason": "db down"}"#),
            "db down"
        );
        assert_eq!(reason_of("  plain text \n"), "plain text");
        let api = EventsApi::new("http://h:1".parse().unwrap()).with_token("hunter2");
        assert!(!format!("{api:?}").contains("hunter2"));
    }
}
