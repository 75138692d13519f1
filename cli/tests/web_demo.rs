//! The web demo in a real browser: headless Chromium, driven over WebDriver by
//! `chromedriver`, against the real pipeline in-process (collector, embedded broker,
//! processor, PostgreSQL, events-api). What the visitor does must be exactly what lands
//! in `user_events`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`apt-get install chromium
//! chromium-driver`). WebDriver is plain JSON over HTTP, spoken here with reqwest.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use ptrack_test_support::eventually;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

mod common;

use common::pipeline::{Pipeline, listener};

/// The pipeline and the demo, in-process.
struct Stack {
    pipeline: Pipeline,
    demo: String,
    stop: CancellationToken,
}

impl Stack {
    async fn start() -> Self {
        Self::with_keys(&[], None).await
    }

    /// The collector requires one of `keys` (none: open); the demo's pages give the
    /// tracker `write_key`.
    async fn with_keys(keys: &[&str], write_key: Option<&str>) -> Self {
        let (demo_listener, demo) = listener().await;
        let demo = format!("http://{demo}");
        let pipeline = Pipeline::start_with(|config| {
            config.cors_origins = vec![demo.clone()];
            config.security.write_keys = keys
                .iter()
                .map(|k| ptrack_common::config::Secret::new((*k).to_owned()))
                .collect();
        })
        .await;
        let stop = CancellationToken::new();
        let mut config = ptrack_web_demo::Config::for_tests(
            pipeline.collector_url().as_str(),
            pipeline.events_api_url().as_str(),
        );
        config.write_key = write_key.map(str::to_owned);
        tokio::spawn(ptrack_web_demo::run(
            demo_listener,
            config,
            stop.clone().cancelled_owned(),
        ));
        Self {
            pipeline,
            demo,
            stop,
        }
    }

    /// The URL of the demo's page at `path`.
    fn page(&self, path: &str) -> String {
        format!("{}{path}", self.demo)
    }

    /// The stored events of the session, in sequence order.
    async fn stored(&self) -> Vec<Stored> {
        sqlx::query_as(
            "SELECT (full_event_data->>'sequence')::bigint, event_type,
                    coalesce(component_name, ''), coalesce(page_path, '')
             FROM user_events ORDER BY 1",
        )
        .fetch_all(&self.pipeline.db.pool)
        .await
        .unwrap()
    }

    /// Waits up to `within` until at least `n` events are stored, then `settle` longer so
    /// that one too many (late, or sent twice) shows too; every stored event. Fewer than
    /// `n` come back as they are, for the test's assert to show: each test waits for the
    /// pipeline this way before comparing with what the visitor did.
    async fn stored_after(&self, n: usize, within: Duration, settle: Duration) -> Vec<Stored> {
        let reached = eventually(within, "the events stored", || async {
            (self.stored().await.len() >= n).then_some(())
        })
        .await
        .is_ok();
        if reached {
            tokio::time::sleep(settle).await;
        }
        self.stored().await
    }

    /// Asserts that the stored events are `expected`, as (type, component, path), after
    /// waiting as [`Self::stored_after`] does: how most tests end. Returns them for further
    /// checks (their sequence numbers).
    async fn assert_stored(
        &self,
        expected: &[(&str, &str, &str)],
        within: Duration,
        settle: Duration,
    ) -> Vec<Stored> {
        let stored = self.stored_after(expected.len(), within, settle).await;
        assert_eq!(
            visits(&stored),
            expected,
            "the stored events (type, component, path)"
        );
        stored
    }
}

/// A stored event: (sequence, type, component, path).
type Stored = (i64, String, String, String);

