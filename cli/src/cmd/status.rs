//! `ptrack status`: each service (each replica) with its state, health, address and
//! uptime; processor replicas with their partitions.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::DataDirArgs;
use crate::runtime::{
    AnyRuntime, Context, Health, ReplicaStatus, RunState, Runtime, human_duration,
};

#[derive(Debug, Args)]
#[command(after_help = "\
Health is the service's readiness check: HTTP /readyz (the service and what it depends
on), a TCP connection for the broker, a login for PostgreSQL. A service of the local
runtime that died stays down (state `exited`) until `ptrack up` starts it again; the
status says so. The exit status is 0 even when something is unhealthy; read
`all_healthy` in --json.")]
pub struct StatusArgs {
    /// Print JSON: {runtime, data_dir, all_healthy, services: [{service, name, state,
    /// health, address, uptime_secs, partitions, lag, detail}]}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataDirArgs,
}

pub async fn run(args: StatusArgs) -> Result<ExitCode> {
    let Some(context) = Context::load(&args.data.data_dir)? else {
        if args.json {
            let value = json!({"runtime": null, "data_dir": args.data.data_dir, "all_healthy": false, "services": []});
            print_out(&format!("{value}\n"));
        } else {
            eprintln!(
                "No stack was started with the data folder {}: start one with `ptrack up`.",
                args.data.data_dir.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let kind = context.state.runtime;
    let data_dir = context.data_dir.clone();
    let statuses = AnyRuntime::new(context)?.status().await?;
    let all_healthy = statuses.iter().all(|s| s.health == Health::Healthy);
    if args.json {
        let value = json!({
            "runtime": kind,
            "data_dir": data_dir,
            "all_healthy": all_healthy,
            "services": statuses,
        });
        print_out(&format!("{}\n", serde_json::to_string_pretty(&value)?));
    } else {
        let mut out = format!("{kind} stack in {}\n", data_dir.display());
        table(&statuses, &mut out);
        out.push_str(&down_summary(&statuses));
        print_out(&out);
    }
    Ok(ExitCode::SUCCESS)
}

fn table(statuses: &[ReplicaStatus], out: &mut String) {
    let rows: Vec<[String; 7]> = statuses
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                s.state.to_string(),
                s.health.to_string(),
                s.address.clone().unwrap_or_default(),
                s.uptime_secs.map(human_duration).unwrap_or_default(),
                s.partitions
                    .as_ref()
                    .map(|p| {
                        if p.is_empty() {
                            "none".to_owned()
                        } else {
                            let list: Vec<String> = p.iter().map(i32::to_string).collect();
                            format!("{} lag {}", list.join(","), s.lag.unwrap_or(0))
                        }
                    })
                    .unwrap_or_default(),
                match s.state {
                    RunState::Running | RunState::External | RunState::Exited => {
                        s.detail.clone().unwrap_or_default()
                    }
                    RunState::Stopped => String::new(),
                },
            ]
        })
        .collect();
    let header = [
        "NAME",
        "STATE",
        "HEALTH",
        "ADDRESS",
        "UPTIME",
        "PARTITIONS",
        "DETAIL",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: [&str; 7]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 6 {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
}

/// A plain line naming what died and the command that brings it back, when something
/// did; running services are left alone by `up`.
fn down_summary(statuses: &[ReplicaStatus]) -> String {
    let died: Vec<&str> = statuses
        .iter()
        .filter(|s| s.state == RunState::Exited)
        .map(|s| s.name.as_str())
        .collect();
    if died.is_empty() {
        return String::new();
    }
    format!(
        "\nDOWN: {} exited and stay{} down: `ptrack up` starts {} again (what runs is left \
         alone); `ptrack logs {}` shows why.\n",
        died.join(", "),
        if died.len() == 1 { "s" } else { "" },
        if died.len() == 1 { "it" } else { "them" },
        died[0]
    )
}

/// Writes to stdout; a closed pipe (`ptrack status | head -1`) ends the output quietly.
fn print_out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::ServiceName;

    fn replica(name: &str, state: RunState) -> ReplicaStatus {
        ReplicaStatus {
            service: ServiceName::Collector,
            name: name.into(),
            state,
            health: Health::Unknown,
            address: None,
            uptime_secs: None,
            partitions: None,
            lag: None,
            detail: None,
        }
    }

    #[test]
    fn what_died_is_named_with_the_command_that_brings_it_back() {
        let running = replica("broker", RunState::Running);
        assert_eq!(down_summary(std::slice::from_ref(&running)), "");
        assert_eq!(
            down_summary(&[running.clone(), replica("collector", RunState::Exited)]),
            "\nDOWN: collector exited and stays down: `ptrack up` starts it again (what runs \
             is left alone); `ptrack logs collector` shows why.\n"
        );
        let two = down_summary(&[
            replica("processor-1", RunState::Exited),
            running,
            replica("processor-2", RunState::Exited),
            replica("web-demo", RunState::Stopped),
        ]);
        assert!(
            two.contains("processor-1, processor-2 exited and stay down: `ptrack up` starts them"),
            "{two}"
        );
    }
}
