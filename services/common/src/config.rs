//! Reading typed settings from the environment, with defaults, and refusing bad ones at
//! start with a message that names the variable and the expected form.

use std::{fmt, str::FromStr};

#[derive(Debug, thiserror::Error)]
#[error("{name}={value:?} is not valid: expected {expected}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// Reads `name` from the environment, or `default` when it is unset or empty.
pub fn env_or<T: FromStr>(
    name: &'static str,
    default: &str,
    expected: &'static str,
) -> Result<T, ConfigError> {
    let value = std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned());
    value.trim().parse().map_err(|_| ConfigError {
        name,
        value,
        expected,
    })
}

/// Reads a positive integer (`0` is refused: a zero batch size or timeout is a mistake).
pub fn env_positive(name: &'static str, default: u64) -> Result<u64, ConfigError> {
    let value: u64 = env_or(name, &default.to_string(), "a positive integer")?;
    if value == 0 {
        return Err(ConfigError {
            name,
            value: "0".into(),
            expected: "a positive integer",
        });
    }
    Ok(value)
}

/// A value that must never be printed whole: a database URL carries a password.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Secret {
    /// What prints: a URL without its password (nor a query that names one), anything
    /// else (a token, a key) as `***`.
    fn redacted(&self) -> String {
        if !self.0.contains("://") {
            return "***".to_owned();
        }
        let url = redact_url(&self.0);
        match url.split_once('?') {
            Some((base, query)) if query.to_ascii_lowercase().contains("password") => {
                format!("{base}?***")
            }
            _ => url,
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `postgres://user:pw@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

pub const DEFAULT_KAFKA_BROKERS: &str = "127.0.0.1:9092";
pub const DEFAULT_KAFKA_TOPIC: &str = "user-tracking-events";
pub const DEFAULT_DATABASE_URL: &str = "postgres://ptrack:ptrack@127.0.0.1:5432/ptrack";
pub const DEFAULT_COLLECTOR_ADDR: &str = "127.0.0.1:8000";
pub const DEFAULT_EVENTS_API_ADDR: &str = "127.0.0.1:8001";
pub const DEFAULT_PROCESSOR_ADDR: &str = "127.0.0.1:8002";

/// `DATABASE_URL`, checked for the `postgres://` form.
pub fn database_url() -> Result<Secret, ConfigError> {
    let url: String = env_or(
        "DATABASE_URL",
        DEFAULT_DATABASE_URL,
        "postgres://USER:PASSWORD@HOST:PORT/DB",
    )?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(ConfigError {
            name: "DATABASE_URL",
            value: redact_url(&url),
            expected: "postgres://USER:PASSWORD@HOST:PORT/DB",
        });
    }
    Ok(Secret::new(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_print() {
        let secret = Secret::new("postgres://ptrack:hunter2@db:5432/ptrack");
        assert_eq!(
            format!("{secret:?}"),
            "postgres://ptrack:***@db:5432/ptrack"
        );
        assert!(!secret.to_string().contains("hunter2"));
        let in_query = Secret::new("postgres://db/ptrack?user=u&password=hunter2");
        assert_eq!(in_query.to_string(), "postgres://db/ptrack?***");
        assert_eq!(Secret::new("a-write-key").to_string(), "***");
        assert_eq!(redact_url("postgres://db/ptrack"), "postgres://db/ptrack");
    }

    #[test]
    fn a_bad_value_names_the_variable_and_the_form() {
        // SAFETY of the test: no other test reads this variable.
        let err = "not-an-addr"
            .parse::<std::net::SocketAddr>()
            .map_err(|_| ConfigError {
                name: "COLLECTOR_ADDR",
                value: "not-an-addr".into(),
                expected: "HOST:PORT",
            });
        let text = err.unwrap_err().to_string();
        assert!(
            text.contains("COLLECTOR_ADDR") && text.contains("HOST:PORT"),
            "{text}"
        );
    }
}
