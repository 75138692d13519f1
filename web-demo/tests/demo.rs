//! The demo's server: the pages carry exactly the catalogue's components, each file is
//! served with its type and cache headers, the tracker stays small, and the analytics
//! proxy says clearly when the events API is down.

use std::io::Write;

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use flate2::{Compression, write::GzEncoder};
use ptrack_web_demo::{Config, app, catalogue::PAGES, pages::ASSETS};
use tower::ServiceExt;

fn demo() -> Router {
    app(Config::for_tests(
        "http://collector.test:8000",
        "http://127.0.0.1:9",
    ))
}

async fn get(
    app: &Router,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, header::HeaderMap, String) {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

/// The `data-track="..."` names in `html`, in document order, each once.
fn tracked_names(html: &str) -> Vec<String> {
    let mut names = Vec::new();
    for piece in html.split("data-track=\"").skip(1) {
        let name = piece.split('"').next().unwrap().to_owned();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn title(html: &str) -> &str {
    html.split("<title>")
        .nth(1)
        .unwrap()
        .split("</title>")
        .next()
        .unwrap()
}

#[tokio::test]
async fn every_page_carries_exactly_the_catalogues_components_and_title() {
    let app = demo();
    for page in PAGES {
        for n in [1, 7, 500] {
            let path = page.path_for(n);
            let (status, headers, html) = get(&app, &path, &[]).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
            assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
            assert_eq!(tracked_names(&html), page.components, "{path}");
            assert_eq!(title(&html), page.title_for(n), "{path}");
            assert!(html.contains(r#"<script src="/tracker.js">"#), "{path}");
            assert!(
                html.contains(r#"endpoint: "http://collector.test:8000""#),
                "{path}: the browser is told COLLECTOR_URL"
            );
        }
    }
}

#[tokio::test]
async fn unknown_paths_are_404_pages_and_the_analytics_page_is_not_tracked() {
    let app = demo();
    for path in ["/nope", "/products/0", "/products/501", "/blog/post-x"] {
        let (status, headers, html) = get(&app, path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(html.contains("Not found"), "{path}");
    }
    let (status, headers, html) = get(&app, "/analytics", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(html.contains("/analytics.js") && !html.contains("tracker.js"));
    assert!(tracked_names(&html).is_empty());
}

#[tokio::test]
async fn static_files_have_their_type_and_are_revalidated_by_etag() {
    let app = demo();
    for (path, content_type) in [
        ("/tracker.js", "text/javascript; charset=utf-8"),
        ("/shop.js", "text/javascript; charset=utf-8"),
        ("/analytics.js", "text/javascript; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
    ] {
        let (status, headers, body) = get(&app, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], content_type, "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{path}");
        let embedded = ASSETS.iter().find(|a| a.0 == path).unwrap().2;
        assert_eq!(body, embedded);
        let etag = headers[header::ETAG].to_str().unwrap().to_owned();
        let (status, headers, body) = get(&app, path, &[("if-none-match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(headers[header::ETAG], etag.as_str());
        assert!(body.is_empty());
        let (status, _, _) = get(&app, path, &[("if-none-match", "\"stale\"")]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
}

#[test]
fn the_tracker_stays_under_5_kb_gzipped() {
    let tracker = ASSETS.iter().find(|a| a.0 == "/tracker.js").unwrap().2;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(tracker.as_bytes()).unwrap();
    let size = gz.finish().unwrap().len();
    assert!(
        size <= 5 * 1024,
        "tracker.js is {size} bytes gzipped; the budget is 5120"
    );
}

#[test]
fn the_tracker_never_reads_what_a_visitor_types() {
    let tracker = ASSETS.iter().find(|a| a.0 == "/tracker.js").unwrap().2;
    for reading in [
        ".value",
        "'input'",
        "'change'",
        "'keydown'",
        "'keyup'",
        "innerText",
    ] {
        assert!(!tracker.contains(reading), "tracker.js contains {reading}");
    }
}

#[tokio::test]
async fn the_proxy_says_the_events_api_is_down_and_how_to_fix_it() {
    let app = demo();
    for path in ["/api/events?limit=5", "/api/stats"] {
        let (status, headers, body) = get(&app, path, &[]).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains("not reachable at http://127.0.0.1:9")
                && error.contains("EVENTS_API_URL"),
            "{error}"
        );
    }
}

/// `WEB_DEMO_WRITE_KEY` reaches the tracker's `init`, escaped for the inline script, and
/// the tracker sends it: as a header on fetch, in the query on a beacon.
#[tokio::test]
async fn the_pages_hand_the_write_key_to_the_tracker() {
    let mut config = Config::for_tests("http://collector.test:8000", "http://127.0.0.1:9");
    config.write_key = Some("wk-1</script>".into());
    let (status, _, html) = get(&app(config), "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"writeKey: "wk-1<\/script>""#), "{html}");
    let (_, _, html) = get(&demo(), "/", &[]).await;
    assert!(html.contains(r#"writeKey: """#), "{html}");
    let tracker = ASSETS.iter().find(|a| a.0 == "/tracker.js").unwrap().2;
    assert!(tracker.contains("h['X-Ptrack-Key'] = cfg.writeKey"));
    assert!(tracker.contains("'?key=' + encodeURIComponent(cfg.writeKey)"));
}

#[tokio::test]
async fn metrics_time_each_request_by_route_template_and_status_in_openmetrics() {
    let app = demo();
    for _ in 0..2 {
        assert_eq!(get(&app, "/analytics", &[]).await.0, StatusCode::OK);
    }
    assert_eq!(get(&app, "/nope-123", &[]).await.0, StatusCode::NOT_FOUND);
    let (status, headers, text) = get(&app, "/metrics", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(
        text.contains(
            "ptrack_web_demo_http_request_duration_seconds_count\
             {method=\"GET\",route=\"/analytics\",status=\"200\"} 2"
        ),
        "{text}"
    );
    assert!(
        text.contains("# TYPE ptrack_web_demo_http_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        !text.contains("nope-123"),
        "a raw path became a label: {text}"
    );
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
}
