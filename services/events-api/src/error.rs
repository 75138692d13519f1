use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use ptrack_wire::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A bad query parameter; the text says which and what is expected.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing is stored under the asked name; the text says what was asked.
    #[error("{0}")]
    NotFound(String),
    /// The database failed; the detail is logged, never sent.
    #[error("the event store is unavailable; retry later")]
    Unavailable(#[source] sqlx::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        Self::Unavailable(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unavailable(err) => {
                tracing::error!(%err, "query failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        (status, Json(ErrorBody::new(self.to_string()))).into_response()
    }
}
