//! The bearer token (`EVENTS_API_TOKEN`): when it is set, every data route needs
//! `Authorization: Bearer <token>`; `/health` and the other probes stay open.

use std::{fmt, sync::Arc};

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, Unauthorized};

/// The token clients must send. It never prints: `Debug` shows `***`, and there is no
/// `Display`.
#[derive(Clone)]
pub struct BearerToken(Arc<str>);

impl BearerToken {
    pub fn new(token: &str) -> Self {
        Self(token.into())
    }

    /// An empty token is no token (`EVENTS_API_TOKEN=`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `sent` is the token, in time that does not depend on where they differ
    /// (only on the length), so the token cannot be guessed byte by byte.
    pub fn matches(&self, sent: &str) -> bool {
        self.0.as_bytes().ct_eq(sent.as_bytes()).into()
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(***)")
    }
}

/// The middleware: 401 with `WWW-Authenticate: Bearer` unless the request carries the
/// token (the scheme is case-insensitive, as RFC 7235 says).
pub async fn require_token(
    State(token): State<BearerToken>,
    request: Request,
    next: Next,
) -> Response {
    let sent = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let refused = match sent {
        None => Unauthorized::Missing,
        Some(sent) if token.matches(sent) => return next.run(request).await,
        Some(_) => Unauthorized::Invalid,
    };
    tracing::debug!(path = %request.uri().path(), why = ?refused, "request refused: bearer token");
    ApiError::Unauthorized(refused).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_token_matches_and_it_never_prints() {
        let token = BearerToken::new("s3cret-token");
        assert!(token.matches("s3cret-token"));
        assert!(!token.matches("s3cret-tokem"));
        assert!(!token.matches("s3cret"));
        assert!(!token.matches(""));
        assert!(!format!("{token:?}").contains("s3cret"));
    }
}
