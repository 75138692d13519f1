//! `ptrack query`: the stored events, read through the events-api (never the database),
//! written for a person or a program.
//!
//! Layout:
//! - [`time`]: `--since` / `--until` (RFC 3339, Unix ms, or a time ago like `15m`) and
//!   how times are shown.
//! - [`output`]: the streaming writers: table, wide, JSON, NDJSON, CSV.
//! - [`follow`]: `--follow`: the last events, then new ones as they are stored.
//! - [`stats`]: `ptrack query stats`: counts by type, page, component or minute.
//! - [`trace`]: `ptrack query trace`: one event's journey through the pipeline.
//!
//! Here: [`list`], the plain query that pages through the API's cursor, and the exit
//! code for "nothing matched".

pub mod follow;
pub mod output;
pub mod stats;
pub mod time;
pub mod trace;

use std::io::{self, Write};

use crate::client::{ClientError, EventsApi, EventsQuery};

use self::output::{Record, Writer};

/// The exit code when the query ran but nothing matched (0: found, 1: error, 2: clap's
/// usage error), so that scripts can tell an empty answer from a failure.
pub const NOTHING_MATCHED: u8 = 3;

/// The most events one `GET /events` page holds (the API's maximum).
pub const MAX_PAGE: u32 = 1000;

/// Why a query stopped.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Api(#[from] ClientError),
    /// Writing the output failed; a closed pipe (`| head`) is [`QueryError::is_closed_pipe`].
    #[error("writing the output: {0}")]
    Output(#[from] io::Error),
}

impl QueryError {
    /// The reader went away (`ptrack query | head`): not an error, the command ends
    /// quietly.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, Self::Output(err) if err.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Writes up to `limit` events of `query` (every one with `None`), newest first, page by
/// page: only one page is held at a time. Returns how many were written.
pub async fn list<W: Write>(
    api: &EventsApi,
    mut query: EventsQuery,
    limit: Option<u64>,
    writer: &mut Writer<W>,
) -> Result<u64, QueryError> {
    let page_size = limit.map_or(MAX_PAGE, |n| n.clamp(1, u64::from(MAX_PAGE)) as u32);
    query.limit = Some(page_size);
    let mut pages = api.pages(query);
    let mut written = 0;
    'pages: while let Some(page) = pages.next_page().await? {
        for event in page.events {
            if limit.is_some_and(|limit| written >= limit) {
                break 'pages;
            }
            writer.write(&Record::from(event))?;
            written += 1;
        }
        if limit.is_some_and(|limit| written >= limit) {
            break;
        }
    }
    Ok(written)
}
