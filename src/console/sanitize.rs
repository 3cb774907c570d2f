//! Untrusted text (log lines, span names, service names from the wire) made safe to draw:
//! control characters and ANSI escape sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-byte
//! escapes, and their C1 forms) are removed, tabs and newlines become spaces, and bidi
//! overrides are dropped so a line cannot reorder the rest of the screen.

/// What the scanner is inside of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    /// Just saw ESC.
    Escape,
    /// Inside a CSI sequence (parameters until a final byte 0x40–0x7E).
    Csi,
    /// Inside an OSC/DCS/SOS/PM/APC string (until BEL or ST).
    Str,
    /// Saw ESC inside a string: `\` ends it.
    StrEscape,
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Returns `text` without control characters and escape sequences, on one line.
#[must_use]
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut state = State::Text;
    for c in text.chars() {
        state = match state {
            State::Text => match c {
                '\u{1b}' => State::Escape,
                '\u{9b}' => State::Csi,
                '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => State::Str,
                '\t' | '\n' | '\r' => {
                    out.push(' ');
                    State::Text
                }
                c if c.is_control() || is_bidi_control(c) => State::Text,
                c => {
                    out.push(c);
                    State::Text
                }
            },
            State::Escape => match c {
                '[' => State::Csi,
                ']' | 'P' | 'X' | '^' | '_' => State::Str,
                // ESC followed by an intermediate byte: the sequence goes on (e.g. `ESC ( B`).
                '\u{20}'..='\u{2f}' => State::Escape,
                _ => State::Text,
            },
            State::Csi => match c {
                '\u{40}'..='\u{7e}' => State::Text,
                // A control inside CSI aborts it (as terminals do on CAN/SUB); ESC restarts.
                '\u{1b}' => State::Escape,
                '\u{18}' | '\u{1a}' => State::Text,
                _ => State::Csi,
            },
            State::Str => match c {
                '\u{07}' | '\u{9c}' => State::Text,
                '\u{1b}' => State::StrEscape,
                _ => State::Str,
            },
            State::StrEscape => match c {
                '\\' => State::Text,
                '\u{1b}' => State::StrEscape,
                _ => State::Str,
            },
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn plain_text_is_untouched() {
        assert_eq!(
            sanitize("GET /orders 200 12ms — ok ✓"),
            "GET /orders 200 12ms — ok ✓"
        );
    }

    #[test]
    fn escape_sequences_and_controls_are_removed() {
        let hostile = "\u{1b}[2J\u{1b}[H\u{1b}[31mred\u{1b}[0m \u{1b}]8;;http://evil.example/\u{07}click\u{1b}]8;;\u{07} \
             \u{1b}]0;title\u{1b}\\bell\u{07} cursor\u{1b}[10;20Hmove\u{1b}[?1049h \u{9b}31mc1csi \u{9d}osc\u{9c}done \
             \u{85}nel\u{8d}ri \u{1b}Pdcs payload\u{1b}\\after \u{1b}(Bcharset \u{1b}7save\u{1b}8 back\u{8}space\u{7f}del\ttab\r\nline";
        let clean = sanitize(hostile);
        assert_eq!(
            clean,
            "red click bell cursormove c1csi done nelri after charset save back\
             spacedel tab  line"
        );
        assert!(!clean.chars().any(char::is_control), "{clean:?}");
        assert!(!clean.contains("evil"));
        assert!(!clean.contains("title"));
        assert!(!clean.contains("payload"));
    }

    #[test]
    fn unterminated_sequences_swallow_only_themselves() {
        assert_eq!(sanitize("ok\u{1b}[31"), "ok");
        assert_eq!(sanitize("ok\u{1b}]8;;http://x"), "ok");
        assert_eq!(sanitize("ok\u{1b}"), "ok");
    }

    #[test]
    fn bidi_overrides_are_dropped() {
        assert_eq!(sanitize("a\u{202E}evil\u{202C}b"), "aevilb");
    }
}
