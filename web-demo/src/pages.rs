//! The shop's HTML pages, the analytics page and the static files, all embedded at
//! compile time.
//!
//! A shop page is the layout (`static/layout.html`) around the page's body
//! (`static/pages/*.html`); `{{nav}}` in a body puts the navigation bar there. The
//! browser moves between shop pages without reloading (`static/shop.js` fetches the next
//! page and swaps its `#app`), so the tracker sees `history.pushState` navigations.

use std::hash::{DefaultHasher, Hash, Hasher};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{
    AppState,
    catalogue::{self, Page},
};

const LAYOUT: &str = include_str!("../static/layout.html");
const NAV: &str = include_str!("../static/pages/nav.html");
const ANALYTICS: &str = include_str!("../static/analytics.html");
const NOT_FOUND: &str = include_str!("../static/pages/not-found.html");

/// The files served as they are: path, content type, body.
pub const ASSETS: &[(&str, &str, &str)] = &[
    (
        "/tracker.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/tracker.js"),
    ),
    (
        "/shop.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/shop.js"),
    ),
    (
        "/analytics.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/analytics.js"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_str!("../static/style.css"),
    ),
];

/// The body of each catalogue page, by its path pattern.
fn body(page: &Page) -> &'static str {
    match page.path {
        "/" => include_str!("../static/pages/home.html"),
        "/products" => include_str!("../static/pages/products.html"),
        "/products/{n}" => include_str!("../static/pages/product.html"),
        "/pricing" => include_str!("../static/pages/pricing.html"),
        "/cart" => include_str!("../static/pages/cart.html"),
        "/checkout" => include_str!("../static/pages/checkout.html"),
        "/blog/post-{n}" => include_str!("../static/pages/blog.html"),
        other => unreachable!("the catalogue page {other} has no body"),
    }
}

pub fn router() -> Router<AppState> {
    let mut router = Router::new().route("/analytics", get(analytics));
    for &(path, content_type, text) in ASSETS {
        router = router.route(
            path,
            get(move |headers: HeaderMap| async move { asset(&headers, content_type, text) }),
        );
    }
    router.fallback(shop_page)
}

/// Product names for the pages that carry a number.
const PRODUCTS: &[(&str, u32)] = &[
    ("Wool scarf", 29),
    ("Mug", 12),
    ("Linen shirt", 45),
    ("Desk lamp", 38),
    ("Notebook", 9),
    ("Rain jacket", 89),
    ("Tea tin", 14),
];

/// The HTML of the shop page at `path`, or `None` when there is none.
pub fn render(collector_url: &str, write_key: Option<&str>, path: &str) -> Option<String> {
    let (page, n) = catalogue::page_for(path)?;
    let (name, price) = PRODUCTS[n as usize % PRODUCTS.len()];
    let app = body(page)
        .replace("{{nav}}", NAV)
        .replace("{{n}}", &n.to_string())
        .replace("{{name}}", name)
        .replace("{{price}}", &price.to_string());
    Some(layout(&page.title_for(n), &app, collector_url, write_key))
}

fn layout(title: &str, app: &str, collector_url: &str, write_key: Option<&str>) -> String {
    // JSON in an inline script: `</` must not end the script early.
    let js = |value: &str| {
        serde_json::to_string(value)
            .expect("a string serialises")
            .replace("</", "<\\/")
    };
    LAYOUT
        .replace("{{title}}", title)
        .replace("{{collector}}", &js(collector_url))
        .replace("{{writeKey}}", &js(write_key.unwrap_or_default()))
        .replace("{{app}}", app)
}

async fn shop_page(State(state): State<AppState>, uri: Uri) -> Response {
    let key = state.config.write_key.as_deref();
    match render(&state.config.collector_url, key, uri.path()) {
        Some(html) => html_response(StatusCode::OK, html),
        None => html_response(
            StatusCode::NOT_FOUND,
            layout(
                "Not found - Shop",
                NOT_FOUND,
                &state.config.collector_url,
                key,
            ),
        ),
    }
}

async fn analytics() -> Response {
    html_response(StatusCode::OK, ANALYTICS.to_owned())
}

fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Pages are cheap and carry the current settings: always asked again.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response()
}

/// A static file: cached, but revalidated by its ETag, so a new build is seen at once.
fn asset(headers: &HeaderMap, content_type: &'static str, text: &'static str) -> Response {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    let etag = format!("\"{:016x}\"", hasher.finish());
    let cache = [
        (header::CACHE_CONTROL, "no-cache".to_owned()),
        (header::ETAG, etag.clone()),
    ];
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, [(header::CONTENT_TYPE, content_type)], text).into_response()
}
