//! Background processes of the local runtime: started detached (their own session, so a
//! closed terminal or a Ctrl-C does not reach them), found again through pid files, and
//! stopped with SIGTERM, then SIGKILL.

use std::{
    collections::BTreeMap,
    ffi::OsStr,
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant, SystemTime},
};

use anyhow::{Context, Result};

pub use sys::{SIGINT, SIGKILL, SIGQUIT, SIGTERM};

/// The few calls into libc, each trivially safe, kept together.
#[allow(unsafe_code)]
mod sys {
    pub use libc::{SIGINT, SIGKILL, SIGQUIT, SIGTERM};

    /// Sends `signal` to `pid`; false when there is no such process (or it is not ours).
    pub fn kill(pid: i32, signal: i32) -> bool {
        if pid <= 0 {
            // 0 and negative pids address process groups: never meant here.
            return false;
        }
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe { libc::kill(pid, signal) == 0 }
    }

    pub fn is_root() -> bool {
        // SAFETY: geteuid(2) cannot fail and touches no memory.
        unsafe { libc::geteuid() == 0 }
    }

    /// Makes the child a session leader before it execs: no controlling terminal, no
    /// SIGHUP or SIGINT from the terminal `ptrack up` ran in.
    pub fn detach(command: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        // SAFETY: setsid(2) is async-signal-safe, as code between fork and exec must be.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

pub use sys::is_root;

/// Whether `pid` is a live process. A zombie (dead, not yet reaped by its parent) counts
/// as dead: it holds no port and does no work.
pub fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) S ...`: the state follows the last ')' (comm may hold spaces or ')').
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// The process's arguments, `argv[0]` first.
pub fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| {
            bytes
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A process started by `ptrack up`: its pid file and log file.
#[derive(Debug, Clone)]
pub struct PidFile {
    pub path: PathBuf,
}

impl PidFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn read(&self) -> Option<i32> {
        std::fs::read_to_string(&self.path)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn write(&self, pid: u32) -> Result<()> {
        std::fs::write(&self.path, format!("{pid}\n"))
            .with_context(|| format!("writing {}", self.path.display()))
    }

    pub fn remove(&self) {
        // Already gone is fine: the goal is that it does not exist.
        let _ = std::fs::remove_file(&self.path);
    }

    /// When the process was started: the pid file is written right after the spawn.
    pub fn started(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.path).ok()?.modified().ok()
    }

    /// The pid, if it names a live process running `program` (a pid file left by a
    /// crash may name a pid that a new, unrelated process has since been given).
    pub fn running(&self, program: &str) -> Option<i32> {
        let pid = self.read()?;
        let args = cmdline(pid);
        let matches = args.iter().take(2).any(|a| {
            Path::new(a)
                .file_name()
                .is_some_and(|name| name == OsStr::new(program))
        });
        (alive(pid) && matches).then_some(pid)
    }
}

/// Starts `program` detached with exactly the environment `env` (nothing inherited),
/// its output appended to `log`, and records its pid.
pub fn spawn(
    program: &Path,
    args: &[String],
    env: &BTreeMap<String, String>,
    log: &Path,
    pid_file: &PidFile,
    cwd: &Path,
) -> Result<Child> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening the log file {}", log.display()))?;
    let err = out
        .try_clone()
        .with_context(|| format!("opening the log file {}", log.display()))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(env)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    sys::detach(&mut command);
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    pid_file.write(child.id())?;
    Ok(child)
}

/// Sends `first` (SIGTERM, or SIGINT for PostgreSQL's fast shutdown), waits up to
/// `grace` for the process to exit, then SIGKILLs it. Returns whether it had to be killed.
pub fn stop(pid: i32, first: i32, grace: Duration) -> bool {
    if !alive(pid) {
        return false;
    }
    sys::kill(pid, first);
    if wait_exit(pid, grace) {
        return false;
    }
    sys::kill(pid, SIGKILL);
    wait_exit(pid, Duration::from_secs(5));
    true
}

/// Sends a signal, without waiting.
pub fn signal(pid: i32, signal: i32) -> bool {
    sys::kill(pid, signal)
}

/// Waits until `pid` is gone; false if it is still there after `timeout`.
pub fn wait_exit(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The last `lines` lines of a log file, for an error message.
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return format!("(no log at {})", path.display());
    };
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    if all.is_empty() {
        return format!("({} is empty)", path.display());
    }
    // A backtrace (RUST_BACKTRACE=1) can push the error itself out of the window: keep
    // the last error line in view.
    let is_error = |line: &&str| {
        line.starts_with("Error:") || line.contains("panicked at") || line.contains(" ERROR ")
    };
    let shown = all[start..].join("\n");
    match all[..start].iter().rposition(is_error) {
        Some(at) if !all[start..].iter().any(is_error) => {
            format!("{}\n[...]\n{shown}", all[at])
        }
        _ => shown,
    }
}

/// Looks for `name` next to the running `ptrack`, then on PATH.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|path| path.is_file());
    beside.or_else(|| on_path(name))
}

pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detached_process_is_found_and_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = PidFile::new(dir.path().join("sleep.pid"));
        let log = dir.path().join("sleep.log");
        let mut child = spawn(
            &on_path("sleep").unwrap(),
            &["30".into()],
            &BTreeMap::new(),
            &log,
            &pid_file,
            dir.path(),
        )
        .unwrap();
        let pid = pid_file.running("sleep").expect("sleep runs");
        assert_eq!(pid as u32, child.id());
        assert!(pid_file.running("collector").is_none(), "another program");
        let killed = std::thread::spawn(move || stop(pid, SIGTERM, Duration::from_secs(5)));
        child.wait().unwrap();
        assert!(!killed.join().unwrap(), "SIGTERM was enough");
        assert!(!alive(pid));
        assert!(pid_file.running("sleep").is_none());
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        std::fs::write(&log, "a\nb\nc\n").unwrap();
        assert_eq!(tail(&log, 2), "b\nc");
        assert!(tail(&dir.path().join("none"), 2).contains("no log"));
        std::fs::write(
            &log,
            "start\nError: BATCH_SIZE=0\nframe 1\nframe 2\nframe 3\n",
        )
        .unwrap();
        assert_eq!(
            tail(&log, 2),
            "Error: BATCH_SIZE=0\n[...]\nframe 2\nframe 3"
        );
    }
}
