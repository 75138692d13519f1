//! The collector's front door: write keys and rate limits.
//!
//! - Write keys: `COLLECTOR_WRITE_KEYS` (comma-separated) and/or
//!   `COLLECTOR_WRITE_KEYS_FILE` (one key per line, `#` comments; re-read while the
//!   collector runs, so a key removed from it is revoked within seconds). A request
//!   carries its key as the `X-Ptrack-Key` header, `?key=`, or the body's `writeKey`
//!   field (what `navigator.sendBeacon` can send). Keys are kept as SHA-256 digests and
//!   compared in constant time; they are never logged or echoed.
//! - Rate limits: token buckets per client address (the socket peer) and per write key,
//!   `COLLECTOR_RATE_LIMIT_IP` / `COLLECTOR_RATE_LIMIT_KEY` requests a second with a
//!   burst of `..._BURST` (default: one second's worth). Off by default.

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant, SystemTime},
};

use ptrack_common::config::ConfigError;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The front door's settings.
#[derive(Clone, Default, clap::Args)]
pub struct SecurityConfig {
    /// Write keys a request must carry (comma-separated); with none here or in the file,
    /// every request is accepted (and the collector says so at start).
    #[arg(long = "collector-write-keys", env = "COLLECTOR_WRITE_KEYS",
          value_name = "COLLECTOR_WRITE_KEYS", value_delimiter = ',',
          value_parser = ptrack_common::config::secret, hide_env_values = true)]
    pub write_keys: Vec<ptrack_common::config::Secret>,
    /// A file of write keys, one a line (`#` comments), re-read every 2 s: a key removed
    /// from it is revoked.
    #[arg(
        long = "collector-write-keys-file",
        env = "COLLECTOR_WRITE_KEYS_FILE",
        value_name = "COLLECTOR_WRITE_KEYS_FILE"
    )]
    pub write_keys_file: Option<PathBuf>,
    /// Requests a second allowed from one client address (token bucket; 0: no limit).
    #[arg(long = "collector-rate-limit-ip", env = "COLLECTOR_RATE_LIMIT_IP",
          value_name = "COLLECTOR_RATE_LIMIT_IP", default_value = "0", value_parser = per_second)]
    pub rate_ip: f64,
    /// Requests one client address may send at once (default: one second's worth).
    #[arg(long = "collector-rate-limit-ip-burst", env = "COLLECTOR_RATE_LIMIT_IP_BURST",
          value_name = "COLLECTOR_RATE_LIMIT_IP_BURST", value_parser = burst)]
    pub rate_ip_burst: Option<f64>,
    /// Requests a second allowed with one write key (token bucket; 0: no limit).
    #[arg(long = "collector-rate-limit-key", env = "COLLECTOR_RATE_LIMIT_KEY",
          value_name = "COLLECTOR_RATE_LIMIT_KEY", default_value = "0", value_parser = per_second)]
    pub rate_key: f64,
    /// Requests one write key may send at once (default: one second's worth).
    #[arg(long = "collector-rate-limit-key-burst", env = "COLLECTOR_RATE_LIMIT_KEY_BURST",
          value_name = "COLLECTOR_RATE_LIMIT_KEY_BURST", value_parser = burst)]
    pub rate_key_burst: Option<f64>,
    /// The per-address bucket, from the two settings above (`finish`).
    #[arg(skip)]
    pub rate_per_ip: Option<Rate>,
    /// The per-key bucket, from the two settings above (`finish`).
    #[arg(skip)]
    pub rate_per_key: Option<Rate>,
}

impl std::fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityConfig")
            .field("write_keys", &self.write_keys.len())
            .field("write_keys_file", &self.write_keys_file)
            .field("rate_per_ip", &self.rate_per_ip)
            .field("rate_per_key", &self.rate_per_key)
            .finish()
    }
}

/// A token bucket's settings: `per_second` requests on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl SecurityConfig {
    /// Drops blank keys and turns the rate settings into buckets.
    pub fn finish(&mut self) -> Result<(), ConfigError> {
        self.write_keys.retain(|k| !k.expose().is_empty());
        self.rate_per_ip = rate(self.rate_ip, self.rate_ip_burst);
        self.rate_per_key = rate(self.rate_key, self.rate_key_burst);
        Ok(())
    }
}

fn rate(per_second: f64, burst: Option<f64>) -> Option<Rate> {
    (per_second > 0.0).then(|| Rate {
        per_second,
        burst: burst.unwrap_or(per_second.max(1.0)),
    })
}

fn per_second(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("expected requests a second, a number >= 0 (0: no limit)".into()),
    }
}

fn burst(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 1.0 => Ok(v),
        _ => Err("expected a number >= 1".into()),
    }
}

/// Keys from text: one a line, trimmed, blank lines and `#` comments skipped.
fn parse_keys(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Why a request's key was refused. The texts are what the client is told: they never
/// repeat the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "a write key is required: send it as the X-Ptrack-Key header, ?key=, or the body's writeKey"
    )]
    Missing,
    #[error("the write key is not valid (unknown or revoked)")]
    Unknown,
}

/// The configured write keys, as digests. Cheap to clone.
#[derive(Clone)]
pub struct WriteKeys {
    from_env: Arc<Vec<[u8; 32]>>,
    from_file: Arc<RwLock<Vec<[u8; 32]>>>,
    file: Option<PathBuf>,
}

