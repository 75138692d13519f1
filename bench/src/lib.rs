//! Benchmarks for ptrack. Each binary prints what it measured and the ratios, all from one
//! run on one machine; `bench/RESULTS.md` records the figures with the commands.
//!
//! Layout:
//! - `src/bin/insert_vs_copy.rs`: the processor's insert rate against a raw COPY of the
//!   same rows into the same table.
//! - `pipeline.sh`: the whole stack under `ptrack load`, with CPU per process and RSS.
//! - `load-vs-oha.sh`: the load generator itself.
