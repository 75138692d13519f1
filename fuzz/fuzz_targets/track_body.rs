//! `POST /track` as the collector reads it: the body decompressed (gzip or not) within
//! the size limit, read as a batch, every event checked and its message built. Nothing
//! may panic, and whatever is accepted must be storable and readable back: its JSON
//! parses with serde_json (what the events-api reads rows with) and holds no NUL.
//!
//! The first byte picks the encoding (odd: gzip), the rest is the body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ptrack_collector::api::{check_batch, decode_body, parse_batch};
use ptrack_common::event::{Limits, ReceivedEvent};

const MAX_BODY: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let encoding = (mode & 1 == 1).then_some("gzip");
    let Ok(body) = decode_body(encoding, body, MAX_BODY) else {
        return;
    };
    assert!(body.len() <= MAX_BODY);
    let Ok(request) = parse_batch(&body) else {
        return;
    };
    let limits = Limits::default();
    let Ok(batch) = check_batch(&request, &limits, 1_000_000, 1_732_000_000_000) else {
        return;
    };
    assert_eq!(
        batch.messages.len() + batch.rejected.len(),
        request.events.len()
    );
    for (_, payload) in &batch.messages {
        // What the processor reads and stores...
        let received = ReceivedEvent::decode(payload, &limits).expect("the processor takes it");
        // ...is what the events-api can read back.
        let stored: serde_json::Value =
            serde_json::from_str(&received.full_event_data).expect("readable back");
        assert!(!stored.to_string().contains("\\u0000"));
        assert!(!received.app_name.unwrap_or_default().contains('\0'));
    }
});
