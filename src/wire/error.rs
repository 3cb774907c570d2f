//! The one error type of the wire codecs.
//!
//! Invariant: every message says what was wrong and where (a JSON path such as
//! `resourceSpans[3].scopeSpans[0].spans[7]`, a line number, or the server's own text), and any
//! text copied from the input is sanitized (control characters removed) and truncated, so an
//! error can be shown in a terminal as it is.

use thiserror::Error;

/// Why a response body or file could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// The body is not JSON at all: a plain-text error (Loki, Tempo), an HTML page from a proxy,
    /// or nothing. `text` is the start of the body, sanitized.
    #[error("the response is not JSON; it says: {text}")]
    NotJson {
        /// The start of the body (at most about 300 characters, control characters removed).
        text: String,
    },
    /// The body starts like JSON but does not parse (truncated, invalid, nested too deep, a
    /// number out of range).
    #[error("malformed JSON: {detail}")]
    Malformed {
        /// The parser's message, with line and column.
        detail: String,
    },
    /// The server answered with its error envelope (`{"status":"error",…}` or Kiali's
    /// `{"error":…}`).
    #[error("the server reported an error ({error_type}): {message}")]
    Server {
        /// `errorType` (Prometheus: `bad_data`, `execution`, `timeout`, …) or a fixed word.
        error_type: String,
        /// The server's message, sanitized and truncated.
        message: String,
    },
    /// Valid JSON of the wrong shape or with a bad value at `path`.
    #[error("{path}: {message}")]
    Invalid {
        /// Where, as a JSON path (`data.result[2].values[0]`).
        path: String,
        /// What was wrong.
        message: String,
    },
    /// A line of Prometheus exposition text that does not parse.
    #[error("exposition text line {line}: {message}")]
    Exposition {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
}
