//! The Prometheus text exposition format (what a `/metrics` endpoint serves): encoding metric
//! families and parsing samples back.
//!
//! Invariant: encoded text always parses with Prometheus' text parser: metric and label names
//! are sanitized to the classic character set, label values and help text are escaped, and
//! values use Prometheus float syntax (`NaN`, `+Inf`, `-Inf`, no exponent for ordinary
//! magnitudes); `parse_exposition(encode_exposition(f))` gives back every sample of `f` when
//! the names were already valid.

use crate::model::Labels;
use crate::wire::WireError;
use crate::wire::json::{collapse, format_float, parse_float};
use std::fmt::Write as _;

/// The `# TYPE` of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Monotonic counter.
    Counter,
    /// Gauge.
    Gauge,
    /// Classic histogram (`_bucket{le}`, `_sum`, `_count` samples).
    Histogram,
    /// Summary (`{quantile}`, `_sum`, `_count` samples).
    Summary,
    /// Untyped.
    Untyped,
}

impl MetricKind {
    /// The word used on the `# TYPE` line.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::Summary => "summary",
            Self::Untyped => "untyped",
        }
    }
}

/// One sample line: its full metric name (for histograms including `_bucket`, `_sum`,
/// `_count`), labels, value and optional timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpositionSample {
    /// Full metric name of the line.
    pub name: String,
    /// Labels (`le` included for buckets).
    pub labels: Labels,
    /// Value; NaN and infinities allowed.
    pub value: f64,
    /// Optional timestamp in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

/// A metric family: `# HELP` and `# TYPE` lines followed by its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// Family name (the base name for histograms).
    pub name: String,
    /// Help text (may be empty; then no `# HELP` line).
    pub help: String,
    /// Type.
    pub kind: MetricKind,
    /// Sample lines, written in order.
    pub samples: Vec<ExpositionSample>,
}

/// Replaces characters outside `[a-zA-Z0-9_]` (plus `:` in metric names) with `_`, and prefixes
/// `_` when the name is empty or starts with a digit.
fn sanitize_name(name: &str, allow_colon: bool) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Encodes families as exposition text (`text/plain; version=0.0.4`), one line per sample,
/// ending with a newline.
#[must_use]
pub fn encode_exposition(families: &[MetricFamily]) -> String {
    let mut out = String::new();
    for family in families {
        let name = sanitize_name(&family.name, true);
        if !family.help.is_empty() {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&family.help));
        }
        let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
        for sample in &family.samples {
            out.push_str(&sanitize_name(&sample.name, true));
            if !sample.labels.is_empty() {
                out.push('{');
                for (i, (key, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&sanitize_name(key, false));
                    out.push_str("=\"");
                    escape_label_value(value, &mut out);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            out.push_str(&format_float(sample.value));
            if let Some(ts) = sample.timestamp_ms {
                let _ = write!(out, " {ts}");
            }
            out.push('\n');
        }
    }
    out
}

/// A cursor over one line.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl Cursor<'_> {
    fn err(&self, message: impl Into<String>) -> WireError {
        WireError::Exposition {
            line: self.line,
            message: message.into(),
        }
    }

    fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
            self.pos += 1;
        }
    }

    fn name(&mut self, allow_colon: bool, what: &str) -> Result<String, WireError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':'))
        {
            self.pos += 1;
        }
        let name = self.text.get(start..self.pos).unwrap_or("");
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(self.err(format!(
                "expected a {what} at `{}`",
                collapse(self.rest(), 40)
            )));
        }
        Ok(name.to_owned())
    }

    fn quoted(&mut self) -> Result<String, WireError> {
        if self.bump() != Some('"') {
            return Err(self.err("expected `\"` to open a label value"));
        }
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.err("unterminated label value")),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('\\') => out.push('\\'),
                    Some('"') => out.push('"'),
                    Some(other) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => return Err(self.err("unterminated escape in label value")),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn labels(&mut self) -> Result<Labels, WireError> {
        let mut labels = Labels::new();
        // The opening brace has been consumed.
        loop {
            self.skip_ws();
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(labels);
            }
            let key = self.name(false, "label name")?;
            self.skip_ws();
            if self.bump() != Some('=') {
                return Err(self.err(format!("expected `=` after label `{key}`")));
            }
            self.skip_ws();
            let value = self.quoted()?;
            if labels.insert(key.clone(), value).is_some() {
                return Err(self.err(format!("label `{key}` appears twice")));
            }
            self.skip_ws();
            match self.bump() {
                Some(',') => {}
                Some('}') => return Ok(labels),
                _ => return Err(self.err("expected `,` or `}` after a label value")),
            }
        }
    }

    fn token(&mut self) -> &str {
        self.skip_ws();
        let start = self.pos;
        while self.peek().is_some_and(|c| c != ' ' && c != '\t') {
            self.pos += 1;
        }
        self.text.get(start..self.pos).unwrap_or("")
    }
}

