//! One virtual visitor: it browses the shop (page views, hovers, clicks, think times,
//! sessions that end and start again) on its own simulated clock, and writes its events
//! as the tracker's JSON.
//!
//! Everything comes from one seeded random generator, so the same seed gives the same
//! visitors, the same events and the same event ids. It is rand's `SmallRng`
//! (Xoshiro256++ in rand 0.9, which `Cargo.lock` pins): the ids must be unique, not
//! unpredictable, and ChaCha12 (`StdRng`) cost several times more per draw.

use bytes::BufMut;
use rand::{Rng, rngs::SmallRng};
use serde_json::json;
use uuid::Uuid;

#[cfg(test)]
use ptrack_common::event::TrackEvent;

use super::{
    json::{Rendered, SITE_JSON, put_int, put_uuid},
    site::{EventType, Page, random_page},
};

pub struct User {
    /// Only tests read it: it is written from `after_session`.
    #[cfg(test)]
    anonymous_id: Uuid,
    session_id: Uuid,
    /// `,"user_metadata":{...},"session_id":`: the metadata never changes.
    before_session: Box<[u8]>,
    /// `,"anonymous_id":"..."}`.
    after_session: Box<[u8]>,
    /// The JSON that changes with the page and the session, kept from the last event.
    rendered: Rendered,
    page: Page,
    /// The component under the pointer, if any (an index in the page's components).
    hovering: Option<usize>,
    /// Simulated milliseconds since this user's first event.
    clock_ms: u64,
    /// An event that came after its batch was flushed: the next batch starts with it.
    pub pending: Option<Action>,
    /// Whether the landing page's PAGE_VIEW was sent.
    landed: bool,
}

/// One event as the user made it; it becomes JSON when its batch is written.
#[derive(Clone, Copy)]
pub struct Action {
    /// Simulated time, on the user's clock.
    pub at: u64,
    pub event_id: Uuid,
    pub event_type: EventType,
    pub page: Page,
    /// The index of the component in the page's, `None` for a page view.
    pub component: Option<usize>,
    pub session_id: Uuid,
}

static AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
];
static LANGUAGES: &[&str] = &["en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP"];
static SCREENS: &[(u32, u32)] = &[(1920, 1080), (1440, 900), (2560, 1440), (390, 844)];

fn new_id(rng: &mut SmallRng) -> Uuid {
    // Two draws of 64 bits, rather than sixteen bytes filled one draw at a time.
    let bits: u128 = rng.random();
    uuid::Builder::from_random_bytes(bits.to_le_bytes()).into_uuid()
}

fn pick<'a, T>(rng: &mut SmallRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Think time: mostly short, sometimes long (an exponential with this mean).
fn think(rng: &mut SmallRng, mean_ms: f64) -> u64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    (-u.ln() * mean_ms).min(mean_ms * 20.0) as u64
}

impl User {
    pub fn new(rng: &mut SmallRng) -> Self {
        let (width, height) = *pick(rng, SCREENS);
        let metadata = json!({
            "userAgent": pick(rng, AGENTS),
            "language": pick(rng, LANGUAGES),
            "screen": {"width": width, "height": height},
            "source": "ptrack-load",
        });
        let anonymous_id = new_id(rng);
        let mut before_session = b",\"user_metadata\":".to_vec();
        // Plain strings and numbers serialize into memory without fail.
        serde_json::to_writer(&mut before_session, &metadata).expect("metadata serializes");
        before_session.extend_from_slice(b",\"session_id\":");
        let mut after_session = b",\"anonymous_id\":".to_vec();
        put_uuid(&mut after_session, anonymous_id);
        after_session.push(b'}');
        Self {
            #[cfg(test)]
            anonymous_id,
            session_id: new_id(rng),
            before_session: before_session.into(),
            after_session: after_session.into(),
            rendered: Rendered::default(),
            page: random_page(rng),
            hovering: None,
            // Users are in the middle of their visits when the run starts.
            clock_ms: rng.random_range(0..60_000),
            pending: None,
            landed: false,
        }
    }

