//! Writing a batch of events to `user_events` in one statement.

use chrono::{DateTime, Utc};
use ptrack_common::event::ReceivedEvent;
use sqlx::PgPool;
use uuid::Uuid;

/// One batch, column by column: `UNNEST` turns the arrays back into rows, so the whole
/// batch is one statement and one round trip.
#[derive(Debug, Default)]
pub struct Columns {
    event_id: Vec<Uuid>,
    event_type: Vec<String>,
    location_type: Vec<&'static str>,
    component_name: Vec<Option<String>>,
    page_path: Vec<Option<String>>,
    page_title: Vec<Option<String>>,
    timestamp: Vec<DateTime<Utc>>,
    user_metadata: Vec<String>,
    full_event_data: Vec<String>,
    received_at: Vec<DateTime<Utc>>,
    app_name: Vec<Option<String>>,
    app_version: Vec<Option<String>>,
    session_id: Vec<Option<String>>,
    anonymous_id: Vec<Option<String>>,
    kafka_partition: Vec<Option<i32>>,
    kafka_offset: Vec<Option<i64>>,
    kafka_timestamp: Vec<Option<DateTime<Utc>>>,
}

/// Where a message was in Kafka: stored with its event so that `ptrack query trace` can
/// show when it was written to the topic and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaPosition {
    pub partition: i32,
    pub offset: i64,
    /// The message's timestamp (`CreateTime`: the collector's producer; or
    /// `LogAppendTime`: the broker), Unix ms; `None` when the message has none.
    pub timestamp_ms: Option<i64>,
}

impl Columns {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            event_id: Vec::with_capacity(n),
            event_type: Vec::with_capacity(n),
            location_type: Vec::with_capacity(n),
            component_name: Vec::with_capacity(n),
            page_path: Vec::with_capacity(n),
            page_title: Vec::with_capacity(n),
            timestamp: Vec::with_capacity(n),
            user_metadata: Vec::with_capacity(n),
            full_event_data: Vec::with_capacity(n),
            received_at: Vec::with_capacity(n),
            app_name: Vec::with_capacity(n),
            app_version: Vec::with_capacity(n),
            session_id: Vec::with_capacity(n),
            anonymous_id: Vec::with_capacity(n),
            kafka_partition: Vec::with_capacity(n),
            kafka_offset: Vec::with_capacity(n),
            kafka_timestamp: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.event_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.event_id.is_empty()
    }

    /// Adds an event whose Kafka position is not known (it is stored as NULL).
    pub fn push(&mut self, received: ReceivedEvent) {
        self.push_from(received, None);
    }

    /// Adds an event read from Kafka at `position`.
    pub fn push_from(&mut self, received: ReceivedEvent, position: Option<KafkaPosition>) {
        self.kafka_partition.push(position.map(|p| p.partition));
        self.kafka_offset.push(position.map(|p| p.offset));
        self.kafka_timestamp.push(
            position
                .and_then(|p| p.timestamp_ms)
                .and_then(DateTime::from_timestamp_millis),
        );
        let event = received.event;
        self.event_id.push(event.event_id);
        self.event_type.push(event.event_type);
        self.location_type.push(event.location_type.as_str());
        self.component_name.push(event.component_name);
        self.page_path.push(event.page_path);
        self.page_title.push(event.page_title);
        self.timestamp.push(millis(event.timestamp));
        self.user_metadata
            .push(Box::<str>::from(event.user_metadata).into());
        self.full_event_data.push(received.full_event_data);
        self.received_at.push(millis(received.received_at));
        self.app_name.push(received.app_name);
        self.app_version.push(received.app_version);
        self.session_id.push(event.session_id);
        self.anonymous_id.push(event.anonymous_id);
    }
}

