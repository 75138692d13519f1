//! The local runtime's private PostgreSQL: a cluster made with `initdb` under the data
//! folder, started with `pg_ctl`, listening on 127.0.0.1 only (unless `ptrack up
//! --stores-bind`), with the `ptrack` role and database. Logins over TCP need a password
//! (scram-sha-256): the superuser's and the `ptrack` role's are generated at the first
//! `up` (`runtime::credentials`). A cluster made by an older ptrack (trust logins) keeps
//! working: the role's password is set at every start.
//!
//! It runs with `fsync=off` unless `durable`: commits are then only in the OS's page
//! cache, and an OS crash or power loss can lose the latest ones or corrupt the cluster.
//!
//! PostgreSQL refuses to run as root, so when we are root the cluster belongs to the
//! `postgres` user (created if missing) and its commands run through `runuser`.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, SystemTime},
};

use anyhow::{Context, Result, bail};
use sqlx::{Connection, Executor, PgConnection};

use super::process;
use crate::stack::{DB_NAME, DB_USER};

/// The unprivileged user that owns the cluster when `ptrack` runs as root.
const OS_USER: &str = "postgres";
/// The `pg_hba.conf` line for logins from other machines (see `allow_remote_logins`).
const REMOTE_LOGINS: &str = "host all all all scram-sha-256";

#[derive(Debug, Clone)]
pub struct Cluster {
    /// The cluster's folder (`PGDATA`).
    pub dir: PathBuf,
    pub log: PathBuf,
    pub port: u16,
    /// Who runs initdb and postgres: `None` is ourselves.
    run_as: Option<&'static str>,
    /// fsync on (`ptrack up --durable`).
    pub durable: bool,
    /// The address it listens on: 127.0.0.1 unless `ptrack up --stores-bind`.
    pub listen: IpAddr,
    /// The superuser's password, set by initdb.
    pub admin_password: String,
    /// The `ptrack` role's password.
    pub user_password: String,
}

impl Cluster {
    pub fn new(dir: PathBuf, log: PathBuf, port: u16) -> Self {
        Self {
            dir,
            log,
            port,
            run_as: process::is_root().then_some(OS_USER),
            durable: false,
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            admin_password: String::new(),
            user_password: String::new(),
        }
    }

    /// The options `postgres` runs with.
    pub fn server_options(&self) -> String {
        // No Unix socket: the cluster is reached over TCP only, and a socket path under a
        // deep data folder can exceed the 107-byte limit.
        let mut options = format!(
            "-p {} -c listen_addresses={} -c unix_socket_directories=''",
            self.port, self.listen
        );
        if !self.durable {
            options.push_str(" -c fsync=off");
        }
        options
    }

