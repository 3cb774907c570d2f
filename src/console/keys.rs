//! The console's key bindings: every action has default keys (k9s/vim-like) and any of them can
//! be rebound from the config file (`[console.keys]`, action name → list of keys). Pure.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::{BTreeMap, HashMap};

/// What a key can do in normal mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Leave the console.
    Quit,
    /// Open the `:` command palette.
    Command,
    /// Type a `/` filter.
    Filter,
    /// Help of the current view.
    Help,
    /// Pause or resume.
    Pause,
    /// Next view.
    NextView,
    /// Previous view.
    PrevView,
    /// Close, clear the filter, or go back.
    Back,
    /// Drill down.
    Open,
    /// Move up.
    Up,
    /// Move down.
    Down,
    /// Move left (previous).
    Left,
    /// Move right (next).
    Right,
    /// Ten up.
    PageUp,
    /// Ten down.
    PageDown,
    /// To the start.
    Top,
    /// To the end.
    Bottom,
    /// Jump to the n-th tab (0-based).
    View(u8),
    /// Ask the n-th suggested question (0-based; Chat view only).
    Ask(u8),
    /// Start or stop recording (Experiments view).
    Record,
}

impl Action {
    /// Every action, for help and validation.
    #[must_use]
    pub fn all() -> Vec<Self> {
        let mut all = vec![
            Self::Quit,
            Self::Command,
            Self::Filter,
            Self::Help,
            Self::Pause,
            Self::NextView,
            Self::PrevView,
            Self::Back,
            Self::Open,
            Self::Up,
            Self::Down,
            Self::Left,
            Self::Right,
            Self::PageUp,
            Self::PageDown,
            Self::Top,
            Self::Bottom,
            Self::Record,
        ];
        all.extend((0..8).map(Self::View));
        all.extend((0..4).map(Self::Ask));
        all
    }

    /// The name used in the config file (`quit`, `next-view`, `view-3`, `ask-1`, …).
    #[must_use]
    pub fn name(self) -> String {
        match self {
            Self::Quit => "quit".to_owned(),
            Self::Command => "command".to_owned(),
            Self::Filter => "filter".to_owned(),
            Self::Help => "help".to_owned(),
            Self::Pause => "pause".to_owned(),
            Self::NextView => "next-view".to_owned(),
            Self::PrevView => "prev-view".to_owned(),
            Self::Back => "back".to_owned(),
            Self::Open => "open".to_owned(),
            Self::Up => "up".to_owned(),
            Self::Down => "down".to_owned(),
            Self::Left => "left".to_owned(),
            Self::Right => "right".to_owned(),
            Self::PageUp => "page-up".to_owned(),
            Self::PageDown => "page-down".to_owned(),
            Self::Top => "top".to_owned(),
            Self::Bottom => "bottom".to_owned(),
            Self::Record => "record".to_owned(),
            Self::View(n) => format!("view-{}", u16::from(n) + 1),
            Self::Ask(n) => format!("ask-{}", u16::from(n) + 1),
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::all().into_iter().find(|a| a.name() == name)
    }

    fn default_keys(self) -> Vec<&'static str> {
        const DIGITS: [&str; 8] = ["1", "2", "3", "4", "5", "6", "7", "8"];
        match self {
            Self::Quit => vec!["q"],
            Self::Command => vec![":"],
            Self::Filter => vec!["/"],
            Self::Help => vec!["?"],
            Self::Pause => vec!["p"],
            Self::NextView => vec!["Tab"],
            Self::PrevView => vec!["BackTab"],
            Self::Back => vec!["Esc"],
            Self::Open => vec!["Enter"],
            Self::Up => vec!["Up", "k"],
            Self::Down => vec!["Down", "j"],
            Self::Left => vec!["Left", "h"],
            Self::Right => vec!["Right", "l"],
            Self::PageUp => vec!["PageUp"],
            Self::PageDown => vec!["PageDown"],
            Self::Top => vec!["Home", "g"],
            Self::Bottom => vec!["End", "G"],
            Self::Record => vec!["r"],
            Self::View(n) | Self::Ask(n) => DIGITS
                .get(usize::from(n))
                .map(|d| vec![*d])
                .unwrap_or_default(),
        }
    }
}

