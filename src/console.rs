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

use crate::knowledge::record::Postmortem;
use crate::live::LiveHandle;
use crossterm::event::{self, Event};
use state::{App, Request};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
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

/// Writes recorded postmortems into the knowledge base: returns where, or why not.
pub type Saver = Box<dyn FnMut(&Postmortem) -> Result<String, String> + Send>;

/// The saver's thread: postmortems in, `(id, outcome)` out, so a slow disk or a knowledge
/// base locked by another process never blocks the screen.
struct SaveWorker {
    requests: Option<Sender<Postmortem>>,
    outcomes: Receiver<(String, Result<String, String>)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SaveWorker {
    fn start(mut saver: Option<Saver>) -> std::io::Result<Self> {
        let (requests, inbox) = mpsc::channel::<Postmortem>();
        let (outbox, outcomes) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("baynet-save".to_owned())
            .spawn(move || {
                for record in inbox {
                    let outcome = match saver.as_mut() {
                        Some(save) => save(&record),
                        None => Err("no knowledge base is configured".to_owned()),
                    };
                    if outbox.send((record.id.clone(), outcome)).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Self {
            requests: Some(requests),
            outcomes,
            thread: Some(thread),
        })
    }

    /// Waits for the postmortems still being written (the user pressed `r`, then `q`).
    fn finish(mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn carry_out(requests: Vec<Request>, live: &LiveHandle, saver: &SaveWorker) {
    for request in requests {
        match request {
            Request::SetPaused(paused) => live.set_paused(paused),
            Request::Save(record) => {
                if let Some(requests) = &saver.requests {
                    let _ = requests.send(*record);
                }
            }
            Request::Quit => {}
        }
    }
}

/// Runs the console on `live` until the user quits; restores the terminal and stops the
/// engine on the way out. `saver` writes recorded postmortems (`None`: recording still works,
/// saving says why it cannot).
///
/// # Errors
/// When the terminal cannot be set up or fails.
pub fn run(
    live: LiveHandle,
    theme: Theme,
    keymap: keys::Keymap,
    saver: Option<Saver>,
) -> Result<(), ConsoleError> {
    let can_save = saver.is_some();
    let saver = SaveWorker::start(saver)?;
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, &live, theme, keymap, &saver, can_save);
    ratatui::restore();
    let _ = crossterm::execute!(std::io::stdout(), crossterm::cursor::Show);
    live.stop();
    saver.finish();
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    live: &LiveHandle,
    theme: Theme,
    keymap: keys::Keymap,
    saver: &SaveWorker,
    can_save: bool,
) -> Result<(), ConsoleError> {
    let mut app = App::new();
    app.keymap = keymap;
    app.can_save = can_save;
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
        while let Ok((id, outcome)) = saver.outcomes.try_recv() {
            app.on_saved(&id, outcome);
        }
        terminal.draw(|frame| draw::draw(frame, &app, &theme))?;
        if event::poll(tick)? {
            // Handle every queued event before the next frame.
            loop {
                match event::read()? {
                    Event::Key(key) => carry_out(app.on_key(key), live, saver),
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
