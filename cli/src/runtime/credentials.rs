//! The stack's generated secrets, kept in `DATA/credentials.json` (mode 0600): the
//! password of the stack's own PostgreSQL (generated at the first `up`, instead of a
//! fixed one), and, with `ptrack up --secure`, the collector's write key and the
//! events-api's bearer token. The CLI's commands find them here ([`ClientCredentials`])
//! unless `PTRACK_WRITE_KEY` / `EVENTS_API_TOKEN` are set.
//!
//! The values never print: [`Secret`]'s `Debug` shows `***`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use rand::{Rng as _, distr::Alphanumeric};
use serde::{Deserialize, Serialize};

/// A generated secret. URL-safe (letters and digits), so a password fits in a
/// `postgres://` URL as it is.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// 32 random letters and digits (about 190 bits).
    pub fn generate() -> Self {
        Self(
            rand::rng()
                .sample_iter(&Alphanumeric)
                .take(32)
                .map(char::from)
                .collect(),
        )
    }

    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// What `up` generated for the stack of one data folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The password of the `ptrack` role of the stack's own PostgreSQL (local, docker).
    pub postgres_password: Secret,
    /// The local cluster's superuser (`postgres`) password: the cluster refuses
    /// password-less logins over TCP.
    pub postgres_admin_password: Secret,
    /// `--secure`: the key the collector accepts (`COLLECTOR_WRITE_KEYS`) and the web
    /// demo's page sends (`WEB_DEMO_WRITE_KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_key: Option<Secret>,
    /// `--secure`: the events-api's bearer token (`EVENTS_API_TOKEN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_api_token: Option<Secret>,
}

impl Credentials {
    pub const FILE: &str = "credentials.json";

    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(Self::FILE)
    }

    /// The saved credentials, or `None` when `up` never made them.
    pub fn load(data_dir: &Path) -> Result<Option<Self>> {
        super::read_json(&Self::path(data_dir), "a ptrack credentials file")
    }

    /// The saved credentials, with what is missing generated and saved: the passwords
    /// always, the write key and token when `secure`. Existing values are kept (a
    /// PostgreSQL made with a password keeps it). Without `secure` the key and token are
    /// dropped: the services then run open, as `up` without `--secure` says.
    pub fn ensure(data_dir: &Path, secure: bool) -> Result<Self> {
        let mut credentials = Self::load(data_dir)?.unwrap_or_else(|| Self {
            postgres_password: Secret::generate(),
            postgres_admin_password: Secret::generate(),
            write_key: None,
            events_api_token: None,
        });
        if secure {
            credentials.write_key.get_or_insert_with(Secret::generate);
            credentials
                .events_api_token
                .get_or_insert_with(Secret::generate);
        } else {
            credentials.write_key = None;
            credentials.events_api_token = None;
        }
        credentials.save(data_dir)?;
        Ok(credentials)
    }

    /// Writes the file, readable by its owner only.
    pub fn save(&self, data_dir: &Path) -> Result<()> {
        super::write_private_json(&Self::path(data_dir), self)
    }

    /// The key and token the services are started with (`--secure`), if any.
    pub fn service_credentials(&self) -> Option<ServiceCredentials> {
        Some(ServiceCredentials {
            write_key: self.write_key.clone()?,
            events_api_token: self.events_api_token.clone()?,
        })
    }
}

/// The write key and token a `--secure` stack's services are configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCredentials {
    pub write_key: Secret,
    pub events_api_token: Secret,
}

/// The credentials the CLI sends to a stack: `PTRACK_WRITE_KEY` and `EVENTS_API_TOKEN`
/// from the environment, else what `ptrack up --secure` saved in the data folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCredentials {
    /// Sent as `X-Ptrack-Key` to the collector (`ptrack load`, `ptrack demo`).
    pub write_key: Option<Secret>,
    /// Sent as `Authorization: Bearer` to the events-api (`query`, `tui`, `status`,
    /// `load --verify`).
    pub events_api_token: Option<Secret>,
}

