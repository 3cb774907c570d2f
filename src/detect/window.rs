//! Window grids and the time-range syntax of `--baseline` / `--window`.
//!
//! Invariant: pure. "Now" never enters; relative times are offsets from a data start that the
//! caller passes in.

use crate::model::time::parse_duration;
use crate::model::{TimeRange, Timestamp};
use std::time::Duration;

/// Consecutive, equal windows `[start + i·step, start + (i+1)·step)` covering a range (the last
/// one may stick out past the range end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowGrid {
    /// Start of window 0.
    pub start: Timestamp,
    /// Window length (never zero).
    pub step: Duration,
    /// Number of windows.
    pub count: usize,
}

impl WindowGrid {
    /// Windows of `step` covering `range` (a zero step is taken as one second).
    #[must_use]
    pub fn covering(range: TimeRange, step: Duration) -> Self {
        let step = step.max(Duration::from_secs(1));
        let span = range.duration().as_nanos();
        let step_nanos = step.as_nanos();
        let count = usize::try_from(span.div_ceil(step_nanos)).unwrap_or(usize::MAX);
        Self {
            start: range.start,
            step,
            count,
        }
    }

    /// Window `index`.
    #[must_use]
    pub fn window(&self, index: usize) -> TimeRange {
        let start = self
            .start
            .plus(self.step * u32::try_from(index).unwrap_or(u32::MAX));
        TimeRange {
            start,
            end: start.plus(self.step),
        }
    }

    /// All windows in order.
    pub fn windows(&self) -> impl Iterator<Item = TimeRange> + '_ {
        (0..self.count).map(|index| self.window(index))
    }

    /// Start of every window.
    #[must_use]
    pub fn starts(&self) -> Vec<Timestamp> {
        self.windows().map(|window| window.start).collect()
    }

    /// The window holding `t`, if any.
    #[must_use]
    pub fn index_of(&self, t: Timestamp) -> Option<usize> {
        if t < self.start {
            return None;
        }
        let offset = u128::try_from(t.as_nanos() - self.start.as_nanos()).ok()?;
        let index = usize::try_from(offset / self.step.as_nanos()).ok()?;
        (index < self.count).then_some(index)
    }

    /// The covered range `[start, end of the last window)`.
    #[must_use]
    pub fn range(&self) -> TimeRange {
        TimeRange {
            start: self.start,
            end: self.window(self.count).start,
        }
    }
}

/// A bad `--baseline` / `--window` range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// No `..` separator.
    #[error("time range `{0}` lacks `..` (write START..END, e.g. 0m..10m)")]
    MissingSeparator(String),
    /// An end point is neither RFC 3339 nor a duration.
    #[error("`{0}` is neither an RFC 3339 time nor a duration offset like 10m")]
    BadPoint(String),
    /// End before start.
    #[error("time range `{0}` ends before it starts")]
    Reversed(String),
}

/// Parses `START..END` where each end is RFC 3339 (`2025-01-01T00:10:00Z`) or a duration offset
/// from `data.start` (`0m`, `90s`, `1h5m`); an empty end means the data's own end (`10m..`).
///
/// # Errors
/// When the text is not a range of that shape, or it is reversed.
pub fn parse_range(text: &str, data: TimeRange) -> Result<TimeRange, RangeError> {
    let (from, to) = text
        .split_once("..")
        .ok_or_else(|| RangeError::MissingSeparator(text.to_owned()))?;
    let point = |part: &str, default: Timestamp| -> Result<Timestamp, RangeError> {
        let part = part.trim();
        if part.is_empty() {
            return Ok(default);
        }
        if let Some(t) = Timestamp::parse_rfc3339(part) {
            return Ok(t);
        }
        parse_duration(part)
            .map(|offset| data.start.plus(offset))
            .map_err(|_| RangeError::BadPoint(part.to_owned()))
    };
    let start = point(from, data.start)?;
    let end = point(to, data.end)?;
    TimeRange::new(start, end).ok_or_else(|| RangeError::Reversed(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> TimeRange {
        TimeRange::new(Timestamp::from_secs(1000), Timestamp::from_secs(2800)).expect("ordered")
    }

    #[test]
    fn grids_cover_ranges_and_find_windows() {
        let grid = WindowGrid::covering(data(), Duration::from_secs(60));
        assert_eq!(grid.count, 30);
        assert_eq!(grid.index_of(Timestamp::from_secs(1059)), Some(0));
        assert_eq!(grid.index_of(Timestamp::from_secs(1060)), Some(1));
        assert_eq!(grid.index_of(Timestamp::from_secs(999)), None);
        assert_eq!(grid.index_of(Timestamp::from_secs(2800)), None);
        assert_eq!(grid.range(), data());
        let odd = WindowGrid::covering(
            TimeRange::new(Timestamp::from_secs(0), Timestamp::from_secs(90)).expect("ordered"),
            Duration::from_secs(60),
        );
        assert_eq!(odd.count, 2);
    }

    #[test]
    fn ranges_parse_relative_and_absolute() {
        let range = parse_range("0m..10m", data()).expect("relative");
        assert_eq!(range.start, Timestamp::from_secs(1000));
        assert_eq!(range.end, Timestamp::from_secs(1600));
        let open = parse_range("10m..", data()).expect("open end");
        assert_eq!(open.end, data().end);
        let absolute =
            parse_range("1970-01-01T00:20:00Z..1970-01-01T00:30:00Z", data()).expect("rfc3339");
        assert_eq!(absolute.start, Timestamp::from_secs(1200));
        assert!(matches!(
            parse_range("10m", data()),
            Err(RangeError::MissingSeparator(_))
        ));
        assert!(matches!(
            parse_range("10m..5m", data()),
            Err(RangeError::Reversed(_))
        ));
        assert!(matches!(
            parse_range("soon..later", data()),
            Err(RangeError::BadPoint(_))
        ));
    }
}
