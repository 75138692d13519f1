//! The newest stored events through the events-api (`GET /events?limit=100`): the
//! product's read path, so what the TUI shows is what a user of the API would see.
//! PostgreSQL's copy of the list is shown only while this source does not answer.

use std::time::Duration;

use reqwest::Url;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{call, pause};
use crate::{
    client::{EventsApi, EventsQuery},
    tui::event::{Event, RecentEvents, SourceId, StoredEvent},
};

const RECENT: u32 = 100;

pub async fn run(
    url: Url,
    token: Option<String>,
    refresh: Duration,
    tx: mpsc::Sender<Event>,
    cancel: CancellationToken,
) {
    let api = match token {
        Some(token) => EventsApi::new(url).with_token(token),
        None => EventsApi::new(url),
    };
    let query = EventsQuery {
        limit: Some(RECENT),
        ..EventsQuery::default()
    };
    loop {
        let event = match call(api.events(&query)).await {
            Ok(page) => Event::Recent(RecentEvents {
                from: SourceId::EventsApi,
                events: page.events.into_iter().map(shown).collect(),
            }),
            Err(error) => Event::SourceError {
                source: SourceId::EventsApi,
                error,
            },
        };
        if tx.send(event).await.is_err() || !pause(refresh, &tx, &cancel).await {
            return;
        }
    }
}

/// What the events panel shows of a stored event.
fn shown(event: ptrack_wire::StoredEvent) -> StoredEvent {
    StoredEvent {
        timestamp: event.timestamp,
        event_type: event.event_type,
        page_path: event.page_path,
        component_name: event.component_name,
    }
}
