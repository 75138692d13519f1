//! The shop's pages and the components each one marks with `data-track`. They are the
//! pages and components of the site `ptrack load`'s synthetic visitors browse
//! (`cli/src/load/session.rs`), so load and real clicks look alike; a test in `cli`
//! compares the two lists, and a test here compares this one with the served HTML.

/// One page of the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// The path as the tracker reports it; `{n}` stands for a number (1 to 500 are
    /// served, as the load generator draws them).
    pub path: &'static str,
    /// The document title; `{n}` as in the path.
    pub title: &'static str,
    /// The `data-track` names on the page, in document order, each once.
    pub components: &'static [&'static str],
}

impl Page {
    /// The path with `{n}` replaced by `n`.
    pub fn path_for(&self, n: u32) -> String {
        self.path.replace("{n}", &n.to_string())
    }

    /// The title with `{n}` replaced by `n`.
    pub fn title_for(&self, n: u32) -> String {
        self.title.replace("{n}", &n.to_string())
    }
}

/// The highest `{n}` served in a path.
pub const MAX_N: u32 = 500;

/// Every page of the shop (the analytics page is not part of the shop).
pub const PAGES: &[Page] = &[
    Page {
        path: "/",
        title: "Home - Shop",
        components: &[
            "NavBar",
            "SearchBox",
            "HeroBanner",
            "ProductCard",
            "SignupButton",
        ],
    },
    Page {
        path: "/products",
        title: "All products - Shop",
        components: &[
            "NavBar",
            "SearchBox",
            "FilterPanel",
            "ProductCard",
            "Pagination",
        ],
    },
    Page {
        path: "/products/{n}",
        title: "Product {n} - Shop",
        components: &["NavBar", "ProductGallery", "AddToCartButton", "ReviewList"],
    },
    Page {
        path: "/pricing",
        title: "Pricing - Shop",
        components: &["NavBar", "PricingTable", "SignupButton"],
    },
    Page {
        path: "/cart",
        title: "Your cart - Shop",
        components: &["NavBar", "CartItem", "CheckoutButton"],
    },
    Page {
        path: "/checkout",
        title: "Checkout - Shop",
        components: &["PaymentForm", "PlaceOrderButton"],
    },
    Page {
        path: "/blog/post-{n}",
        title: "Blog post {n} - Shop",
        components: &["NavBar", "ShareButton", "NewsletterForm"],
    },
];

/// The catalogue page whose path pattern matches `path`, and the number in it (0 when
/// the pattern has none).
pub fn page_for(path: &str) -> Option<(&'static Page, u32)> {
    PAGES
        .iter()
        .find_map(|page| match page.path.split_once("{n}") {
            None => (page.path == path).then_some((page, 0)),
            Some((before, after)) => {
                let digits = path.strip_prefix(before)?.strip_suffix(after)?;
                if digits.is_empty()
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                    || digits.starts_with('0')
                {
                    return None;
                }
                let n: u32 = digits.parse().ok()?;
                (1..=MAX_N).contains(&n).then_some((page, n))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_their_page_and_number() {
        assert_eq!(page_for("/").unwrap().0.title, "Home - Shop");
        let (page, n) = page_for("/products/42").unwrap();
        assert_eq!((page.path, n), ("/products/{n}", 42));
        assert_eq!(page.title_for(n), "Product 42 - Shop");
        assert_eq!(page_for("/blog/post-7").unwrap().1, 7);
        for missing in [
            "/products/0",
            "/products/501",
            "/products/x",
            "/products/07",
            "/nope",
            "/blog/post-",
        ] {
            assert!(page_for(missing).is_none(), "{missing}");
        }
    }
}
