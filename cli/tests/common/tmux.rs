//! A real pseudo-terminal for the tests of what draws on one (`ptrack tui`, `ptrack
//! demo`): a tmux server of the test's own, read as the user sees it.

use std::{
    process::Command,
    time::{Duration, Instant},
};

/// A tmux server of our own (its own socket), killed on drop.
pub struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket]);
        command
    }

    /// Runs `shell_command` in a new 160x45 session.
    pub fn start(shell_command: &str) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let tmux = Self {
            socket: format!("ptrack-test-{id}"),
            session: "tui".to_owned(),
        };
        let status = tmux
            .command()
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "45",
            ])
            .args(["-s", &tmux.session, shell_command])
            .status()
            .expect("tmux runs (scripts/test installs it)");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    /// The pane's text as the user sees it now.
    pub fn screen(&self) -> String {
        let output = self
            .command()
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn format(&self, format: &str) -> String {
        let output = self
            .command()
            .args(["display-message", "-p", "-t", &self.session, format])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    pub fn send_keys(&self, keys: &str) {
        let status = self
            .command()
            .args(["send-keys", "-t", &self.session, keys])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits until the screen passes `check`; the last screen either way.
    pub async fn wait_for(
        &self,
        within: Duration,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "within {within:?}: {what}; the screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}
