//! Synthetic visitors: each virtual user browses a small shop (page views, hovers,
//! clicks, think times, sessions that end and start again), and its tracker batches the
//! events the way the browser tracker does: flushed when the batch is full or when the
//! flush interval has passed since its first event.
//!
//! Everything comes from one seeded random generator, so the same seed gives the same
//! visitors, the same events and the same event ids. It is rand's `SmallRng`
//! (Xoshiro256++ in rand 0.9, which `Cargo.lock` pins): the ids must be unique, not
//! unpredictable, and ChaCha12 (`StdRng`) cost several times more per draw.
//!
//! Bodies are written straight into the caller's buffer in exactly the bytes
//! `serde_json` gives for a [`TrackEvent`] (a test holds the two together), mostly from
//! pieces rendered once: the site's pages and components, and each user's metadata and
//! ids. At tens of thousands of requests a second, building a `TrackEvent` per event (a
//! dozen strings) and serializing it was most of the generator's work.

use std::{sync::LazyLock, time::Duration};

use bytes::BufMut;
use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde_json::json;
use uuid::Uuid;

#[cfg(test)]
use ptrack_common::event::TrackEvent;

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

struct User {
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
    pending: Option<Action>,
    /// Whether the landing page's PAGE_VIEW was sent.
    landed: bool,
}

/// A page of the site: `{n}` in its path and title stands for `n`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Page {
    /// Its index in [`SITE`].
    kind: usize,
    n: u32,
}

impl Page {
    fn kind(self) -> &'static PageKind {
        &SITE[self.kind]
    }
}

/// One event as the user made it; it becomes JSON when its batch is written.
#[derive(Clone, Copy)]
struct Action {
    /// Simulated time, on the user's clock.
    at: u64,
    event_id: Uuid,
    event_type: EventType,
    page: Page,
    /// The index of the component in the page's, `None` for a page view.
    component: Option<usize>,
    session_id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum EventType {
    PageView,
    HoverEnter,
    Click,
    HoverLeave,
}

impl EventType {
    #[cfg(test)]
    fn name(self) -> &'static str {
        match self {
            Self::PageView => "PAGE_VIEW",
            Self::HoverEnter => "HOVER_ENTER",
            Self::Click => "CLICK",
            Self::HoverLeave => "HOVER_LEAVE",
        }
    }

    /// `,"event_type":...,"location_type":...`
    fn json(self) -> &'static [u8] {
        match self {
            Self::PageView => b",\"event_type\":\"PAGE_VIEW\",\"location_type\":\"PAGE\"",
            Self::HoverEnter => b",\"event_type\":\"HOVER_ENTER\",\"location_type\":\"COMPONENT\"",
            Self::Click => b",\"event_type\":\"CLICK\",\"location_type\":\"COMPONENT\"",
            Self::HoverLeave => b",\"event_type\":\"HOVER_LEAVE\",\"location_type\":\"COMPONENT\"",
        }
    }
}

/// The JSON of [`SITE`]'s pages, rendered once for every worker.
static SITE_JSON: LazyLock<Vec<PageJson>> =
    LazyLock::new(|| SITE.iter().map(PageJson::new).collect());

/// A page's JSON.
struct PageJson {
    /// `,"page_path":"...","page_title":"...","timestamp":` cut where the page's number
    /// goes.
    pieces: Vec<Vec<u8>>,
    components: Vec<ComponentJson>,
}

struct ComponentJson {
    /// `,"component_name":"..."`
    name: Vec<u8>,
    /// `,"dom_info":{...}`
    dom: Vec<u8>,
}

impl PageJson {
    fn new(kind: &PageKind) -> Self {
        let mut text = Vec::new();
        text.extend_from_slice(b",\"page_path\":\"");
        put_str_contents(&mut text, kind.path);
        text.extend_from_slice(b"\",\"page_title\":\"");
        put_str_contents(&mut text, kind.title);
        text.extend_from_slice(b"\",\"timestamp\":");
        let mut pieces = vec![Vec::new()];
        let mut rest = &text[..];
        while let Some(at) = rest.windows(3).position(|w| w == b"{n}") {
            pieces
                .last_mut()
                .expect("one piece at least")
                .extend_from_slice(&rest[..at]);
            pieces.push(Vec::new());
            rest = &rest[at + 3..];
        }
        pieces
            .last_mut()
            .expect("one piece at least")
            .extend_from_slice(rest);
        let components = kind
            .components
            .iter()
            .map(|c| {
                let mut name = b",\"component_name\":".to_vec();
                put_str(&mut name, c.name);
                let mut dom = b",\"dom_info\":{\"tag\":".to_vec();
                put_str(&mut dom, c.tag);
                dom.extend_from_slice(b",\"id\":");
                put_str(&mut dom, c.id);
                dom.extend_from_slice(b",\"className\":");
                put_str(&mut dom, c.class);
                if !c.text.is_empty() {
                    dom.extend_from_slice(b",\"text\":");
                    put_str(&mut dom, c.text);
                }
                dom.push(b'}');
                ComponentJson { name, dom }
            })
            .collect();
        Self { pieces, components }
    }
}

