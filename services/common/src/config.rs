//! Typed settings: each service's `Config` is one clap struct whose every field is both a
//! flag and an environment variable (`#[arg(long, env = "BATCH_SIZE", default_value =
//! "1000")]`, the doc comment as its help), so `--help` lists every variable with its
//! default and `--version` prints the version. [`parse`] reads it in `main` (a flag wins
//! over its variable; an empty variable counts as unset); [`try_parse_from`] is the same
//! for tests. Bad values stop the service at start with a message that names the variable
//! and the expected form; secrets ([`Secret`]) are never printed whole, not even by
//! `--help`.
//!
//! Adding a setting is one field with its attributes; checks that span fields, must not
//! echo the value (a secret) or fill derived fields go in [`Settings::finish`].

use std::{ffi::OsString, fmt, net::SocketAddr, str::FromStr, time::Duration};

/// What runs after clap has read a service's config.
pub trait Settings: clap::Parser {
    /// Checks clap cannot make (they would echo a secret in the error) and derived fields.
    fn finish(&mut self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// Why a config could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A bad flag or variable, `--help` or `--version` (clap prints and exits).
    #[error(transparent)]
    Cli(#[from] clap::Error),
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

/// The service's config from its command line and environment. Prints the message and
/// exits (0 for `--help` and `--version`, 2 for a bad value) when there is no config.
pub fn parse<C: Settings>() -> C {
    match try_parse_from(std::env::args_os()) {
        Ok(config) => config,
        Err(LoadError::Cli(err)) => err.exit(),
        Err(LoadError::Invalid(err)) => {
            eprintln!("error: {err}");
            std::process::exit(2);
        }
    }
}

/// [`parse`] from the given arguments (the first is the program name) and the process
/// environment, returning the error instead of exiting.
pub fn try_parse_from<C: Settings>(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
) -> Result<C, LoadError> {
    let mut command = C::command();
    // As before clap: a variable set to nothing (`KAFKA_DEBUG=` in a compose file) means
    // the default, not an empty value.
    let empty: Vec<clap::Id> = command
        .get_arguments()
        .filter(|arg| {
            arg.get_env()
                .and_then(std::env::var_os)
                .is_some_and(|value| value.to_string_lossy().trim().is_empty())
        })
        .map(|arg| arg.get_id().clone())
        .collect();
    for id in empty {
        command = command.mut_arg(id, |arg| arg.env(None::<&str>));
    }
    let mut matches = command.try_get_matches_from(args)?;
    let mut config = C::from_arg_matches_mut(&mut matches)?;
    config.finish()?;
    Ok(config)
}

/// clap value parser: a positive integer (`0` is refused: a zero batch size, limit or
/// timeout is a mistake).
pub fn positive<T: FromStr + Default + PartialEq>(value: &str) -> Result<T, String> {
    match value.trim().parse::<T>() {
        Ok(n) if n != T::default() => Ok(n),
        _ => Err("expected a positive integer".into()),
    }
}

/// clap value parser: milliseconds, `0` allowed.
pub fn millis(value: &str) -> Result<Duration, String> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| "expected milliseconds, like 5000".into())
}

/// clap value parser: milliseconds, more than `0`.
pub fn positive_millis(value: &str) -> Result<Duration, String> {
    match millis(value)? {
        Duration::ZERO => Err("expected a positive number of milliseconds, like 5000".into()),
        duration => Ok(duration),
    }
}

/// clap value parser: `HOST:PORT`.
pub fn socket_addr(value: &str) -> Result<SocketAddr, String> {
    value
        .trim()
        .parse()
        .map_err(|_| "expected HOST:PORT, like 127.0.0.1:8000".into())
}

/// clap value parser: a secret, taken as it is. Checks happen in [`Settings::finish`],
/// whose errors redact it (clap's would echo it whole).
pub fn secret(value: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(value.trim()))
}

/// `DATABASE_URL` must have the `postgres://` form; the error shows it without password.
pub fn check_database_url(url: &Secret) -> Result<(), ConfigError> {
    let url = url.expose();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(())
    } else {
        Err(ConfigError {
            name: "DATABASE_URL",
            value: redact_url(url),
            expected: "postgres://USER:PASSWORD@HOST:PORT/DB",
        })
    }
}

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
#[derive(Clone, PartialEq, Eq)]
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
/// What `--help` shows for `DATABASE_URL`'s default: the password stays out of it.
pub const DEFAULT_DATABASE_URL_SHOWN: &str = "postgres://ptrack:***@127.0.0.1:5432/ptrack";

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
