//! The query subsets the simulator's HTTP server understands: LogQL stream selectors with line
//! filters, and TraceQL spanset filters (or legacy tag search) for trace search. Pure.

use crate::model::{Labels, Span, StatusCode};
use regex::Regex;
use std::time::Duration;

/// A LogQL log query: `{label="v", other=~"re"} |= "text" != "other" |~ "re"`.
#[derive(Debug, Clone)]
pub struct LogQuery {
    matchers: Vec<(String, MatchOp, String, Option<Regex>)>,
    filters: Vec<(FilterOp, String, Option<Regex>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchOp {
    Eq,
    Ne,
    Re,
    NotRe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterOp {
    Contains,
    NotContains,
    Matches,
    NotMatches,
}

fn anchored(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("invalid regex `{pattern}`: {e}"))
}

/// Reads a double- or back-quoted string at the start of `text`; returns it and the rest.
fn quoted(text: &str) -> Result<(String, &str), String> {
    let text = text.trim_start();
    let mut chars = text.char_indices();
    let Some((_, quote)) = chars.next() else {
        return Err("expected a quoted string".to_owned());
    };
    if quote != '"' && quote != '`' {
        return Err(format!(
            "expected a quoted string at `{}`",
            text.chars().take(20).collect::<String>()
        ));
    }
    let mut out = String::new();
    let mut escaped = false;
    for (index, c) in chars {
        if quote == '"' && escaped {
            out.push(match c {
                'n' => '\n',
                't' => '\t',
                other => other,
            });
            escaped = false;
        } else if quote == '"' && c == '\\' {
            escaped = true;
        } else if c == quote {
            return Ok((out, &text[index + c.len_utf8()..]));
        } else {
            out.push(c);
        }
    }
    Err("unterminated string".to_owned())
}

impl LogQuery {
    /// Parses a log query.
    ///
    /// # Errors
    /// A Loki-style `parse error …` message for anything outside the supported subset (metric
    /// queries included).
    pub fn parse(query: &str) -> Result<Self, String> {
        let text = query.trim();
        let Some(rest) = text.strip_prefix('{') else {
            return Err(format!(
                "parse error at line 1, col 1: syntax error: unexpected {}: the simulator serves log queries `{{…}} |= \"…\"` only",
                text.chars()
                    .next()
                    .map_or("end".to_owned(), |c| format!("`{c}`"))
            ));
        };
        let close = rest
            .find('}')
            .ok_or("parse error: syntax error: missing closing `}`")?;
        let mut matchers = Vec::new();
        let mut body = &rest[..close];
        while !body.trim().is_empty() {
            let trimmed = body.trim_start().trim_start_matches(',').trim_start();
            let name_len = trimmed
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(trimmed.len());
            if name_len == 0 {
                return Err(format!(
                    "parse error: syntax error: expected a label name at `{trimmed}`"
                ));
            }
            let name = trimmed[..name_len].to_owned();
            let after = trimmed[name_len..].trim_start();
            let (op, after) = if let Some(a) = after.strip_prefix("=~") {
                (MatchOp::Re, a)
            } else if let Some(a) = after.strip_prefix("!~") {
                (MatchOp::NotRe, a)
            } else if let Some(a) = after.strip_prefix("!=") {
                (MatchOp::Ne, a)
            } else if let Some(a) = after.strip_prefix('=') {
                (MatchOp::Eq, a)
            } else {
                return Err(format!(
                    "parse error: syntax error: expected =, !=, =~ or !~ after `{name}`"
                ));
            };
            let (value, remaining) = quoted(after)?;
            let regex = matches!(op, MatchOp::Re | MatchOp::NotRe)
                .then(|| anchored(&value))
                .transpose()?;
            matchers.push((name, op, value, regex));
            body = remaining
                .trim_start()
                .strip_prefix(',')
                .unwrap_or(remaining);
        }
        if !matchers.iter().any(|(_, op, value, _)| {
            *op == MatchOp::Eq && !value.is_empty() || *op == MatchOp::Re && !value.is_empty()
        }) {
            return Err("parse error: queries require at least one regexp or equality matcher that does not have an empty-compatible value".to_owned());
        }
        let mut filters = Vec::new();
        let mut pipeline = rest[close + 1..].trim_start();
        while !pipeline.is_empty() {
            let (op, after) = if let Some(a) = pipeline.strip_prefix("|=") {
                (FilterOp::Contains, a)
            } else if let Some(a) = pipeline.strip_prefix("!=") {
                (FilterOp::NotContains, a)
            } else if let Some(a) = pipeline.strip_prefix("|~") {
                (FilterOp::Matches, a)
            } else if let Some(a) = pipeline.strip_prefix("!~") {
                (FilterOp::NotMatches, a)
            } else {
                return Err(format!(
                    "parse error: syntax error: the simulator supports line filters (|=, !=, |~, !~) only, not `{}`",
                    pipeline.chars().take(20).collect::<String>()
                ));
            };
            let (value, remaining) = quoted(after)?;
            let regex = matches!(op, FilterOp::Matches | FilterOp::NotMatches)
                .then(|| Regex::new(&value).map_err(|e| format!("invalid regex `{value}`: {e}")))
                .transpose()?;
            filters.push((op, value, regex));
            pipeline = remaining.trim_start();
        }
        Ok(Self { matchers, filters })
    }

    /// Whether a stream with these labels is selected.
    #[must_use]
    pub fn selects(&self, labels: &Labels) -> bool {
        self.matchers.iter().all(|(name, op, value, regex)| {
            let actual = labels.get(name).map_or("", String::as_str);
            match op {
                MatchOp::Eq => actual == value,
                MatchOp::Ne => actual != value,
                MatchOp::Re => regex.as_ref().is_some_and(|r| r.is_match(actual)),
                MatchOp::NotRe => regex.as_ref().is_none_or(|r| !r.is_match(actual)),
            }
        })
    }

    /// Whether a line passes the line filters.
    #[must_use]
    pub fn keeps(&self, line: &str) -> bool {
        self.filters.iter().all(|(op, value, regex)| match op {
            FilterOp::Contains => line.contains(value.as_str()),
            FilterOp::NotContains => !line.contains(value.as_str()),
            FilterOp::Matches => regex.as_ref().is_some_and(|r| r.is_match(line)),
            FilterOp::NotMatches => regex.as_ref().is_none_or(|r| !r.is_match(line)),
        })
    }
}

/// A span condition of a TraceQL spanset filter or a tag search.
#[derive(Debug, Clone)]
enum Condition {
    Attribute {
        key: String,
        scope: Scope,
        op: Compare,
        value: Value,
    },
    Status(StatusCode, bool),
    Duration(Compare, Duration),
    Name(Compare, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Resource,
    Span,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Re,
    Contains,
}

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Number(f64),
}

/// A trace search: spans match when every condition holds on the same span.
#[derive(Debug, Clone)]
pub struct TraceQuery {
    conditions: Vec<Condition>,
}

fn parse_compare(text: &str) -> Option<(Compare, &str)> {
    for (token, op) in [
        (">=", Compare::Ge),
        ("<=", Compare::Le),
        ("!=", Compare::Ne),
        ("=~", Compare::Re),
        ("=", Compare::Eq),
        (">", Compare::Gt),
        ("<", Compare::Lt),
    ] {
        if let Some(rest) = text.strip_prefix(token) {
            return Some((op, rest));
        }
    }
    None
}

impl TraceQuery {
    /// Parses a TraceQL spanset filter: `{ cond && cond }` with conditions on
    /// `resource.x`, `span.x`, `.x`, `status`, `duration` and `name`.
    ///
    /// # Errors
    /// A Tempo-style `invalid TraceQL query: …` message outside the subset.
    pub fn parse_traceql(query: &str) -> Result<Self, String> {
        let text = query.trim();
        let inner = text
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
            .ok_or_else(|| format!("invalid TraceQL query: parse error at line 1, col 1: the simulator supports one spanset filter `{{ … }}`, got `{text}`"))?;
        let mut conditions = Vec::new();
        for part in inner.split("&&") {
            let part = part.trim();
            if part.is_empty() {
                if inner.trim().is_empty() {
                    continue;
                }
                return Err("invalid TraceQL query: empty condition".to_owned());
            }
            let field_len = part
                .find(|c: char| c.is_whitespace() || "=!<>".contains(c))
                .unwrap_or(part.len());
            let field = &part[..field_len];
            let (op, value_text) =
                parse_compare(part[field_len..].trim_start()).ok_or_else(|| {
                    format!("invalid TraceQL query: expected an operator after `{field}`")
                })?;
            let value_text = value_text.trim();
            let value = if value_text.starts_with('"') {
                Value::Text(quoted(value_text)?.0)
            } else if let Ok(number) = value_text.parse::<f64>() {
                Value::Number(number)
            } else {
                Value::Text(value_text.to_owned())
            };
            let condition = match field {
                "status" => {
                    let wanted = match &value {
                        Value::Text(t) if t == "error" => StatusCode::Error,
                        Value::Text(t) if t == "ok" => StatusCode::Ok,
                        Value::Text(t) if t == "unset" => StatusCode::Unset,
                        _ => {
                            return Err(format!(
                                "invalid TraceQL query: status must be error, ok or unset, got `{value_text}`"
                            ));
                        }
                    };
                    Condition::Status(wanted, op != Compare::Ne)
                }
                "duration" => Condition::Duration(
                    op,
                    crate::model::time::parse_duration(value_text)
                        .map_err(|e| format!("invalid TraceQL query: {e}"))?,
                ),
                "name" => Condition::Name(
                    op,
                    match value {
                        Value::Text(t) => t,
                        Value::Number(n) => n.to_string(),
                    },
                ),
                _ => {
                    let (scope, key) = if let Some(key) = field.strip_prefix("resource.") {
                        (Scope::Resource, key)
                    } else if let Some(key) = field.strip_prefix("span.") {
                        (Scope::Span, key)
                    } else if let Some(key) = field.strip_prefix('.') {
                        (Scope::Any, key)
                    } else {
                        return Err(format!(
                            "invalid TraceQL query: unknown field `{field}` (use resource.x, span.x, .x, status, duration, name)"
                        ));
                    };
                    Condition::Attribute {
                        key: key.to_owned(),
                        scope,
                        op,
                        value,
                    }
                }
            };
            conditions.push(condition);
        }
        Ok(Self { conditions })
    }

    /// Parses legacy tag search (`tags=service.name=carts http.status_code=500`, logfmt,
    /// case-insensitive substring match), plus `minDuration`/`maxDuration`.
    ///
    /// # Errors
    /// When a pair has no `=` or a duration is malformed.
    pub fn parse_tags(
        tags: &str,
        min_duration: Option<&str>,
        max_duration: Option<&str>,
    ) -> Result<Self, String> {
        let mut conditions = Vec::new();
        for pair in tags.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("invalid tags: `{pair}` is not key=value"))?;
            conditions.push(Condition::Attribute {
                key: key.to_owned(),
                scope: Scope::Any,
                op: Compare::Contains,
                value: Value::Text(value.trim_matches('"').to_ascii_lowercase()),
            });
        }
        if let Some(min) = min_duration {
            conditions.push(Condition::Duration(
                Compare::Ge,
                crate::model::time::parse_duration(min)
                    .map_err(|e| format!("invalid minDuration: {e}"))?,
            ));
        }
        if let Some(max) = max_duration {
            conditions.push(Condition::Duration(
                Compare::Le,
                crate::model::time::parse_duration(max)
                    .map_err(|e| format!("invalid maxDuration: {e}"))?,
            ));
        }
        Ok(Self { conditions })
    }