impl ClientCredentials {
    pub const WRITE_KEY_VAR: &str = "PTRACK_WRITE_KEY";
    pub const TOKEN_VAR: &str = "EVENTS_API_TOKEN";

    /// An events-api client that sends the token, when there is one.
    pub fn events_api(&self, base: reqwest::Url) -> crate::client::EventsApi {
        let api = crate::client::EventsApi::new(base);
        match &self.events_api_token {
            Some(token) => api.with_token(token.expose()),
            None => api,
        }
    }

    /// `X-Ptrack-Key: <key>` for the collector, when there is a key.
    pub fn write_key_header(&self) -> Option<(String, String)> {
        self.write_key
            .as_ref()
            .map(|key| ("X-Ptrack-Key".to_owned(), key.expose().to_owned()))
    }

    /// The environment's, else the data folder's. A file that cannot be read counts as
    /// none: the request is then refused with a 401 that says what is missing.
    pub fn find(data_dir: &Path) -> Self {
        let saved = Credentials::load(data_dir).ok().flatten();
        let from_env = |var: &str| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(Secret::new)
        };
        Self {
            write_key: from_env(Self::WRITE_KEY_VAR)
                .or_else(|| saved.as_ref().and_then(|s| s.write_key.clone())),
            events_api_token: from_env(Self::TOKEN_VAR)
                .or_else(|| saved.as_ref().and_then(|s| s.events_api_token.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_kept_private_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Credentials::load(dir.path()).unwrap().is_none());
        let open = Credentials::ensure(dir.path(), false).unwrap();
        assert_eq!(open.postgres_password.expose().len(), 32);
        assert!(
            open.postgres_password
                .expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
        assert_ne!(open.postgres_password, open.postgres_admin_password);
        assert!(open.service_credentials().is_none());

        let secure = Credentials::ensure(dir.path(), true).unwrap();
        assert_eq!(
            secure.postgres_password, open.postgres_password,
            "the password of an existing database is kept"
        );
        let services = secure.service_credentials().unwrap();
        assert_ne!(services.write_key, services.events_api_token);
        let again = Credentials::ensure(dir.path(), true).unwrap();
        assert_eq!(again.service_credentials().unwrap(), services);

        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(Credentials::path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let shown = format!("{secure:?}");
        assert!(!shown.contains(services.write_key.expose()), "{shown}");
        assert!(
            !shown.contains(secure.postgres_password.expose()),
            "{shown}"
        );

        let found = ClientCredentials::find(dir.path());
        if std::env::var_os(ClientCredentials::WRITE_KEY_VAR).is_none() {
            assert_eq!(found.write_key, Some(services.write_key.clone()));
        }
        if std::env::var_os(ClientCredentials::TOKEN_VAR).is_none() {
            assert_eq!(found.events_api_token, Some(services.events_api_token));
        }
        if std::env::var_os(ClientCredentials::WRITE_KEY_VAR).is_none() {
            // ptrack load and demo: the key first, so that a -H of the same name wins.
            use crate::load::runner::Header;
            let header = |name: &str, value: &str| Header {
                name: name.into(),
                value: value.into(),
            };
            let mine = header("X-Ptrack-Key", "from -H");
            assert_eq!(
                crate::cmd::load::with_write_key(vec![mine.clone()], dir.path()),
                [
                    header("X-Ptrack-Key", services.write_key.expose()),
                    mine.clone()
                ]
            );
            let elsewhere = tempfile::tempdir().unwrap();
            assert_eq!(
                crate::cmd::load::with_write_key(vec![mine.clone()], elsewhere.path()),
                [mine],
                "no stack credentials, no key"
            );
        }
        assert_eq!(
            Credentials::ensure(dir.path(), false)
                .unwrap()
                .service_credentials(),
            None,
            "without --secure the services run open"
        );
    }
}
