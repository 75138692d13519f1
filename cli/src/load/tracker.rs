//! The simulated trackers: a set of [`Visitors`] whose trackers batch events the way
//! the browser tracker does, flushed when the batch is full or when the flush interval
//! has passed since its first event. Each call gives the next request's body.

use std::time::Duration;

use bytes::BufMut;
use rand::{Rng, SeedableRng, rngs::SmallRng};
use uuid::Uuid;

use super::{
    json::put_str,
    visitor::{Action, User},
};

/// How the trackers batch.
#[derive(Debug, Clone)]
pub struct Batching {
    /// Exactly this many events per request (`--events-per-request`), or else...
    pub fixed: Option<usize>,
    /// ...at most this many (the tracker's batch size), flushed earlier when
    /// `flush_interval` has passed since the batch's first event.
    pub max_batch: usize,
    pub flush_interval: Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Self {
            fixed: None,
            max_batch: 10,
            flush_interval: Duration::from_secs(5),
        }
    }
}

/// One request body, ready to send, and the ids of the events in it.
#[derive(Debug, Clone)]
pub struct Batch {
    pub body: Vec<u8>,
    pub ids: Vec<Uuid>,
    /// The earliest event time in the batch, Unix ms.
    pub oldest_ms: i64,
}

/// What [`Visitors::write_batch`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub events: u32,
    /// The earliest event time in the batch, Unix ms.
    pub oldest_ms: i64,
}

/// A set of virtual users, with their own random generator.
pub struct Visitors {
    rng: SmallRng,
    users: Vec<User>,
    batching: Batching,
    /// The end of every body: `],"appName":...,"appVersion":...}`.
    tail: Vec<u8>,
    /// The batch being put together, kept to reuse its memory.
    actions: Vec<Action>,
}

impl Visitors {
    /// `users` virtual users drawn from `seed`.
    pub fn new(seed: u64, users: usize, batching: Batching, app_name: &str) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let users = (0..users.max(1)).map(|_| User::new(&mut rng)).collect();
        let mut tail = b"],\"appName\":".to_vec();
        put_str(&mut tail, app_name);
        tail.extend_from_slice(b",\"appVersion\":");
        put_str(&mut tail, env!("CARGO_PKG_VERSION"));
        tail.push(b'}');
        Self {
            rng,
            users,
            batching,
            tail,
            actions: Vec::new(),
        }
    }

    /// The next request: a random user's tracker flushes; its last event happened at
    /// `now_ms` (Unix ms), the earlier ones as long before as their think times say.
    pub fn next_batch(&mut self, now_ms: i64) -> Batch {
        let mut body = Vec::new();
        let mut ids = Vec::new();
        let written = self.write_batch(now_ms, &mut body, &mut ids);
        Batch {
            body,
            ids,
            oldest_ms: written.oldest_ms,
        }
    }

    /// [`Self::next_batch`] without allocating: appends the body to `body` and the event
    /// ids to `ids`.
    pub fn write_batch(
        &mut self,
        now_ms: i64,
        body: &mut impl BufMut,
        ids: &mut Vec<Uuid>,
    ) -> Written {
        let who = self.rng.random_range(0..self.users.len());
        let user = &mut self.users[who];
        let actions = &mut self.actions;
        actions.clear();
        let limit = self
            .batching
            .fixed
            .unwrap_or(self.batching.max_batch)
            .max(1);
        let flush_ms = self.batching.flush_interval.as_millis() as u64;
        let mut first_at = None;
        while actions.len() < limit {
            let action = match user.pending.take() {
                Some(pending) => pending,
                None => user.act(&mut self.rng),
            };
            let first = *first_at.get_or_insert(action.at);
            // The tracker's timer fires before this event: flush what it holds, and
            // the event opens the next batch.
            if self.batching.fixed.is_none() && !actions.is_empty() && action.at - first >= flush_ms
            {
                user.pending = Some(action);
                break;
            }
            actions.push(action);
        }
        let last = actions.last().map_or(0, |a| a.at);
        let first = actions.first().map_or(0, |a| a.at);
        body.put_slice(b"{\"events\":[");
        for (i, action) in actions.iter().enumerate() {
            if i > 0 {
                body.put_u8(b',');
            }
            ids.push(action.event_id);
            user.write_event(body, action, now_ms - (last - action.at) as i64);
        }
        body.put_slice(&self.tail);
        Written {
            events: actions.len() as u32,
            oldest_ms: now_ms - (last - first) as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn a_batch_spans_less_than_the_flush_interval() {
        let batching = Batching {
            fixed: None,
            max_batch: 50,
            flush_interval: Duration::from_secs(2),
        };
        let mut visitors = Visitors::new(1, 3, batching, "t");
        let mut sizes = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let batch = visitors.next_batch(1_800_000_000_000);
            let body: Value = serde_json::from_slice(&batch.body).unwrap();
            let times: Vec<i64> = body["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["timestamp"].as_i64().unwrap())
                .collect();
            assert_eq!(*times.last().unwrap(), 1_800_000_000_000);
            assert!(
                times.windows(2).all(|w| w[0] <= w[1]),
                "in order: {times:?}"
            );
            assert!(times.last().unwrap() - times[0] < 2000, "{times:?}");
            sizes.insert(times.len());
        }
        assert!(
            sizes.len() > 2,
            "the session model varies batch sizes: {sizes:?}"
        );
        assert!(*sizes.last().unwrap() < 50);
    }

    #[test]
    fn the_ids_handed_back_are_the_ones_in_the_body_in_order() {
        let mut visitors = Visitors::new(7, 20, Batching::default(), "t");
        let mut body = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..300 {
            body.clear();
            ids.clear();
            let written = visitors.write_batch(1_800_000_000_000, &mut body, &mut ids);
            let body: Value = serde_json::from_slice(&body).unwrap();
            let in_body: Vec<Uuid> = body["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["event_id"].as_str().unwrap().parse().unwrap())
                .collect();
            assert_eq!(in_body, ids);
            assert_eq!(written.events as usize, ids.len());
        }
    }
}
