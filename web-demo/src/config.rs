//! The demo's settings, from the environment with defaults that match `ptrack up`.

use std::{fmt, net::SocketAddr};

/// A setting that is present but unusable.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value:?} is not valid: expected {expected}")]
pub struct ConfigError {
    name: &'static str,
    value: String,
    expected: &'static str,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `WEB_DEMO_ADDR`, default `127.0.0.1:3000`.
    pub addr: SocketAddr,
    /// `COLLECTOR_URL`: where the *browser* posts its events, so it must be reachable
    /// from the visitor's machine (in docker or kube, the published port, not the
    /// service name). Default `http://127.0.0.1:8000`.
    pub collector_url: String,
    /// `EVENTS_API_URL`: where this server reads the events for the analytics page.
    /// Default `http://127.0.0.1:8001`.
    pub events_api_url: String,
    /// `EVENTS_API_TOKEN`: sent as `Authorization: Bearer` to the events API, which
    /// requires it when it has one. Unset: nothing is sent.
    pub events_api_token: Option<Token>,
    /// `WEB_DEMO_WRITE_KEY`: the collector write key the pages hand to the tracker
    /// (`ptrack.init({writeKey})`). A write key is public by nature: every visitor's
    /// browser sends it; it tells sites apart and can be revoked, rate-limited per key.
    pub write_key: Option<String>,
}

/// A bearer token that never prints (`Debug` shows `***`).
#[derive(Clone)]
pub struct Token(pub String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` instead of the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let addr = lookup("WEB_DEMO_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
        let addr = addr.parse().map_err(|_| ConfigError {
            name: "WEB_DEMO_ADDR",
            value: addr.clone(),
            expected: "HOST:PORT, like 127.0.0.1:3000",
        })?;
        let url = |name: &'static str, default: &str| {
            let value = lookup(name).unwrap_or_else(|| default.into());
            let trimmed = value.trim_end_matches('/');
            if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
                Ok(trimmed.to_owned())
            } else {
                Err(ConfigError {
                    name,
                    value,
                    expected: "an http:// or https:// URL",
                })
            }
        };
        Ok(Self {
            addr,
            collector_url: url("COLLECTOR_URL", "http://127.0.0.1:8000")?,
            events_api_url: url("EVENTS_API_URL", "http://127.0.0.1:8001")?,
            events_api_token: lookup("EVENTS_API_TOKEN")
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .map(Token),
            write_key: lookup("WEB_DEMO_WRITE_KEY").filter(|k| !k.trim().is_empty()),
        })
    }

    /// The defaults with the given collector and events API: what tests start.
    pub fn for_tests(collector_url: &str, events_api_url: &str) -> Self {
        Self {
            addr: "127.0.0.1:0".parse().expect("a literal address"),
            collector_url: collector_url.trim_end_matches('/').to_owned(),
            events_api_url: events_api_url.trim_end_matches('/').to_owned(),
            events_api_token: None,
            write_key: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_ptrack_up_and_bad_values_say_what_is_expected() {
        let config = Config::from_lookup(|_| None).unwrap();
        assert_eq!(config.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.collector_url, "http://127.0.0.1:8000");
        assert_eq!(config.events_api_url, "http://127.0.0.1:8001");
        assert!(config.events_api_token.is_none());
        let config =
            Config::from_lookup(|n| (n == "EVENTS_API_TOKEN").then(|| "tok-1\n".into())).unwrap();
        assert_eq!(config.events_api_token.as_ref().unwrap().0, "tok-1");
        assert!(
            !format!("{config:?}").contains("tok-1"),
            "the token never prints"
        );

        let config =
            Config::from_lookup(|n| (n == "COLLECTOR_URL").then(|| "http://c:9/".into())).unwrap();
        assert_eq!(config.collector_url, "http://c:9");

        let err = Config::from_lookup(|n| (n == "EVENTS_API_URL").then(|| "api:8001".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("EVENTS_API_URL") && err.contains("http://"),
            "{err}"
        );
        let err = Config::from_lookup(|n| (n == "WEB_DEMO_ADDR").then(|| "nope".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("WEB_DEMO_ADDR"), "{err}");
    }
}
