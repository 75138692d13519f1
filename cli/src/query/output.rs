//! How `ptrack query` writes events: an aligned table for a person, JSON, NDJSON or CSV
//! for a program. Every writer streams: rows are written as pages arrive, so a long
//! result is never held in memory (the table only holds its first rows, to size its
//! columns).

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use ptrack_wire::StoredEvent;
use serde::{Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use super::time::{relative, rfc3339};

/// `-o/--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns with relative times (the default on a terminal).
    Table,
    /// The table with every column.
    Wide,
    /// One JSON array.
    Json,
    /// One JSON object per line (the default when piped).
    Ndjson,
    /// Comma-separated values with a header line.
    Csv,
}

/// One event as `ptrack query` writes it: the stored event with its times in UTC RFC
/// 3339 (the events-api sends the browser's `timestamp` as Unix milliseconds). The Kafka
/// position is left out of JSON for rows stored before the processor recorded it.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub event_id: Uuid,
    pub event_type: String,
    pub location_type: String,
    pub component_name: Option<String>,
    pub page_path: Option<String>,
    pub page_title: Option<String>,
    #[serde(serialize_with = "as_rfc3339")]
    pub timestamp: DateTime<Utc>,
    #[serde(serialize_with = "as_rfc3339")]
    pub received_at: DateTime<Utc>,
    #[serde(serialize_with = "as_rfc3339")]
    pub inserted_at: DateTime<Utc>,
    pub app_name: Option<String>,
    pub app_version: Option<String>,
    pub session_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub user_metadata: Value,
    /// The event exactly as the tracker sent it (with `dom_info`).
    pub full_event_data: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka_partition: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka_offset: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_rfc3339"
    )]
    pub kafka_timestamp: Option<DateTime<Utc>>,
}

impl From<StoredEvent> for Record {
    fn from(e: StoredEvent) -> Self {
        Self {
            event_id: e.event_id,
            event_type: e.event_type,
            location_type: e.location_type,
            component_name: e.component_name,
            page_path: e.page_path,
            page_title: e.page_title,
            timestamp: e.timestamp,
            received_at: e.received_at,
            inserted_at: e.inserted_at,
            app_name: e.app_name,
            app_version: e.app_version,
            session_id: e.session_id,
            anonymous_id: e.anonymous_id,
            user_metadata: e.user_metadata,
            full_event_data: e.full_event_data,
            kafka_partition: e.kafka_partition,
            kafka_offset: e.kafka_offset,
            kafka_timestamp: e.kafka_timestamp,
        }
    }
}

fn opt_rfc3339<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

fn as_rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// Writes records in one [`Format`].
pub struct Writer<W: Write> {
    format: Format,
    out: W,
    now: DateTime<Utc>,
    color: bool,
    written: u64,
    /// The table's first rows, held until there are enough to size the columns.
    pending: Vec<[String; COLUMNS]>,
    widths: Option<[usize; COLUMNS]>,
    /// The CSV row buffer, reused; `None` until the header is written.
    csv: Option<Vec<u8>>,
}

const COLUMNS: usize = 12;
const HEADER: [&str; COLUMNS] = [
    "TIME",
    "TYPE",
    "PAGE",
    "COMPONENT",
    "EVENT_ID",
    "LOCATION",
    "TITLE",
    "SESSION",
    "APP",
    "RECEIVED",
    "STORED",
    "KAFKA",
];
/// The narrow table shows the first five columns: the event id is what
/// `ptrack query trace` takes.
const NARROW: usize = 5;
/// Rows held to size the table's columns; later rows are cut to those widths.
const SIZING_ROWS: usize = 100;
/// The widest a text column grows, so that one long page path does not push the rest
/// off the screen.
const MAX_WIDTH: usize = 48;

impl<W: Write> Writer<W> {
    pub fn new(format: Format, out: W, now: DateTime<Utc>, color: bool) -> Self {
        Self {
            format,
            out,
            now,
            color,
            written: 0,
            pending: Vec::new(),
            widths: None,
            csv: None,
        }
    }

