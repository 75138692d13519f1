//! The events-api's query parsing: `GET /events` and `GET /stats` parameters, cursors
//! and times. Nothing may panic (an overflow in chrono arithmetic would), and a parsed
//! query stays within what PostgreSQL takes.
//!
//! The input is `name=value` pairs separated by `&`, as a query string, unescaped.

#![no_main]

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use ptrack_events_api::query::{Cursor, EventsQuery, StatsQuery, parse_time};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let params: HashMap<String, String> = text
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let _ = EventsQuery::parse(&params);
    let now = Utc.timestamp_opt(1_732_000_000, 0).unwrap();
    let _ = StatsQuery::parse(&params, now);
    let _ = StatsQuery::parse(&params, Utc::now());
    if let Some(cursor) = Cursor::decode(text) {
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }
    let _ = parse_time("since", text);
});
