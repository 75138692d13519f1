//! `ptrack query --follow`: the last N events oldest to newest, then each new event as
//! it is stored, like `tail -f`.
//!
//! The events-api filters and orders by the event's own (browser) `timestamp`, not by
//! when it was stored, so a poll asks for everything since a look-back point and skips
//! the events already printed. The set of printed ids only keeps those at or after the
//! look-back point (older ones are never asked for again), so it stays bounded. An
//! event stored more than [`LOOK_BACK`] after the newest event printed so far (by
//! their browser times) is not shown.

use std::{collections::HashMap, io::Write, time::Duration};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{MAX_PAGE, QueryError, output::Record, output::Writer};
use crate::client::{ClientError, EventsApi, EventsQuery};

/// How far back (in event time) each poll looks for events stored late.
pub const LOOK_BACK: Duration = Duration::from_secs(30);
/// How often the events-api is asked for new events.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// What `follow` reports besides the events (the command prints it on stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The events-api stopped answering; said once until it answers again.
    NotAnswering(String),
    /// It answers again; following goes on without repeating an event.
    Answering,
}

/// Writes the last `last` events of `query` (oldest first), then polls for new ones
/// until `stop` resolves. An events-api that stops answering (a restart) is reported
/// once and waited for; only the first request's failure ends the command.
pub async fn follow<W: Write>(
    api: &EventsApi,
    query: EventsQuery,
    last: u64,
    writer: &mut Writer<W>,
    mut notice: impl FnMut(Notice),
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), QueryError> {
    let look_back = chrono::Duration::from_std(LOOK_BACK).unwrap_or_default();
    let started = Utc::now();
    let mut seen = Seen::default();
    // The newest event time printed so far (at least the start): polls look back from
    // it, or from now if that is earlier (a browser clock ahead), so that events from a
    // browser whose clock is behind are still found.
    let mut newest = started;
    let mut cutoff = started - look_back;

    // The last N, and every event since the cutoff marked as seen, in one pass.
    let mut first = Vec::new();
    let mut pages = api.pages(EventsQuery {
        limit: Some(MAX_PAGE),
        ..query.clone()
    });
    'pages: while let Some(page) = pages.next_page().await? {
        for event in page.events {
            if (first.len() as u64) >= last && event.timestamp < cutoff {
                break 'pages;
            }
            if event.timestamp >= cutoff {
                seen.insert(event.event_id, event.timestamp);
            }
            if (first.len() as u64) < last {
                first.push(event);
            }
        }
    }
    first.reverse();
    if let Some(last) = first.last() {
        newest = newest.max(last.timestamp);
    }
    for event in first {
        writer.write(&Record::from(event))?;
    }
    writer.flush()?;

    tokio::pin!(stop);
    let mut down = false;
    loop {
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(POLL_EVERY) => {}
        }
        let now = Utc::now();
        cutoff = cutoff.max(newest.min(now) - look_back);
        seen.forget_before(cutoff);
        let polled = tokio::select! {
            () = &mut stop => return Ok(()),
            polled = poll(api, &query, cutoff, &mut seen) => polled,
        };
        let mut fresh = match polled {
            Ok(fresh) => {
                if down {
                    down = false;
                    notice(Notice::Answering);
                }
                fresh
            }
            Err(err) if is_refusal(&err) => return Err(err.into()),
            Err(err) => {
                if !down {
                    down = true;
                    notice(Notice::NotAnswering(err.brief()));
                }
                continue;
            }
        };
        fresh.sort_by_key(|e| (e.timestamp, e.event_id));
        if let Some(last) = fresh.last() {
            newest = newest.max(last.timestamp);
        }
        writer.set_now(now);
        for event in fresh {
            writer.write(&Record::from(event))?;
        }
        writer.flush()?;
    }
}

/// A request the API refused (a bad filter): waiting does not help.
fn is_refusal(err: &ClientError) -> bool {
    err.status().is_some_and(|s| s.is_client_error())
}

/// Every event of `query` since `cutoff` not printed yet; marks them seen.
async fn poll(
    api: &EventsApi,
    query: &EventsQuery,
    cutoff: DateTime<Utc>,
    seen: &mut Seen,
) -> Result<Vec<ptrack_wire::StoredEvent>, ClientError> {
    let since = query.since.map_or(cutoff, |since| since.max(cutoff));
    let mut pages = api.pages(EventsQuery {
        since: Some(since),
        limit: Some(MAX_PAGE),
        cursor: None,
        ..query.clone()
    });
    let mut fresh = Vec::new();
    while let Some(page) = pages.next_page().await? {
        for event in page.events {
            if seen.insert(event.event_id, event.timestamp) {
                fresh.push(event);
            }
        }
    }
    Ok(fresh)
}

/// The ids printed, with their event times, so that old ones can be forgotten.
#[derive(Debug, Default)]
struct Seen {
    ids: HashMap<Uuid, DateTime<Utc>>,
}

impl Seen {
    /// Whether `id` is new.
    fn insert(&mut self, id: Uuid, at: DateTime<Utc>) -> bool {
        self.ids.insert(id, at).is_none()
    }

    /// Forgets the events before `cutoff`: no poll asks for them again.
    fn forget_before(&mut self, cutoff: DateTime<Utc>) {
        self.ids.retain(|_, at| *at >= cutoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seen_set_forgets_what_no_poll_returns_again() {
        let t = |ms| DateTime::from_timestamp_millis(ms).unwrap();
        let mut seen = Seen::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(seen.insert(a, t(1_000)));
        assert!(seen.insert(b, t(5_000)));
        assert!(!seen.insert(a, t(1_000)), "printed once");
        seen.forget_before(t(2_000));
        assert_eq!(seen.ids.len(), 1);
        assert!(!seen.insert(b, t(5_000)));
    }
}
