//! The shop the virtual visitors browse: its pages (with their weights), the components
//! on each page, and the kinds of events a visitor makes there.

use rand::{Rng, rngs::SmallRng};

/// A page of the site: `{n}` in its path and title stands for `n`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Its index in [`SITE`].
    pub kind: usize,
    pub n: u32,
}

impl Page {
    pub fn kind(self) -> &'static PageKind {
        &SITE[self.kind]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventType {
    PageView,
    HoverEnter,
    Click,
    HoverLeave,
}

impl EventType {
    #[cfg(test)]
    pub fn name(self) -> &'static str {
        match self {
            Self::PageView => "PAGE_VIEW",
            Self::HoverEnter => "HOVER_ENTER",
            Self::Click => "CLICK",
            Self::HoverLeave => "HOVER_LEAVE",
        }
    }

    /// `,"event_type":...,"location_type":...`
    pub fn json(self) -> &'static [u8] {
        match self {
            Self::PageView => b",\"event_type\":\"PAGE_VIEW\",\"location_type\":\"PAGE\"",
            Self::HoverEnter => b",\"event_type\":\"HOVER_ENTER\",\"location_type\":\"COMPONENT\"",
            Self::Click => b",\"event_type\":\"CLICK\",\"location_type\":\"COMPONENT\"",
            Self::HoverLeave => b",\"event_type\":\"HOVER_LEAVE\",\"location_type\":\"COMPONENT\"",
        }
    }
}

pub struct PageKind {
    pub path: &'static str,
    pub title: &'static str,
    /// How likely a landing or a navigation goes here.
    pub weight: u32,
    pub components: &'static [Component],
}

pub struct Component {
    pub name: &'static str,
    pub tag: &'static str,
    pub id: &'static str,
    pub class: &'static str,
    pub text: &'static str,
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
pub static SITE: &[PageKind] = &[
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

pub fn random_page(rng: &mut SmallRng) -> Page {
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
