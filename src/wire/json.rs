//! Shared helpers of the JSON decoders: lazily rendered error paths, lenient number reading
//! (numbers as JSON numbers or strings), Prometheus float text, body sniffing and sanitizing.
//!
//! Invariant: nothing here panics on any input; every failure becomes a [`WireError`] whose
//! path is rendered only when an error is actually built.

use super::error::WireError;
use serde_json::{Map, Value};

/// How many characters of untrusted text an error message keeps.
pub(crate) const MAX_ERROR_TEXT: usize = 300;

/// One step of a JSON path.
#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    /// A free-form label (`line 3`), shown before the rest.
    Label(&'a str),
    /// An object key.
    Key(&'a str),
    /// An array index.
    Index(usize),
}

/// A JSON path kept as a linked list on the stack; rendered only for errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Option<Seg<'a>>,
}

impl<'a> Path<'a> {
    /// The document root.
    pub(crate) const fn root() -> Self {
        Self {
            parent: None,
            seg: None,
        }
    }

    /// A root with a label, e.g. `line 3`.
    pub(crate) const fn label(text: &'a str) -> Self {
        Self {
            parent: None,
            seg: Some(Seg::Label(text)),
        }
    }

    /// The child at object key `key`.
    pub(crate) fn key<'b>(&'b self, key: &'b str) -> Path<'b> {
        Path {
            parent: Some(self),
            seg: Some(Seg::Key(key)),
        }
    }

    /// The child at array index `index`.
    pub(crate) fn index<'b>(&'b self, index: usize) -> Path<'b> {
        Path {
            parent: Some(self),
            seg: Some(Seg::Index(index)),
        }
    }

    /// `resourceSpans[3].scopeSpans[0]`, or `top level` for the root.
    pub(crate) fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut node = Some(self);
        while let Some(current) = node {
            if let Some(seg) = current.seg {
                segs.push(seg);
            }
            node = current.parent;
        }
        let mut out = String::new();
        let mut after_label = false;
        for seg in segs.iter().rev() {
            match seg {
                Seg::Label(text) => {
                    out.push_str(text);
                    after_label = true;
                    continue;
                }
                Seg::Key(key) => {
                    if after_label {
                        out.push_str(", ");
                    } else if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Seg::Index(index) => {
                    if after_label {
                        out.push_str(", ");
                    }
                    out.push_str(&format!("[{index}]"));
                }
            }
            after_label = false;
        }
        if out.is_empty() {
            "top level".to_owned()
        } else {
            out
        }
    }

    /// An [`WireError::Invalid`] at this path.
    pub(crate) fn err(&self, message: impl Into<String>) -> WireError {
        WireError::Invalid {
            path: self.render(),
            message: message.into(),
        }
    }

    /// "expected X, found Y" at this path.
    pub(crate) fn expected(&self, what: &str, found: &Value) -> WireError {
        self.err(format!("expected {what}, found {}", describe(found)))
    }
}

/// A short description of a JSON value's type.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The value as an object, or an error.
pub(crate) fn object<'v>(
    value: &'v Value,
    path: &Path,
) -> Result<&'v Map<String, Value>, WireError> {
    value
        .as_object()
        .ok_or_else(|| path.expected("an object", value))
}

/// The array at `key`; missing or `null` is empty (servers omit empty lists).
pub(crate) fn opt_array<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<&'v [Value], WireError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(path.key(key).expected("an array", other)),
    }
}

/// The string at `key`; missing or `null` is `None`.
pub(crate) fn opt_str<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<Option<&'v str>, WireError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(path.key(key).expected("a string", other)),
    }
}

/// An integer written as a JSON number or a decimal string (64-bit ints are strings in
/// protobuf JSON). Integral floats are accepted; anything out of `i64` range is an error.
pub(crate) fn int_lenient(value: &Value, path: &Path) -> Result<i64, WireError> {
    let parsed = match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| {
                    #[allow(clippy::cast_possible_truncation)]
                    let int = f as i64;
                    int
                })
        }),
        Value::String(text) => {
            let text = text.trim();
            text.parse::<i64>().ok().or_else(|| {
                // Accept "1.0e3" style only when integral and in range.
                text.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18)
                    .map(|f| {
                        #[allow(clippy::cast_possible_truncation)]
                        let int = f as i64;
                        int
                    })
            })
        }
        other => return Err(path.expected("an integer (number or string)", other)),
    };
    parsed.ok_or_else(|| {
        path.err(format!(
            "`{}` is not an integer in the 64-bit range",
            truncate(&value_text(value), 40)
        ))
    })
}

