//! The local runtime's `down` (and the first half of `clean`): every process of the stack
//! stopped, the services before what they depend on, PostgreSQL last.

use std::{path::Path, time::Duration};

use super::{Local, process};
use crate::{runtime::Observer, stack::ServiceName};

/// How long a service has between SIGTERM and SIGKILL.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(10);

impl Local {
    pub(super) fn stop_all(&self, observer: &mut dyn Observer) {
        // Services first, in reverse start order, then the broker; PostgreSQL last.
        let order =
            |name: &str| -> usize {
                let service = name.rsplit_once('-').map_or(name, |(s, n)| {
                    if n.parse::<u32>().is_ok() { s } else { name }
                });
                ServiceName::ALL
                    .iter()
                    .position(|s| s.as_str() == service)
                    .unwrap_or(usize::MAX)
            };
        let mut files = self.pid_files();
        files.sort_by_key(|(name, _)| std::cmp::Reverse(order(name)));
        for (name, pid_file) in files {
            if let Some(pid) = pid_file.read().filter(|pid| process::alive(*pid)) {
                // A pid that now belongs to an unrelated program is left alone.
                let args = process::cmdline(pid);
                let ours = args.first().is_some_and(|a| {
                    ServiceName::ALL.iter().any(|s| {
                        Path::new(a)
                            .file_name()
                            .is_some_and(|f| *f == *Self::program_name(*s))
                    })
                });
                if ours {
                    observer.note(&format!("stopping {name} (pid {pid})"));
                    if process::stop(pid, process::SIGTERM, STOP_GRACE) {
                        observer.note(&format!(
                            "  {name} did not stop within {STOP_GRACE:?}: killed"
                        ));
                    }
                }
            }
            pid_file.remove();
        }
        let cluster = self.cluster();
        if let Some(pid) = cluster.pid() {
            observer.note(&format!("stopping postgres (pid {pid})"));
            cluster.stop();
        }
    }
}
