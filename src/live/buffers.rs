//! Bounded buffers of live telemetry: a ring of items with a fixed capacity, and metric series
//! trimmed to a time horizon. Memory stays bounded however long the console runs.

use crate::model::{Labels, Sample, Series, Timestamp};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// A first-in first-out buffer that drops the oldest item beyond `capacity`.
#[derive(Debug, Clone)]
pub struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> Ring<T> {
    /// An empty ring holding at most `capacity` items (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Appends, dropping the oldest items when full.
    pub fn push(&mut self, item: T) {
        while self.items.len() >= self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    /// Appends every item.
    pub fn extend(&mut self, items: impl IntoIterator<Item = T>) {
        for item in items {
            self.push(item);
        }
    }

    /// Drops items from the oldest end while `stale` says so (items arrive roughly in time
    /// order, so this trims a ring to a time horizon).
    pub fn drop_front_while(&mut self, stale: impl Fn(&T) -> bool) {
        while self.items.front().is_some_and(&stale) {
            self.items.pop_front();
        }
    }

    /// Number of items held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Items, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.items.iter()
    }

    /// The capacity.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Metric series keyed by their labels, each trimmed to samples newer than a horizon.
#[derive(Debug, Clone, Default)]
pub struct SeriesBuffer {
    series: BTreeMap<Labels, VecDeque<Sample>>,
    horizon: Duration,
}

impl SeriesBuffer {
    /// An empty buffer keeping `horizon` of history.
    #[must_use]
    pub fn new(horizon: Duration) -> Self {
        Self {
            series: BTreeMap::new(),
            horizon,
        }
    }

    /// Appends the samples of one scrape (or one range query) and forgets what is older than
    /// the horizon. Samples not newer than a series' last one are dropped: consecutive range
    /// queries share their boundary sample, and an out-of-order sample would break the
    /// detectors' time order.
    pub fn append(&mut self, scraped: Vec<Series>, now: Timestamp) {
        self.append_keeping(scraped, now.minus(self.horizon));
    }

    /// As [`SeriesBuffer::append`], forgetting only samples older than `oldest` (a caller
    /// holding an older baseline keeps more than the horizon).
    pub fn append_keeping(&mut self, scraped: Vec<Series>, oldest: Timestamp) {
        for one in scraped {
            let samples = self.series.entry(one.labels).or_default();
            for sample in one.samples {
                if samples
                    .back()
                    .is_none_or(|last| sample.timestamp > last.timestamp)
                {
                    samples.push_back(sample);
                }
            }
        }
        for samples in self.series.values_mut() {
            while samples.front().is_some_and(|s| s.timestamp < oldest) {
                samples.pop_front();
            }
        }
        self.series.retain(|_, samples| !samples.is_empty());
    }

    /// Every series restricted to samples at or after `from`.
    #[must_use]
    pub fn since(&self, from: Timestamp) -> Vec<Series> {
        self.series
            .iter()
            .filter_map(|(labels, samples)| {
                let kept: Vec<Sample> = samples
                    .iter()
                    .filter(|s| s.timestamp >= from)
                    .copied()
                    .collect();
                (!kept.is_empty()).then(|| Series {
                    labels: labels.clone(),
                    samples: kept,
                })
            })
            .collect()
    }

    /// Number of series held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether it holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_items() {
        let mut ring = Ring::new(3);
        ring.extend(1..=5);
        assert_eq!(ring.iter().copied().collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(ring.len(), 3);
        ring.drop_front_while(|&i| i < 5);
        assert_eq!(ring.iter().copied().collect::<Vec<_>>(), vec![5]);
    }

    #[test]
    fn series_are_trimmed_to_the_horizon() {
        let mut buffer = SeriesBuffer::new(Duration::from_secs(30));
        let labels: Labels = [("__name__".to_owned(), "up".to_owned())].into();
        for t in [0, 15, 30, 45, 60] {
            buffer.append(
                vec![Series {
                    labels: labels.clone(),
                    samples: vec![Sample {
                        timestamp: Timestamp::from_secs(t),
                        value: 1.0,
                    }],
                }],
                Timestamp::from_secs(t),
            );
        }
        let all = buffer.since(Timestamp::from_secs(0));
        let times: Vec<i64> = all[0].samples.iter().map(|s| s.timestamp.0).collect();
        assert_eq!(
            times,
            vec![30, 45, 60]
                .into_iter()
                .map(|t| Timestamp::from_secs(t).0)
                .collect::<Vec<_>>()
        );
        assert_eq!(buffer.since(Timestamp::from_secs(50))[0].samples.len(), 1);
    }

    #[test]
    fn a_held_baseline_keeps_samples_past_the_horizon() {
        let mut buffer = SeriesBuffer::new(Duration::from_secs(30));
        let labels: Labels = [("__name__".to_owned(), "up".to_owned())].into();
        for t in [0, 15, 30, 45, 60] {
            let one = vec![Series {
                labels: labels.clone(),
                samples: vec![Sample {
                    timestamp: Timestamp::from_secs(t),
                    value: 1.0,
                }],
            }];
            buffer.append_keeping(one, Timestamp::from_secs(10));
        }
        let times: Vec<i64> = buffer.since(Timestamp::from_secs(0))[0]
            .samples
            .iter()
            .map(|s| s.timestamp.0 / 1_000_000_000)
            .collect();
        assert_eq!(times, vec![15, 30, 45, 60]);
    }

    #[test]
    fn overlapping_range_queries_keep_each_sample_once() {
        let mut buffer = SeriesBuffer::new(Duration::from_secs(600));
        let labels: Labels = [("__name__".to_owned(), "up".to_owned())].into();
        let series = |times: &[i64]| Series {
            labels: labels.clone(),
            samples: times
                .iter()
                .map(|&t| Sample {
                    timestamp: Timestamp::from_secs(t),
                    value: 1.0,
                })
                .collect(),
        };
        buffer.append(vec![series(&[0, 15, 30])], Timestamp::from_secs(30));
        buffer.append(vec![series(&[30, 45, 10, 60])], Timestamp::from_secs(60));
        let times: Vec<i64> = buffer.since(Timestamp(0))[0]
            .samples
            .iter()
            .map(|s| s.timestamp.0 / 1_000_000_000)
            .collect();
        assert_eq!(times, vec![0, 15, 30, 45, 60]);
    }
}
