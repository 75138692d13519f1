//! The keys and what each verdict means, over the screen.

use ratatui::{
    Frame,
    layout::Rect,
    text::Line,
    widgets::{Block, Clear, Paragraph, Wrap},
};

use crate::tui::{app::App, verdict::Status};

const KEYS: &[(&str, &str)] = &[
    ("q, Esc, Ctrl-C", "quit (Esc first closes what is open)"),
    (
        "p",
        "freeze the screen; data keeps arriving and shows on resume",
    ),
    ("/", "filter recent events by type or page"),
    ("Tab, arrows", "move between panels"),
    (
        "Enter, e",
        "expand the selected panel (throughput: each replica)",
    ),
    ("+ / -", "widen / narrow the time window"),
    ("?", "this help"),
];

const VERDICTS: &[(Status, &str)] = &[
    (
        Status::Ok,
        "lag reached zero in the window, or falls while commits move",
    ),
    (
        Status::Lagging,
        "lag rising, but offsets are being committed",
    ),
    (Status::Stalled, "lag waiting and no commit for 10 s"),
    (Status::Stopped, "no commit for longer than the window"),
    (Status::Rewound, "the committed offset went backwards"),
];

pub fn draw(frame: &mut Frame, area: Rect, _app: &App) {
    let width = area.width.min(76);
    let height = area.height.min((KEYS.len() + VERDICTS.len() + 5) as u16);
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| Line::from(format!("{k:>15}  {what}")))
        .collect();
    lines.push(Line::from(""));
    lines.extend(
        VERDICTS
            .iter()
            .map(|(s, what)| Line::from(format!("{:>15}  {what}", s.to_string()))),
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Help (Esc closes) ")),
        popup,
    );
}
