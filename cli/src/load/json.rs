//! The tracker's JSON, written by hand: bodies go straight into the caller's buffer in
//! exactly the bytes `serde_json` gives for a `TrackEvent` (a test in `visitor.rs` holds
//! the two together), mostly from pieces rendered once: the site's pages and components
//! ([`SITE_JSON`]), and each visitor's metadata and ids ([`Rendered`]). At tens of
//! thousands of requests a second, building a `TrackEvent` per event (a dozen strings)
//! and serializing it was most of the generator's work.

use std::sync::LazyLock;

use bytes::BufMut;
use uuid::Uuid;

use super::site::{Page, PageKind, SITE};

/// The JSON of [`SITE`]'s pages, rendered once for every worker.
pub static SITE_JSON: LazyLock<Vec<PageJson>> =
    LazyLock::new(|| SITE.iter().map(PageJson::new).collect());

/// A page's JSON.
pub struct PageJson {
    /// `,"page_path":"...","page_title":"...","timestamp":` cut where the page's number
    /// goes.
    pub pieces: Vec<Vec<u8>>,
    pub components: Vec<ComponentJson>,
}

pub struct ComponentJson {
    /// `,"component_name":"..."`
    pub name: Vec<u8>,
    /// `,"dom_info":{...}`
    pub dom: Vec<u8>,
}

impl PageJson {
    pub fn new(kind: &PageKind) -> Self {
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

/// Writes `text` as a JSON string.
pub fn put_str(out: &mut impl BufMut, text: &str) {
    out.put_u8(b'"');
    put_str_contents(out, text);
    out.put_u8(b'"');
}

/// Writes `text` as the inside of a JSON string, escaped the way `serde_json` does.
pub fn put_str_contents(out: &mut impl BufMut, text: &str) {
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Rare (the site's texts need no escaping): let serde_json do it.
        let quoted = serde_json::to_string(text).expect("a string serializes");
        out.put_slice(&quoted.as_bytes()[1..quoted.len() - 1]);
    } else {
        out.put_slice(text.as_bytes());
    }
}

pub fn put_int(out: &mut impl BufMut, value: i64) {
    out.put_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// The parts of a user's events that change with the page or the session, rendered
/// when they change rather than for every event: a user stays on a page for several
/// events and in a session for many.
#[derive(Default)]
pub struct Rendered {
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
    pub fn page(&mut self, page: Page) -> &[u8] {
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
    pub fn session_end(&mut self, session: Uuid, before: &[u8], after: &[u8]) -> &[u8] {
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
pub fn put_uuid(out: &mut impl BufMut, id: Uuid) {
    let mut text = [b'"'; 38];
    id.hyphenated().encode_lower(&mut text[1..37]);
    out.put_slice(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
