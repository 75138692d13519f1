//! The keys, the window and whether the screen is frozen, on one line.

use ratatui::{
    Frame,
    layout::Rect,
    style::Modifier,
    text::{Line, Span},
    widgets::Paragraph,
};

use super::bold;
use crate::tui::app::App;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let mut spans = Vec::new();
    if app.ui.frozen {
        spans.push(Span::styled(
            "❚❚ FROZEN (p resumes)  ",
            bold(app).add_modifier(Modifier::REVERSED),
        ));
    }
    spans.push(Span::raw(format!(
        "q quit  p freeze  / filter  Tab move  Enter expand  +/- window ({})  ? help",
        crate::runtime::human_duration(app.window.as_secs())
    )));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
