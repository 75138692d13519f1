//! `ptrack tui`: the pipeline's cockpit. Whether events flow, where they pile up and why.
//!
//! Built like bottom and oha: sources are background tasks that send [`event::Event`]s
//! into one channel; the main loop drains the channel once per frame into an
//! [`app::App`], which does no I/O; every panel draws from `&App` only; the screen is
//! redrawn only when something changed, at most [`FRAMES_PER_SEC`] times a second.
//! Without a terminal the same state is printed as a summary line every few seconds.
//!
//! Layout:
//! - [`event`]: the one event type and the data each source sends.
//! - [`app`]: the state, its update function, rates from counters, drain time.
//! - [`verdict`]: the Burrow-style rules OK / LAGGING / STALLED / STOPPED / REWOUND.
//! - [`panel`]: the layout and one file per panel.
//! - [`source`]: the background tasks (broker lag, PostgreSQL, the collectors', the
//!   processors' and the events-api's HTTP endpoints, runtime status, a running load).
//! - [`terminal`]: raw mode and the alternate screen, restored by a guard and on panic.
//! - [`plain`]: the summary lines for logs.

pub mod app;
pub mod event;
pub mod panel;
pub mod plain;
pub mod source;
pub mod terminal;
pub mod verdict;

use std::{
    io::Write,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::{
    app::App,
    event::{Event, Setup},
    source::Sources,
};

/// The most frames drawn in a second: enough to feel live, cheap on a busy machine.
pub const FRAMES_PER_SEC: u32 = 4;

#[derive(Debug, Clone)]
pub struct Options {
    pub sources: Sources,
    /// What the sources are and how they were found, for the health panel.
    pub setup: Setup,
    pub window: Duration,
    /// Under `NO_COLOR` no colour is used at all.
    pub color: bool,
}

/// How the plain mode prints.
#[derive(Debug, Clone, Copy)]
pub struct PlainOptions {
    pub json: bool,
    pub every: Duration,
}

/// Starts the sources and returns the channel they send on.
fn start(
    options: &Options,
) -> (
    mpsc::Sender<Event>,
    mpsc::Receiver<Event>,
    CancellationToken,
) {
    let (tx, rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    source::spawn_all(&options.sources, &tx, &cancel);
    // SIGINT while the terminal is not raw (plain mode, or sent by `kill -INT`), and
    // SIGTERM: both end the TUI through the loop, so the terminal is restored.
    let interrupt = tx.clone();
    let token = cancel.clone();
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => { let _ = interrupt.send(Event::Interrupt).await; }
            _ = terminate => { let _ = interrupt.send(Event::Interrupt).await; }
            _ = token.cancelled() => {}
        }
    });
    (tx, rx, cancel)
}

/// Draws the cockpit on the terminal until `q`, Esc or Ctrl-C.
pub async fn run_screen(options: Options) -> Result<()> {
    let (tx, mut rx, cancel) = start(&options);
    let mut guard = terminal::TerminalGuard::enter().context("setting up the terminal")?;
    terminal::spawn_input(tx.clone());
    drop(tx);
    let mut app = App::new(options.window, options.sources.refresh, Instant::now());
    app.color = options.color;
    app.setup = options.setup.clone();
    let outcome = frame_loop(&mut app, &mut rx, |app| {
        guard
            .screen
            .draw(|frame| panel::draw(frame, app))
            .map(|_| ())
            .context("drawing")
    })
    .await;
    cancel.cancel();
    drop(guard);
    outcome
}

/// The loop: wait for an event, a tick or the next frame; drain every waiting event
/// into the app; draw when something changed and a frame's time has passed.
async fn frame_loop(
    app: &mut App,
    rx: &mut mpsc::Receiver<Event>,
    mut draw: impl FnMut(&App) -> Result<()>,
) -> Result<()> {
    let frame = Duration::from_secs(1) / FRAMES_PER_SEC;
    let mut tick = tokio::time::interval(app.refresh);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    let mut last_draw: Option<tokio::time::Instant> = None;
    loop {
        let next_frame = last_draw.map_or_else(tokio::time::Instant::now, |t| t + frame);
        tokio::select! {
            event = rx.recv() => match event {
                Some(event) => dirty |= app.update(event),
                None => return Ok(()),
            },
            _ = tick.tick() => dirty |= app.update(Event::Tick(Instant::now())),
            _ = tokio::time::sleep_until(next_frame), if dirty => {}
        }
        while let Ok(event) = rx.try_recv() {
            dirty |= app.update(event);
        }
        if app.quit {
            return Ok(());
        }
        let now = tokio::time::Instant::now();
        if dirty && last_draw.is_none_or(|t| now >= t + frame) {
            draw(app)?;
            last_draw = Some(now);
            dirty = false;
        }
    }
}

/// Without a terminal: a summary line (or a JSON object) every `plain.every`, until
/// Ctrl-C.
pub async fn run_plain(options: Options, plain: PlainOptions, out: &mut impl Write) -> Result<()> {
    let (tx, mut rx, cancel) = start(&options);
    drop(tx);
    let mut app = App::new(options.window, options.sources.refresh, Instant::now());
    app.setup = options.setup.clone();
    let mut print = tokio::time::interval(plain.every);
    print.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // The first line after one period, when the sources have answered.
    print.tick().await;
    let outcome = loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(event) => { app.update(event); }
                None => break Ok(()),
            },
            _ = print.tick() => {
                app.update(Event::Tick(Instant::now()));
                let summary = plain::summary(&app, chrono::Utc::now());
                let text = if plain.json {
                    serde_json::to_string(&summary).context("writing JSON")?
                } else {
                    plain::line(&summary)
                };
                if let Err(err) = writeln!(out, "{text}").and_then(|()| out.flush()) {
                    // A closed pipe (`| head`) ends the command quietly.
                    if err.kind() == std::io::ErrorKind::BrokenPipe {
                        break Ok(());
                    }
                    break Err(err).context("writing the summary");
                }
            }
        }
        if app.quit {
            break Ok(());
        }
    };
    cancel.cancel();
    outcome
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent};

    use super::{
        event::{Event, InsertedRows},
        *,
    };

    #[tokio::test]
    async fn draws_at_a_bounded_rate_only_when_something_changed_and_quits_on_q() {
        let (tx, mut rx) = mpsc::channel(1024);
        let mut app = App::new(
            Duration::from_secs(60),
            Duration::from_secs(3600),
            Instant::now(),
        );
        let sender = tokio::spawn(async move {
            // 100 data events in one second: a handful of frames, not 100.
            for i in 0..100u64 {
                tx.send(Event::Inserted(InsertedRows {
                    at: Instant::now() + Duration::from_millis(10 * i),
                    rows: i,
                }))
                .await
                .unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // Quiet for a second and a half: no frame at all.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            tx.send(Event::Key(KeyEvent::from(KeyCode::Char('q'))))
                .await
                .unwrap();
            tx
        });
        let mut frames = Vec::new();
        frame_loop(&mut app, &mut rx, |_| {
            frames.push(tokio::time::Instant::now());
            Ok(())
        })
        .await
        .unwrap();
        assert!(app.quit);
        let _tx = sender.await.unwrap();
        assert!(
            (2..=7).contains(&frames.len()),
            "{} frames: {frames:?}",
            frames.len()
        );
        for pair in frames.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(250));
        }
    }
}