fn millis(ms: i64) -> DateTime<Utc> {
    // Event timestamps are checked to lie in 2000..2100; received_at is the collector's clock.
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The columns a batch writes, in the order of [`Columns::copy_text`] and of the
/// `UNNEST` in [`insert_on_conflict`]. A macro so that `concat!` can build whole
/// statements from it.
macro_rules! columns {
    () => {
        r#"event_id, event_type, location_type, component_name, page_path, page_title,
           "timestamp", user_metadata, full_event_data, received_at, app_name, app_version,
           session_id, anonymous_id, kafka_partition, kafka_offset, kafka_timestamp"#
    };
}

/// The fast path's statement; [`Columns::copy_text`] is its input.
pub const COPY_STATEMENT: &str = concat!("COPY user_events (", columns!(), ") FROM STDIN");

/// Writes the batch atomically; returns how many rows were new.
///
/// The fast path is one `COPY`, the fastest way into PostgreSQL. `COPY` cannot skip rows
/// that exist already, so a batch that repeats a stored event (a replay after a crash or
/// a rebalance) fails as a whole with a unique violation and is then written with
/// `INSERT ... ON CONFLICT (event_id) DO NOTHING`, which stores only the new ones.
pub async fn insert_batch(pool: &PgPool, columns: &Columns) -> Result<u64, sqlx::Error> {
    match copy_batch(pool, columns).await {
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("23505") => {
            insert_on_conflict(pool, columns).await
        }
        outcome => outcome,
    }
}

/// One `COPY ... FROM STDIN` of the whole batch (all rows or none).
pub async fn copy_batch(pool: &PgPool, columns: &Columns) -> Result<u64, sqlx::Error> {
    let data = columns.copy_text();
    let mut conn = pool.acquire().await?;
    let mut copy = conn.copy_in_raw(COPY_STATEMENT).await?;
    copy.send(data.as_bytes()).await?;
    copy.finish().await
}

/// `INSERT ... SELECT FROM UNNEST(...) ON CONFLICT (event_id) DO NOTHING`: one statement.
pub async fn insert_on_conflict(pool: &PgPool, columns: &Columns) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(concat!(
        "INSERT INTO user_events (",
        columns!(),
        r#")
           SELECT event_id, event_type, location_type, component_name, page_path, page_title,
               ts, user_metadata::jsonb, full_event_data::jsonb, received_at,
               app_name, app_version, session_id, anonymous_id, kafka_partition, kafka_offset,
               kafka_timestamp
           FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
               $7::timestamptz[], $8::text[], $9::text[], $10::timestamptz[], $11::text[],
               $12::text[], $13::text[], $14::text[], $15::int4[], $16::int8[],
               $17::timestamptz[])
             AS t(event_id, event_type, location_type, component_name, page_path, page_title,
               ts, user_metadata, full_event_data, received_at, app_name, app_version,
               session_id, anonymous_id, kafka_partition, kafka_offset, kafka_timestamp)
           ON CONFLICT (event_id) DO NOTHING"#
    ))
    .bind(&columns.event_id)
    .bind(&columns.event_type)
    .bind(&columns.location_type)
    .bind(&columns.component_name)
    .bind(&columns.page_path)
    .bind(&columns.page_title)
    .bind(&columns.timestamp)
    .bind(&columns.user_metadata)
    .bind(&columns.full_event_data)
    .bind(&columns.received_at)
    .bind(&columns.app_name)
    .bind(&columns.app_version)
    .bind(&columns.session_id)
    .bind(&columns.anonymous_id)
    .bind(&columns.kafka_partition)
    .bind(&columns.kafka_offset)
    .bind(&columns.kafka_timestamp)
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// Whether waiting and trying again can help: a lost connection, a server restarting,
/// too many clients. A constraint or type error in the statement would fail forever.
pub fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception, 53: insufficient resources, 57P: operator
            // intervention (shutdown, restart), 40001/40P01: serialization / deadlock.
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
        }),
        _ => false,
    }
}

impl Columns {
    /// The batch in `COPY`'s text format: tab-separated, `\N` for NULL, one row a line.
    pub fn copy_text(&self) -> String {
        let mut out = String::with_capacity(self.len() * 768);
        for i in 0..self.len() {
            let timestamp =
                |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            let fields: [Option<std::borrow::Cow<'_, str>>; 17] = [
                Some(self.event_id[i].to_string().into()),
                Some(self.event_type[i].as_str().into()),
                Some(self.location_type[i].into()),
                self.component_name[i].as_deref().map(Into::into),
                self.page_path[i].as_deref().map(Into::into),
                self.page_title[i].as_deref().map(Into::into),
                Some(timestamp(&self.timestamp[i]).into()),
                Some(self.user_metadata[i].as_str().into()),
                Some(self.full_event_data[i].as_str().into()),
                Some(timestamp(&self.received_at[i]).into()),
                self.app_name[i].as_deref().map(Into::into),
                self.app_version[i].as_deref().map(Into::into),
                self.session_id[i].as_deref().map(Into::into),
                self.anonymous_id[i].as_deref().map(Into::into),
                self.kafka_partition[i].map(|p| p.to_string().into()),
                self.kafka_offset[i].map(|o| o.to_string().into()),
                self.kafka_timestamp[i]
                    .as_ref()
                    .map(|t| timestamp(t).into()),
            ];
            for (n, field) in fields.iter().enumerate() {
                if n > 0 {
                    out.push('\t');
                }
                match field {
                    None => out.push_str("\\N"),
                    Some(value) => push_escaped(&mut out, value),
                }
            }
            out.push('\n');
        }
        out
    }

    /// Splits the batch into one-row batches (the slow path after a permanent error).
    pub fn into_rows(self) -> Vec<Columns> {
        let n = self.len();
        let mut rows: Vec<Columns> = (0..n).map(|_| Columns::with_capacity(1)).collect();
        macro_rules! spread {
            ($($field:ident),*) => {
                $(for (row, value) in rows.iter_mut().zip(self.$field) {
                    row.$field.push(value);
                })*
            };
        }
        spread!(
            event_id,
            event_type,
            location_type,
            component_name,
            page_path,
            page_title,
            timestamp,
            user_metadata,
            full_event_data,
            received_at,
            app_name,
            app_version,
            session_id,
            anonymous_id,
            kafka_partition,
            kafka_offset,
            kafka_timestamp
        );
        rows
    }

    pub fn first_event_id(&self) -> Uuid {
        self.event_id.first().copied().unwrap_or_default()
    }
}

/// COPY text format: backslash, tab, newline and carriage return are escaped.
fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_tabs_backslashes_and_newlines() {
        let mut out = String::new();
        push_escaped(&mut out, "a\tb\\c\nd");
        assert_eq!(out, "a\\tb\\\\c\\nd");
    }
}