/// The (type, component, path) of each stored event: what the tests compare with what
/// the visitor did.
fn visits(stored: &[Stored]) -> Vec<(&str, &str, &str)> {
    stored
        .iter()
        .map(|(_, t, c, p)| (t.as_str(), c.as_str(), p.as_str()))
        .collect()
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop.cancel();
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

    /// A Chrome DevTools Protocol command, through chromedriver.
    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.post("/goog/cdp/execute", json!({"cmd": cmd, "params": params}))
            .await
    }

    /// The tracker's counters.
    async fn stats(&self) -> Value {
        self.script("return ptrack.stats()").await
    }

    /// Waits up to `within` until the tracker's counter `stat` passes `ok` (`what`: a
    /// send done, a retry made, a queue filled); the panic shows every counter. The tests
    /// follow the tracker through these counters.
    async fn wait_for_stat(
        &self,
        stat: &str,
        what: &str,
        within: Duration,
        ok: impl Fn(i64) -> bool,
    ) {
        let done = eventually(within, what, || async {
            self.stats().await[stat]
                .as_i64()
                .is_some_and(&ok)
                .then_some(())
        })
        .await;
        if done.is_err() {
            panic!(
                "{what}: not within {within:?}; the tracker's counters: {}",
                self.stats().await
            );
        }
    }

    /// Waits up to `within` until the tracker of this page has sent `n` events.
    async fn sent(&self, n: i64, within: Duration) {
        let what = format!("{n} event(s) sent");
        self.wait_for_stat("sent", &what, within, |sent| sent == n)
            .await;
    }

    /// Opens `url`, parks the pointer and waits up to `within` until the tracker has sent
    /// the page view: a page with nothing pending, where most tests' own actions start.
    async fn visit(&self, url: &str, within: Duration) {
        self.open(url).await;
        self.park().await;
        self.sent(1, within).await;
    }

    /// Asserts the tracker's counters named in `expected` (a JSON object); the message
    /// shows them all. What the privacy and queue tests check after each step.
    async fn assert_stats(&self, expected: Value) {
        let stats = self.stats().await;
        for (name, value) in expected.as_object().unwrap() {
            assert_eq!(&stats[name], value, "{name}: {stats}");
        }
    }

    /// Waits up to 5 s until `script` returns `expected` (`what`: a page loaded, a row
    /// listed); the panic shows what it returns instead.
    async fn wait_for_script(&self, what: &str, script: &str, expected: impl Into<Value>) {
        let expected = expected.into();
        let done = eventually(Duration::from_secs(5), what, || async {
            (self.script(script).await == expected).then_some(())
        })
        .await;
        if let Err(err) = done {
            panic!("{err}: `{script}` returns {}", self.script(script).await);
        }
    }

    /// The handle of the tab commands go to.
    async fn tab(&self) -> Value {
        self.call(reqwest::Method::GET, "/window", Value::Null)
            .await
    }

    /// Opens a tab, without switching to it; its handle.
    async fn new_tab(&self) -> Value {
        self.post("/window/new", json!({"type": "tab"})).await["handle"].clone()
    }

    /// Sends the commands that follow to the tab `handle`.
    async fn switch_to(&self, handle: &Value) {
        self.post("/window", json!({"handle": handle})).await;
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

    browser.open(&stack.page("/")).await;
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
    browser
        .wait_for_script("the products page", "return location.pathname", "/products")
        .await;
    browser.script("history.back()").await;
    browser
        .wait_for_script("back home", "return document.title", "Home - Shop")
        .await;
    browser
        .script("document.querySelector('#top-nav a[href=\"/blog/post-1\"]').click()")
        .await;
    browser
        .wait_for_script(
            "the blog post",
            "return document.title",
            "Blog post 1 - Shop",
        )
        .await;
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
    // Nothing more arrives late.
    let stored = stack
        .assert_stored(&expected, Duration::from_secs(20), Duration::from_secs(2))
        .await;
    let sequences: Vec<i64> = stored.iter().map(|s| s.0).collect();
    assert_eq!(sequences, (1..=expected.len() as i64).collect::<Vec<_>>());
    let leaks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM user_events WHERE full_event_data::text LIKE '%typed-secret%'",
    )
    .fetch_one(&stack.pipeline.db.pool)
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
    let shop_tab = browser.tab().await;
    let analytics_tab = browser.new_tab().await;
    browser.switch_to(&analytics_tab).await;
    browser.open(&stack.page("/analytics")).await;
    let rows = |component: &str| {
        format!(
            "return document.querySelectorAll('#events tr[data-event-type=CLICK][data-component={component}]').length"
        )
    };
    browser
        .wait_for_script("the newsletter click listed", &rows("NewsletterForm"), 1)
        .await;
    browser.switch_to(&shop_tab).await;
    browser
        .script("document.querySelector('#share').click()")
        .await;
    let clicked = std::time::Instant::now();
    browser.switch_to(&analytics_tab).await;
    browser
        .wait_for_script("the share click listed", &rows("ShareButton"), 1)
        .await;
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
    // The page view goes out in its one-second batch; then batches wait ten minutes.
    browser
        .visit(&stack.page("/pricing"), Duration::from_secs(10))
        .await;
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
    stack
        .assert_stored(&expected, Duration::from_secs(20), Duration::ZERO)
        .await;
}

