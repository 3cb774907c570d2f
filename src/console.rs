//! The terminal console: a ratatui app over the [`crate::live`] engine. [`state`] is the
//! testable state machine (keys and engine news in, requests out), [`draw`] renders it,
//! [`sanitize`] cleans untrusted text, [`theme`] holds the palettes. [`run`] owns the
//! terminal: one poll loop with a tick that drains the engine's channel, draws and reads keys.
//!
//! Invariant: the loop never blocks on the engine (it only drains a channel), and the terminal
//! is restored on every way out: `q`, Ctrl-C, an error, a panic (ratatui's hook).

pub mod chat;
pub mod draw;
pub mod keys;
pub mod sanitize;
pub mod state;
pub mod theme;

use crate::live::LiveHandle;
use crossterm::event::{self, Event};
use state::{App, Request};
use std::sync::mpsc::TryRecvError;
use std::time::Duration;
use theme::Theme;

/// Why the console stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The terminal could not be set up, drawn on or read from.
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// Drains the engine's channel into the app. Returns false when the engine has gone.
fn drain(app: &mut App, live: &LiveHandle) -> bool {
    loop {
        match live.events.try_recv() {
            Ok(event) => app.on_live(event),
            Err(TryRecvError::Empty) => return true,
            Err(TryRecvError::Disconnected) => return false,
        }
    }
}

fn carry_out(requests: Vec<Request>, live: &LiveHandle) {
    for request in requests {
        match request {
            Request::SetPaused(paused) => live.set_paused(paused),
            Request::Quit => {}
        }
    }
}

/// Runs the console on `live` until the user quits; restores the terminal and stops the
/// engine on the way out.
///
/// # Errors
/// When the terminal cannot be set up or fails.
pub fn run(live: LiveHandle, theme: Theme, keymap: keys::Keymap) -> Result<(), ConsoleError> {
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, &live, theme, keymap);
    ratatui::restore();
    let _ = crossterm::execute!(std::io::stdout(), crossterm::cursor::Show);
    live.stop();
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    live: &LiveHandle,
    theme: Theme,
    keymap: keys::Keymap,
) -> Result<(), ConsoleError> {
    let mut app = App::new();
    app.keymap = keymap;
    let mut engine_gone = false;
    let tick = Duration::from_millis(100);
    while !app.quit {
        if !engine_gone && !drain(&mut app, live) {
            engine_gone = true;
            if app.snapshot.as_ref().is_none_or(|s| !s.is_offline()) && app.message.is_none() {
                app.message =
                    Some("the source has stopped; the screen shows its last state".to_owned());
            }
        }
        terminal.draw(|frame| draw::draw(frame, &app, &theme))?;
        if event::poll(tick)? {
            // Handle every queued event before the next frame.
            loop {
                match event::read()? {
                    Event::Key(key) => carry_out(app.on_key(key), live),
                    Event::Resize(..) => terminal.autoresize()?,
                    _ => {}
                }
                if app.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
    }
    Ok(())
}
