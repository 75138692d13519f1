//! Synthetic visitors: each virtual user browses a small shop (page views, hovers,
//! clicks, think times, sessions that end and start again), and its tracker batches the
//! events the way the browser tracker does: flushed when the batch is full or when the
//! flush interval has passed since its first event.
//!
//! Everything comes from one seeded random generator, so the same seed gives the same
//! visitors, the same events and the same event ids.

use std::time::Duration;

use ptrack_common::event::{DomInfo, LocationType, TrackEvent};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use uuid::Uuid;

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

/// A set of virtual users, with their own random generator.
pub struct Visitors {
    rng: StdRng,
    users: Vec<User>,
    batching: Batching,
    app_name: String,
}

struct User {
    anonymous_id: String,
    session_id: String,
    metadata: Value,
    page: Page,
    /// The component under the pointer, if any.
    hovering: Option<&'static Component>,
    /// Simulated milliseconds since this user's first event.
    clock_ms: u64,
    /// An event that came after its batch was flushed: the next batch starts with it.
    pending: Option<(u64, TrackEvent)>,
    /// Whether the landing page's PAGE_VIEW was sent.
    landed: bool,
}

#[derive(Clone)]
struct Page {
    path: String,
    title: String,
    kind: &'static PageKind,
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
        let mut rng = StdRng::seed_from_u64(seed);
        let users = (0..users.max(1)).map(|_| User::new(&mut rng)).collect();
        Self {
            rng,
            users,
            batching,
            app_name: app_name.to_owned(),
        }
    }

    /// The next request: a random user's tracker flushes; its last event happened at
    /// `now_ms` (Unix ms), the earlier ones as long before as their think times say.
    pub fn next_batch(&mut self, now_ms: i64) -> Batch {
        let who = self.rng.random_range(0..self.users.len());
        let user = &mut self.users[who];
        let mut events: Vec<(u64, TrackEvent)> = Vec::new();
        let limit = self
            .batching
            .fixed
            .unwrap_or(self.batching.max_batch)
            .max(1);
        let flush_ms = self.batching.flush_interval.as_millis() as u64;
        let mut first_at = None;
        while events.len() < limit {
            let (at, event) = match user.pending.take() {
                Some(pending) => pending,
                None => user.act(&mut self.rng),
            };
            let first = *first_at.get_or_insert(at);
            // The tracker's timer fires before this event: flush what it holds, and
            // the event opens the next batch.
            if self.batching.fixed.is_none() && !events.is_empty() && at - first >= flush_ms {
                user.pending = Some((at, event));
                break;
            }
            events.push((at, event));
        }
        let last = events.last().map(|(at, _)| *at).unwrap_or(0);
        let first = events.first().map(|(at, _)| *at).unwrap_or(0);
        let ids = events.iter().map(|(_, e)| e.event_id).collect();
        // Written event by event so that each borrows the user's metadata for its turn
        // instead of holding a copy: cloning that map was the dearest part of a batch.
        let mut body = Vec::with_capacity(600 * events.len() + 64);
        body.extend_from_slice(b"{\"events\":[");
        for (i, (at, mut event)) in events.into_iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            event.timestamp = now_ms - (last - at) as i64;
            std::mem::swap(&mut event.user_metadata, &mut user.metadata);
            let written = serde_json::to_writer(&mut body, &event);
            std::mem::swap(&mut event.user_metadata, &mut user.metadata);
            // Serializing plain structs and string maps into memory cannot fail.
            written.expect("an event serializes");
        }
        body.extend_from_slice(b"],\"appName\":");
        serde_json::to_writer(&mut body, &self.app_name).expect("a string serializes");
        body.extend_from_slice(b",\"appVersion\":");
        serde_json::to_writer(&mut body, env!("CARGO_PKG_VERSION")).expect("a string serializes");
        body.push(b'}');
        Batch {
            body,
            ids,
            oldest_ms: now_ms - (last - first) as i64,
        }
    }
}

fn new_id(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Think time: mostly short, sometimes long (an exponential with this mean).
fn think(rng: &mut StdRng, mean_ms: f64) -> u64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    (-u.ln() * mean_ms).min(mean_ms * 20.0) as u64
}

