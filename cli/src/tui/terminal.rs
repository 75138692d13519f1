//! The terminal while the TUI draws: raw mode and the alternate screen, left by a guard on
//! drop and by a panic hook that restores the terminal before the panic message prints.
//! The mouse is never captured, so selecting text to copy keeps working (also over SSH).
//! In raw mode Ctrl-C arrives as a key, which quits like `q`.

use std::{
    io::{self, Stdout},
    sync::Once,
    time::Duration,
};

use crossterm::{
    cursor::{Hide, Show},
    event::{self, Event as TermEvent, KeyEventKind},
    execute,
    terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode},
};
use ratatui::{Terminal, backend::CrosstermBackend};
use tokio::sync::mpsc;

use super::event::Event;

pub type Screen = Terminal<CrosstermBackend<Stdout>>;

/// Holds the terminal in raw mode on the alternate screen until dropped.
pub struct TerminalGuard {
    pub screen: Screen,
}

impl TerminalGuard {
    pub fn enter() -> io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(err) = execute!(stdout, EnterAlternateScreen, Hide) {
            restore();
            return Err(err);
        }
        match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(screen) => Ok(Self { screen }),
            Err(err) => {
                restore();
                Err(err)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode and the alternate screen; harmless when already left.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Reads keys and resizes on a thread of its own (crossterm's reads block) and sends them
/// as events; it ends when the receiver is gone.
pub fn spawn_input(tx: mpsc::Sender<Event>) {
    std::thread::spawn(move || {
        while !tx.is_closed() {
            // Polling with a timeout lets the thread notice that the TUI has ended.
            match event::poll(Duration::from_millis(200)) {
                Ok(false) => continue,
                Ok(true) => {}
                Err(_) => return,
            }
            let event = match event::read() {
                Ok(TermEvent::Key(key)) if key.kind == KeyEventKind::Press => Event::Key(key),
                Ok(TermEvent::Resize(w, h)) => Event::Resize(w, h),
                Ok(_) => continue,
                Err(_) => return,
            };
            if tx.blocking_send(event).is_err() {
                return;
            }
        }
    });
}