    /// The user's next action: leave the hovered component (maybe clicking it first),
    /// hover another one, go to another page, or end the session and come back later
    /// as a new one.
    pub fn act(&mut self, rng: &mut SmallRng) -> Action {
        if !self.landed {
            self.landed = true;
            return self.event(rng, EventType::PageView, None);
        }
        if let Some(component) = self.hovering {
            if rng.random_bool(0.4) {
                self.clock_ms += think(rng, 600.0);
                // A click leaves the pointer where it is: the leave comes next time.
                return self.event(rng, EventType::Click, Some(component));
            }
            self.hovering = None;
            self.clock_ms += think(rng, 800.0);
            return self.event(rng, EventType::HoverLeave, Some(component));
        }
        let roll: f64 = rng.random();
        if roll < 0.65 {
            let component = rng.random_range(0..self.page.kind().components.len());
            self.hovering = Some(component);
            self.clock_ms += think(rng, 1500.0);
            self.event(rng, EventType::HoverEnter, Some(component))
        } else {
            if roll > 0.95 {
                // The session ends; the same browser comes back later.
                self.session_id = new_id(rng);
                self.clock_ms += think(rng, 60_000.0);
            } else {
                self.clock_ms += think(rng, 3000.0);
            }
            self.page = random_page(rng);
            self.event(rng, EventType::PageView, None)
        }
    }

    /// An event now, on the current page.
    fn event(&self, rng: &mut SmallRng, event_type: EventType, component: Option<usize>) -> Action {
        Action {
            at: self.clock_ms,
            event_id: new_id(rng),
            event_type,
            page: self.page,
            component,
            session_id: self.session_id,
        }
    }

    /// Writes one of this user's events as the tracker's JSON, in [`TrackEvent`]'s
    /// field order and with its optional fields left out the same way.
    pub fn write_event(&mut self, out: &mut impl BufMut, action: &Action, timestamp: i64) {
        let page = &SITE_JSON[action.page.kind];
        let component = action.component.map(|c| &page.components[c]);
        out.put_slice(b"{\"event_id\":");
        put_uuid(out, action.event_id);
        out.put_slice(action.event_type.json());
        if let Some(component) = component {
            out.put_slice(&component.name);
        }
        out.put_slice(self.rendered.page(action.page));
        put_int(out, timestamp);
        if let Some(component) = component {
            out.put_slice(&component.dom);
        }
        let Self {
            before_session,
            after_session,
            rendered,
            ..
        } = self;
        out.put_slice(rendered.session_end(action.session_id, before_session, after_session));
    }

    /// The same event as a [`TrackEvent`], to hold [`Self::write_event`] to serde's
    /// output.
    #[cfg(test)]
    fn track_event(&self, action: &Action, timestamp: i64) -> TrackEvent {
        use ptrack_common::event::{DomInfo, LocationType};
        let kind = action.page.kind();
        let n = action.page.n.to_string();
        let component = action.component.map(|c| &kind.components[c]);
        let metadata = &self.before_session[b",\"user_metadata\":".len()..];
        let metadata = &metadata[..metadata.len() - b",\"session_id\":".len()];
        TrackEvent {
            event_id: action.event_id,
            event_type: action.event_type.name().to_owned(),
            location_type: match component {
                None => LocationType::Page,
                Some(_) => LocationType::Component,
            },
            component_name: component.map(|c| c.name.to_owned()),
            page_path: Some(kind.path.replace("{n}", &n)),
            page_title: Some(kind.title.replace("{n}", &n)),
            timestamp,
            dom_info: component.map(|c| DomInfo {
                tag: Some(c.tag.to_owned()),
                id: Some(c.id.to_owned()),
                class_name: Some(c.class.to_owned()),
                text: (!c.text.is_empty()).then(|| c.text.to_owned()),
            }),
            user_metadata: serde_json::from_slice(metadata).unwrap(),
            session_id: Some(action.session_id.to_string()),
            anonymous_id: Some(self.anonymous_id.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn events_are_written_exactly_as_serde_writes_a_track_event() {
        let mut rng = SmallRng::seed_from_u64(5);
        let mut kinds = std::collections::BTreeSet::new();
        for _ in 0..20 {
            let mut user = User::new(&mut rng);
            for step in 0..200 {
                let action = user.act(&mut rng);
                let timestamp = 1_764_000_000_000 - step * 977;
                let mut written = Vec::new();
                user.write_event(&mut written, &action, timestamp);
                let expected = serde_json::to_vec(&user.track_event(&action, timestamp)).unwrap();
                assert_eq!(
                    String::from_utf8(written).unwrap(),
                    String::from_utf8(expected).unwrap()
                );
                kinds.insert((action.event_type, action.page.kind().path));
            }
        }
        assert!(
            kinds.len() > 20,
            "every kind of event on every page: {kinds:?}"
        );
    }
}