/// A non-negative integer (see [`int_lenient`]).
pub(crate) fn uint_lenient(value: &Value, path: &Path) -> Result<u64, WireError> {
    let int = int_lenient(value, path)?;
    u64::try_from(int).map_err(|_| path.err(format!("{int} is negative")))
}

/// The optional integer at `key` (missing or `null` → `None`).
pub(crate) fn opt_int(
    obj: &Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<Option<i64>, WireError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => int_lenient(value, &path.key(key)).map(Some),
    }
}

/// A float written as a JSON number or a string (`"NaN"`, `"+Inf"`, `"-Inf"`, `"1.5"`).
pub(crate) fn float_lenient(value: &Value, path: &Path) -> Result<f64, WireError> {
    match value {
        Value::Number(number) => number
            .as_f64()
            .ok_or_else(|| path.err("number is not representable as a float")),
        Value::String(text) => parse_float(text).ok_or_else(|| {
            path.err(format!(
                "`{}` is not a number (expected digits, NaN, +Inf or -Inf)",
                truncate(text, 40)
            ))
        }),
        other => Err(path.expected("a number (or a string holding one)", other)),
    }
}

/// Parses Prometheus/protobuf float text: decimal, exponent, `NaN`, `+Inf`, `-Inf`, `Infinity`.
pub(crate) fn parse_float(text: &str) -> Option<f64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    // Rust's parser accepts inf/infinity/nan in any case, with an optional sign.
    text.parse::<f64>().ok()
}

/// Formats a float the way Prometheus writes sample values: `NaN`, `+Inf`, `-Inf`, integers
/// without a fraction, other values in shortest round-trip form (exponent for very large or
/// very small magnitudes).
pub(crate) fn format_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else if value == 0.0 || (1e-4..1e15).contains(&value.abs()) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// A label map (`{"k":"v"}`); numbers and booleans are taken as their text, other types are an
/// error.
pub(crate) fn labels(value: &Value, path: &Path) -> Result<crate::model::Labels, WireError> {
    let mut out = crate::model::Labels::new();
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, value) in map {
                let text = match value {
                    Value::String(text) => text.clone(),
                    Value::Number(number) => number.to_string(),
                    Value::Bool(flag) => flag.to_string(),
                    other => {
                        return Err(path.key(key).expected("a label value (string)", other));
                    }
                };
                out.insert(key.clone(), text);
            }
        }
        other => return Err(path.expected("a label object", other)),
    }
    Ok(out)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Removes control characters and truncates to `max` characters (adding `…`).
