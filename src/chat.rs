//! The guided root-cause chat.
//!
//! - [`situation`]: what the chat knows — the analysis digested into facts with citation
//!   handles (services, traces, incidents); pure.
//! - [`prompt`]: the prompt builder (instructions, fenced untrusted data, token budget); pure.
//! - [`analyst`]: deterministic answers from the evidence when no LLM is configured; pure.
//! - [`stream`]: SSE and NDJSON stream decoders; pure.
//! - [`client`]: OpenAI-compatible and Ollama clients (adapter: HTTP).

pub mod analyst;
pub mod client;
pub mod prompt;
pub mod situation;
pub mod stream;

use serde::{Deserialize, Serialize};

/// Who said something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The engineer.
    User,
    /// The model or the offline analyst.
    Assistant,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Speaker.
    pub role: Role,
    /// Text.
    pub content: String,
}

impl Message {
    /// A message from `role`.
    #[must_use]
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// The guided questions, asked by the console's one-key choices and answered offline.
pub const GUIDED_QUESTIONS: [&str; 6] = [
    "What is failing?",
    "Why do you suspect it?",
    "What changed?",
    "Which past incidents look like this and what fixed them?",
    "What is the blast radius?",
    "What should I check next?",
];

/// Removes control characters (escape sequences, BEL, C1 controls) from untrusted text,
/// keeping newlines and tabs.
#[must_use]
pub fn strip_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Drop a CSI (`ESC [ … final`) or OSC (`ESC ] … BEL|ESC \`) sequence whole.
            match chars.peek() {
                Some('[') => {
                    chars.next();
                    for next in chars.by_ref() {
                        if ('@'..='~').contains(&next) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    chars.next();
                    while let Some(next) = chars.next() {
                        if next == '\u{7}' {
                            break;
                        }
                        if next == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {
                    chars.next();
                }
            }
            continue;
        }
        if c == '\n' || c == '\t' || !c.is_control() {
            out.push(c);
        }
    }
    out
}

/// Untrusted text made safe for one line: controls removed, line breaks folded into spaces.
#[must_use]
pub fn clean(text: &str) -> String {
    strip_controls(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// [`clean`], cut to at most `max` characters with an ellipsis.
#[must_use]
pub fn short(text: &str, max: usize) -> String {
    let cleaned = clean(text);
    if cleaned.chars().count() <= max {
        cleaned
    } else {
        let mut cut: String = cleaned.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// [`clean`], cut to at most `max` characters by dropping its middle (` … `), so both the start
/// and the end of a long log template stay readable.
#[must_use]
pub fn elide_middle(text: &str, max: usize) -> String {
    let cleaned = clean(text);
    let count = cleaned.chars().count();
    if count <= max {
        return cleaned;
    }
    let keep = max.saturating_sub(3);
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let mut out: String = cleaned.chars().take(head).collect();
    out.push_str(" … ");
    out.extend(cleaned.chars().skip(count - tail));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn elide_middle_keeps_both_ends_on_one_line() {
        assert_eq!(elide_middle("short <*>", 20), "short <*>");
        let long = format!("start {} end\nnext", "x".repeat(6_000));
        let out = elide_middle(&long, 40);
        assert_eq!(out.chars().count(), 40);
        assert!(out.starts_with("start "), "{out}");
        assert!(out.ends_with(" end next"), "{out}");
        assert!(out.contains(" … "));
        assert!(!out.contains('\n'));
    }

    #[test]
    fn escape_sequences_and_controls_are_removed() {
        let dirty = "a\u{1b}[2Jb\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{1b}\\c\u{7}\u{9b}d\r\ne\tf";
        assert_eq!(strip_controls(dirty), "ablinkcd\ne\tf");
    }
}