/// With write keys on the collector, the tracker the demo configures sends its key: in
/// the `X-Ptrack-Key` header with `fetch`, as `?key=` with `sendBeacon` (which cannot set
/// headers). A page with a wrong key gets 401s and nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn the_tracker_sends_its_write_key_by_fetch_and_by_beacon() {
    let stack = Stack::with_keys(&["demo-key"], Some("demo-key")).await;
    let browser = Browser::start().await;
    browser
        .visit(&stack.page("/pricing"), Duration::from_secs(10))
        .await;
    browser
        .script("ptrack.init({ flushInterval: 600000, batchSize: 100 })")
        .await;
    browser.pointer("#signup", true).await;
    browser.open("about:blank").await;
    let expected = [
        ("PAGE_VIEW", "", "/pricing"),
        ("HOVER_ENTER", "SignupButton", "/pricing"),
        ("CLICK", "SignupButton", "/pricing"),
    ];
    let stored = stack
        .stored_after(expected.len(), Duration::from_secs(20), Duration::ZERO)
        .await;
    assert_eq!(
        visits(&stored),
        expected,
        "sent by fetch (the page view) and by beacon"
    );

    let wrong = Stack::with_keys(&["demo-key"], Some("not-the-key")).await;
    let browser = Browser::start().await;
    browser.open(&wrong.page("/pricing")).await;
    let metrics = format!("{}metrics", wrong.pipeline.collector_url());
    eventually(
        Duration::from_secs(15),
        "the collector answered 401",
        || {
            let metrics = metrics.clone();
            async move {
                let scrape = ptrack_test_support::scrape(&metrics).await.ok()?;
                (scrape.value("ptrack_collector_requests", &[("status", "401")]) > 0.0)
                    .then_some(())
            }
        },
    )
    .await
    .unwrap();
    assert!(
        wrong.stored().await.is_empty(),
        "nothing stored without the right key"
    );
}

/// While the collector is down the tracker keeps its events, across a reload too (in
/// local storage, not beaconed into the void), and sends them once it is back.
#[tokio::test(flavor = "multi_thread")]
async fn events_made_while_the_collector_is_down_are_stored_after_it_returns() {
    let mut stack = Stack::start().await;
    let browser = Browser::start().await;
    browser
        .visit(&stack.page("/pricing"), Duration::from_secs(10))
        .await;

    stack.pipeline.collector.stop().await;
    browser.pointer("#plans", true).await;
    browser.park().await;
    browser
        .wait_for_stat(
            "retries",
            "a failed send",
            Duration::from_secs(10),
            |retries| retries >= 1,
        )
        .await;
    // A reload while the collector is down: the new page picks the events up.
    browser.open(&stack.page("/pricing")).await;
    browser
        .wait_for_stat(
            "queued",
            "the reloaded page's queue",
            Duration::from_secs(5),
            |queued| queued >= 4,
        )
        .await;
    assert_eq!(stack.stored().await.len(), 1);

    stack.pipeline.collector.restart().await;
    let expected = [
        ("PAGE_VIEW", "", "/pricing"),
        ("HOVER_ENTER", "PricingTable", "/pricing"),
        ("CLICK", "PricingTable", "/pricing"),
        ("HOVER_LEAVE", "PricingTable", "/pricing"),
        ("PAGE_VIEW", "", "/pricing"),
    ];
    let stored = stack
        .stored_after(
            expected.len(),
            Duration::from_secs(40),
            Duration::from_secs(1),
        )
        .await;
    let stats = browser.stats().await;
    assert_eq!(
        visits(&stored),
        expected,
        "the held events stored; the tracker: {stats}"
    );
    let sequences: Vec<i64> = stored.iter().map(|s| s.0).collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5]);
}