struct PageKind {
    path: &'static str,
    title: &'static str,
    /// How likely a landing or a navigation goes here.
    weight: u32,
    components: &'static [Component],
}

struct Component {
    name: &'static str,
    tag: &'static str,
    id: &'static str,
    class: &'static str,
    text: &'static str,
}

const fn c(
    name: &'static str,
    tag: &'static str,
    id: &'static str,
    class: &'static str,
    text: &'static str,
) -> Component {
    Component {
        name,
        tag,
        id,
        class,
        text,
    }
}

const NAV: Component = c("NavBar", "NAV", "top-nav", "nav navbar", "Shop");
const SEARCH: Component = c("SearchBox", "INPUT", "search", "form-control search", "");
const SIGNUP: Component = c(
    "SignupButton",
    "BUTTON",
    "signup",
    "btn btn-primary",
    "Sign up",
);

/// The site the visitors browse. `{n}` in a path becomes a number.
static SITE: &[PageKind] = &[
    PageKind {
        path: "/",
        title: "Home - Shop",
        weight: 30,
        components: &[
            NAV,
            SEARCH,
            c("HeroBanner", "DIV", "hero", "hero banner", "Winter sale"),
            c(
                "ProductCard",
                "DIV",
                "product-card",
                "card product",
                "Wool scarf",
            ),
            SIGNUP,
        ],
    },
    PageKind {
        path: "/products",
        title: "All products - Shop",
        weight: 20,
        components: &[
            NAV,
            SEARCH,
            c(
                "FilterPanel",
                "ASIDE",
                "filters",
                "filters panel",
                "Filters",
            ),
            c("ProductCard", "DIV", "product-card", "card product", "Mug"),
            c("Pagination", "A", "next-page", "page-link", "Next"),
        ],
    },
    PageKind {
        path: "/products/{n}",
        title: "Product {n} - Shop",
        weight: 25,
        components: &[
            NAV,
            c("ProductGallery", "IMG", "gallery", "gallery main", ""),
            c(
                "AddToCartButton",
                "BUTTON",
                "add-to-cart",
                "btn btn-success",
                "Add to cart",
            ),
            c("ReviewList", "SECTION", "reviews", "reviews", "Reviews"),
        ],
    },
    PageKind {
        path: "/pricing",
        title: "Pricing - Shop",
        weight: 8,
        components: &[
            NAV,
            c(
                "PricingTable",
                "TABLE",
                "plans",
                "table pricing",
                "Compare plans",
            ),
            SIGNUP,
        ],
    },
    PageKind {
        path: "/cart",
        title: "Your cart - Shop",
        weight: 8,
        components: &[
            NAV,
            c("CartItem", "LI", "cart-item", "cart-item", "Mug x 2"),
            c(
                "CheckoutButton",
                "BUTTON",
                "checkout",
                "btn btn-primary",
                "Checkout",
            ),
        ],
    },
    PageKind {
        path: "/checkout",
        title: "Checkout - Shop",
        weight: 3,
        components: &[
            c("PaymentForm", "FORM", "payment", "form payment", "Pay"),
            c(
                "PlaceOrderButton",
                "BUTTON",
                "place-order",
                "btn",
                "Place order",
            ),
        ],
    },
    PageKind {
        path: "/blog/post-{n}",
        title: "Blog post {n} - Shop",
        weight: 6,
        components: &[
            NAV,
            c("ShareButton", "BUTTON", "share", "btn btn-link", "Share"),
            c(
                "NewsletterForm",
                "FORM",
                "newsletter",
                "form inline",
                "Subscribe",
            ),
        ],
    },
];

static AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
];
static LANGUAGES: &[&str] = &["en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP"];
static SCREENS: &[(u32, u32)] = &[(1920, 1080), (1440, 900), (2560, 1440), (390, 844)];

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

/// Writes `text` as a JSON string.
fn put_str(out: &mut impl BufMut, text: &str) {
    out.put_u8(b'"');
    put_str_contents(out, text);
    out.put_u8(b'"');
}

/// Writes `text` as the inside of a JSON string, escaped the way `serde_json` does.
fn put_str_contents(out: &mut impl BufMut, text: &str) {
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Rare (the site's texts need no escaping): let serde_json do it.
        let quoted = serde_json::to_string(text).expect("a string serializes");
        out.put_slice(&quoted.as_bytes()[1..quoted.len() - 1]);
    } else {
        out.put_slice(text.as_bytes());
    }
}

fn put_int(out: &mut impl BufMut, value: i64) {
    out.put_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// The parts of a user's events that change with the page or the session, rendered
/// when they change rather than for every event: a user stays on a page for several
/// events and in a session for many.
#[derive(Default)]
struct Rendered {
    /// The page `page_json` is for.
    page: Option<Page>,
    /// `,"page_path":"...","page_title":"...","timestamp":`
    page_json: Vec<u8>,
    /// The session `session_end` is for.
    session: Option<Uuid>,
    /// `,"user_metadata":{...},"session_id":"...","anonymous_id":"..."}`
    session_end: Vec<u8>,
}

impl Rendered {
    /// The JSON of `page`'s path and title, up to the timestamp's value.
    fn page(&mut self, page: Page) -> &[u8] {
        if self.page != Some(page) {
            self.page = Some(page);
            self.page_json.clear();
            for (i, piece) in SITE_JSON[page.kind].pieces.iter().enumerate() {
                if i > 0 {
                    put_int(&mut self.page_json, i64::from(page.n));
                }
                self.page_json.extend_from_slice(piece);
            }
        }
        &self.page_json
    }

    /// The end of an event of `session`: the user's metadata and ids.
    fn session_end(&mut self, session: Uuid, before: &[u8], after: &[u8]) -> &[u8] {
        if self.session != Some(session) {
            self.session = Some(session);
            self.session_end.clear();
            self.session_end.extend_from_slice(before);
            put_uuid(&mut self.session_end, session);
            self.session_end.extend_from_slice(after);
        }
        &self.session_end
    }
}

/// Writes a UUID as a JSON string, hyphenated and lower case (serde's form).
fn put_uuid(out: &mut impl BufMut, id: Uuid) {
    let mut text = [b'"'; 38];
    id.hyphenated().encode_lower(&mut text[1..37]);
    out.put_slice(&text);
}

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

fn random_page(rng: &mut SmallRng) -> Page {
    let total: u32 = SITE.iter().map(|p| p.weight).sum();
    let mut roll = rng.random_range(0..total);
    let kind = SITE
        .iter()
        .position(|p| {
            if roll < p.weight {
                true
            } else {
                roll -= p.weight;
                false
            }
        })
        .unwrap_or(0);
    Page {
        kind,
        n: rng.random_range(1..=500u32),
    }
}

impl User {
    fn new(rng: &mut SmallRng) -> Self {
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
    fn act(&mut self, rng: &mut SmallRng) -> Action {
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
    fn write_event(&mut self, out: &mut impl BufMut, action: &Action, timestamp: i64) {
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
    use serde_json::Value;

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

    #[test]
    fn strings_numbers_and_templates_are_json() {
        for text in [
            "",
            "plain",
            "a \"quote\"",
            "back\\slash",
            "tab\tnew\nline\u{1}",
            "é ü 日本",
        ] {
            let mut out = Vec::new();
            put_str(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
        for value in [0, 7, -7, 1_764_000_000_000, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            put_int(&mut out, value);
            assert_eq!(out, value.to_string().into_bytes());
        }
        // Pages, with their number in the path and twice in the title, and quotes.
        let page = PageJson::new(&PageKind {
            path: "/p/{n}",
            title: "{n}: \"Post {n}\"",
            weight: 1,
            components: &[],
        });
        let mut out = Vec::new();
        for (i, piece) in page.pieces.iter().enumerate() {
            if i > 0 {
                put_int(&mut out, 42);
            }
            out.extend_from_slice(piece);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#","page_path":"/p/42","page_title":"42: \"Post 42\"","timestamp":"#
        );
    }

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
