//! The console's state machine: views, modes (command palette, filter, help), selection and
//! the held snapshot. [`App::on_key`] and [`App::on_live`] are the only inputs; they change the
//! state and return [`Request`]s for the loop to carry out. Nothing here draws or does I/O.

use super::keys::{Action, Keymap};
use crate::live::{LiveEvent, PastIncident, ServiceView, Snapshot, SourceStatus, TraceSummary};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use regex::Regex;

/// A screen of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Services ranked by root-cause probability.
    Services,
    /// The call graph coloured by band.
    Graph,
    /// Recent log lines of the selected service.
    Logs,
    /// Error and slow traces of the selected service.
    Traces,
    /// Golden signals of the selected service.
    Metrics,
    /// Similar past incidents from the knowledge base, and their postmortems.
    Incidents,
    /// The guided root-cause chat.
    Chat,
    /// Recording an experiment or a live incident, and its timeline.
    Experiments,
}

/// The tabs in order.
pub const TABS: [View; 8] = [
    View::Services,
    View::Graph,
    View::Logs,
    View::Traces,
    View::Metrics,
    View::Incidents,
    View::Chat,
    View::Experiments,
];

impl View {
    /// Tab title.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Services => "Services",
            Self::Graph => "Graph",
            Self::Logs => "Logs",
            Self::Traces => "Traces",
            Self::Metrics => "Metrics",
            Self::Incidents => "Incidents",
            Self::Chat => "Chat",
            Self::Experiments => "Experiments",
        }
    }

    /// The view a palette command names.
    #[must_use]
    pub fn from_command(command: &str) -> Option<Self> {
        Some(match command {
            "services" | "service" | "svc" | "s" => Self::Services,
            "graph" | "g" => Self::Graph,
            "logs" | "log" | "l" => Self::Logs,
            "traces" | "trace" | "t" => Self::Traces,
            "metrics" | "metric" | "m" => Self::Metrics,
            "incidents" | "incident" => Self::Incidents,
            "chat" => Self::Chat,
            "experiments" | "experiment" | "exp" => Self::Experiments,
            _ => return None,
        })
    }
}

/// What keys currently do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Navigation.
    Normal,
    /// Typing a `:` command.
    Command(String),
    /// Typing a `/` filter.
    Filter(String),
    /// The help overlay of the current view.
    Help,
}

/// A `/` filter: a regular expression, inverted by a leading `!`.
#[derive(Debug, Clone)]
pub struct Filter {
    /// As typed.
    pub text: String,
    /// Whether matching lines are hidden instead of kept.
    pub invert: bool,
    regex: Regex,
}

impl Filter {
    /// Parses a filter; empty text means no filter.
    ///
    /// # Errors
    /// When the regular expression is invalid (the message says why).
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        let (invert, pattern) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if pattern.is_empty() {
            return Ok(None);
        }
        let regex = regex::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("bad filter: {e}"))?;
        Ok(Some(Self {
            text: text.to_owned(),
            invert,
            regex,
        }))
    }

    /// Whether `text` passes.
    #[must_use]
    pub fn keeps(&self, text: &str) -> bool {
        self.regex.is_match(text) != self.invert
    }
}

/// What the loop must do after an input.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Pause or resume the source.
    SetPaused(bool),
    /// Write a recorded postmortem into the knowledge base (in the background; the result
    /// comes back through [`App::on_saved`]).
    Save(Box<crate::knowledge::record::Postmortem>),
    /// Leave the console.
    Quit,
}

/// A recording the user stopped, and what became of its postmortem.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedRecording {
    /// Record id.
    pub id: String,
    /// Title.
    pub title: String,
    /// `None` while being written; the file, or why it could not be written.
    pub outcome: Option<Result<String, String>>,
}

