//! Timestamps and time ranges, in nanoseconds since the Unix epoch (UTC).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A point in time: nanoseconds since the Unix epoch, UTC.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Timestamp {
    /// Builds a timestamp from whole seconds since the epoch.
    #[must_use]
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// Builds a timestamp from milliseconds since the epoch.
    #[must_use]
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis.saturating_mul(1_000_000))
    }

    /// Builds a timestamp from fractional seconds (as Prometheus writes them), rounded to the
    /// nearest microsecond to absorb float noise. Returns `None` for non-finite or out-of-range input.
    #[must_use]
    pub fn from_secs_f64(secs: f64) -> Option<Self> {
        if !secs.is_finite() || secs.abs() > 9.2e9 {
            return None;
        }
        let micros = (secs * 1e6).round();
        #[allow(clippy::cast_possible_truncation)]
        Some(Self((micros as i64).saturating_mul(1_000)))
    }

    /// Nanoseconds since the epoch.
    #[must_use]
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole milliseconds since the epoch (floored).
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Whole seconds since the epoch (floored).
    #[must_use]
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    /// Seconds since the epoch with fraction.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn as_secs_f64(self) -> f64 {
        self.as_secs() as f64 + self.0.rem_euclid(NANOS_PER_SEC) as f64 / 1e9
    }

    /// Returns this timestamp moved forward by `duration` (saturating).
    #[must_use]
    pub fn plus(self, duration: Duration) -> Self {
        let nanos = i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(nanos))
    }

    /// Returns this timestamp moved backward by `duration` (saturating).
    #[must_use]
    pub fn minus(self, duration: Duration) -> Self {
        let nanos = i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(nanos))
    }

    /// The non-negative duration from `earlier` to `self`; zero if `earlier` is later.
    #[must_use]
    pub fn since(self, earlier: Self) -> Duration {
        let delta = self.0.saturating_sub(earlier.0);
        Duration::from_nanos(u64::try_from(delta).unwrap_or(0))
    }

    /// RFC 3339 text with nanoseconds, e.g. `2025-01-01T00:00:00.000000000Z`.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        self.format("%Y-%m-%dT%H:%M:%S%.9fZ")
    }

    /// Formats the timestamp with a `chrono` strftime pattern, in UTC.
    #[must_use]
    pub fn format(self, pattern: &str) -> String {
        let datetime = chrono::DateTime::from_timestamp_nanos(self.0);
        datetime.format(pattern).to_string()
    }

    /// Parses RFC 3339 text (`2025-01-01T00:00:00Z`, with or without fraction or offset).
    #[must_use]
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let datetime = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
        datetime.timestamp_nanos_opt().map(Self)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

/// A half-open time range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeRange {
    /// Inclusive start.
    pub start: Timestamp,
    /// Exclusive end.
    pub end: Timestamp,
}

impl TimeRange {
    /// Builds a range; returns `None` when `end` is before `start`.
    #[must_use]
    pub fn new(start: Timestamp, end: Timestamp) -> Option<Self> {
        (end >= start).then_some(Self { start, end })
    }

    /// Whether `t` lies inside the range.
    #[must_use]
    pub fn contains(&self, t: Timestamp) -> bool {
        t >= self.start && t < self.end
    }

    /// Length of the range.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.end.since(self.start)
    }

    /// Whether two ranges share any instant.
    #[must_use]
    pub fn overlaps(&self, other: &Self) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Parses a Go/Prometheus style duration: `90s`, `5m`, `1h30m`, `200ms`, `1.5s`, `250us`, `10ns`, `2d`.
///
/// # Errors
/// Returns a message naming the offending text when it is not a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_owned());
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total_nanos: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("duration `{text}` lacks a unit (use ms, s, m, h)"))?;
        if number_len == 0 {
            return Err(format!(
                "duration `{text}` is not a number followed by a unit"
            ));
        }
        let value: f64 = rest[..number_len]
            .parse()
            .map_err(|_| format!("duration `{text}` has a bad number"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            "w" => 604_800e9,
            _ => {
                return Err(format!(
                    "duration `{text}` has unknown unit `{unit}` (use ms, s, m, h)"
                ));
            }
        };
        total_nanos += value * scale;
    }
    if !total_nanos.is_finite() || total_nanos > 1e18 {
        return Err(format!("duration `{text}` is too long"));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Duration::from_nanos(total_nanos.round() as u64))
}

/// Formats a duration the way Go and Prometheus write it, e.g. `10m`, `1h30m`, `250ms`.
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return format!("{}ns", duration.as_nanos());
    }
    if !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let mut secs = duration.as_secs();
    let mut out = String::new();
    let hours = secs / 3600;
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
        secs %= 3600;
    }
    let minutes = secs / 60;
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
        secs %= 60;
    }
    if secs > 0 || out.is_empty() {
        out.push_str(&format!("{secs}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn durations_format_round_trip() {
        for text in ["10m", "1h30m", "250ms", "45s", "2h"] {
            let parsed = parse_duration(text).expect("valid");
            assert_eq!(format_duration(parsed), text);
        }
    }

    #[test]
    fn timestamps_convert_between_units() {
        let t = Timestamp::from_secs(1_735_689_600);
        assert_eq!(t.to_rfc3339(), "2025-01-01T00:00:00.000000000Z");
        assert_eq!(Timestamp::parse_rfc3339("2025-01-01T00:00:00Z"), Some(t));
        assert_eq!(
            Timestamp::from_secs_f64(1_735_689_600.5),
            Some(t.plus(Duration::from_millis(500)))
        );
        assert_eq!(Timestamp::from_secs_f64(f64::NAN), None);
        assert!((t.as_secs_f64() - 1_735_689_600.0).abs() < 1e-6);
        let range = TimeRange::new(t, t.plus(Duration::from_secs(60))).expect("ordered");
        assert!(range.contains(t));
        assert!(!range.contains(range.end));
        assert!(TimeRange::new(range.end, range.start).is_none());
    }
}