    /// Whether a span satisfies every condition.
    #[must_use]
    pub fn matches(&self, span: &Span) -> bool {
        self.conditions.iter().all(|condition| match condition {
            Condition::Status(code, equal) => (span.status.code == *code) == *equal,
            Condition::Duration(op, bound) => {
                compare_f64(span.duration().as_secs_f64(), *op, bound.as_secs_f64())
            }
            Condition::Name(op, name) => compare_text(&span.name, *op, name),
            Condition::Attribute {
                key,
                scope,
                op,
                value,
            } => {
                let lists: &[&crate::model::Attributes] = match scope {
                    Scope::Resource => &[&span.resource],
                    Scope::Span => &[&span.attributes],
                    Scope::Any => &[&span.attributes, &span.resource],
                };
                lists.iter().any(|list| {
                    list.iter()
                        .filter(|(k, _)| k == key)
                        .any(|(_, actual)| match (actual, value) {
                            (_, Value::Number(n)) => actual
                                .as_i64()
                                .map(|a| a as f64)
                                .or(match actual {
                                    crate::model::AttributeValue::Double(d) => Some(*d),
                                    _ => None,
                                })
                                .is_some_and(|a| compare_f64(a, *op, *n)),
                            (crate::model::AttributeValue::Str(text), Value::Text(wanted)) => {
                                compare_text(text, *op, wanted)
                            }
                            (other, Value::Text(wanted)) => other
                                .as_i64()
                                .is_some_and(|a| compare_text(&a.to_string(), *op, wanted)),
                        })
                })
            }
        })
    }
}