/// A browser with Global Privacy Control on gets no tracking at all: nothing sent,
/// nothing kept for later, not even what an earlier visit left unsent.
#[tokio::test(flavor = "multi_thread")]
async fn with_global_privacy_control_nothing_is_sent() {
    let stack = Stack::start().await;
    let browser = Browser::start().await;
    // What a browser with GPC on shows every page, before the page's own scripts run;
    // and a click an earlier visit (before GPC) could not send, waiting in local storage.
    let earlier = "{event_id: crypto.randomUUID(), event_type: 'CLICK', \
        location_type: 'COMPONENT', component_name: 'EarlierVisit', page_path: '/pricing', \
        page_title: 'Pricing', timestamp: Date.now(), user_metadata: {}, \
        session_id: crypto.randomUUID(), anonymous_id: crypto.randomUUID(), sequence: 1}";
    let source = format!(
        "Object.defineProperty(navigator, 'globalPrivacyControl', {{value: true}}); \
         localStorage.setItem('ptrack:queue', JSON.stringify([{earlier}]));"
    );
    browser
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": source }),
        )
        .await;
    browser.open(&stack.page("/pricing")).await;
    assert_eq!(
        browser
            .script("return navigator.globalPrivacyControl")
            .await,
        true
    );
    browser.park().await;
    browser.pointer("#plans", true).await;
    browser.pointer("#signup", true).await;
    browser.park().await;
    browser
        .script("ptrack.track('CLICK', 'Custom'); ptrack.flush()")
        .await;
    // A batch goes out within a second: give it three.
    tokio::time::sleep(Duration::from_secs(3)).await;
    browser
        .assert_stats(json!({"blocked": true, "sent": 0, "queued": 0}))
        .await;
    assert_eq!(
        browser
            .script("return localStorage.getItem('ptrack:queue')")
            .await,
        "[]",
        "nothing kept to send later"
    );
    assert!(stack.stored().await.is_empty());
}

/// `ptrack.optOut()` stops tracking at once (what was queued is forgotten) and on the
/// next pages too; `ptrack.optIn()` starts it again.
#[tokio::test(flavor = "multi_thread")]
async fn opting_out_lasts_across_reloads_until_opting_in() {
    let stack = Stack::start().await;
    let browser = Browser::start().await;
    let pricing = stack.page("/pricing");
    browser.visit(&pricing, Duration::from_secs(20)).await;
    browser
        .script(
            "ptrack.init({ flushInterval: 600000, batchSize: 100 }); \
             ptrack.track('CLICK', 'QueuedBeforeOptOut'); ptrack.optOut(); ptrack.flush()",
        )
        .await;
    browser.pointer("#plans", true).await;
    browser.park().await;
    browser
        .assert_stats(json!({"blocked": true, "queued": 0}))
        .await;

    // A new page remembers the choice: not even its page view is sent.
    browser.open(&pricing).await;
    browser.park().await;
    browser.pointer("#plans", true).await;
    browser.park().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    browser
        .assert_stats(json!({"blocked": true, "sent": 0, "queued": 0}))
        .await;

    browser.script("ptrack.optIn()").await;
    browser.pointer("#signup", true).await;
    browser.park().await;
    let expected = [
        ("PAGE_VIEW", "", "/pricing"),
        ("HOVER_ENTER", "SignupButton", "/pricing"),
        ("CLICK", "SignupButton", "/pricing"),
        ("HOVER_LEAVE", "SignupButton", "/pricing"),
    ];
    stack
        .assert_stored(&expected, Duration::from_secs(30), Duration::from_secs(1))
        .await;
}