pub(crate) fn truncate(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for c in text.chars() {
        if count >= max {
            out.push('…');
            break;
        }
        if c.is_control() {
            continue;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// A one-line, sanitized summary of a non-JSON body: the `<title>` of an HTML page (marked as
/// such), otherwise the text with whitespace collapsed, truncated.
pub(crate) fn summarize_body(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "(empty body)".to_owned();
    }
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with('<') {
        if let (Some(open), Some(close)) = (lower.find("<title>"), lower.find("</title>")) {
            let start = open + "<title>".len();
            if close > start
                && let Some(title) = trimmed.get(start..close)
            {
                return format!("HTML page: {}", collapse(title, MAX_ERROR_TEXT));
            }
        }
        return format!("HTML page: {}", collapse(trimmed, MAX_ERROR_TEXT));
    }
    collapse(trimmed, MAX_ERROR_TEXT)
}

/// Whitespace runs become one space; then [`truncate`].
pub(crate) fn collapse(text: &str, max: usize) -> String {
    let joined: Vec<&str> = text.split_whitespace().collect();
    truncate(&joined.join(" "), max)
}

/// The first significant byte (skipping whitespace and a UTF-8 BOM), if any.
fn first_significant(bytes: &[u8]) -> Option<u8> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// Strips a UTF-8 byte order mark.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Parses one JSON document (an object or array); a body that does not start like JSON is a
/// [`WireError::NotJson`] carrying its text.
pub(crate) fn parse_document(bytes: &[u8]) -> Result<Value, WireError> {
    match first_significant(bytes) {
        Some(b'{' | b'[') => serde_json::from_slice(strip_bom(bytes)).map_err(malformed),
        _ => Err(WireError::NotJson {
            text: summarize_body(bytes),
        }),
    }
}

fn malformed(error: serde_json::Error) -> WireError {
    WireError::Malformed {
        detail: truncate(&error.to_string(), MAX_ERROR_TEXT),
    }
}

/// Calls `visit` for every top-level JSON value of `bytes`: one document, or several separated
/// by whitespace (JSON lines). Values after the first get a `line N` path label. Empty input
/// visits nothing. Parse errors are turned into the caller's error type with `on_error`.
pub(crate) fn for_each_document<E>(
    bytes: &[u8],
    on_error: impl Fn(WireError) -> E,
    mut visit: impl FnMut(&Path, &Value) -> Result<(), E>,
) -> Result<(), E> {
    let bytes = strip_bom(bytes);
    match first_significant(bytes) {
        None => return Ok(()),
        Some(b'{' | b'[') => {}
        Some(_) => {
            return Err(on_error(WireError::NotJson {
                text: summarize_body(bytes),
            }));
        }
    }
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    let mut line = 1_usize;
    let mut counted_to = 0_usize;
    let mut document = 0_usize;
    loop {
        let before = stream.byte_offset();
        let Some(next) = stream.next() else {
            return Ok(());
        };
        let value = next.map_err(|error| on_error(malformed(error)))?;
        // Line of the first significant byte of this value.
        let start = bytes
            .get(before..)
            .and_then(|rest| rest.iter().position(|b| !b.is_ascii_whitespace()))
            .map_or(before, |skip| before + skip);
        if let Some(span) = bytes.get(counted_to..start) {
            line += span.iter().filter(|&&b| b == b'\n').count();
        }
        counted_to = start.max(counted_to);
        let label = format!("line {line}");
        let path = if document == 0 && line == 1 {
            Path::root()
        } else {
            Path::label(&label)
        };
        visit(&path, &value)?;
        document += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_json_paths() {
        let root = Path::root();
        let a = root.key("resourceSpans");
        let b = a.index(3);
        let c = b.key("scopeSpans");
        let d = c.index(0);
        assert_eq!(d.render(), "resourceSpans[3].scopeSpans[0]");
        let line = Path::label("line 4");
        let e = line.key("batches");
        assert_eq!(e.index(1).render(), "line 4, batches[1]");
        assert_eq!(root.render(), "top level");
        assert_eq!(root.index(2).key("x").render(), "[2].x");
    }

    #[test]
    fn floats_format_and_parse_like_prometheus() {
        for (value, text) in [
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (3.0, "3"),
            (0.25, "0.25"),
            (1e21, "1e21"),
            (0.0, "0"),
        ] {
            assert_eq!(format_float(value), text);
            let back = parse_float(text).unwrap_or(-1.0);
            assert!(back == value || (back.is_nan() && value.is_nan()));
        }
        assert_eq!(parse_float("Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_float("nope"), None);
    }

    #[test]
    fn bodies_are_summarized_and_sanitized() {
        let html = b"<html><head><title>502 Bad Gateway</title></head><body>x</body></html>";
        assert_eq!(summarize_body(html), "HTML page: 502 Bad Gateway");
        assert_eq!(summarize_body(b"no org id\n"), "no org id");
        assert_eq!(summarize_body(b"a\x1b[31mb\tc"), "a[31mb c");
        let long = "x".repeat(1000);
        assert_eq!(
            summarize_body(long.as_bytes()).chars().count(),
            MAX_ERROR_TEXT + 1
        );
        assert_eq!(summarize_body(b"  "), "(empty body)");
    }

    #[test]
    fn documents_are_split_and_labelled_by_line() {
        let mut seen = Vec::new();
        let result = for_each_document(
            b"{\"a\":1}\n\n{\"a\":2}\n",
            |e| e,
            |path, value| {
                seen.push((path.render(), value["a"].as_i64()));
                Ok(())
            },
        );
        assert!(result.is_ok());
        assert_eq!(
            seen,
            vec![
                ("top level".to_owned(), Some(1)),
                ("line 3".to_owned(), Some(2))
            ]
        );
        assert!(matches!(
            for_each_document(b"{\"a\":", |e| e, |_, _| Ok(())),
            Err(WireError::Malformed { .. })
        ));
        assert!(matches!(
            for_each_document(b"oops", |e| e, |_, _| Ok(())),
            Err(WireError::NotJson { .. })
        ));
    }

    #[test]
    fn ints_are_read_from_numbers_and_strings() {
        let root = Path::root();
        assert_eq!(int_lenient(&Value::from("123"), &root), Ok(123));
        assert_eq!(int_lenient(&Value::from(5), &root), Ok(5));
        assert_eq!(int_lenient(&serde_json::json!(1.0e3), &root), Ok(1000));
        assert!(int_lenient(&Value::from("18446744073709551615"), &root).is_err());
        assert!(int_lenient(&serde_json::json!(1.5), &root).is_err());
        assert!(uint_lenient(&Value::from("-1"), &root).is_err());
    }
}