/// The whole console state.
#[derive(Debug, Clone)]
pub struct App {
    /// Current view.
    pub view: View,
    /// Views to go back to with Esc.
    pub back: Vec<View>,
    /// Key mode.
    pub mode: Mode,
    /// Active filter of the current view.
    pub filter: Option<Filter>,
    /// Selected service.
    pub selected: Option<String>,
    /// Cursor in the traces list.
    pub trace_cursor: usize,
    /// The trace whose waterfall is open.
    pub open_trace: Option<String>,
    /// Lines scrolled up from the newest log line.
    pub log_scroll: usize,
    /// Display frozen, source paused.
    pub paused: bool,
    /// The snapshot on screen.
    pub snapshot: Option<Snapshot>,
    /// Latest source news.
    pub status: Option<SourceStatus>,
    /// A one-line message (bad command, bad filter, source failure).
    pub message: Option<String>,
    /// Whether the user asked to quit.
    pub quit: bool,
    /// The chat so far (newest last).
    pub chat: Vec<super::chat::ChatTurn>,
    /// Cursor in the past-incidents list.
    pub incident_cursor: usize,
    /// The past incident whose postmortem is open (its id).
    pub open_incident: Option<String>,
    /// Lines scrolled down in the open postmortem.
    pub reader_scroll: usize,
    /// Key bindings.
    pub keymap: Keymap,
    /// The recording in progress, or the last one stopped.
    pub recording: Option<crate::live::recording::Recording>,
    /// Recordings stopped in this session, newest last.
    pub saved: Vec<SavedRecording>,
    /// Whether recorded postmortems can be saved (a knowledge base is configured).
    pub can_save: bool,
    /// Incremented with every snapshot taken (what draw-time caches are keyed on).
    pub generation: u64,
    /// The Logs view's filtered lines, kept between frames (drawing takes `&App`).
    pub log_matches: std::cell::RefCell<Option<LogMatches>>,
}

/// The selected service's log lines that pass the filter, for one snapshot, found newest
/// first within a per-frame budget ([`LogMatches::LINES_PER_FRAME`]): a frame never runs the
/// regex over more than that many lines, the screen's newest matches come first, and the count
/// completes over the next frames (the loop redraws every 100 ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMatches {
    /// The snapshot generation.
    pub generation: u64,
    /// The service.
    pub service: String,
    /// The filter as typed.
    pub filter: String,
    /// Matching line indices found so far, newest first.
    pub newest_first: Vec<usize>,
    /// How many of them are flagged.
    pub flagged: usize,
    /// Lines below this index are still to be tested (0: every line has been).
    pub unscanned: usize,
    /// The number of lines in the buffer.
    pub total: usize,
}

impl LogMatches {
    /// Lines tested per frame at most (about 1 ms of regex over typical lines on a quiet
    /// core; 100k lines complete in ten frames, one second).
    pub const LINES_PER_FRAME: usize = 10_000;

    /// Nothing tested yet over a buffer of `total` lines.
    #[must_use]
    pub fn new(generation: u64, service: &str, filter: &str, total: usize) -> Self {
        Self {
            generation,
            service: service.to_owned(),
            filter: filter.to_owned(),
            newest_first: Vec::new(),
            flagged: 0,
            unscanned: total,
            total,
        }
    }

