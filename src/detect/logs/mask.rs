//! Hand-written tokenizer and variable masker for log lines (no regex on the hot path).
//!
//! A line is split on ASCII whitespace. Each token is stripped of surrounding punctuation
//! (quotes, brackets, trailing `,;:.`), classified, and when it is a variable replaced by a
//! mask (`<NUM>`, `<HEX>`, `<UUID>`, `<IP>`, `<TS>`, `<DUR>`, `<PATH>`, `<URL>`, `<EMAIL>`) with
//! its punctuation kept: `"10.0.0.1:8080",` → `"<IP>",`. `key=value` tokens keep the key and
//! mask the value. HTTP paths with a single segment (`/orders`) are kept: they name the
//! endpoint; paths with two or more segments are masked.
//!
//! Invariants: never panics on any input (slicing happens only at ASCII byte positions); does
//! not allocate except by growing the caller's output buffer.

/// The kind of variable a token was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mask {
    /// Integer or decimal number (optionally signed, with exponent).
    Num,
    /// Hexadecimal id (`0x…`, or ≥ 8 hex digits with at least one digit and one letter).
    Hex,
    /// UUID (8-4-4-4-12 hex).
    Uuid,
    /// IPv4 or IPv6 address, optionally with a port.
    Ip,
    /// Date, time or timestamp.
    Ts,
    /// Duration with a unit (`12ms`, `1.5s`, `1m30s`).
    Dur,
    /// File or URL path with two or more segments.
    Path,
    /// URL with a scheme.
    Url,
    /// E-mail address.
    Email,
}

impl Mask {
    /// The text that replaces the variable.
    #[must_use]
    pub const fn text(self) -> &'static str {
        match self {
            Self::Num => "<NUM>",
            Self::Hex => "<HEX>",
            Self::Uuid => "<UUID>",
            Self::Ip => "<IP>",
            Self::Ts => "<TS>",
            Self::Dur => "<DUR>",
            Self::Path => "<PATH>",
            Self::Url => "<URL>",
            Self::Email => "<EMAIL>",
        }
    }
}

const LEADING: &[u8] = b"\"'([{<";
const TRAILING: &[u8] = b"\"')]}>,;:.%!?";

/// Splits `line` on ASCII whitespace, calling `each` with every token.
pub fn for_each_token<'a>(line: &'a str, mut each: impl FnMut(&'a str)) {
    for token in line.split_ascii_whitespace() {
        each(token);
    }
}

/// Writes the masked form of `token` into `out` (cleared first) and returns the mask applied,
/// if any. `out` equals `token` when nothing is masked.
pub fn mask_token(token: &str, out: &mut String) -> Option<Mask> {
    out.clear();
    let bytes = token.as_bytes();
    // Bracketed IPv6 with a port: `[::1]:8080`.
    if bytes.first() == Some(&b'[')
        && let Some(close) = token.find(']')
    {
        let inner = &token[1..close];
        let rest = &token[close + 1..];
        if is_ipv6(inner.as_bytes()) && (rest.is_empty() || is_port_suffix(rest.as_bytes())) {
            out.push_str(Mask::Ip.text());
            return Some(Mask::Ip);
        }
    }
    let mut start = 0;
    while start < bytes.len() && LEADING.contains(&bytes[start]) {
        start += 1;
    }
    let mut end = bytes.len();
    while end > start && TRAILING.contains(&bytes[end - 1]) {
        end -= 1;
    }
    let core = &token[start..end];
    if let Some(mask) = classify(core.as_bytes()) {
        out.push_str(&token[..start]);
        out.push_str(mask.text());
        out.push_str(&token[end..]);
        return Some(mask);
    }
    // key=value (also key:value is left alone: too many false positives).
    if let Some(eq) = core.find('=')
        && eq > 0
        && eq + 1 < core.len()
    {
        let value = &core[eq + 1..];
        let value_bytes = value.as_bytes();
        let mut value_start = 0;
        while value_start < value_bytes.len() && LEADING.contains(&value_bytes[value_start]) {
            value_start += 1;
        }
        let value_core = &value[value_start..];
        if let Some(mask) = classify(value_core.as_bytes()) {
            out.push_str(&token[..start + eq + 1 + value_start]);
            out.push_str(mask.text());
            out.push_str(&token[end..]);
            return Some(mask);
        }
    }
    out.push_str(token);
    None
}