impl WriteKeys {
    /// Reads the keys; a file that cannot be read is an error at start.
    pub fn load(config: &SecurityConfig) -> anyhow::Result<Self> {
        let from_file = match &config.write_keys_file {
            Some(path) => read_key_file(path)?,
            None => Vec::new(),
        };
        Ok(Self {
            from_env: Arc::new(
                config
                    .write_keys
                    .iter()
                    .map(|k| digest(k.expose()))
                    .collect(),
            ),
            from_file: Arc::new(RwLock::new(from_file)),
            file: config.write_keys_file.clone(),
        })
    }

    /// Whether any key is configured: without one, `/track` is open to anyone.
    pub fn enabled(&self) -> bool {
        self.file.is_some() || !self.from_env.is_empty()
    }

    /// Checks a request's key against every configured key in constant time (the digest
    /// of each is compared whole, so neither a prefix nor the length leaks).
    pub fn check(&self, key: Option<&str>) -> Result<(), KeyError> {
        if !self.enabled() {
            return Ok(());
        }
        let key = key.filter(|k| !k.is_empty()).ok_or(KeyError::Missing)?;
        let sent = digest(key);
        let from_file = self.from_file.read().expect("never poisoned");
        let found = self
            .from_env
            .iter()
            .chain(from_file.iter())
            .fold(subtle::Choice::from(0), |found, known| {
                found | known.ct_eq(&sent)
            });
        if bool::from(found) {
            Ok(())
        } else {
            Err(KeyError::Unknown)
        }
    }

    /// Re-reads the key file every `every` while it changes, until the returned task is
    /// dropped with the runtime. A file that cannot be read keeps the keys it had.
    pub fn reload_in_background(&self, every: Duration) {
        let Some(path) = self.file.clone() else {
            return;
        };
        let keys = Arc::clone(&self.from_file);
        tokio::spawn(async move {
            let mut seen = modified(&path);
            loop {
                tokio::time::sleep(every).await;
                let now = modified(&path);
                if now == seen {
                    continue;
                }
                match read_key_file(&path) {
                    Ok(fresh) => {
                        tracing::info!(keys = fresh.len(), file = %path.display(), "write keys reloaded");
                        *keys.write().expect("never poisoned") = fresh;
                        seen = now;
                    }
                    Err(err) => {
                        tracing::warn!(%err, "cannot re-read the write keys; keeping the old ones")
                    }
                }
            }
        });
    }
}

fn modified(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn read_key_file(path: &std::path::Path) -> anyhow::Result<Vec<[u8; 32]>> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        anyhow::anyhow!(
            "COLLECTOR_WRITE_KEYS_FILE {}: cannot read it: {err}",
            path.display()
        )
    })?;
    Ok(parse_keys(&text).iter().map(|k| digest(k)).collect())
}

/// Token buckets by some key (a client address, a write key's digest). Buckets that
/// have filled up again are forgotten, so memory follows the active clients.
pub struct RateLimiter<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Past this many buckets, full ones are swept out before a new one is added.
const SWEEP_ABOVE: usize = 10_000;

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long until one is there.
    pub fn take(&self, key: &K) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let Rate { per_second, burst } = self.rate;
        let mut buckets = self.buckets.lock().expect("never poisoned");
        if buckets.len() >= SWEEP_ABOVE && !buckets.contains_key(key) {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * per_second < burst
            });
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

/// The limits a request passes: by client address, then by write key.
pub struct RateLimits {
    pub per_ip: Option<RateLimiter<IpAddr>>,
    pub per_key: Option<RateLimiter<[u8; 32]>>,
}

impl RateLimits {
    pub fn new(config: &SecurityConfig) -> Self {
        Self {
            per_ip: config.rate_per_ip.map(RateLimiter::new),
            per_key: config.rate_per_key.map(RateLimiter::new),
        }
    }

    pub fn check_key(&self, key: Option<&str>) -> Result<(), Duration> {
        match (&self.per_key, key) {
            (Some(limiter), Some(key)) => limiter.take(&digest(key)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_env_and_file_are_checked_and_a_missing_one_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys");
        std::fs::write(&file, "# the shop\nfile-key\n\n").unwrap();
        let keys = WriteKeys::load(&SecurityConfig {
            write_keys: vec![ptrack_common::config::Secret::new("env-key")],
            write_keys_file: Some(file),
            ..SecurityConfig::default()
        })
        .unwrap();
        assert!(keys.enabled());
        assert_eq!(keys.check(Some("env-key")), Ok(()));
        assert_eq!(keys.check(Some("file-key")), Ok(()));
        assert_eq!(keys.check(Some("env-ke")), Err(KeyError::Unknown));
        assert_eq!(keys.check(Some("# the shop")), Err(KeyError::Unknown));
        assert_eq!(keys.check(None), Err(KeyError::Missing));
        assert_eq!(keys.check(Some("")), Err(KeyError::Missing));
        let open = WriteKeys::load(&SecurityConfig::default()).unwrap();
        assert!(!open.enabled());
        assert_eq!(open.check(None), Ok(()));
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let limiter = RateLimiter::new(Rate {
            per_second: 2.0,
            burst: 3.0,
        });
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take_at(&1, start), Ok(()));
        }
        let wait = limiter.take_at(&1, start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert_eq!(
            limiter.take_at(&2, start),
            Ok(()),
            "another client has its own"
        );
        assert!(
            limiter
                .take_at(&1, start + Duration::from_millis(400))
                .is_err()
        );
        assert_eq!(
            limiter.take_at(&1, start + Duration::from_millis(900)),
            Ok(())
        );
    }
}