    /// The postmaster's pid while it runs.
    pub fn pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.dir.join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        process::alive(pid).then_some(pid)
    }

    /// When the postmaster started (line 3 of `postmaster.pid`, seconds since the epoch).
    pub fn started(&self) -> Option<SystemTime> {
        let text = std::fs::read_to_string(self.dir.join("postmaster.pid")).ok()?;
        let secs: u64 = text.lines().nth(2)?.trim().parse().ok()?;
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// Makes the cluster if it does not exist yet. Returns whether it was made now.
    pub fn init(&self) -> Result<bool> {
        if self.dir.join("PG_VERSION").is_file() {
            return Ok(false);
        }
        let bin = bin_dir()?;
        if let Some(user) = self.run_as {
            ensure_os_user(user)?;
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        self.give_to_user(&self.dir)?;
        self.check_reachable()?;
        // The superuser's password, in a file only its owner reads, beside the cluster
        // (initdb wants the folder itself empty) and gone once initdb has read it.
        let pwfile = self.dir.with_extension("pwfile");
        {
            use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&pwfile)
                .with_context(|| format!("writing {}", pwfile.display()))?;
            writeln!(file, "{}", self.admin_password)?;
        }
        self.give_to_user(&pwfile)?;
        let output = self
            .command(&bin.join("initdb"))
            .arg("-D")
            .arg(&self.dir)
            .arg(format!("--pwfile={}", pwfile.display()))
            .args([
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-instructions",
            ])
            .output()
            .context("running initdb");
        let _ = std::fs::remove_file(&pwfile);
        let output = output?;
        if !output.status.success() {
            bail!(
                "initdb failed for {}:\n{}{}",
                self.dir.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(true)
    }

    /// Starts the postmaster in the background (pg_ctl detaches it); the caller waits
    /// for [`Cluster::ensure_database`] to succeed.
    pub fn start(&self) -> Result<()> {
        let bin = bin_dir()?;
        if !self.log.exists() {
            std::fs::write(&self.log, "")
                .with_context(|| format!("creating {}", self.log.display()))?;
        }
        self.give_to_user(&self.log)?;
        if !self.listen.is_loopback() {
            self.allow_remote_logins()?;
        }
        let options = self.server_options();
        let output = self
            .command(&bin.join("pg_ctl"))
            .arg("start")
            .arg("-D")
            .arg(&self.dir)
            .arg("-l")
            .arg(&self.log)
            .args(["-W", "-o", &options])
            .output()
            .context("running pg_ctl start")?;
        if !output.status.success() {
            bail!(
                "pg_ctl start failed:\n{}{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                process::tail(&self.log, 20)
            );
        }
        Ok(())
    }

    /// Lets clients from other machines log in with a password (scram-sha-256), as initdb
    /// allows only loopback ones: for `ptrack up --stores-bind`. Once added the line stays;
    /// `listen_addresses` decides what is reachable.
    fn allow_remote_logins(&self) -> Result<()> {
        let path = self.dir.join("pg_hba.conf");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        if text.lines().any(|line| line.trim() == REMOTE_LOGINS) {
            return Ok(());
        }
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(
            file,
            "\n# ptrack up --stores-bind: other machines, with the password\n{REMOTE_LOGINS}"
        )?;
        Ok(())
    }

    /// Creates the `ptrack` role and database if missing and sets the role's password.
    /// Fails while PostgreSQL is still starting, so it doubles as the readiness check.
    pub async fn ensure_database(&self) -> Result<()> {
        let url = format!(
            "postgres://postgres:{}@{}/postgres",
            self.admin_password,
            std::net::SocketAddr::new(crate::stack::reach(self.listen), self.port)
        );
        let mut admin = tokio::time::timeout(Duration::from_secs(3), PgConnection::connect(&url))
            .await
            .context("connecting timed out")??;
        let role: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_roles WHERE rolname = $1")
            .bind(DB_USER)
            .fetch_optional(&mut admin)
            .await?;
        // A constant and a generated password of letters and digits, not user input.
        let verb = if role.is_none() { "CREATE" } else { "ALTER" };
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "{verb} ROLE {DB_USER} LOGIN PASSWORD '{}'",
                self.user_password.replace('\'', "''")
            )))
            .await?;
        let db: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(DB_NAME)
            .fetch_optional(&mut admin)
            .await?;
        if db.is_none() {
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE {DB_NAME} OWNER {DB_USER}"
                )))
                .await?;
        }
        admin.close().await.ok();
        Ok(())
    }

    /// Fast shutdown (SIGINT: clients are disconnected, nothing is lost), then SIGQUIT,
    /// then SIGKILL. Returns whether it was running.
    pub fn stop(&self) -> bool {
        let Some(pid) = self.pid() else {
            return false;
        };
        process::signal(pid, process::SIGINT);
        if !process::wait_exit(pid, Duration::from_secs(20)) {
            process::stop(pid, process::SIGQUIT, Duration::from_secs(5));
        }
        true
    }

    /// `program` as the cluster's owner, from `/` (paths are absolute, and the owner
    /// may not be allowed into our working directory).
    fn command(&self, program: &Path) -> Command {
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.current_dir("/");
        command
    }

    fn give_to_user(&self, path: &Path) -> Result<()> {
        let Some(user) = self.run_as else {
            return Ok(());
        };
        let (uid, gid) = os_user_ids(user)?;
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .with_context(|| format!("giving {} to the user {user}", path.display()))
    }

    /// The `postgres` user must be able to reach the cluster's folder: every folder above
    /// it needs the search (x) permission for others.
    fn check_reachable(&self) -> Result<()> {
        let Some(user) = self.run_as else {
            return Ok(());
        };
        let ok = Command::new("runuser")
            .args(["-u", user, "--", "test", "-w"])
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!(
                "PostgreSQL runs as the user {user} (it refuses root), and {user} cannot reach {}: \
                 use a --data-dir every user can traverse (for example under /tmp or /var/lib), \
                 or set DATABASE_URL to a PostgreSQL you already run",
                self.dir.display()
            );
        }
        Ok(())
    }
}

/// PostgreSQL's server binaries: `PTRACK_PG_BIN`, `pg_config --bindir`, the newest
/// `/usr/lib/postgresql/*/bin`, or PATH.
pub fn bin_dir() -> Result<PathBuf> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PTRACK_PG_BIN") {
        let dir = PathBuf::from(dir);
        if has_initdb(&dir) {
            return Ok(dir);
        }
        bail!(
            "PTRACK_PG_BIN={} holds no initdb and pg_ctl: point it at PostgreSQL's server binaries",
            dir.display()
        );
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_initdb(&dir) {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_initdb(dir))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Ok(dir);
    }
    if let Some(initdb) = process::on_path("initdb")
        && let Some(dir) = initdb.parent()
        && has_initdb(dir)
    {
        return Ok(dir.to_owned());
    }
    bail!(
        "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: install them \
         (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql@15`), \
         set PTRACK_PG_BIN to their folder, or set DATABASE_URL to a PostgreSQL you already run"
    )
}

fn ensure_os_user(user: &str) -> Result<()> {
    if os_user_ids(user).is_ok() {
        return Ok(());
    }
    let status = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            user,
        ])
        .status()
        .context("running useradd")?;
    if !status.success() {
        bail!(
            "creating the user {user} failed: PostgreSQL refuses to run as root; create an \
             unprivileged user named {user} (useradd --system {user}) and run `ptrack up` again"
        );
    }
    Ok(())
}

fn os_user_ids(user: &str) -> Result<(u32, u32)> {
    let id = |flag: &str| -> Result<u32> {
        let output = Command::new("id").args([flag, user]).output()?;
        if !output.status.success() {
            bail!("no user {user}");
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().parse()?)
    };
    Ok((id("-u")?, id("-g")?))
}