/// A key as bindings name it: a code and whether Ctrl or Alt is held (Shift is part of the
/// character).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    code: KeyCode,
    ctrl: bool,
    alt: bool,
}

impl Key {
    /// The key of a terminal event.
    #[must_use]
    pub fn of(event: &KeyEvent) -> Self {
        let code = match event.code {
            // Terminals report Shift-Tab either way.
            KeyCode::Tab if event.modifiers.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
            other => other,
        };
        Self {
            code,
            ctrl: event.modifiers.contains(KeyModifiers::CONTROL),
            alt: event.modifiers.contains(KeyModifiers::ALT),
        }
    }

    /// Parses `j`, `G`, `:`, `Enter`, `Esc`, `Tab`, `BackTab`, `Up`, `PageDown`, `F5`,
    /// `Space`, `Ctrl-d`, `Alt-x`.
    ///
    /// # Errors
    /// A message naming the key when it is not one of those.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rest = text.trim();
        let (mut ctrl, mut alt) = (false, false);
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 1 && (lower.starts_with("ctrl-") || lower.starts_with("ctrl+")) {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.len() > 1 && (lower.starts_with("alt-") || lower.starts_with("alt+")) {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" | "shift-tab" => KeyCode::BackTab,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "pageup" | "pgup" => KeyCode::PageUp,
                "pagedown" | "pgdn" => KeyCode::PageDown,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                f if f.starts_with('f') && f.len() > 1 => f[1..]
                    .parse::<u8>()
                    .ok()
                    .filter(|n| (1..=24).contains(n))
                    .map(KeyCode::F)
                    .ok_or_else(|| format!("unknown key `{text}`"))?,
                _ => return Err(format!("unknown key `{text}`")),
            },
        };
        Ok(Self { code, ctrl, alt })
    }
}

/// Key → actions, in binding order. Ctrl-C always quits and cannot be rebound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: HashMap<Key, Vec<Action>>,
}

impl Default for Keymap {
    fn default() -> Self {
        let mut keymap = Self {
            bindings: HashMap::new(),
        };
        for action in Action::all() {
            for key in action.default_keys() {
                if let Ok(key) = Key::parse(key) {
                    keymap.bind(key, action);
                }
            }
        }
        keymap
    }
}

impl Keymap {
    fn bind(&mut self, key: Key, action: Action) {
        let actions = self.bindings.entry(key).or_default();
        if !actions.contains(&action) {
            actions.push(action);
        }
    }