fn random_page(rng: &mut StdRng) -> Page {
    let total: u32 = SITE.iter().map(|p| p.weight).sum();
    let mut roll = rng.random_range(0..total);
    let kind = SITE
        .iter()
        .find(|p| {
            if roll < p.weight {
                true
            } else {
                roll -= p.weight;
                false
            }
        })
        .unwrap_or(&SITE[0]);
    let n = rng.random_range(1..=500u32).to_string();
    Page {
        path: kind.path.replace("{n}", &n),
        title: kind.title.replace("{n}", &n),
        kind,
    }
}

impl User {
    fn new(rng: &mut StdRng) -> Self {
        let (width, height) = *pick(rng, SCREENS);
        let metadata = json!({
            "userAgent": pick(rng, AGENTS),
            "language": pick(rng, LANGUAGES),
            "screen": {"width": width, "height": height},
            "source": "ptrack-load",
        });
        Self {
            anonymous_id: new_id(rng).to_string(),
            session_id: new_id(rng).to_string(),
            metadata,
            page: random_page(rng),
            hovering: None,
            // Users are in the middle of their visits when the run starts.
            clock_ms: rng.random_range(0..60_000),
            pending: None,
            landed: false,
        }
    }

    /// The user's next action and its simulated time: leave the hovered component
    /// (maybe clicking it first), hover another one, go to another page, or end the
    /// session and come back later as a new one.
    fn act(&mut self, rng: &mut StdRng) -> (u64, TrackEvent) {
        if !self.landed {
            self.landed = true;
            return (self.clock_ms, self.page_view(rng));
        }
        if let Some(component) = self.hovering {
            if rng.random_bool(0.4) {
                self.clock_ms += think(rng, 600.0);
                // A click leaves the pointer where it is: the leave comes next time.
                return (self.clock_ms, self.component_event("CLICK", component, rng));
            }
            self.hovering = None;
            self.clock_ms += think(rng, 800.0);
            return (
                self.clock_ms,
                self.component_event("HOVER_LEAVE", component, rng),
            );
        }
        let roll: f64 = rng.random();
        if roll < 0.65 {
            let component = pick(rng, self.page.kind.components);
            self.hovering = Some(component);
            self.clock_ms += think(rng, 1500.0);
            (
                self.clock_ms,
                self.component_event("HOVER_ENTER", component, rng),
            )
        } else {
            if roll > 0.95 {
                // The session ends; the same browser comes back later.
                self.session_id = new_id(rng).to_string();
                self.clock_ms += think(rng, 60_000.0);
            } else {
                self.clock_ms += think(rng, 3000.0);
            }
            self.page = random_page(rng);
            (self.clock_ms, self.page_view(rng))
        }
    }

    fn base(&self, rng: &mut StdRng, event_type: &str, location: LocationType) -> TrackEvent {
        TrackEvent {
            event_id: new_id(rng),
            event_type: event_type.to_owned(),
            location_type: location,
            component_name: None,
            page_path: Some(self.page.path.clone()),
            page_title: Some(self.page.title.clone()),
            timestamp: 0,
            dom_info: None,
            // Lent by the user while the event is written (see `next_batch`).
            user_metadata: Value::Null,
            session_id: Some(self.session_id.clone()),
            anonymous_id: Some(self.anonymous_id.clone()),
        }
    }

    fn page_view(&self, rng: &mut StdRng) -> TrackEvent {
        self.base(rng, "PAGE_VIEW", LocationType::Page)
    }

    fn component_event(
        &self,
        event_type: &str,
        component: &Component,
        rng: &mut StdRng,
    ) -> TrackEvent {
        let mut event = self.base(rng, event_type, LocationType::Component);
        event.component_name = Some(component.name.to_owned());
        let text = (!component.text.is_empty()).then(|| component.text.to_owned());
        event.dom_info = Some(DomInfo {
            tag: Some(component.tag.to_owned()),
            id: Some(component.id.to_owned()),
            class_name: Some(component.class.to_owned()),
            text,
        });
        event
    }
}

#[cfg(test)]
mod tests {
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
}
