//! The demo's settings, each one a flag and an environment variable, with defaults that
//! match `ptrack up` (`ptrack-web-demo --help` lists them).

use std::{fmt, net::SocketAddr};

/// A demo shop whose visitors' clicks go to the collector, and a live view of them.
///
/// Every setting is a flag or the environment variable of the same name (the flag wins).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "ptrack-web-demo",
    version,
    after_help = "Also read from the environment: RUST_LOG (log filter, default info)."
)]
pub struct Config {
    /// Address to listen on (HOST:PORT).
    #[arg(long = "web-demo-addr", env = "WEB_DEMO_ADDR", value_name = "WEB_DEMO_ADDR",
          default_value = "127.0.0.1:3000", value_parser = socket_addr)]
    pub addr: SocketAddr,
    /// Where the *browser* posts its events, so it must be reachable from the visitor's
    /// machine (in docker or kube, the published port, not the service name).
    #[arg(long = "collector-url", env = "COLLECTOR_URL", value_name = "COLLECTOR_URL",
          default_value = "http://127.0.0.1:8000", value_parser = http_url)]
    pub collector_url: String,
    /// Where this server reads the events for the analytics page.
    #[arg(long = "events-api-url", env = "EVENTS_API_URL", value_name = "EVENTS_API_URL",
          default_value = "http://127.0.0.1:8001", value_parser = http_url)]
    pub events_api_url: String,
    /// Sent as `Authorization: Bearer` to the events API, which requires it when it has
    /// one. Unset (or empty): nothing is sent.
    #[arg(long = "events-api-token", env = "EVENTS_API_TOKEN", value_name = "EVENTS_API_TOKEN",
          value_parser = token, hide_env_values = true)]
    pub events_api_token: Option<Token>,
    /// The collector write key the pages hand to the tracker (`ptrack.init({writeKey})`);
    /// needed when the collector has `COLLECTOR_WRITE_KEYS`. A write key is public by
    /// nature: every visitor's browser sends it; it tells sites apart and can be revoked
    /// or rate-limited per key. Unset (or empty): the pages send none.
    #[arg(
        long = "web-demo-write-key",
        env = "WEB_DEMO_WRITE_KEY",
        value_name = "WEB_DEMO_WRITE_KEY"
    )]
    pub write_key: Option<String>,
    #[command(flatten)]
    pub http: ptrack_http::Limits,
}

/// A bearer token that never prints (`Debug` shows `***`).
#[derive(Clone)]
pub struct Token(pub String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

fn token(value: &str) -> Result<Token, std::convert::Infallible> {
    Ok(Token(value.trim().to_owned()))
}

fn socket_addr(value: &str) -> Result<SocketAddr, String> {
    value
        .trim()
        .parse()
        .map_err(|_| "expected HOST:PORT, like 127.0.0.1:3000".into())
}

fn http_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim().trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        Ok(trimmed.to_owned())
    } else {
        Err("expected an http:// or https:// URL".into())
    }
}

impl Config {
    /// The settings from the command line and the environment; exits with the message
    /// (or the help) when they cannot be read. An empty token counts as none.
    pub fn from_args() -> Self {
        use clap::Parser;
        let mut config = Self::parse();
        config.events_api_token = config.events_api_token.filter(|t| !t.0.is_empty());
        config.write_key = config.write_key.filter(|k| !k.trim().is_empty());
        config
    }

    /// The defaults with the given collector and events API: what tests start.
    pub fn for_tests(collector_url: &str, events_api_url: &str) -> Self {
        Self {
            addr: "127.0.0.1:0".parse().expect("a literal address"),
            collector_url: collector_url.trim_end_matches('/').to_owned(),
            events_api_url: events_api_url.trim_end_matches('/').to_owned(),
            events_api_token: None,
            write_key: None,
            http: ptrack_http::Limits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn defaults_match_ptrack_up_and_bad_values_say_what_is_expected() {
        // Flags only: the same parser reads the variables (tests/demo.rs runs the binary).
        let config = Config::try_parse_from(["demo"]).unwrap();
        if std::env::var_os("WEB_DEMO_ADDR").is_none() {
            assert_eq!(config.addr.to_string(), "127.0.0.1:3000");
        }
        let config = Config::try_parse_from(["demo", "--events-api-token", " tok-1\n"]).unwrap();
        assert_eq!(config.events_api_token.as_ref().unwrap().0, "tok-1");
        assert!(
            !format!("{config:?}").contains("tok-1"),
            "the token never prints"
        );
        let config = Config::try_parse_from(["demo", "--collector-url", "http://c:9/"]).unwrap();
        assert_eq!(config.collector_url, "http://c:9");

        let err = Config::try_parse_from(["demo", "--events-api-url", "api:8001"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("EVENTS_API_URL") && err.contains("http://"),
            "{err}"
        );
        let err = Config::try_parse_from(["demo", "--web-demo-addr", "nope"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("WEB_DEMO_ADDR"), "{err}");
    }
}