    /// The defaults with `overrides` applied: each named action gets exactly the keys listed
    /// (replacing its defaults); other actions keep theirs.
    ///
    /// # Errors
    /// A message naming the unknown action or key, or a binding of Ctrl-C.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Self, String> {
        let mut keymap = Self::default();
        for (name, keys) in overrides {
            let action = Action::from_name(name).ok_or_else(|| {
                format!(
                    "console.keys: unknown action `{name}`; known: {}",
                    Action::all()
                        .iter()
                        .map(|a| a.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            for actions in keymap.bindings.values_mut() {
                actions.retain(|a| *a != action);
            }
            for key in keys {
                let parsed =
                    Key::parse(key).map_err(|error| format!("console.keys.{name}: {error}"))?;
                if parsed.ctrl && parsed.code == KeyCode::Char('c') {
                    return Err(format!(
                        "console.keys.{name}: Ctrl-C always quits and cannot be rebound"
                    ));
                }
                keymap.bind(parsed, action);
            }
        }
        keymap.bindings.retain(|_, actions| !actions.is_empty());
        Ok(keymap)
    }

    /// The actions bound to `event`, in binding order.
    #[must_use]
    pub fn actions(&self, event: &KeyEvent) -> &[Action] {
        self.bindings
            .get(&Key::of(event))
            .map_or(&[], Vec::as_slice)
    }

    /// The keys of `action` as the help shows them (`j / Down`).
    #[must_use]
    pub fn keys_of(&self, action: Action) -> String {
        let mut keys: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, actions)| actions.contains(&action))
            .map(|(key, _)| describe(*key))
            .collect();
        keys.sort_by_key(|k| (k.chars().count() > 1, k.clone()));
        if keys.is_empty() {
            "unbound".to_owned()
        } else {
            keys.join(" / ")
        }
    }
}

fn describe(key: Key) -> String {
    let base = match key.code {
        KeyCode::Char(' ') => "Space".to_owned(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::F(n) => format!("F{n}"),
        KeyCode::Up => "↑".to_owned(),
        KeyCode::Down => "↓".to_owned(),
        KeyCode::Left => "←".to_owned(),
        KeyCode::Right => "→".to_owned(),
        KeyCode::BackTab => "S-Tab".to_owned(),
        other => format!("{other:?}"),
    };
    match (key.ctrl, key.alt) {
        (true, true) => format!("Ctrl-Alt-{base}"),
        (true, false) => format!("Ctrl-{base}"),
        (false, true) => format!("Alt-{base}"),
        (false, false) => base,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn event(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_cover_vim_keys_arrows_and_digits() {
        let map = Keymap::default();
        let none = KeyModifiers::NONE;
        assert_eq!(
            map.actions(&event(KeyCode::Char('j'), none)),
            [Action::Down]
        );
        assert_eq!(map.actions(&event(KeyCode::Down, none)), [Action::Down]);
        assert_eq!(
            map.actions(&event(KeyCode::Char('1'), none)),
            [Action::View(0), Action::Ask(0)]
        );
        assert_eq!(
            map.actions(&event(KeyCode::Tab, KeyModifiers::SHIFT)),
            [Action::PrevView]
        );
        assert_eq!(map.keys_of(Action::Down), "j / ↓");
    }

    #[test]
    fn overrides_replace_an_actions_keys_and_leave_the_others() {
        let overrides: BTreeMap<String, Vec<String>> = [
            ("down".to_owned(), vec!["n".to_owned(), "Ctrl-n".to_owned()]),
            ("quit".to_owned(), vec!["F10".to_owned()]),
        ]
        .into();
        let map = Keymap::with_overrides(&overrides).unwrap();
        let none = KeyModifiers::NONE;
        assert!(map.actions(&event(KeyCode::Char('j'), none)).is_empty());
        assert_eq!(
            map.actions(&event(KeyCode::Char('n'), none)),
            [Action::Down]
        );
        assert_eq!(
            map.actions(&event(KeyCode::Char('n'), KeyModifiers::CONTROL)),
            [Action::Down]
        );
        assert_eq!(map.actions(&event(KeyCode::F(10), none)), [Action::Quit]);
        assert!(map.actions(&event(KeyCode::Char('q'), none)).is_empty());
        assert_eq!(map.actions(&event(KeyCode::Char('k'), none)), [Action::Up]);
    }

    #[test]
    fn bad_bindings_name_the_action_or_key() {
        let one = |a: &str, k: &str| {
            Keymap::with_overrides(&[(a.to_owned(), vec![k.to_owned()])].into()).unwrap_err()
        };
        assert!(one("jump", "x").contains("unknown action `jump`"));
        assert!(one("down", "Hyper-x").contains("console.keys.down: unknown key `Hyper-x`"));
        assert!(one("quit", "F99").contains("unknown key `F99`"));
        assert!(one("quit", "Ctrl-c").contains("cannot be rebound"));
    }

    #[test]
    fn keys_parse_names_modifiers_and_characters() {
        assert_eq!(Key::parse("G").unwrap().code, KeyCode::Char('G'));
        assert_eq!(Key::parse("Space").unwrap().code, KeyCode::Char(' '));
        let k = Key::parse("ctrl+Alt-x").unwrap();
        assert!(k.ctrl && k.alt && k.code == KeyCode::Char('x'));
        assert_eq!(Key::parse("-").unwrap().code, KeyCode::Char('-'));
        assert_eq!(Key::parse("pgdn").unwrap().code, KeyCode::PageDown);
    }
}