    /// How many records were written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The time the table's relative times count back from (`--follow` moves it on
    /// before each batch).
    pub fn set_now(&mut self, now: DateTime<Utc>) {
        self.now = now;
    }

    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        match self.format {
            Format::Ndjson => {
                serde_json::to_writer(&mut self.out, record)?;
                self.out.write_all(b"\n")?;
            }
            Format::Json => {
                self.out.write_all(if self.written == 0 {
                    b"[\n  "
                } else {
                    b",\n  "
                })?;
                serde_json::to_writer(&mut self.out, record)?;
            }
            Format::Csv => {
                let first = self.csv.is_none();
                let mut buf = self.csv.take().unwrap_or_default();
                buf.clear();
                {
                    // Into memory (a row at a time, so nothing is held back): the csv
                    // crate does the quoting.
                    let mut w = csv::Writer::from_writer(&mut buf);
                    if first {
                        w.write_record(CSV_HEADER).map_err(io::Error::other)?;
                    }
                    w.write_record(csv_row(record)).map_err(io::Error::other)?;
                    w.flush()?;
                }
                self.out.write_all(&buf)?;
                self.csv = Some(buf);
            }
            Format::Table | Format::Wide => {
                let row = self.table_row(record);
                match self.widths {
                    Some(widths) => self.write_table_row(&row, &widths, false)?,
                    None => {
                        self.pending.push(row);
                        if self.pending.len() >= SIZING_ROWS {
                            self.flush_pending()?;
                        }
                    }
                }
            }
        }
        self.written += 1;
        Ok(())
    }

    /// Ends the output (closes the JSON array, writes a held table) and flushes.
    pub fn finish(mut self) -> io::Result<W> {
        match self.format {
            Format::Json if self.written == 0 => self.out.write_all(b"[]\n")?,
            Format::Json => self.out.write_all(b"\n]\n")?,
            Format::Table | Format::Wide => self.flush_pending()?,
            Format::Ndjson | Format::Csv => {}
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// Writes what is held so far (for `--follow`, before waiting for new events).
    pub fn flush(&mut self) -> io::Result<()> {
        if matches!(self.format, Format::Table | Format::Wide) {
            self.flush_pending()?;
        }
        self.out.flush()
    }

    fn columns(&self) -> usize {
        if self.format == Format::Wide {
            COLUMNS
        } else {
            NARROW
        }
    }

    fn table_row(&self, r: &Record) -> [String; COLUMNS] {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
        let app = match (&r.app_name, &r.app_version) {
            (Some(name), Some(version)) => format!("{name} {version}"),
            (Some(name), None) => name.clone(),
            _ => "-".to_owned(),
        };
        let delay = |later: DateTime<Utc>| {
            let ms = later.signed_duration_since(r.timestamp).num_milliseconds();
            format!("+{ms}ms")
        };
        [
            if self.format == Format::Wide {
                rfc3339(r.timestamp)
            } else {
                relative(r.timestamp, self.now)
            },
            r.event_type.clone(),
            opt(&r.page_path),
            opt(&r.component_name),
            r.event_id.to_string(),
            r.location_type.clone(),
            opt(&r.page_title),
            opt(&r.session_id),
            app,
            delay(r.received_at),
            delay(r.inserted_at),
            match (r.kafka_partition, r.kafka_offset) {
                (Some(p), Some(o)) => format!("{p}/{o}"),
                _ => "-".to_owned(),
            },
        ]
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        if self.widths.is_some() || (self.pending.is_empty() && self.written == 0) {
            let widths = self.widths.unwrap_or([0; COLUMNS]);
            for row in std::mem::take(&mut self.pending) {
                self.write_table_row(&row, &widths, false)?;
            }
            return Ok(());
        }
        let mut widths = HEADER.map(str::len);
        for row in &self.pending {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count()).min(MAX_WIDTH);
            }
        }
        self.widths = Some(widths);
        self.write_table_row(&HEADER.map(str::to_owned), &widths, true)?;
        for row in std::mem::take(&mut self.pending) {
            self.write_table_row(&row, &widths, false)?;
        }
        Ok(())
    }

    fn write_table_row(
        &mut self,
        row: &[String; COLUMNS],
        widths: &[usize; COLUMNS],
        header: bool,
    ) -> io::Result<()> {
        let columns = self.columns();
        let mut line = String::new();
        for (i, cell) in row.iter().take(columns).enumerate() {
            let cell = cut(cell, widths[i]);
            let pad = widths[i].saturating_sub(cell.chars().count());
            let last = i + 1 == columns;
            let colour = if header || !self.color {
                None
            } else if i == 1 {
                type_colour(&cell)
            } else if i == 0 {
                Some(DIM)
            } else {
                None
            };
            match colour {
                Some(code) => line.push_str(&format!("\x1b[{code}m{cell}\x1b[0m")),
                None if header && self.color => line.push_str(&format!("\x1b[1m{cell}\x1b[0m")),
                None => line.push_str(&cell),
            }
            if !last {
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        line.push('\n');
        self.out.write_all(line.as_bytes())
    }
}

const DIM: &str = "2";

/// The 16-colour palette only, so every terminal shows it; `NO_COLOR` turns it off.
fn type_colour(event_type: &str) -> Option<&'static str> {
    match event_type {
        "CLICK" => Some("33"),
        "PAGE_VIEW" => Some("36"),
        t if t.starts_with("HOVER") => Some("35"),
        _ => None,
    }
}

/// `text` cut to `width` characters, with `…` where it was cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

const CSV_HEADER: [&str; 18] = [
    "event_id",
    "event_type",
    "location_type",
    "component_name",
    "page_path",
    "page_title",
    "timestamp",
    "received_at",
    "inserted_at",
    "app_name",
    "app_version",
    "session_id",
    "anonymous_id",
    "user_metadata",
    "full_event_data",
    "kafka_partition",
    "kafka_offset",
    "kafka_timestamp",
];