/// Masks a whole line: tokens joined by single spaces.
#[must_use]
pub fn mask_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut buffer = String::new();
    for_each_token(line, |token| {
        mask_token(token, &mut buffer);
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&buffer);
    });
    out
}

/// Classifies a stripped token.
#[must_use]
pub fn classify(t: &[u8]) -> Option<Mask> {
    let first = *t.first()?;
    if t.len() == 1 {
        return first.is_ascii_digit().then_some(Mask::Num);
    }
    if starts_with_ignore_case(t, b"http://") || starts_with_ignore_case(t, b"https://") {
        return Some(Mask::Url);
    }
    // Fast path: every other mask but e-mails, paths and `::`-IPv6 needs a digit.
    if !t.iter().any(u8::is_ascii_digit) {
        if t.contains(&b'@') && is_email(t) {
            return Some(Mask::Email);
        }
        if t.windows(2).any(|w| w == b"::") && is_ipv6(t) {
            return Some(Mask::Ip);
        }
        return is_path(t).then_some(Mask::Path);
    }
    if is_number(t) {
        return Some(Mask::Num);
    }
    if is_uuid(t) {
        return Some(Mask::Uuid);
    }
    if is_ipv4_port(t) || is_ipv6(t) {
        return Some(Mask::Ip);
    }
    if is_timestamp(t) {
        return Some(Mask::Ts);
    }
    if is_duration(t) {
        return Some(Mask::Dur);
    }
    if is_hex(t) {
        return Some(Mask::Hex);
    }
    if is_email(t) {
        return Some(Mask::Email);
    }
    if is_path(t) {
        return Some(Mask::Path);
    }
    None
}

