//! Error-level and failure keywords in raw lines, found without regex or allocation.
//!
//! A line is *erroneous* when it holds (ASCII case-insensitively, at word starts) `error`,
//! `err`/`erro`/`eror` as a level, `fatal`, `panic`, `exception`, `timeout`/`timed out`,
//! `refused`, `fail…`, `unavailable`, `reset`, or an HTTP 5xx status as a separate token;
//! it is a *warning* when it holds `warn…` and nothing erroneous.
//!
//! Invariants: pure; never panics on any input.

/// What a line says about its own severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Severity {
    /// An error keyword or a 5xx status was found.
    pub error: bool,
    /// A warning keyword was found (and no error).
    pub warn: bool,
}

const ERROR_WORDS: [&[u8]; 13] = [
    b"error",
    b"erro",
    b"err",
    b"eror",
    b"fatal",
    b"panic",
    b"exception",
    b"timeout",
    b"timed out",
    b"refused",
    b"fail",
    b"unavailable",
    b"reset",
];

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `word` occurs at a word start in `line` (ASCII case-insensitive). A word that must
/// end there (`err`, `erro`) is given with `whole = true`.
fn contains_word(line: &[u8], word: &[u8], whole: bool) -> bool {
    if line.len() < word.len() {
        return false;
    }
    let first = word[0];
    for start in 0..=line.len() - word.len() {
        if line[start].to_ascii_lowercase() != first {
            continue;
        }
        if start > 0 && line[start - 1].is_ascii_alphabetic() {
            continue;
        }
        if !line[start..start + word.len()].eq_ignore_ascii_case(word) {
            continue;
        }
        let end = start + word.len();
        if whole && end < line.len() && is_word_byte(line[end]) {
            continue;
        }
        return true;
    }
    false
}

/// Whether a three-digit token starting with `5` (an HTTP 5xx status) stands alone in `line`.
pub(crate) fn has_5xx_token(line: &[u8]) -> bool {
    line.split(|b| !b.is_ascii_alphanumeric()).any(|token| {
        token.len() == 3 && token[0] == b'5' && token[1..].iter().all(u8::is_ascii_digit)
    })
}

/// Classifies a raw line.
#[must_use]
pub fn severity(line: &str) -> Severity {
    let bytes = line.as_bytes();
    let error = ERROR_WORDS.iter().any(|word| {
        let whole = matches!(*word, b"err" | b"erro" | b"eror");
        contains_word(bytes, word, whole)
    }) || has_5xx_token(bytes);
    let warn = !error && contains_word(bytes, b"warn", false);
    Severity { error, warn }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_errors_warnings_and_statuses() {
        let error = |line: &str| severity(line).error;
        assert!(error("2024-01-01 ERROR 1 --- [main] c.Foo : boom"));
        assert!(error("level=error msg=\"x\""));
        assert!(error("java.net.ConnectException: Connection refused"));
        assert!(error("dial tcp 10.0.0.1:80: i/o timeout"));
        assert!(error("connect timed out"));
        assert!(error("GET /orders 503 12.000 ms - 0"));
        assert!(error("[ERRO] something"));
        assert!(error("Request failed"));
        assert!(!error("GET /orders 200 12.000 ms - 503x"));
        assert!(!error("terror in the streets"));
        assert!(!error("errand boy"));
        assert!(!error("GET /catalogue 200 1.5 ms - 5000"));
        assert!(!error("INFO all good"));
        let warn = severity("WARN 1 --- slow");
        assert!(warn.warn && !warn.error);
        assert!(!severity("WARN timeout").warn);
        assert_eq!(severity(""), Severity::default());
    }
}