fn csv_row(r: &Record) -> [String; 18] {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        r.event_id.to_string(),
        r.event_type.clone(),
        r.location_type.clone(),
        opt(&r.component_name),
        opt(&r.page_path),
        opt(&r.page_title),
        rfc3339(r.timestamp),
        rfc3339(r.received_at),
        rfc3339(r.inserted_at),
        opt(&r.app_name),
        opt(&r.app_version),
        opt(&r.session_id),
        opt(&r.anonymous_id),
        r.user_metadata.to_string(),
        r.full_event_data.to_string(),
        r.kafka_partition.map(|p| p.to_string()).unwrap_or_default(),
        r.kafka_offset.map(|o| o.to_string()).unwrap_or_default(),
        r.kafka_timestamp.map(rfc3339).unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn record(event_type: &str, page: &str, secs_ago: i64) -> Record {
        let t = now() - chrono::Duration::seconds(secs_ago);
        Record {
            event_id: Uuid::new_v4(),
            event_type: event_type.into(),
            location_type: "COMPONENT".into(),
            component_name: Some("AddToCart, \"big\"".into()),
            page_path: Some(page.into()),
            page_title: Some("Shop".into()),
            timestamp: t,
            received_at: t + chrono::Duration::milliseconds(20),
            inserted_at: t + chrono::Duration::milliseconds(150),
            app_name: Some("shop".into()),
            app_version: Some("1.0".into()),
            session_id: Some("s1".into()),
            anonymous_id: None,
            user_metadata: serde_json::json!({"plan": "pro"}),
            full_event_data: serde_json::json!({"event_type": event_type}),
            kafka_partition: Some(1),
            kafka_offset: Some(42),
            kafka_timestamp: Some(t + chrono::Duration::milliseconds(25)),
        }
    }

    fn render(format: Format, records: &[Record]) -> String {
        let mut w = Writer::new(format, Vec::new(), now(), false);
        for r in records {
            w.write(r).unwrap();
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn the_table_aligns_columns_with_relative_times() {
        let text = render(
            Format::Table,
            &[
                record("CLICK", "/products/1", 5),
                record("PAGE_VIEW", "/", 120),
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("TIME"), "{text}");
        assert!(lines[1].starts_with("5s ago"), "{text}");
        assert!(lines[2].starts_with("2m ago"), "{text}");
        let col = lines[0].find("TYPE").unwrap();
        assert_eq!(&lines[1][col..col + 5], "CLICK");
        assert_eq!(&lines[2][col..col + 9], "PAGE_VIEW");
        assert!(!text.contains('\x1b'), "no colour was asked for: {text:?}");
    }

    #[test]
    fn wide_adds_every_column_and_delays() {
        let text = render(Format::Wide, &[record("CLICK", "/cart", 5)]);
        for needle in [
            "EVENT_ID",
            "SESSION",
            "shop 1.0",
            "+20ms",
            "+150ms",
            "2026-12-03T11:59:55.000Z",
            "1/42",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }

    #[test]
    fn json_ndjson_and_csv_carry_utc_rfc3339_times() {
        let records = [record("CLICK", "/a", 5), record("HOVER_ENTER", "/b", 6)];
        let json: Vec<Value> = serde_json::from_str(&render(Format::Json, &records)).unwrap();
        assert_eq!(json.len(), 2);
        assert_eq!(json[0]["timestamp"], "2026-12-03T11:59:55.000Z");
        assert_eq!(json[1]["event_type"], "HOVER_ENTER");
        assert_eq!(json[0]["kafka_offset"], 42);
        assert_eq!(json[0]["kafka_timestamp"], "2026-12-03T11:59:55.025Z");
        assert_eq!(render(Format::Json, &[]), "[]\n");

        let nd = render(Format::Ndjson, &records);
        let lines: Vec<Value> = nd
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["page_path"], "/b");

        let csv = render(Format::Csv, &records);
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(reader.headers().unwrap().len(), CSV_HEADER.len());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][3], "AddToCart, \"big\"", "quoting survives");
        assert_eq!(&rows[0][6], "2026-12-03T11:59:55.000Z");
    }

    #[test]
    fn a_row_stored_before_kafka_positions_were_recorded_leaves_them_out() {
        let mut old = record("CLICK", "/", 5);
        old.kafka_partition = None;
        old.kafka_offset = None;
        old.kafka_timestamp = None;
        let line: Value = serde_json::from_str(&render(Format::Ndjson, &[old.clone()])).unwrap();
        assert!(line.get("kafka_offset").is_none(), "{line}");
        assert!(line.get("kafka_timestamp").is_none(), "{line}");
        let wide = render(Format::Wide, &[old]);
        assert!(
            wide.lines().nth(1).unwrap().trim_end().ends_with('-'),
            "{wide}"
        );
    }

    #[test]
    fn long_cells_are_cut_and_colour_is_optional() {
        let long = format!("/{}", "x".repeat(200));
        let text = render(Format::Table, &[record("CLICK", &long, 1)]);
        assert!(text.contains('…'), "{text}");
        assert!(text.lines().all(|l| l.chars().count() < 120), "{text}");
        let mut w = Writer::new(Format::Table, Vec::new(), now(), true);
        w.write(&record("CLICK", "/", 1)).unwrap();
        let coloured = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(coloured.contains("\x1b[33mCLICK"), "{coloured:?}");
    }
}
