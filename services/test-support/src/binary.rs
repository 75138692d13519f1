//! A service binary as an operator runs it: flags and variables in a clean environment,
//! then its exit code and output, or a process in the background.

use std::process::{Child, Command, Stdio};

/// Runs `bin` with `args` and only `env` in its environment: nothing is inherited, so a
/// variable of the test's own shell (`DATABASE_URL`, `RUST_LOG`) cannot change what is
/// tested. Returns the exit code, stdout and stderr. Panics when `bin` cannot be started.
pub fn run_binary(bin: &str, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let output = command(bin, args, env)
        .output()
        .unwrap_or_else(|err| panic!("running {bin}: {err}"));
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Checks that `bin --version` and `bin -V` both exit 0 and print `expected` (the name and
/// version, what an operator pastes into a bug report). Every service answers both.
pub fn assert_version(bin: &str, expected: &str) {
    for flag in ["--version", "-V"] {
        let (code, stdout, stderr) = run_binary(bin, &[flag], &[]);
        assert_eq!(code, Some(0), "{bin} {flag}: {stderr}");
        assert_eq!(stdout.trim(), expected, "{bin} {flag}");
    }
}

/// A service binary running in the background. It is killed and reaped on drop, so a
/// test that fails half-way leaves no process behind holding its port.
pub struct Running(Child);

/// Starts `bin` as [`run_binary`] runs it (only `env` in its environment), its output
/// discarded, and returns at once: wait for its probes with [`crate::until_status`].
/// Panics when `bin` cannot be started.
pub fn spawn_binary(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
    let child = command(bin, args, env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("starting {bin}: {err}"));
    Running(child)
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn command(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(bin);
    command.args(args).env_clear().envs(env.iter().copied());
    command
}