/// While the collector is down the queue in local storage holds at most `maxQueue`
/// events: past it the oldest go, and are counted (across pages too).
#[tokio::test(flavor = "multi_thread")]
async fn past_the_queue_cap_the_oldest_events_are_dropped_and_counted() {
    let mut stack = Stack::start().await;
    let browser = Browser::start().await;
    let pricing = stack.page("/pricing");
    browser.visit(&pricing, Duration::from_secs(20)).await;

    stack.pipeline.collector.stop().await;
    browser
        .script(
            "ptrack.init({ maxQueue: 5, batchSize: 3 }); \
             for (var i = 1; i <= 8; i++) ptrack.track('CLICK', 'Capped' + i);",
        )
        .await;
    browser
        .assert_stats(json!({"dropped": 3, "queued": 5}))
        .await;
    let kept = browser
        .script(
            "return JSON.parse(localStorage.getItem('ptrack:queue'))\
             .map(function (e) { return e.component_name; })",
        )
        .await;
    assert_eq!(
        kept,
        json!(["Capped4", "Capped5", "Capped6", "Capped7", "Capped8"])
    );

    // The next page (the demo's own settings: a cap of 500) keeps the count.
    browser.open(&pricing).await;
    browser.park().await;
    browser
        .assert_stats(json!({"dropped": 3, "queued": 6}))
        .await;

    stack.pipeline.collector.restart().await;
    browser.script("ptrack.flush()").await;
    let mut expected = vec![("PAGE_VIEW", "", "/pricing")];
    let capped: Vec<String> = (4..=8).map(|i| format!("Capped{i}")).collect();
    expected.extend(capped.iter().map(|c| ("CLICK", c.as_str(), "/pricing")));
    expected.push(("PAGE_VIEW", "", "/pricing"));
    stack
        .assert_stored(&expected, Duration::from_secs(30), Duration::from_secs(1))
        .await;
}

/// A flush larger than the browser's 64 KB keepalive cap goes out in several sends, each
/// under it, and every event arrives once.
#[tokio::test(flavor = "multi_thread")]
async fn a_large_flush_is_split_into_sends_under_64_kb() {
    let stack = Stack::start().await;
    let browser = Browser::start().await;
    browser
        .visit(&stack.page("/pricing"), Duration::from_secs(20))
        .await;
    // 30 events of about 6 KB each (their user metadata): about 190 KB in one flush.
    browser
        .script(
            "window.sizes = []; var send = window.fetch; \
             window.fetch = function (url, options) { \
               sizes.push(new Blob([options.body]).size); return send.apply(this, arguments); }; \
             ptrack.init({ batchSize: 100, flushInterval: 600000 }); \
             ptrack.setUser({ note: new Array(6001).join('x') }); \
             for (var i = 1; i <= 30; i++) ptrack.track('CLICK', 'Big' + i); \
             ptrack.flush();",
        )
        .await;
    browser.sent(31, Duration::from_secs(20)).await;
    let sizes: Vec<u64> = serde_json::from_value(browser.script("return sizes").await).unwrap();
    assert!(
        sizes.len() >= 4 && sizes.iter().all(|&s| s < 64 * 1024),
        "sends of {sizes:?} bytes"
    );
    assert!(sizes.iter().sum::<u64>() > 180_000, "{sizes:?}");
    let mut expected = vec![("PAGE_VIEW", "", "/pricing")];
    let big: Vec<String> = (1..=30).map(|i| format!("Big{i}")).collect();
    expected.extend(big.iter().map(|c| ("CLICK", c.as_str(), "/pricing")));
    stack
        .assert_stored(&expected, Duration::from_secs(30), Duration::from_secs(1))
        .await;
}
