//! Drawing: the layout, and one function per panel (one file each under `panel/`), every
//! one drawing from `&App` only. State is always written as text; colour only adds to it
//! and is left out entirely under `NO_COLOR`. Only the 16 basic ANSI colours are used.

pub mod delay;
pub mod events;
pub mod footer;
pub mod health;
pub mod help;
pub mod lag;
pub mod throughput;

use std::time::Duration;

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::{Block, BorderType},
};

use super::{
    app::{App, Panel},
    event::SourceId,
    verdict::Status,
};

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let [body, footer_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(frame.area());
    if let Some(panel) = app.ui.expanded {
        draw_panel(frame, body, app, panel);
    } else {
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
        let [lag_area, throughput_area] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
        let [events_area, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(bottom);
        let [health_area, delay_area] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(5)]).areas(right);
        draw_panel(frame, lag_area, app, Panel::Lag);
        draw_panel(frame, throughput_area, app, Panel::Throughput);
        draw_panel(frame, events_area, app, Panel::Events);
        draw_panel(frame, health_area, app, Panel::Health);
        draw_panel(frame, delay_area, app, Panel::Delay);
    }
    footer::draw(frame, footer_area, app);
    if app.ui.help {
        help::draw(frame, frame.area(), app);
    }
}

fn draw_panel(frame: &mut Frame, area: Rect, app: &App, panel: Panel) {
    match panel {
        Panel::Lag => lag::draw(frame, area, app),
        Panel::Throughput => throughput::draw(frame, area, app),
        Panel::Events => events::draw(frame, area, app),
        Panel::Health => health::draw(frame, area, app),
        Panel::Delay => delay::draw(frame, area, app),
    }
}

/// A panel's frame: the selected one is marked with `▶` and a double border.
pub(crate) fn block(app: &App, panel: Panel, extra: &str) -> Block<'static> {
    let selected = app.ui.selected == panel;
    let title = format!(
        "{}{}{}",
        if selected { "▶ " } else { " " },
        panel.title(),
        if extra.is_empty() {
            " ".to_owned()
        } else {
            format!(" {extra} ")
        }
    );
    let block = Block::bordered().title(title);
    if selected {
        block
            .border_type(BorderType::Double)
            .border_style(bold(app))
    } else {
        block
    }
}

/// The line a panel shows when one of its sources does not answer.
pub(crate) fn source_error(app: &App, source: SourceId) -> Option<Line<'static>> {
    let error = app.source_error(source)?;
    Some(Line::from(Span::styled(
        format!("✖ {source}: no answer: {error}, retrying"),
        fg(app, Color::Red),
    )))
}

pub(crate) fn fg(app: &App, color: Color) -> Style {
    if app.color {
        Style::new().fg(color)
    } else {
        Style::new()
    }
}

pub(crate) fn bold(_app: &App) -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

pub(crate) fn status_style(app: &App, status: Status) -> Style {
    let color = match status {
        Status::Unknown => return Style::new(),
        Status::Ok => Color::Green,
        Status::Lagging => Color::Yellow,
        Status::Rewound => Color::Magenta,
        Status::Stalled | Status::Stopped => Color::Red,
    };
    fg(app, color).add_modifier(Modifier::BOLD)
}

/// `950/s`, `12.3k/s`; `-` when nothing was measured yet.
pub fn rate(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v >= 10_000.0 => format!("{:.1}k/s", v / 1000.0),
        Some(v) if v >= 100.0 => format!("{v:.0}/s"),
        Some(v) => format!("{v:.1}/s"),
    }
}

/// `850ms`, `2.4s`, `3m05s`.
pub fn duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        crate::runtime::human_duration(d.as_secs())
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use ratatui::{Terminal, backend::TestBackend};

    use super::super::app::App;

    /// Draws the whole screen and returns it as text, one line per row.
    pub fn screen(app: &App, width: u16, height: u16) -> String {
        render(width, height, |frame, _| super::draw(frame, app))
    }

    /// Draws one area with `f` and returns it as text.
    pub fn render(
        width: u16,
        height: u16,
        f: impl FnOnce(&mut ratatui::Frame, ratatui::layout::Rect),
    ) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
        terminal
            .draw(|frame| {
                let area = frame.area();
                f(frame, area)
            })
            .expect("draw");
        let buffer = terminal.backend().buffer();
        let mut text = String::new();
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                text.push_str(buffer[(x, y)].symbol());
            }
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use ratatui::{Terminal, backend::TestBackend, style::Color};

    use super::{testing::screen, *};
    use crate::tui::event::{Event, LagOrigin, LagSnapshot, PartitionOffsets};

    fn app_with_lag() -> App {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(300), Duration::from_secs(1), t0);
        for s in 0..15u64 {
            app.update(Event::Lag(LagSnapshot {
                at: t0 + Duration::from_secs(s),
                partitions: vec![PartitionOffsets {
                    partition: 0,
                    low_watermark: 0,
                    high_watermark: 90,
                    committed: Some(30),
                }],
                dlq: None,
                origin: LagOrigin::Broker,
            }));
        }
        app
    }

    /// Every cell's colours, drawn at 120x40.
    fn colours(app: &App) -> Vec<Color> {
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
        terminal.draw(|frame| draw(frame, app)).expect("draw");
        terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .flat_map(|cell| [cell.fg, cell.bg])
            .collect()
    }

    #[test]
    fn the_screen_has_every_panel_the_selection_and_the_keys() {
        let app = app_with_lag();
        let text = screen(&app, 120, 40);
        for title in Panel::ALL.map(Panel::title) {
            assert!(text.contains(title), "{title}: {text}");
        }
        assert!(text.contains("▶ Consumer lag"), "{text}");
        assert!(text.contains("■ STALLED"), "{text}");
        assert!(text.contains("q quit  p freeze  / filter"), "{text}");
        assert!(text.contains("+/- window (5m00s)"), "{text}");
    }

    #[test]
    fn help_and_an_expanded_panel_draw_over_the_screen() {
        let mut app = app_with_lag();
        app.ui.expanded = Some(Panel::Lag);
        let text = screen(&app, 120, 40);
        assert!(!text.contains("Recent events"), "{text}");
        app.ui.help = true;
        let text = screen(&app, 120, 40);
        assert!(text.contains("Help (Esc closes)"), "{text}");
        assert!(
            text.contains("✖ STOPPED  no commit for longer than the window"),
            "{text}"
        );
    }

    #[test]
    fn no_color_means_no_colour_and_otherwise_only_the_16_ansi_colours() {
        let mut app = app_with_lag();
        app.ui.frozen = true;
        let with = colours(&app);
        assert!(with.contains(&Color::Red), "STALLED is red too");
        assert!(
            with.iter()
                .all(|c| !matches!(c, Color::Rgb(..) | Color::Indexed(_))),
            "only the basic colours"
        );
        app.color = false;
        assert!(colours(&app).iter().all(|c| *c == Color::Reset));
    }

    #[test]
    fn a_tiny_terminal_does_not_panic() {
        let mut app = app_with_lag();
        for (w, h) in [(1, 1), (10, 3), (30, 8)] {
            screen(&app, w, h);
            app.ui.help = true;
            screen(&app, w, h);
            app.ui.help = false;
        }
    }
}