fn compare_f64(actual: f64, op: Compare, wanted: f64) -> bool {
    match op {
        Compare::Eq => (actual - wanted).abs() < f64::EPSILON,
        Compare::Ne => (actual - wanted).abs() >= f64::EPSILON,
        Compare::Gt => actual > wanted,
        Compare::Ge => actual >= wanted,
        Compare::Lt => actual < wanted,
        Compare::Le => actual <= wanted,
        Compare::Re | Compare::Contains => false,
    }
}

fn compare_text(actual: &str, op: Compare, wanted: &str) -> bool {
    match op {
        Compare::Eq => actual == wanted,
        Compare::Ne => actual != wanted,
        Compare::Re => anchored(wanted).is_ok_and(|r| r.is_match(actual)),
        Compare::Contains => actual.to_ascii_lowercase().contains(wanted),
        Compare::Gt => actual > wanted,
        Compare::Ge => actual >= wanted,
        Compare::Lt => actual < wanted,
        Compare::Le => actual <= wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttributeValue, SpanId, SpanKind, SpanStatus, Timestamp, TraceId};

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn logql_selectors_and_filters() {
        let query = LogQuery::parse(
            r#"{namespace="sock-shop", container=~"carts|orders"} |= "ERROR" != "health""#,
        )
        .expect("valid");
        assert!(query.selects(&labels(&[
            ("namespace", "sock-shop"),
            ("container", "carts")
        ])));
        assert!(!query.selects(&labels(&[
            ("namespace", "sock-shop"),
            ("container", "carts-db")
        ])));
        assert!(query.keeps("2025 ERROR boom"));
        assert!(!query.keeps("2025 ERROR health"));
        assert!(
            LogQuery::parse(r#"sum(rate({a="b"}[1m]))"#)
                .expect_err("metric")
                .starts_with("parse error")
        );
        assert!(LogQuery::parse(r#"{a=""}"#).is_err());
        assert!(LogQuery::parse(r#"{a="b"} | json"#).is_err());
    }

    #[test]
    fn traceql_subset_matches_spans() {
        let span = Span {
            trace_id: TraceId::default(),
            span_id: SpanId::default(),
            parent_span_id: None,
            name: "carts.sock-shop.svc.cluster.local:80/*".into(),
            kind: SpanKind::Server,
            service: "carts".into(),
            start: Timestamp(0),
            end: Timestamp(1_500_000_000),
            attributes: vec![("http.status_code".into(), AttributeValue::Str("503".into()))],
            resource: vec![(
                "service.name".into(),
                AttributeValue::Str("carts.sock-shop".into()),
            )],
            status: SpanStatus {
                code: StatusCode::Error,
                message: String::new(),
            },
        };
        let query = TraceQuery::parse_traceql(
            r#"{ resource.service.name = "carts.sock-shop" && status = error && duration > 1s }"#,
        )
        .expect("valid");
        assert!(query.matches(&span));
        assert!(
            TraceQuery::parse_traceql(r#"{ span.http.status_code >= 500 }"#)
                .expect("valid")
                .matches(&span)
        );
        assert!(
            !TraceQuery::parse_traceql(r#"{ .http.status_code < 500 }"#)
                .expect("valid")
                .matches(&span)
        );
        assert!(TraceQuery::parse_traceql("{ bogus = 1 }").is_err());
        assert!(
            TraceQuery::parse_tags("service.name=CARTS", Some("1s"), None)
                .expect("valid")
                .matches(&span)
        );
        assert!(
            !TraceQuery::parse_tags("service.name=orders", None, None)
                .expect("valid")
                .matches(&span)
        );
    }
}
