//! The HTTP server every service runs on: [`serve`] with its [`Limits`] (header and body
//! read timeouts, a connection cap), from the `ptrack-http` crate, which the web demo
//! uses too. A service's config flattens [`Limits`] (`HTTP_HEADER_TIMEOUT_MS`,
//! `HTTP_BODY_TIMEOUT_MS`, `HTTP_MAX_CONNECTIONS`).

pub use ptrack_http::{BodyTimeout, Limits, serve};
