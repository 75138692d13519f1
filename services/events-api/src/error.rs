use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use ptrack_wire::ErrorBody;

/// Every error the API answers with. The text is what the client reads: it says what was
/// wrong and what to do, and never carries a driver, SQL or internal message (those are
/// logged).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A bad query parameter; the text says which and what is expected.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing is stored under the asked name; the text says what was asked.
    #[error("{0}")]
    NotFound(String),
    /// No bearer token, or not the right one (`EVENTS_API_TOKEN` is set).
    #[error("{}", .0.reason())]
    Unauthorized(Unauthorized),
    /// No connection could be had in time: every one is busy (slow queries), or the
    /// database cannot be reached.
    #[error("the event store is busy or unreachable; retry in a moment")]
    Busy(#[source] sqlx::Error),
    /// The query ran into the statement timeout (`STATEMENT_TIMEOUT_MS`).
    #[error(
        "the query took too long and was stopped; ask for a shorter time range or narrower filters"
    )]
    TimedOut(#[source] sqlx::Error),
    /// The database failed; the detail is logged, never sent.
    #[error("the event store is unavailable; retry later")]
    Unavailable(#[source] sqlx::Error),
}

/// Why a request was refused for its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthorized {
    Missing,
    Invalid,
}

impl Unauthorized {
    fn reason(self) -> &'static str {
        match self {
            Self::Missing => {
                "a bearer token is required: send Authorization: Bearer <EVENTS_API_TOKEN>"
            }
            Self::Invalid => {
                "the bearer token is not valid: send the events-api's EVENTS_API_TOKEN"
            }
        }
    }

    /// RFC 6750: `error="invalid_token"` only when a token was sent.
    fn challenge(self) -> &'static str {
        match self {
            Self::Missing => r#"Bearer realm="ptrack""#,
            Self::Invalid => r#"Bearer realm="ptrack", error="invalid_token""#,
        }
    }
}

/// PostgreSQL's `query_canceled`, which a statement timeout raises.
const QUERY_CANCELED: &str = "57014";

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut => Self::Busy(err),
            sqlx::Error::Database(db) if db.code().as_deref() == Some(QUERY_CANCELED) => {
                Self::TimedOut(err)
            }
            _ => Self::Unavailable(err),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Busy(err) => {
                tracing::warn!(%err, "no database connection free");
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::TimedOut(err) => {
                tracing::warn!(%err, "query stopped by the statement timeout");
                StatusCode::GATEWAY_TIMEOUT
            }
            Self::Unavailable(err) => {
                tracing::error!(%err, "query failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let mut response = (status, Json(ErrorBody::new(self.to_string()))).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::Unauthorized(why) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(why.challenge()),
                );
            }
            Self::Busy(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}
