//! The web demo in a real browser: headless Chromium, driven over WebDriver by
//! `chromedriver`, against the real pipeline in-process (collector, embedded broker,
//! processor, PostgreSQL, events-api). What the visitor does must be exactly what lands
//! in `user_events`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`apt-get install chromium
//! chromium-driver`). WebDriver is plain JSON over HTTP, spoken here with reqwest.

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::Duration,
};

use ptrack_test_support::{TestBroker, TestDatabase, eventually, fresh_topic};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The pipeline and the demo, in-process.
struct Stack {
    db: TestDatabase,
    demo: String,
    stop: CancellationToken,
    collector: Collector,
    _broker: TestBroker,
}

/// The collector, which a test may stop and start again on the same address.
struct Collector {
    addr: SocketAddr,
    config: ptrack_collector::Config,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Collector {
    fn start(listener: tokio::net::TcpListener, config: ptrack_collector::Config) -> Self {
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(ptrack_collector::run(
            listener,
            config.clone(),
            stop.clone().cancelled_owned(),
        ));
        Self {
            addr,
            config,
            stop,
            task,
        }
    }

    async fn stop(&mut self) {
        self.stop.cancel();
        (&mut self.task).await.unwrap().unwrap();
    }

    async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        *self = Self::start(listener, self.config.clone());
    }
}

async fn listener() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

impl Stack {
    async fn start() -> Self {
        let broker = TestBroker::start().await.unwrap();
        let topic = fresh_topic(&broker, 3).await.unwrap();
        let db = TestDatabase::new().await.unwrap();
        let stop = CancellationToken::new();
        let (demo_listener, demo) = listener().await;
        let demo = format!("http://{demo}");

        let (l, collector) = listener().await;
        let mut config = ptrack_collector::Config::for_tests(&broker.bootstrap(), &topic);
        config.cors_origins = vec![demo.clone()];
        let collector_server = Collector::start(l, config);

        let (l, addr) = listener().await;
        let config = ptrack_processor::Config {
            addr,
            kafka: ptrack_common::kafka::KafkaSettings {
                brokers: broker.bootstrap(),
                topic: topic.clone(),
                partitions: 3,
                idempotence: true,
            },
            group_id: format!("processor-{topic}"),
            database_url: ptrack_common::config::Secret::new(db.url.clone()),
            batch_size: 500,
            batch_timeout: Duration::from_millis(100),
            db_max_connections: 2,
            join_delay: Duration::ZERO,
            orphan_after: Duration::from_secs(30),
            fetch_wait: Duration::from_millis(50),
        };
        tokio::spawn(ptrack_processor::run(
            l,
            config,
            stop.clone().cancelled_owned(),
        ));

        let (l, events_api) = listener().await;
        let config = ptrack_events_api::Config {
            addr: events_api,
            database_url: ptrack_common::config::Secret::new(db.url.clone()),
        };
        tokio::spawn(ptrack_events_api::run(
            l,
            config,
            stop.clone().cancelled_owned(),
        ));

        let config = ptrack_web_demo::Config::for_tests(
            &format!("http://{collector}"),
            &format!("http://{events_api}"),
        );
        tokio::spawn(ptrack_web_demo::run(
            demo_listener,
            config,
            stop.clone().cancelled_owned(),
        ));
        Self {
            db,
            demo,
            stop,
            collector: collector_server,
            _broker: broker,
        }
    }

    /// The stored events of the session, in sequence order: (sequence, type,
    /// component, path).
    async fn stored(&self) -> Vec<(i64, String, String, String)> {
        sqlx::query_as(
            "SELECT (full_event_data->>'sequence')::bigint, event_type,
                    coalesce(component_name, ''), coalesce(page_path, '')
             FROM user_events ORDER BY 1",
        )
        .fetch_all(&self.db.pool)
        .await
        .unwrap()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop.cancel();
        self.collector.stop.cancel();
    }
}

