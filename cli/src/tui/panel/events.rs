//! The newest stored events, newest first, filtered by type or page with `/`.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::Line,
    widgets::{Paragraph, Row, Table},
};

use super::{block, bold, source_error};
use crate::tui::{
    app::{App, Panel},
    event::SourceId,
};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let extra = if app.ui.filter.is_empty() {
        String::new()
    } else {
        format!("filter: {}", app.ui.filter)
    };
    let extra = match app.recent_from {
        Some(SourceId::Database) => format!("{extra} (from PostgreSQL)"),
        _ => extra,
    };
    let block = block(app, Panel::Events, extra.trim());
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let mut head = Vec::new();
    if app.ui.editing_filter {
        head.push(Line::from(format!(
            "/{}▏ type or page; Enter keeps it, Esc clears it",
            app.ui.filter
        )));
    }
    for source in [SourceId::EventsApi, SourceId::Database] {
        if let Some(line) = source_error(app, source) {
            head.push(line);
        }
    }
    let [head_area, table_area] =
        Layout::vertical([Constraint::Length(head.len() as u16), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(head), head_area);

    let rows: Vec<Row> = app
        .filtered_events()
        .map(|e| {
            Row::new(vec![
                e.timestamp.format("%H:%M:%S%.3f").to_string(),
                e.event_type.clone(),
                e.page_path.clone().unwrap_or_default(),
                e.component_name.clone().unwrap_or_default(),
            ])
        })
        .collect();
    if rows.is_empty() {
        let text = if app.recent.is_empty() {
            "no events stored yet"
        } else {
            "no event matches the filter"
        };
        frame.render_widget(Paragraph::new(text), table_area);
        return;
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Percentage(50),
            Constraint::Percentage(50),
        ],
    )
    .header(Row::new(["time (UTC)", "type", "page", "component"]).style(bold(app)));
    frame.render_widget(table, table_area);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use chrono::{TimeZone, Utc};
    use crossterm::event::{KeyCode, KeyEvent};

    use super::*;
    use crate::tui::{
        event::{Event, RecentEvents, StoredEvent},
        panel::testing::render,
    };

    fn stored(event_type: &str, page: &str, component: &str, ms: i64) -> StoredEvent {
        StoredEvent {
            timestamp: Utc.timestamp_millis_opt(ms).single().expect("valid time"),
            event_type: event_type.into(),
            page_path: Some(page.into()),
            component_name: Some(component.into()),
        }
    }

    #[test]
    fn shows_the_events_and_filters_them() {
        let mut app = App::new(
            Duration::from_secs(60),
            Duration::from_secs(1),
            Instant::now(),
        );
        app.update(Event::Recent(RecentEvents {
            from: SourceId::Database,
            events: vec![
                stored("CLICK", "/pricing", "BuyButton", 1_732_000_000_123),
                stored("PAGE_VIEW", "/docs", "", 1_732_000_000_000),
            ],
        }));
        let text = render(90, 8, |f, a| draw(f, a, &app));
        assert!(text.contains("07:06:40.123"), "{text}");
        assert!(
            text.contains("CLICK") && text.contains("/pricing"),
            "{text}"
        );
        assert!(
            text.contains("BuyButton") && text.contains("PAGE_VIEW"),
            "{text}"
        );

        for key in ['/', 'd', 'o', 'c'] {
            app.update(Event::Key(KeyEvent::from(KeyCode::Char(key))));
        }
        let text = render(90, 8, |f, a| draw(f, a, &app));
        assert!(text.contains("filter: doc"), "{text}");
        assert!(
            text.contains("PAGE_VIEW") && !text.contains("BuyButton"),
            "{text}"
        );
    }
}
