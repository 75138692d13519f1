//! The web demo as an operator meets it: `--help`, `--version`, bad values named, the
//! probes, and its settings as flags or environment.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

const BIN: &str = env!("CARGO_BIN_EXE_ptrack-web-demo");

#[test]
fn help_version_and_a_bad_value() {
    let output = Command::new(BIN)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for (var, default) in [
        ("WEB_DEMO_ADDR", "127.0.0.1:3000"),
        ("COLLECTOR_URL", "http://127.0.0.1:8000"),
        ("EVENTS_API_URL", "http://127.0.0.1:8001"),
        ("HTTP_HEADER_TIMEOUT_MS", "10000"),
        ("HTTP_BODY_TIMEOUT_MS", "30000"),
        ("HTTP_MAX_CONNECTIONS", "1024"),
    ] {
        assert!(help.contains(&format!("[env: {var}")), "{var}:\n{help}");
        assert!(
            help.contains(&format!("[default: {default}]")),
            "{default}:\n{help}"
        );
    }
    let output = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("ptrack-web-demo {}", env!("CARGO_PKG_VERSION"))
    );
    let output = Command::new(BIN)
        .env_clear()
        .env("COLLECTOR_URL", "collector:8000")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("COLLECTOR_URL") && err.contains("http://"),
        "{err}"
    );
}

#[tokio::test]
async fn serves_its_probes_on_the_address_given_by_flag_or_environment() {
    for by_flag in [false, true] {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let mut command = Command::new(BIN);
        command
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if by_flag {
            command.args(["--web-demo-addr", &addr]);
        } else {
            command.env("WEB_DEMO_ADDR", &addr);
        }
        let mut child = command.spawn().unwrap();
        let mut answers = None;
        for _ in 0..100 {
            let live = reqwest::get(format!("http://{addr}/livez")).await;
            let ready = reqwest::get(format!("http://{addr}/readyz")).await;
            if let (Ok(live), Ok(ready)) = (live, ready) {
                answers = Some((live.status().as_u16(), ready.status().as_u16()));
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(answers, Some((200, 200)), "by flag: {by_flag}");
    }
}