    /// Whether every line has been tested.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.unscanned == 0
    }

    /// Tests up to `budget` more lines, newest untested first; `keeps(index)` says whether
    /// line `index` passes and `flagged(index)` whether it is flagged.
    pub fn scan(
        &mut self,
        budget: usize,
        keeps: impl Fn(usize) -> bool,
        flagged: impl Fn(usize) -> bool,
    ) {
        let stop = self.unscanned.saturating_sub(budget);
        for index in (stop..self.unscanned).rev() {
            if keeps(index) {
                self.newest_first.push(index);
                self.flagged += usize::from(flagged(index));
            }
        }
        self.unscanned = stop;
    }
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// A console on the Services view with no data yet.
    #[must_use]
    pub fn new() -> Self {
        Self {
            view: View::Services,
            back: Vec::new(),
            mode: Mode::Normal,
            filter: None,
            selected: None,
            trace_cursor: 0,
            open_trace: None,
            log_scroll: 0,
            paused: false,
            snapshot: None,
            status: None,
            message: None,
            quit: false,
            chat: Vec::new(),
            incident_cursor: 0,
            open_incident: None,
            reader_scroll: 0,
            keymap: Keymap::default(),
            recording: None,
            saved: Vec::new(),
            can_save: true,
            generation: 0,
            log_matches: std::cell::RefCell::new(None),
        }
    }

    /// Takes news from the engine. While paused, snapshots are ignored (the screen is frozen).
    pub fn on_live(&mut self, event: LiveEvent) {
        match event {
            LiveEvent::Status(status) => {
                if let Some(recording) = &mut self.recording {
                    recording.on_status(&status);
                }
                self.status = Some(status);
            }
            LiveEvent::Snapshot(snapshot) => {
                if let Some(recording) = &mut self.recording {
                    recording.observe(&snapshot);
                }
                if self.paused {
                    return;
                }
                let had_ranking = self.snapshot.as_ref().is_some_and(|s| s.problem.is_none());
                let has_ranking = snapshot.problem.is_none();
                self.snapshot = Some(*snapshot);
                self.generation += 1;
                // The first ranking selects its top service; later ones keep the selection.
                if has_ranking && !had_ranking {
                    self.selected = None;
                }
                let still_there = self.selected.as_ref().is_some_and(|name| {
                    self.snapshot
                        .as_ref()
                        .is_some_and(|s| s.service(name).is_some())
                });
                if !still_there {
                    self.selected = self
                        .snapshot
                        .as_ref()
                        .and_then(|s| s.services.first())
                        .map(|s| s.name.clone());
                }
            }
            LiveEvent::Failed(message) => self.message = Some(format!("source stopped: {message}")),
        }
    }

    /// Services shown in the Services view (filtered), in ranking order.
    #[must_use]
    pub fn visible_services(&self) -> Vec<&ServiceView> {
        let Some(snapshot) = &self.snapshot else {
            return Vec::new();
        };
        snapshot
            .services
            .iter()
            .filter(|s| {
                self.view != View::Services || self.filter.as_ref().is_none_or(|f| f.keeps(&s.name))
            })
            .collect()
    }

    /// The selected service's view.
    #[must_use]
    pub fn selected_service(&self) -> Option<&ServiceView> {
        let name = self.selected.as_ref()?;
        self.snapshot.as_ref()?.service(name)
    }

    /// Traces of the selected service that pass the filter, newest first.
    #[must_use]
    pub fn visible_traces(&self) -> Vec<&TraceSummary> {
        self.selected_service()
            .map(|s| {
                s.traces
                    .iter()
                    .filter(|t| {
                        self.filter
                            .as_ref()
                            .is_none_or(|f| f.keeps(&format!("{} {}", t.trace_id, t.root)))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Past incidents that pass the filter (id, title, service, fault class), most similar
    /// first.
    #[must_use]
    pub fn visible_incidents(&self) -> Vec<&PastIncident> {
        let Some(snapshot) = &self.snapshot else {
            return Vec::new();
        };
        snapshot
            .past
            .iter()
            .filter(|p| {
                self.view != View::Incidents
                    || self.filter.as_ref().is_none_or(|f| {
                        f.keeps(&format!(
                            "{} {} {} {}",
                            p.similar.id,
                            p.similar.title,
                            p.similar.root_cause,
                            p.similar.fault_class
                        ))
                    })
            })
            .collect()
    }

    /// The past incident whose postmortem is open.
    #[must_use]
    pub fn opened_incident(&self) -> Option<&PastIncident> {
        let id = self.open_incident.as_ref()?;
        self.snapshot
            .as_ref()?
            .past
            .iter()
            .find(|p| &p.similar.id == id)
    }

    pub(crate) fn switch_to(&mut self, view: View) {
        if view != self.view {
            self.back.push(self.view);
            if self.back.len() > 32 {
                self.back.remove(0);
            }
            self.view = view;
            self.filter = None;
            self.open_trace = None;
            self.trace_cursor = 0;
            self.log_scroll = 0;
            self.open_incident = None;
            self.reader_scroll = 0;
        }
    }

    fn cycle(&mut self, forward: bool) {
        let index = TABS.iter().position(|v| *v == self.view).unwrap_or(0);
        let next = if forward {
            (index + 1) % TABS.len()
        } else {
            (index + TABS.len() - 1) % TABS.len()
        };
        self.switch_to(TABS[next]);
    }

    fn move_service(&mut self, delta: isize) {
        let names: Vec<String> = self
            .visible_services()
            .iter()
            .map(|s| s.name.clone())
            .collect();
        if names.is_empty() {
            return;
        }
        let current = self
            .selected
            .as_ref()
            .and_then(|name| names.iter().position(|n| n == name));
        let next = match current {
            None => 0,
            Some(i) => i.saturating_add_signed(delta).min(names.len() - 1),
        };
        self.selected = names.get(next).cloned();
    }

    fn move_cursor(&mut self, delta: isize) {
        match self.view {
            View::Services | View::Graph | View::Metrics => self.move_service(delta),
            View::Logs => {
                let lines = self.selected_service().map_or(0, |s| s.logs.len());
                self.log_scroll = self
                    .log_scroll
                    .saturating_add_signed(-delta)
                    .min(lines.saturating_sub(1));
            }
            View::Traces => {
                if self.open_trace.is_none() {
                    let count = self.visible_traces().len();
                    self.trace_cursor = self
                        .trace_cursor
                        .saturating_add_signed(delta)
                        .min(count.saturating_sub(1));
                }
            }
            View::Incidents => {
                if let Some(open) = self.opened_incident() {
                    let lines = open.markdown.lines().count();
                    self.reader_scroll = self
                        .reader_scroll
                        .saturating_add_signed(delta)
                        .min(lines.saturating_sub(1));
                } else {
                    let count = self.visible_incidents().len();
                    self.incident_cursor = self
                        .incident_cursor
                        .saturating_add_signed(delta)
                        .min(count.saturating_sub(1));
                }
            }
            View::Chat | View::Experiments => {}
        }
    }

    fn enter(&mut self) {
        match self.view {
            View::Services => self.switch_to(View::Graph),
            View::Graph => self.switch_to(View::Logs),
            View::Traces => {
                self.open_trace = self
                    .visible_traces()
                    .get(self.trace_cursor)
                    .map(|t| t.trace_id.clone());
            }
            View::Incidents => {
                self.open_incident = self
                    .visible_incidents()
                    .get(self.incident_cursor)
                    .map(|p| p.similar.id.clone());
                self.reader_scroll = 0;
            }
            _ => {}
        }
    }

    fn escape(&mut self) {
        if self.open_trace.take().is_some() || self.open_incident.take().is_some() {
            return;
        }
        if self.filter.take().is_some() {
            return;
        }
        if let Some(view) = self.back.pop() {
            self.view = view;
            self.trace_cursor = 0;
            self.log_scroll = 0;
        }
    }

    fn run_command(&mut self, command: &str) -> Vec<Request> {
        let command = command.trim();
        if let Some(view) = View::from_command(command) {
            self.switch_to(view);
            return Vec::new();
        }
        match command {
            "" => Vec::new(),
            "q" | "q!" | "quit" | "exit" => {
                self.quit = true;
                vec![Request::Quit]
            }
            "help" | "h" => {
                self.mode = Mode::Help;
                Vec::new()
            }
            "pause" | "resume" => self.toggle_pause(),
            other => {
                self.message = Some(format!(
                    "unknown command `{}`: try :services :graph :logs :traces :metrics :q",
                    super::sanitize::sanitize(other)
                ));
                Vec::new()
            }
        }
    }

    /// `r`: starts recording, or stops the running recording and asks for its postmortem to
    /// be saved.
    fn record(&mut self) -> Vec<Request> {
        if let Some(recording) = self.recording.as_mut().filter(|r| r.is_running()) {
            recording.stop();
            let root = recording
                .experiment
                .as_ref()
                .map(|e| e.root_cause.clone())
                .or_else(|| {
                    self.snapshot
                        .as_ref()
                        .and_then(|s| s.services.first())
                        .map(|s| s.name.clone())
                })
                .unwrap_or_else(|| "incident".to_owned());
            let slug: String = root
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .take(40)
                .collect();
            let id = format!("rec-{}-{slug}", recording.started.format("%Y%m%d-%H%M%S"));
            if !self.can_save {
                self.message = Some(
                    "recording stopped; not saved: the knowledge base is off (--no-kb)".to_owned(),
                );
                return Vec::new();
            }
            return match recording.postmortem(&id) {
                Ok(record) => {
                    self.message = Some(format!("recording stopped; saving {id}…"));
                    self.saved.push(SavedRecording {
                        id,
                        title: record.title.clone(),
                        outcome: None,
                    });
                    if self.saved.len() > 20 {
                        self.saved.remove(0);
                    }
                    vec![Request::Save(Box::new(record))]
                }
                Err(error) => {
                    self.message = Some(format!("recording stopped; not saved: {error}"));
                    Vec::new()
                }
            };
        }
        match &self.status {
            Some(status) if status.phase != crate::live::Phase::Offline => {
                self.recording = Some(crate::live::recording::Recording::start(status));
                self.message = Some(format!(
                    "recording; press {} again to stop and save the postmortem",
                    self.keymap.keys_of(Action::Record)
                ));
            }
            Some(_) => {
                self.message =
                    Some("offline data is not recorded: it is already a saved incident".to_owned());
            }
            None => {
                self.message = Some("nothing to record yet: the source has not started".to_owned())
            }
        }
        Vec::new()
    }

    /// The outcome of a [`Request::Save`].
    pub fn on_saved(&mut self, id: &str, outcome: Result<String, String>) {
        self.message = Some(match &outcome {
            Ok(path) => format!("saved {id} to {path}"),
            Err(error) => format!("could not save {id}: {error}"),
        });
        match self.saved.iter_mut().find(|s| s.id == id) {
            Some(saved) => saved.outcome = Some(outcome),
            None => self.saved.push(SavedRecording {
                id: id.to_owned(),
                title: String::new(),
                outcome: Some(outcome),
            }),
        }
    }

    fn toggle_pause(&mut self) -> Vec<Request> {
        self.paused = !self.paused;
        vec![Request::SetPaused(self.paused)]
    }

    /// Handles one key press.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Request> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c' | 'C'))
        {
            self.quit = true;
            return vec![Request::Quit];
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Command(mut text) => {
                match key.code {
                    KeyCode::Enter => return self.run_command(&text),
                    KeyCode::Esc => {}
                    KeyCode::Backspace => {
                        if text.pop().is_some() {
                            self.mode = Mode::Command(text);
                        }
                    }
                    KeyCode::Char(c) => {
                        text.push(c);
                        self.mode = Mode::Command(text);
                    }
                    _ => self.mode = Mode::Command(text),
                }
                Vec::new()
            }
            Mode::Filter(mut text) => {
                match key.code {
                    KeyCode::Enter => match Filter::parse(&text) {
                        Ok(filter) => {
                            self.filter = filter;
                            self.trace_cursor = 0;
                            self.log_scroll = 0;
                            self.incident_cursor = 0;
                            if self.view == View::Services {
                                self.move_service(0);
                            }
                        }
                        Err(message) => self.message = Some(message),
                    },
                    KeyCode::Esc => {}
                    KeyCode::Backspace => {
                        text.pop();
                        self.mode = Mode::Filter(text);
                    }
                    KeyCode::Char(c) => {
                        text.push(c);
                        self.mode = Mode::Filter(text);
                    }
                    _ => self.mode = Mode::Filter(text),
                }
                Vec::new()
            }
            Mode::Help => {
                if !matches!(key.code, KeyCode::Esc | KeyCode::Char('?' | 'q')) {
                    self.mode = Mode::Help;
                }
                Vec::new()
            }
            Mode::Normal => self.normal_key(key),
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Vec<Request> {
        self.message = None;
        let actions = self.keymap.actions(&key);
        // In the Chat view the digits ask; elsewhere they jump to a tab.
        let action = actions
            .iter()
            .copied()
            .find(|a| matches!(a, Action::Ask(_)) && self.view == View::Chat)
            .or_else(|| {
                actions
                    .iter()
                    .copied()
                    .find(|a| !matches!(a, Action::Ask(_)))
            });
        let Some(action) = action else {
            return Vec::new();
        };
        match action {
            Action::Quit => {
                self.quit = true;
                return vec![Request::Quit];
            }
            Action::Command => self.mode = Mode::Command(String::new()),
            Action::Filter => {
                self.mode = Mode::Filter(
                    self.filter
                        .as_ref()
                        .map(|f| f.text.clone())
                        .unwrap_or_default(),
                );
            }
            Action::Help => self.mode = Mode::Help,
            Action::Pause => return self.toggle_pause(),
            Action::NextView => self.cycle(true),
            Action::PrevView => self.cycle(false),
            Action::Back => self.escape(),
            Action::Open => self.enter(),
            Action::Up | Action::Left => self.move_cursor(-1),
            Action::Down | Action::Right => self.move_cursor(1),
            Action::PageUp => self.move_cursor(-10),
            Action::PageDown => self.move_cursor(10),
            Action::Top => self.move_cursor(-10_000),
            Action::Bottom => self.move_cursor(10_000),
            Action::Ask(n) => self.ask_suggestion(usize::from(n)),
            Action::View(n) => {
                if let Some(view) = TABS.get(usize::from(n)) {
                    self.switch_to(*view);
                }
            }
            Action::Record => return self.record(),
        }
        Vec::new()
    }
}

impl App {
    /// The questions the Chat view offers now.
    #[must_use]
    pub fn chat_suggestions(&self) -> Vec<String> {
        super::chat::suggestions(&self.chat, self.snapshot.as_ref())
    }

    fn ask_suggestion(&mut self, index: usize) {
        let Some(snapshot) = &self.snapshot else {
            self.message = Some("no analysis yet: wait for the first ranking".to_owned());
            return;
        };
        if let Some(question) = self.chat_suggestions().get(index).cloned() {
            let turn = super::chat::ask(&question, snapshot);
            self.chat.push(turn);
            if self.chat.len() > 50 {
                self.chat.remove(0);
            }
        }
    }
}

/// Help text of a view: `(keys, what they do)` pairs, with the keys as currently bound.
#[must_use]
pub fn help_for(view: View, keys: &Keymap) -> Vec<(String, String)> {
    let k = |action: Action| keys.keys_of(action);
    let both = |a: Action, b: Action| format!("{} | {}", k(a), k(b));
    let mut rows: Vec<(String, String)> = vec![
        (
            k(Action::Command),
            "palette: :services :graph :logs :traces :incidents :chat :q".to_owned(),
        ),
        (
            k(Action::Filter),
            "filter by regex (case-insensitive); !regex hides matches".to_owned(),
        ),
        (
            both(Action::NextView, Action::PrevView),
            "next / previous view".to_owned(),
        ),
        (
            format!("{}…{}", k(Action::View(0)), k(Action::View(7))),
            "jump to a view".to_owned(),
        ),
        (
            k(Action::Back),
            "close, clear filter, or go back".to_owned(),
        ),
        (
            k(Action::Pause),
            "pause / resume (freezes the screen)".to_owned(),
        ),
        (format!("{}, Ctrl-C", k(Action::Quit)), "quit".to_owned()),
    ];
    let updown = both(Action::Up, Action::Down);
    let specific: Vec<(String, &str)> = match view {
        View::Services => vec![
            (updown, "select a service"),
            (k(Action::Open), "graph with the service's explanation"),
        ],
        View::Graph => vec![
            (
                format!("{} | {}", updown, both(Action::Left, Action::Right)),
                "select the previous / next service",
            ),
            (k(Action::Open), "logs of the selected service"),
        ],
        View::Logs => vec![
            (updown, "scroll"),
            (both(Action::Top, Action::Bottom), "oldest / newest"),
        ],
        View::Traces => vec![
            (updown, "select a trace"),
            (k(Action::Open), "waterfall of the trace (Esc closes)"),
        ],
        View::Metrics => vec![(updown, "select the service")],
        View::Incidents => vec![
            (
                updown,
                "select a past incident (or scroll the open postmortem)",
            ),
            (k(Action::Open), "read its postmortem (Esc closes)"),
            (
                String::new(),
                "retrieved from the knowledge base for the current incident",
            ),
        ],
        View::Chat => vec![
            (
                format!("{}…{}", k(Action::Ask(0)), k(Action::Ask(3))),
                "ask the suggested question",
            ),
            (
                String::new(),
                "answers come from the offline analyst, citing [service], [trace] and [incident]",
            ),
        ],
        View::Experiments => vec![
            (
                k(Action::Record),
                "start / stop recording (works in every view)",
            ),
            (
                String::new(),
                "a stopped recording is saved as a postmortem in your knowledge directory",
            ),
        ],
    };
    rows.extend(
        specific
            .into_iter()
            .map(|(key, what)| (key, what.to_owned())),
    );
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{Phase, Snapshot, SourceStatus};
    use crate::model::Timestamp;

    pub(crate) fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(app: &mut App, text: &str) -> Vec<Request> {
        let mut requests = Vec::new();
        for c in text.chars() {
            requests.extend(app.on_key(key(KeyCode::Char(c))));
        }
        requests.extend(app.on_key(key(KeyCode::Enter)));
        requests
    }

    fn app_with(names: &[&str]) -> App {
        let mut app = App::new();
        let source = SourceStatus {
            label: "sim: test".to_owned(),
            phase: Phase::Fault,
            now: Timestamp::from_secs(0),
            speed: 20.0,
            paused: false,
            buffered_logs: 0,
            health: Vec::new(),
            experiment: None,
        };
        let mut snapshot = Snapshot::empty(source);
        snapshot.services = names
            .iter()
            .map(|n| crate::console::draw::tests::service(n, 0.1))
            .collect();
        app.on_live(LiveEvent::Snapshot(Box::new(snapshot)));
        app
    }

    #[test]
    fn the_first_service_is_selected_and_arrows_move() {
        let mut app = app_with(&["payment", "orders", "front-end"]);
        assert_eq!(app.selected.as_deref(), Some("payment"));
        app.on_key(key(KeyCode::Down));
        app.on_key(key(KeyCode::Char('j')));
        assert_eq!(app.selected.as_deref(), Some("front-end"));
        app.on_key(key(KeyCode::Down));
        assert_eq!(
            app.selected.as_deref(),
            Some("front-end"),
            "stops at the end"
        );
        app.on_key(key(KeyCode::Char('k')));
        assert_eq!(app.selected.as_deref(), Some("orders"));
    }

    #[test]
    fn palette_commands_switch_views_and_quit() {
        let mut app = app_with(&["payment"]);
        app.on_key(key(KeyCode::Char(':')));
        assert_eq!(app.mode, Mode::Command(String::new()));
        assert!(typed(&mut app, "graph").is_empty());
        assert_eq!(app.view, View::Graph);
        app.on_key(key(KeyCode::Char(':')));
        typed(&mut app, "nonsense");
        assert_eq!(app.view, View::Graph);
        assert!(
            app.message
                .as_deref()
                .is_some_and(|m| m.contains("unknown command"))
        );
        app.on_key(key(KeyCode::Char(':')));
        assert_eq!(typed(&mut app, "q"), vec![Request::Quit]);
        assert!(app.quit);
    }

    #[test]
    fn escape_goes_back_and_tab_cycles() {
        let mut app = app_with(&["payment"]);
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.view, View::Graph);
        app.on_key(key(KeyCode::Tab));
        assert_eq!(app.view, View::Logs);
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.view, View::Graph);
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.view, View::Services);
        app.on_key(key(KeyCode::BackTab));
        assert_eq!(app.view, View::Experiments);
    }

    #[test]
    fn filters_keep_or_hide_matches_and_reject_bad_regexes() {
        let mut app = app_with(&["payment", "orders", "orders-db"]);
        app.on_key(key(KeyCode::Char('/')));
        typed(&mut app, "^orders");
        let names: Vec<&str> = app
            .visible_services()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, vec!["orders", "orders-db"]);
        assert_eq!(
            app.selected.as_deref(),
            Some("orders"),
            "selection follows the filter"
        );
        app.on_key(key(KeyCode::Char('/')));
        for _ in 0.."^orders".len() {
            app.on_key(key(KeyCode::Backspace));
        }
        typed(&mut app, "!db$");
        let names: Vec<&str> = app
            .visible_services()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, vec!["payment", "orders"]);
        app.on_key(key(KeyCode::Char('/')));
        typed(&mut app, "(");
        assert!(
            app.message
                .as_deref()
                .is_some_and(|m| m.starts_with("bad filter"))
        );
        assert_eq!(
            app.filter.as_ref().map(|f| f.text.as_str()),
            Some("!db$"),
            "kept"
        );
        app.on_key(key(KeyCode::Esc));
        assert!(app.filter.is_none(), "Esc clears the filter first");
        assert_eq!(app.view, View::Services);
    }

    #[test]
    fn pause_freezes_snapshots_and_asks_the_source_to_pause() {
        let mut app = app_with(&["payment"]);
        assert_eq!(
            app.on_key(key(KeyCode::Char('p'))),
            vec![Request::SetPaused(true)]
        );
        let mut other = app_with(&["other"]).snapshot.expect("snapshot");
        other.verdict = "new".to_owned();
        app.on_live(LiveEvent::Snapshot(Box::new(other.clone())));
        assert_ne!(
            app.snapshot.as_ref().map(|s| s.verdict.as_str()),
            Some("new")
        );
        assert_eq!(
            app.on_key(key(KeyCode::Char('p'))),
            vec![Request::SetPaused(false)]
        );
        app.on_live(LiveEvent::Snapshot(Box::new(other)));
        assert_eq!(
            app.snapshot.as_ref().map(|s| s.verdict.as_str()),
            Some("new")
        );
        assert_eq!(
            app.selected.as_deref(),
            Some("other"),
            "a vanished selection moves"
        );
    }

    #[test]
    fn help_opens_and_closes_and_ctrl_c_always_quits() {
        let mut app = app_with(&["payment"]);
        app.on_key(key(KeyCode::Char('?')));
        assert_eq!(app.mode, Mode::Help);
        app.on_key(key(KeyCode::Char('x')));
        assert_eq!(app.mode, Mode::Help);
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.mode, Mode::Normal);
        app.on_key(key(KeyCode::Char(':')));
        let requests = app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(requests, vec![Request::Quit]);
    }
}
