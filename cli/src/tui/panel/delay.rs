//! End-to-end delay, collector to table, saying how it was measured.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::Line,
    widgets::{Paragraph, Sparkline},
};

use super::{block, duration, source_error};
use crate::tui::{
    app::{App, Panel},
    event::SourceId,
};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let block = block(app, Panel::Delay, "");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = Vec::new();
    if let Some(line) = source_error(app, SourceId::Database) {
        lines.push(line);
    }
    match &app.delay {
        Some(d) => {
            lines.push(Line::from(format!(
                "p50 {}  p99 {}  max {}  of {} events",
                duration(d.p50),
                duration(d.p99),
                duration(d.max),
                d.samples
            )));
            lines.push(Line::from(d.method.to_string()));
        }
        None => lines.push(Line::from("no delay measured yet")),
    }
    let [text_area, spark_area] =
        Layout::vertical([Constraint::Length(lines.len() as u16), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), text_area);
    let points: Vec<u64> = app
        .delay_p99
        .since(app.window_start())
        .map(|(_, v)| (v * 1000.0) as u64)
        .collect();
    let shown = &points[points.len().saturating_sub(spark_area.width as usize)..];
    frame.render_widget(Sparkline::default().data(shown), spark_area);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::tui::{
        event::{DelayMethod, E2eDelay, Event},
        panel::testing::render,
    };

    #[test]
    fn shows_the_percentiles_and_the_method() {
        let now = Instant::now();
        let mut app = App::new(Duration::from_secs(60), Duration::from_secs(1), now);
        app.update(Event::Delay(E2eDelay {
            at: now,
            from: SourceId::Database,
            method: DelayMethod::RowTimestamps,
            p50: Duration::from_millis(240),
            p99: Duration::from_millis(1500),
            max: Duration::from_secs(2),
            samples: 200,
        }));
        let text = render(70, 6, |f, a| draw(f, a, &app));
        assert!(
            text.contains("p50 240ms  p99 1.5s  max 2.0s  of 200 events"),
            "{text}"
        );
        assert!(
            text.contains("newest stored rows: inserted_at - received_at"),
            "{text}"
        );
    }
}