fn starts_with_ignore_case(t: &[u8], prefix: &[u8]) -> bool {
    t.len() >= prefix.len() && t[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn digits(t: &[u8]) -> usize {
    t.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// `[+-]digits[.digits][e[+-]digits]`, also `.5`.
fn number_len(t: &[u8]) -> usize {
    let mut i = usize::from(matches!(t.first(), Some(b'+' | b'-')));
    let integer = digits(&t[i..]);
    i += integer;
    let mut fraction = 0;
    if t.get(i) == Some(&b'.') {
        fraction = digits(&t[i + 1..]);
        if fraction > 0 {
            i += 1 + fraction;
        }
    }
    if integer == 0 && fraction == 0 {
        return 0;
    }
    if matches!(t.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(t.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exponent = digits(t.get(j..).unwrap_or_default());
        if exponent > 0 {
            i = j + exponent;
        }
    }
    i
}

fn is_number(t: &[u8]) -> bool {
    let n = number_len(t);
    n > 0 && n == t.len()
}

fn is_hex_run(t: &[u8]) -> bool {
    !t.is_empty() && t.iter().all(u8::is_ascii_hexdigit)
}

fn is_uuid(t: &[u8]) -> bool {
    t.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| t[i] == b'-')
        && t.iter()
            .enumerate()
            .all(|(i, b)| matches!(i, 8 | 13 | 18 | 23) || b.is_ascii_hexdigit())
}

fn is_hex(t: &[u8]) -> bool {
    if t.len() > 2 && t[0] == b'0' && matches!(t[1], b'x' | b'X') {
        return is_hex_run(&t[2..]);
    }
    t.len() >= 8
        && is_hex_run(t)
        && t.iter().any(u8::is_ascii_digit)
        && t.iter().any(u8::is_ascii_alphabetic)
}

fn is_port_suffix(t: &[u8]) -> bool {
    t.len() >= 2 && t[0] == b':' && t.len() <= 6 && t[1..].iter().all(u8::is_ascii_digit)
}

/// Four dot-separated decimal parts of 1 to 3 digits, each ≤ 255 (one pass).
fn is_ipv4(t: &[u8]) -> bool {
    let mut parts = 1;
    let (mut len, mut value) = (0_u32, 0_u32);
    for &b in t {
        if b.is_ascii_digit() {
            len += 1;
            value = value * 10 + u32::from(b - b'0');
            if len > 3 {
                return false;
            }
        } else if b == b'.' {
            if len == 0 || value > 255 || parts == 4 {
                return false;
            }
            parts += 1;
            (len, value) = (0, 0);
        } else {
            return false;
        }
    }
    parts == 4 && len > 0 && value <= 255
}

/// IPv4, optionally `:port` or `/prefix`.
fn is_ipv4_port(t: &[u8]) -> bool {
    // The address ends at the first `:` or `/`; any other byte that is neither a digit nor a
    // dot before it already rules out an address.
    let cut = t
        .iter()
        .position(|&b| !(b.is_ascii_digit() || b == b'.'))
        .unwrap_or(t.len());
    if cut < t.len() && !matches!(t[cut], b':' | b'/') {
        return false;
    }
    let (address, rest) = t.split_at(cut);
    if !is_ipv4(address) {
        return false;
    }
    rest.is_empty()
        || is_port_suffix(rest)
        || (rest[0] == b'/' && rest.len() <= 3 && rest[1..].iter().all(u8::is_ascii_digit))
}

fn is_ipv6(t: &[u8]) -> bool {
    if t.len() < 2 || t.len() > 45 {
        return false;
    }
    // One pass: colons, `::`, and an early no for any byte that no group or IPv4 tail allows.
    let mut colons = 0;
    let mut double = false;
    let mut previous = 0;
    for &b in t {
        if b == b':' {
            colons += 1;
            double |= previous == b':';
        } else if !(b.is_ascii_hexdigit() || b == b'.') {
            return false;
        }
        previous = b;
    }
    if !(double && colons >= 2 || colons == 7) {
        return false;
    }
    // An embedded IPv4 tail is allowed (`::ffff:10.0.0.1`).
    let last_colon = t.iter().rposition(|&b| b == b':').unwrap_or(0);
    let (head, tail) = t.split_at(last_colon + 1);
    let tail_ok = tail.is_empty() || is_ipv4(tail) || (tail.len() <= 4 && is_hex_run(tail));
    let head_ok = head
        .split(|&b| b == b':')
        .all(|group| group.len() <= 4 && group.iter().all(u8::is_ascii_hexdigit));
    tail_ok && head_ok && t.iter().any(u8::is_ascii_hexdigit)
}

/// `YYYY-MM-DD`, `YYYY/MM/DD`, `HH:MM:SS[.fff]`, and ISO 8601 combinations with `T`, `Z` and
/// offsets.
fn is_timestamp(t: &[u8]) -> bool {
    let date = t.len() >= 10
        && t[..4].iter().all(u8::is_ascii_digit)
        && matches!(t[4], b'-' | b'/')
        && t[5..7].iter().all(u8::is_ascii_digit)
        && t[7] == t[4]
        && t[8..10].iter().all(u8::is_ascii_digit);
    let rest = if date { &t[10..] } else { t };
    if date && rest.is_empty() {
        return true;
    }
    let rest = if date {
        match rest.first() {
            Some(b'T' | b't' | b'_') => &rest[1..],
            _ => return false,
        }
    } else {
        rest
    };
    // HH:MM[:SS[.fff]] then optional Z / +hh[:]mm.
    if rest.len() < 5
        || !rest[..2].iter().all(u8::is_ascii_digit)
        || rest[2] != b':'
        || !rest[3..5].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let mut i = 5;
    if rest.get(i) == Some(&b':') {
        if rest.len() < i + 3 || !rest[i + 1..i + 3].iter().all(u8::is_ascii_digit) {
            return false;
        }
        i += 3;
        if matches!(rest.get(i), Some(b'.' | b',')) {
            let fraction = digits(&rest[i + 1..]);
            if fraction == 0 {
                return false;
            }
            i += 1 + fraction;
        }
    } else if !date {
        return false; // `12:30` alone is too ambiguous
    }
    let zone = &rest[i..];
    zone.is_empty()
        || zone == b"Z"
        || zone == b"z"
        || (matches!(zone[0], b'+' | b'-')
            && zone.len() <= 6
            && zone[1..].iter().all(|b| b.is_ascii_digit() || *b == b':'))
}

/// `12ms`, `1.5s`, `250us`, `3µs`, `1m30s`, `2h`, `10min`.
fn is_duration(t: &[u8]) -> bool {
    let mut i = 0;
    let mut parts = 0;
    while i < t.len() {
        let n = number_len(&t[i..]);
        if n == 0 || matches!(t[i], b'+' | b'-') && parts > 0 {
            return false;
        }
        i += n;
        let unit_start = i;
        while i < t.len() && (t[i].is_ascii_alphabetic() || t[i] >= 0x80) {
            i += 1;
        }
        let unit = &t[unit_start..i];
        if !matches!(
            unit,
            b"ns"
                | b"us"
                | b"\xc2\xb5s"
                | b"\xce\xbcs"
                | b"ms"
                | b"s"
                | b"sec"
                | b"secs"
                | b"m"
                | b"min"
                | b"mins"
                | b"h"
                | b"d"
        ) {
            return false;
        }
        parts += 1;
    }
    parts > 0
}

fn is_email(t: &[u8]) -> bool {
    let Some(at) = t.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&t[..at], &t[at + 1..]);
    !local.is_empty()
        && local
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(b))
        && domain.len() >= 3
        && domain.contains(&b'.')
        && domain
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b".-".contains(b))
        && domain.first().is_some_and(u8::is_ascii_alphanumeric)
        && domain.last().is_some_and(u8::is_ascii_alphabetic)
}

