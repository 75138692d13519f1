//! `ptrack load`: realistic synthetic tracker traffic at an exact rate, with latencies
//! measured the honest way (from when each request was due), a report for people and
//! machines, and a check that every accepted event reached the table.
//!
//! Layout:
//! - [`plan`]: the timetable (`--rps`, `--ramp`, `--duration`, `--requests`).
//! - [`session`]: virtual users browsing a shop, and their trackers' batches.
//! - [`runner`]: the workers that send on schedule, and the recorder.
//! - [`stats`]: HdrHistograms, counters and the timeline.
//! - [`report`]: the final numbers, as text and JSON.
//! - [`plot`]: the SVG / HTML picture.
//! - [`verify`]: lost and duplicated events, and the end-to-end delay.

mod http1;
pub mod plan;
pub mod plot;
pub mod report;
pub mod runner;
pub mod session;
pub mod stats;
pub mod verify;