/// The WebDriver element reference's key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session through its own chromedriver, both ended on drop.
struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "chromedriver could not be started ({err}): install Debian's chromium and \
                     chromium-driver (apt-get install -y chromium chromium-driver; scripts/test does it)"
                )
            });
        let profile = tempfile::tempdir().unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        eventually(Duration::from_secs(20), "chromedriver answers", || {
            let http = http.clone();
            let url = format!("{base}/status");
            async move { http.get(url).send().await.ok().map(|_| ()) }
        })
        .await
        .unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"args": args},
            }}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"))
            .to_owned();
        Self {
            http,
            session: format!("{base}/session/{session}"),
            driver,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if !body.is_null() {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if answer["value"]["error"].is_string() {
            panic!("WebDriver {path}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, body).await
    }

    async fn open(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        found[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn script(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// Real pointer input: move onto the element's centre, and click there if asked.
    async fn pointer(&self, css: &str, click: bool) {
        let element = self.find(css).await;
        let mut actions = vec![json!({"type": "pointerMove", "duration": 0,
            "origin": {ELEMENT: element}, "x": 0, "y": 0})];
        if click {
            actions.push(json!({"type": "pointerDown", "button": 0}));
            actions.push(json!({"type": "pointerUp", "button": 0}));
        }
        self.post(
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse",
                "parameters": {"pointerType": "mouse"}, "actions": actions}]}),
        )
        .await;
    }

    /// Puts the pointer on a fixed spot outside the shop's content, so that pages
    /// swapped under it cause no hover of their own.
    async fn park(&self) {
        self.script(
            "if (!document.getElementById('park')) { var p = document.createElement('div'); \
             p.id = 'park'; p.style.cssText = 'position:fixed;right:0;bottom:0;width:30px;\
             height:30px;z-index:99999'; document.body.appendChild(p); }",
        )
        .await;
        self.pointer("#park", false).await;
    }

    async fn screenshot(&self, path: &std::path::Path) {
        let png = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        std::fs::write(path, decode_base64(png.as_str().unwrap())).unwrap();
    }
}

impl Drop for Browser {
    /// Ends the session first: chromedriver then closes Chromium, which killing
    /// chromedriver alone would leave running. Drop cannot await, so this is one
    /// blocking HTTP request on a plain socket.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let rest = self.session.trim_start_matches("http://");
        if let Some((host, path)) = rest.split_once('/')
            && let Ok(mut socket) = std::net::TcpStream::connect(host)
        {
            let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                socket,
                "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = socket.read_to_end(&mut Vec::new());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// Where the screenshot goes: the cargo target folder, for a person to look at.
fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(Into::into)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

#[tokio::test(flavor = "multi_thread")]
async fn clicks_hovers_and_navigation_in_chromium_are_stored_exactly_and_shown_live() {
    let stack = Stack::start().await;
    let browser = Browser::start().await;
    let secret = "typed-secret-4711@example.com";

    browser.open(&format!("{}/", stack.demo)).await;
    browser.park().await;
    browser.pointer("#hero", false).await;
    browser.pointer("#signup", false).await;
    browser.pointer("#signup", true).await;
    browser.park().await;
    // Navigation clicks come from script, not the pointer: the page swapped under a
    // pointer would give hovers the visitor did not make.
    browser
        .script("document.querySelector('#top-nav a[href=\"/products\"]').click()")
        .await;
    eventually(Duration::from_secs(5), "the products page", || async {
        (browser.script("return location.pathname").await == "/products").then_some(())
    })
    .await
    .unwrap();
    browser.script("history.back()").await;
    eventually(Duration::from_secs(5), "back home", || async {
        (browser.script("return document.title").await == "Home - Shop").then_some(())
    })
    .await
    .unwrap();
    browser
        .script("document.querySelector('#top-nav a[href=\"/blog/post-1\"]').click()")
        .await;
    eventually(Duration::from_secs(5), "the blog post", || async {
        (browser.script("return document.title").await == "Blog post 1 - Shop").then_some(())
    })
    .await
    .unwrap();
    browser.park().await;
    browser.pointer("#newsletter input[name=email]", true).await;
    let input = browser.find("#newsletter input[name=email]").await;
    browser
        .post(&format!("/element/{input}/value"), json!({"text": secret}))
        .await;
    browser.park().await;

    let expected: Vec<(&str, &str, &str)> = vec![
        ("PAGE_VIEW", "", "/"),
        ("HOVER_ENTER", "HeroBanner", "/"),
        ("HOVER_LEAVE", "HeroBanner", "/"),
        ("HOVER_ENTER", "SignupButton", "/"),
        ("CLICK", "SignupButton", "/"),
        ("HOVER_LEAVE", "SignupButton", "/"),
        ("CLICK", "NavBar", "/"),
        ("PAGE_VIEW", "", "/products"),
        ("PAGE_VIEW", "", "/"),
        ("CLICK", "NavBar", "/"),
        ("PAGE_VIEW", "", "/blog/post-1"),
        ("HOVER_ENTER", "NewsletterForm", "/blog/post-1"),
        ("CLICK", "NewsletterForm", "/blog/post-1"),
        ("HOVER_LEAVE", "NewsletterForm", "/blog/post-1"),
    ];
    let stored = eventually(Duration::from_secs(20), "the events stored", || async {
        let stored = stack.stored().await;
        (stored.len() >= expected.len()).then_some(stored)
    })
    .await
    .ok();
    if stored.is_none() {
        panic!("the events were not all stored: {:?}", stack.stored().await);
    }
    // Nothing more arrives late.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stored = stack.stored().await;
    let got: Vec<(&str, &str, &str)> = stored
        .iter()
        .map(|(_, t, c, p)| (t.as_str(), c.as_str(), p.as_str()))
        .collect();
    assert_eq!(got, expected);
    let sequences: Vec<i64> = stored.iter().map(|s| s.0).collect();
    assert_eq!(sequences, (1..=expected.len() as i64).collect::<Vec<_>>());
    let leaks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM user_events WHERE full_event_data::text LIKE '%typed-secret%'",
    )
    .fetch_one(&stack.db.pool)
    .await
    .unwrap();
    assert_eq!(leaks, 0, "what the visitor typed was sent");
    assert_eq!(
        browser
            .script("return document.querySelector('#newsletter input').value")
            .await,
        secret,
        "the typing really happened"
    );

    // The analytics page, in a tab of its own, shows a new click within seconds.
    let shop_tab = browser
        .call(reqwest::Method::GET, "/window", Value::Null)
        .await;
    let analytics_tab = browser.post("/window/new", json!({"type": "tab"})).await["handle"].clone();
    browser
        .post("/window", json!({"handle": analytics_tab}))
        .await;
    browser.open(&format!("{}/analytics", stack.demo)).await;
    let rows = |component: &'static str| {
        let browser = &browser;
        async move {
            let script = format!(
                "return document.querySelectorAll('#events tr[data-event-type=CLICK][data-component={component}]').length"
            );
            (browser.script(&script).await.as_i64() == Some(1)).then_some(())
        }
    };
    eventually(
        Duration::from_secs(5),
        "the newsletter click listed",
        || rows("NewsletterForm"),
    )
    .await
    .unwrap();
    browser.post("/window", json!({"handle": shop_tab})).await;
    browser
        .script("document.querySelector('#share').click()")
        .await;
    let clicked = std::time::Instant::now();
    browser
        .post("/window", json!({"handle": analytics_tab}))
        .await;
    eventually(Duration::from_secs(5), "the share click listed", || {
        rows("ShareButton")
    })
    .await
    .unwrap();
    eprintln!(
        "a click reached the analytics page in {:?}",
        clicked.elapsed()
    );
    let shot = target_dir().join("web-demo-analytics.png");
    browser.screenshot(&shot).await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
    eprintln!("analytics page screenshot: {}", shot.display());
}

/// `ptrack load`'s synthetic visitors browse the demo's pages and components, no more and
/// no fewer, so that load and real clicks look alike.
#[test]
fn the_load_generators_site_is_the_demos_catalogue() {
    use std::collections::{BTreeMap, BTreeSet};

    use ptrack::load::tracker::{Batching, Visitors};
    use ptrack_web_demo::catalogue::{PAGES, page_for};

    let mut visitors = Visitors::new(11, 200, Batching::default(), "catalogue-check");
    let mut seen: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut now = 1_764_000_000_000;
    for _ in 0..5_000 {
        now += 50;
        let batch: Value = serde_json::from_slice(&visitors.next_batch(now).body).unwrap();
        for event in batch["events"].as_array().unwrap() {
            let path = event["page_path"].as_str().unwrap();
            let (page, n) = page_for(path).unwrap_or_else(|| {
                panic!("ptrack load visits {path}, a page the demo does not have")
            });
            assert_eq!(event["page_title"], page.title_for(n).as_str(), "{path}");
            let components = seen.entry(page.path).or_default();
            if let Some(name) = event["component_name"].as_str() {
                components.insert(name.to_owned());
            }
        }
    }
    let demo: BTreeMap<&str, BTreeSet<String>> = PAGES
        .iter()
        .map(|page| {
            let names = page.components.iter().map(|c| c.to_string()).collect();
            (page.path, names)
        })
        .collect();
    assert_eq!(seen, demo);
}

/// Events still waiting for their batch when the visitor leaves go out with
/// `navigator.sendBeacon` on `pagehide`.
#[tokio::test(flavor = "multi_thread")]
async fn events_pending_when_the_page_is_left_arrive_by_beacon() {
    let stack = Stack::start().await;
    let browser = Browser::start().await;
    browser.open(&format!("{}/pricing", stack.demo)).await;
    browser.park().await;
    // The page view goes out in its one-second batch; then batches wait ten minutes.
    eventually(Duration::from_secs(10), "the page view sent", || async {
        (browser.script("return ptrack.stats().sent").await == 1).then_some(())
    })
    .await
    .unwrap();
    browser
        .script("ptrack.init({ flushInterval: 600000, batchSize: 100 })")
        .await;
    browser.pointer("#plans", true).await;
    browser.pointer("#signup", true).await;
    assert_eq!(browser.script("return ptrack.stats().queued").await, 5);
    browser.open("about:blank").await;

    let expected = [
        ("PAGE_VIEW", "", "/pricing"),
        ("HOVER_ENTER", "PricingTable", "/pricing"),
        ("CLICK", "PricingTable", "/pricing"),
        ("HOVER_LEAVE", "PricingTable", "/pricing"),
        ("HOVER_ENTER", "SignupButton", "/pricing"),
        ("CLICK", "SignupButton", "/pricing"),
    ];
    let stored = eventually(Duration::from_secs(20), "the beaconed events", || async {
        let stored = stack.stored().await;
        (stored.len() >= expected.len()).then_some(stored)
    })
    .await
    .ok();
    let stored = stored.unwrap_or_default();
    let got: Vec<(&str, &str, &str)> = stored
        .iter()
        .map(|(_, t, c, p)| (t.as_str(), c.as_str(), p.as_str()))
        .collect();
    assert_eq!(got, expected);
}

/// While the collector is down the tracker keeps its events, across a reload too (in
/// local storage, not beaconed into the void), and sends them once it is back.
#[tokio::test(flavor = "multi_thread")]
async fn events_made_while_the_collector_is_down_are_stored_after_it_returns() {
    let mut stack = Stack::start().await;
    let browser = Browser::start().await;
    browser.open(&format!("{}/pricing", stack.demo)).await;
    browser.park().await;
    eventually(Duration::from_secs(10), "the page view sent", || async {
        (browser.script("return ptrack.stats().sent").await == 1).then_some(())
    })
    .await
    .unwrap();

    stack.collector.stop().await;
    browser.pointer("#plans", true).await;
    browser.park().await;
    eventually(Duration::from_secs(10), "a failed send", || async {
        (browser
            .script("return ptrack.stats().retries")
            .await
            .as_i64()
            >= Some(1))
        .then_some(())
    })
    .await
    .unwrap();
    // A reload while the collector is down: the new page picks the events up.
    browser.open(&format!("{}/pricing", stack.demo)).await;
    eventually(
        Duration::from_secs(5),
        "the reloaded page's queue",
        || async {
            (browser
                .script("return ptrack.stats().queued")
                .await
                .as_i64()
                >= Some(4))
            .then_some(())
        },
    )
    .await
    .unwrap();
    assert_eq!(stack.stored().await.len(), 1);

    stack.collector.restart().await;
    let expected = [
        ("PAGE_VIEW", "", "/pricing"),
        ("HOVER_ENTER", "PricingTable", "/pricing"),
        ("CLICK", "PricingTable", "/pricing"),
        ("HOVER_LEAVE", "PricingTable", "/pricing"),
        ("PAGE_VIEW", "", "/pricing"),
    ];
    let _ = eventually(
        Duration::from_secs(40),
        "the held events stored",
        || async { (stack.stored().await.len() >= expected.len()).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stored = stack.stored().await;
    let got: Vec<(&str, &str, &str)> = stored
        .iter()
        .map(|(_, t, c, p)| (t.as_str(), c.as_str(), p.as_str()))
        .collect();
    let stats = browser.script("return ptrack.stats()").await;
    assert_eq!(got, expected, "the tracker: {stats}");
    let sequences: Vec<i64> = stored.iter().map(|s| s.0).collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5]);
}
