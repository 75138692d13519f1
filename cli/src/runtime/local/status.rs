//! The local runtime's `status`: each replica's process (from its pid file), its
//! readiness probe, its uptime and, for processors, the partitions it holds.

use ptrack_common::config::redact_url;

use super::{Local, login};
use crate::{
    runtime::{
        Health, ReplicaStatus, RunState, check, probe_client, processor_status, seconds_since,
    },
    stack::ServiceName,
};

impl Local {
    pub(super) async fn replica_statuses(&self) -> Vec<ReplicaStatus> {
        let client = probe_client();
        let mut statuses = Vec::new();
        for replica in self.replicas() {
            let addr = replica.local_addr();
            let external =
                replica.service == ServiceName::Postgres && self.external_database().is_some();
            let pid = self.running(&replica);
            let started = match replica.service {
                ServiceName::Postgres => self.cluster().started(),
                _ => self.pid_file(&replica.name).started(),
            };
            let had_pid = match replica.service {
                ServiceName::Postgres => false,
                _ => self.pid_file(&replica.name).read().is_some(),
            };
            let state = match (external, pid, had_pid) {
                (true, _, _) => RunState::External,
                (false, Some(_), _) => RunState::Running,
                (false, None, true) => RunState::Exited,
                (false, None, false) => RunState::Stopped,
            };
            let mut status = ReplicaStatus {
                service: replica.service,
                name: replica.name.clone(),
                state,
                health: Health::Unknown,
                address: Some(addr.to_string()),
                uptime_secs: None,
                partitions: None,
                lag: None,
                detail: pid.map(|pid| format!("pid {pid}")),
            };
            if external {
                status.address = self.external_database().map(redact_url);
            }
            if matches!(state, RunState::Running | RunState::External) {
                status.uptime_secs = started.filter(|_| !external).map(seconds_since);
                let probe = match replica.service {
                    ServiceName::Postgres => login(&self.wiring().database_url).await,
                    service => {
                        check(&client, self.context.stack.service(service).readiness, addr).await
                    }
                };
                status.health = match probe {
                    Ok(()) => Health::Healthy,
                    Err(why) => {
                        status.detail = Some(why);
                        Health::Unhealthy
                    }
                };
                if replica.service == ServiceName::Processor
                    && let Some(ps) = processor_status(&client, addr).await
                {
                    status.partitions = Some(ps.partitions);
                    status.lag = Some(ps.lag);
                }
            } else if state == RunState::Exited {
                status.detail = Some(format!(
                    "died: `ptrack up` starts it again; why: `ptrack logs {}` ({})",
                    replica.name,
                    self.log_file(&replica.name).display()
                ));
            }
            statuses.push(status);
        }
        statuses
    }
}