/// Parses exposition text into samples: comment and blank lines are skipped, labels may contain
/// escapes (`\\`, `\"`, `\n`), a trailing timestamp (ms) is optional.
///
/// # Errors
/// [`WireError::Exposition`] with the 1-based line number of the first line that does not parse.
pub fn parse_exposition(text: &str) -> Result<Vec<ExpositionSample>, WireError> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut cursor = Cursor {
            text: trimmed,
            pos: 0,
            line: index + 1,
        };
        let name = cursor.name(true, "metric name")?;
        cursor.skip_ws();
        let labels = if cursor.peek() == Some('{') {
            cursor.pos += 1;
            cursor.labels()?
        } else {
            Labels::new()
        };
        let value_text = cursor.token().to_owned();
        let value = parse_float(&value_text).ok_or_else(|| {
            cursor.err(format!(
                "`{}` is not a sample value",
                collapse(&value_text, 40)
            ))
        })?;
        let ts_text = cursor.token().to_owned();
        let timestamp_ms = if ts_text.is_empty() {
            None
        } else {
            Some(ts_text.parse::<i64>().map_err(|_| {
                cursor.err(format!(
                    "`{}` is not a timestamp in milliseconds",
                    collapse(&ts_text, 40)
                ))
            })?)
        };
        if !cursor.token().is_empty() {
            return Err(cursor.err("unexpected text after the timestamp"));
        }
        out.push(ExpositionSample {
            name,
            labels,
            value,
            timestamp_ms,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::wire::testgen::{arb_sample_value, arb_text, same_f64};
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn sample(name: &str, pairs: &[(&str, &str)], value: f64) -> ExpositionSample {
        ExpositionSample {
            name: name.into(),
            labels: labels(pairs),
            value,
            timestamp_ms: None,
        }
    }

    #[test]
    fn histogram_family_encodes_like_prometheus() {
        let family = MetricFamily {
            name: "istio_request_duration_milliseconds".into(),
            help: "Request duration\nin ms".into(),
            kind: MetricKind::Histogram,
            samples: vec![
                sample(
                    "istio_request_duration_milliseconds_bucket",
                    &[("le", "5"), ("reporter", "destination")],
                    3.0,
                ),
                sample(
                    "istio_request_duration_milliseconds_bucket",
                    &[("le", "+Inf"), ("reporter", "destination")],
                    7.0,
                ),
                sample(
                    "istio_request_duration_milliseconds_sum",
                    &[("reporter", "destination")],
                    40.5,
                ),
                sample(
                    "istio_request_duration_milliseconds_count",
                    &[("reporter", "destination")],
                    7.0,
                ),
            ],
        };
        let text = encode_exposition(std::slice::from_ref(&family));
        assert_eq!(
            text,
            "# HELP istio_request_duration_milliseconds Request duration\\nin ms\n\
             # TYPE istio_request_duration_milliseconds histogram\n\
             istio_request_duration_milliseconds_bucket{le=\"5\",reporter=\"destination\"} 3\n\
             istio_request_duration_milliseconds_bucket{le=\"+Inf\",reporter=\"destination\"} 7\n\
             istio_request_duration_milliseconds_sum{reporter=\"destination\"} 40.5\n\
             istio_request_duration_milliseconds_count{reporter=\"destination\"} 7\n"
        );
        assert_eq!(parse_exposition(&text).unwrap(), family.samples);
    }

    #[test]
    fn escapes_special_values_and_timestamps() {
        let family = MetricFamily {
            name: "weird.metric".into(),
            help: String::new(),
            kind: MetricKind::Gauge,
            samples: vec![
                ExpositionSample {
                    name: "weird.metric".into(),
                    labels: labels(&[("path", "a\\b \"q\"\nz"), ("bad-key", "v")]),
                    value: f64::NAN,
                    timestamp_ms: Some(1_735_689_600_000),
                },
                sample("up", &[], f64::NEG_INFINITY),
                sample("big", &[], 1e21),
            ],
        };
        let text = encode_exposition(&[family]);
        assert!(text.contains(
            "weird_metric{bad_key=\"v\",path=\"a\\\\b \\\"q\\\"\\nz\"} NaN 1735689600000\n"
        ));
        assert!(text.contains("up -Inf\n"));
        assert!(text.contains("big 1e21\n"));
        let parsed = parse_exposition(&text).unwrap();
        assert_eq!(parsed[0].labels["path"], "a\\b \"q\"\nz");
        assert_eq!(parsed[0].timestamp_ms, Some(1_735_689_600_000));
        assert!(parsed[0].value.is_nan());
        assert_eq!(parsed[2].value, 1e21);
    }

    #[test]
    fn parse_reports_line_numbers() {
        let text = "# HELP x y\nok 1\n  \nbad{le=\"1\" 2\n";
        assert_eq!(
            parse_exposition(text).unwrap_err().to_string(),
            "exposition text line 4: expected `,` or `}` after a label value"
        );
        assert!(parse_exposition("x abc").is_err());
        assert!(parse_exposition("x 1 notatime").is_err());
        assert!(parse_exposition("x 1 2 3").is_err());
        assert!(parse_exposition("x{a=\"1\",a=\"2\"} 1").is_err());
        assert!(parse_exposition("{a=\"1\"} 1").is_err());
        assert!(
            parse_exposition("x{a=\"1\",} 2 # comment").is_err(),
            "text after a value is rejected"
        );
        assert_eq!(
            parse_exposition("x{a = \"1\" , } +Inf").unwrap()[0].value,
            f64::INFINITY
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn round_trips(
            samples in prop::collection::vec(
                ("[a-z_:][a-z0-9_:]{0,8}", prop::collection::btree_map("[a-z_][a-z0-9_]{0,6}", arb_text(), 0..3),
                 arb_sample_value(), prop::option::of(any::<i64>())),
                0..6),
            help in arb_text(),
        ) {
            let samples: Vec<ExpositionSample> = samples
                .into_iter()
                .map(|(name, labels, value, timestamp_ms)| ExpositionSample { name, labels, value, timestamp_ms })
                .collect();
            let family = MetricFamily { name: "f".into(), help, kind: MetricKind::Counter, samples: samples.clone() };
            let text = encode_exposition(&[family]);
            let parsed = parse_exposition(&text).unwrap();
            prop_assert_eq!(parsed.len(), samples.len());
            for (a, b) in samples.iter().zip(&parsed) {
                prop_assert_eq!(&a.name, &b.name);
                prop_assert_eq!(&a.labels, &b.labels);
                prop_assert_eq!(a.timestamp_ms, b.timestamp_ms);
                prop_assert!(same_f64(a.value, b.value), "{} vs {}", a.value, b.value);
            }
        }

        #[test]
        fn parse_never_panics(text in "(?s).{0,200}") {
            let _ = parse_exposition(&text);
        }
    }
}