fn is_path(t: &[u8]) -> bool {
    let body = if t.starts_with(b"./") || t.starts_with(b"~/") {
        &t[1..]
    } else {
        t
    };
    if body.first() != Some(&b'/') {
        return false;
    }
    let segments = body[1..]
        .split(|&b| b == b'/')
        .filter(|s| !s.is_empty())
        .count();
    segments >= 2 && !body.windows(2).any(|w| w == b"//")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(token: &str) -> String {
        let mut out = String::new();
        mask_token(token, &mut out);
        out
    }

    #[test]
    fn masks_each_variable_kind() {
        let cases = [
            ("42", "<NUM>"),
            ("-3.25e-4", "<NUM>"),
            ("0x7fff5a", "<HEX>"),
            ("57a98d98e4b00679b4a830af", "<HEX>"),
            ("deadbeef", "deadbeef"),
            ("123e4567-e89b-12d3-a456-426614174000", "<UUID>"),
            ("10.0.0.12", "<IP>"),
            ("10.0.0.12:8080", "<IP>"),
            ("10.0.0.0/16", "<IP>"),
            ("fe80::1ff:fe23:4567:890a", "<IP>"),
            ("[::1]:8080", "<IP>"),
            ("2001:db8:0:0:0:0:2:1", "<IP>"),
            ("2024-03-01T12:00:00.123Z", "<TS>"),
            ("2024-03-01", "<TS>"),
            ("12:00:00.123", "<TS>"),
            ("2024-03-01T12:00:00+0000", "<TS>"),
            ("12ms", "<DUR>"),
            ("1.5s", "<DUR>"),
            ("1m30s", "<DUR>"),
            ("250µs", "<DUR>"),
            ("/var/log/app.log", "<PATH>"),
            ("/carts/57a9/items", "<PATH>"),
            ("/orders", "/orders"),
            ("http://carts:80/carts", "<URL>"),
            ("user@example.com", "<EMAIL>"),
            ("ERROR", "ERROR"),
            ("1.2.3", "1.2.3"),
            ("256.1.1.1", "256.1.1.1"),
            ("12:30", "12:30"),
            ("conn12", "conn12"),
            ("s", "s"),
        ];
        for (input, expected) in cases {
            assert_eq!(masked(input), expected, "input {input}");
        }
    }

    #[test]
    fn keeps_punctuation_and_keys() {
        assert_eq!(masked("\"10.0.0.1:8080\","), "\"<IP>\",");
        assert_eq!(masked("(12ms)"), "(<DUR>)");
        assert_eq!(masked("status=503"), "status=<NUM>");
        assert_eq!(masked("took=\"1.5s\""), "took=\"<DUR>\"");
        assert_eq!(masked("method=Get"), "method=Get");
        assert_eq!(masked("50%"), "<NUM>%");
        assert_eq!(masked("[nio-80-exec-4]"), "[nio-80-exec-4]");
    }

    #[test]
    fn masks_a_whole_line_and_normalises_spaces() {
        assert_eq!(
            mask_line("GET  /orders 200 12.5 ms - 342"),
            "GET /orders <NUM> <NUM> ms - <NUM>"
        );
        assert_eq!(
            mask_line("dial tcp 10.0.3.4:27017: i/o timeout"),
            "dial tcp <IP>: i/o timeout"
        );
        assert_eq!(mask_line(""), "");
    }

    #[test]
    fn odd_bytes_do_not_panic() {
        for token in [
            "[", "]", "[]:", "=", "a=", "=b", "é=1", "[é]:1", "0x", "::", "µs", "1µ",
        ] {
            let _ = masked(token);
        }
    }
}
