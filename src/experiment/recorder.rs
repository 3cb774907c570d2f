//! Records an experiment as it runs: one observation per analysis step (detector flags, the
//! ranking's top service, golden signals), the milestones (fault start, first anomaly, first
//! correct ranking, fault end, recovery), and at the end a report with MTTD, MTTR, golden-signal
//! changes, SLO impact and the detectors' confusion matrix.

use super::slo::{SloConfig, SloImpact, impact};
use crate::model::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// When the fault is (or was) injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Recording start (baseline begins).
    pub start: Timestamp,
    /// Fault injected.
    pub fault_start: Timestamp,
    /// Fault removed.
    pub fault_end: Timestamp,
}

/// Golden signals of one service over one analysis step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GoldenSnapshot {
    /// Requests per second.
    pub rps: f64,
    /// Failed share of requests, 0–1.
    pub error_ratio: f64,
    /// p99 latency, ms (NaN when no requests).
    pub p99_ms: f64,
}

/// What the detectors and the network said at one step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observation {
    /// End of the analysed window.
    pub at: Timestamp,
    /// Length of the step.
    pub step: Duration,
    /// Per detector family (`logs`, `traces`, `metrics`, `combined`): whether it flagged the step.
    pub flags: BTreeMap<String, bool>,
    /// The top of the ranking, when the network saw an incident.
    pub top_service: Option<String>,
    /// Golden signals per service.
    pub signals: BTreeMap<String, GoldenSnapshot>,
}

/// A timeline entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Milestone {
    /// When.
    #[serde(serialize_with = "rfc3339")]
    pub at: Timestamp,
    /// What: `fault-start`, `first-anomaly`, `root-cause-ranked-first`, `fault-end`, `recovered`.
    pub kind: String,
    /// Details.
    pub detail: String,
}

fn rfc3339<S: serde::Serializer>(t: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&t.to_rfc3339())
}

/// Confusion matrix of a detector family over the analysis steps.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Confusion {
    /// Fault steps flagged.
    pub true_positives: u32,
    /// Normal steps flagged.
    pub false_positives: u32,
    /// Normal steps not flagged.
    pub true_negatives: u32,
    /// Fault steps missed.
    pub false_negatives: u32,
}

impl Confusion {
    /// TP / (TP + FP); 1 when nothing was flagged.
    #[must_use]
    pub fn precision(&self) -> f64 {
        let flagged = self.true_positives + self.false_positives;
        if flagged == 0 {
            1.0
        } else {
            f64::from(self.true_positives) / f64::from(flagged)
        }
    }

    /// TP / (TP + FN); 1 when there was nothing to find.
    #[must_use]
    pub fn recall(&self) -> f64 {
        let faulty = self.true_positives + self.false_negatives;
        if faulty == 0 {
            1.0
        } else {
            f64::from(self.true_positives) / f64::from(faulty)
        }
    }

    /// Harmonic mean of precision and recall.
    #[must_use]
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// Change of one golden signal of one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalChange {
    /// Service.
    pub service: String,
    /// `rps`, `error_ratio` or `p99_ms`.
    pub signal: String,
    /// Median over the baseline.
    pub baseline: f64,
    /// Median over the fault.
    pub fault: f64,
    /// Median over the recovery.
    pub recovery: f64,
}

/// The recorded experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentReport {
    /// Milestones in time order.
    pub timeline: Vec<Milestone>,
    /// Fault start → the right service ranked first.
    pub mttd_secs: Option<f64>,
    /// Fault end → every golden signal back inside its baseline band.
    pub mttr_secs: Option<f64>,
    /// Significant golden-signal changes.
    pub signal_changes: Vec<SignalChange>,
    /// SLO impact per service that had traffic.
    pub slo: Vec<SloImpact>,
    /// Confusion matrix per detector family: fault steps are positives; baseline steps and
    /// the steps after the system recovered (from the second step after the `recovered`
    /// milestone) are negatives; the steps from the fault end to there are excluded as
    /// ambiguous (the fault's after-effects), and with no recovery seen, the whole recovery
    /// phase is.
    pub detection: BTreeMap<String, Confusion>,
}

/// Collects observations of one experiment.
#[derive(Debug, Clone)]
pub struct Recorder {
    schedule: Schedule,
    expected_root_cause: Option<String>,
    observations: Vec<Observation>,
}

const SIGNALS: [&str; 3] = ["rps", "error_ratio", "p99_ms"];

/// Requests per step below which a service's p99 is not judged against a band.
const MIN_REQUESTS_FOR_P99: f64 = 100.0;

fn value(snapshot: &GoldenSnapshot, signal: &str) -> f64 {
    match signal {
        "rps" => snapshot.rps,
        "error_ratio" => snapshot.error_ratio,
        _ => snapshot.p99_ms,
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

impl Recorder {
    /// A recorder for a schedule; `expected_root_cause` is known for experiments, not for live
    /// incidents.
    #[must_use]
    pub fn new(schedule: Schedule, expected_root_cause: Option<String>) -> Self {
        Self {
            schedule,
            expected_root_cause,
            observations: Vec::new(),
        }
    }

    /// Adds one analysis step.
    pub fn observe(&mut self, observation: Observation) {
        self.observations.push(observation);
    }

    /// Observations so far.
    #[must_use]
    pub fn observations(&self) -> &[Observation] {
        &self.observations
    }

    /// The baseline band of each (service, signal): median ± max(4·MAD, floor), widened to
    /// every value the baseline itself showed. The error-ratio floor allows two failed requests
    /// per step at the service's baseline traffic (one failure in 24 requests of a quiet
    /// service is noise, not an outage). For recovery, services with fewer than 100 requests
    /// per step get no p99 band: the "p99" of so few requests is their maximum, too noisy to judge recovery by.
    fn baseline_bands(&self, for_recovery: bool) -> BTreeMap<(String, &'static str), (f64, f64)> {
        let mut values: BTreeMap<(String, &'static str), Vec<f64>> = BTreeMap::new();
        let mut step_secs = Vec::new();
        for observation in self
            .observations
            .iter()
            .filter(|o| o.at <= self.schedule.fault_start)
        {
            step_secs.push(observation.step.as_secs_f64());
            for (service, snapshot) in &observation.signals {
                for signal in SIGNALS {
                    let v = value(snapshot, signal);
                    if v.is_finite() {
                        values.entry((service.clone(), signal)).or_default().push(v);
                    }
                }
            }
        }
        let step = median(&mut step_secs);
        let baseline_rps: BTreeMap<String, f64> = values
            .iter()
            .filter(|((_, signal), _)| *signal == "rps")
            .map(|((service, _), samples)| (service.clone(), median(&mut samples.clone())))
            .collect();
        values
            .into_iter()
            .filter(|(key, _)| {
                !for_recovery
                    || key.1 != "p99_ms"
                    || baseline_rps
                        .get(&key.0)
                        .is_some_and(|rps| rps * step >= MIN_REQUESTS_FOR_P99)
            })
            .map(|(key, mut samples)| {
                let center = median(&mut samples);
                let (lowest, highest) = (samples[0], samples[samples.len() - 1]);
                let mut deviations: Vec<f64> = samples.iter().map(|v| (v - center).abs()).collect();
                let mad = median(&mut deviations);
                let floor = match key.1 {
                    "error_ratio" => {
                        let requests = baseline_rps.get(&key.0).copied().unwrap_or(0.0) * step;
                        if requests.is_finite() && requests > 0.0 {
                            (2.0 / requests).clamp(0.02, 0.5)
                        } else {
                            0.02
                        }
                    }
                    "p99_ms" => 0.5 * center.abs() + 20.0,
                    _ => 0.25 * center.abs() + 0.5,
                };
                let half_width = (4.0 * 1.4826 * mad).max(floor);
                let key_band = (
                    (center - half_width).min(lowest),
                    (center + half_width).max(highest),
                );
                (key, key_band)
            })
            .collect()
    }

    /// Whether every signal of the observation lies inside its band.
    fn inside_bands(
        observation: &Observation,
        bands: &BTreeMap<(String, &'static str), (f64, f64)>,
    ) -> bool {
        bands.iter().all(|((service, signal), (low, high))| {
            match observation.signals.get(service) {
                Some(snapshot) => {
                    let v = value(snapshot, signal);
                    !v.is_finite() || (*low..=*high).contains(&v)
                }
                // A service that stopped reporting is not back to normal.
                None => *signal != "rps" || *low <= 0.0,
            }
        })
    }

    /// Builds the report.
    #[must_use]
    pub fn finish(&self, slo_config: &SloConfig) -> ExperimentReport {
        let Schedule {
            fault_start,
            fault_end,
            ..
        } = self.schedule;
        let mut timeline = vec![Milestone {
            at: fault_start,
            kind: "fault-start".to_owned(),
            detail: "fault injected".to_owned(),
        }];
        let in_fault = |o: &&Observation| {
            o.at > fault_start && o.at <= fault_end.plus(Duration::from_secs(60))
        };
        if let Some(first) = self.observations.iter().filter(in_fault).find(|o| {
            o.flags.get("combined").copied().unwrap_or(false) || o.flags.values().any(|f| *f)
        }) {
            let families: Vec<&str> = first
                .flags
                .iter()
                .filter(|(_, f)| **f)
                .map(|(k, _)| k.as_str())
                .collect();
            timeline.push(Milestone {
                at: first.at,
                kind: "first-anomaly".to_owned(),
                detail: format!("flagged by {}", families.join(", ")),
            });
        }
        let mut mttd_secs = None;
        if let Some(expected) = &self.expected_root_cause
            && let Some(found) = self
                .observations
                .iter()
                .filter(in_fault)
                .find(|o| o.top_service.as_deref() == Some(expected.as_str()))
        {
            mttd_secs = Some(found.at.since(fault_start).as_secs_f64());
            timeline.push(Milestone {
                at: found.at,
                kind: "root-cause-ranked-first".to_owned(),
                detail: format!("{expected} ranked first"),
            });
        }
        timeline.push(Milestone {
            at: fault_end,
            kind: "fault-end".to_owned(),
            detail: "fault removed".to_owned(),
        });
        let bands = self.baseline_bands(true);
        let change_bands = self.baseline_bands(false);
        let mut mttr_secs = None;
        let mut recovered: Option<Timestamp> = None;
        let after: Vec<&Observation> = self
            .observations
            .iter()
            .filter(|o| o.at > fault_end)
            .collect();
        // Recovered: from this step on, three consecutive steps inside every band.
        for (index, observation) in after.iter().enumerate() {
            let run = &after[index..after.len().min(index + 3)];
            if run.len() == 3 && run.iter().all(|o| Self::inside_bands(o, &bands)) {
                let recovered_at = observation.at.minus(observation.step);
                mttr_secs = Some(recovered_at.since(fault_end).as_secs_f64());
                recovered = Some(recovered_at.max(fault_end));
                timeline.push(Milestone {
                    at: recovered_at.max(fault_end),
                    kind: "recovered".to_owned(),
                    detail: "every golden signal back inside its baseline band".to_owned(),
                });
                break;
            }
        }
        timeline.sort_by_key(|m| m.at);

        let mut signal_changes = Vec::new();
        let services: BTreeSet<&String> = self
            .observations
            .iter()
            .flat_map(|o| o.signals.keys())
            .collect();
        for service in &services {
            for signal in SIGNALS {
                let phase = |keep: &dyn Fn(&Observation) -> bool| -> f64 {
                    let mut values: Vec<f64> = self
                        .observations
                        .iter()
                        .filter(|o| keep(o))
                        .filter_map(|o| o.signals.get(*service))
                        .map(|s| value(s, signal))
                        .filter(|v| v.is_finite())
                        .collect();
                    median(&mut values)
                };
                let baseline = phase(&|o| o.at <= fault_start);
                let fault = phase(&|o| o.at > fault_start && o.at <= fault_end);
                let recovery = phase(&|o| o.at > fault_end);
                let band = change_bands.get(&((*service).clone(), signal));
                let outside = band.is_some_and(|(low, high)| {
                    fault.is_finite() && (fault < *low || fault > *high)
                });
                if outside || (baseline.is_finite() && !fault.is_finite()) {
                    signal_changes.push(SignalChange {
                        service: (*service).clone(),
                        signal: signal.to_owned(),
                        baseline,
                        fault,
                        recovery,
                    });
                }
            }
        }

        let mut slo = Vec::new();
        for service in &services {
            let samples: Vec<(f64, f64, f64, f64)> = self
                .observations
                .iter()
                .filter_map(|o| {
                    o.signals.get(*service).map(|s| {
                        (
                            o.step.as_secs_f64(),
                            s.rps * o.step.as_secs_f64(),
                            s.rps * s.error_ratio * o.step.as_secs_f64(),
                            s.p99_ms,
                        )
                    })
                })
                .collect();
            let mut baseline_rps: Vec<f64> = self
                .observations
                .iter()
                .filter(|o| o.at <= fault_start)
                .filter_map(|o| o.signals.get(*service))
                .map(|s| s.rps)
                .collect();
            let rps = median(&mut baseline_rps);
            if rps.is_finite() && rps > 0.0 {
                slo.push(impact(
                    service,
                    slo_config.for_service(service),
                    &samples,
                    rps,
                ));
            }
        }

        let mut detection: BTreeMap<String, Confusion> = BTreeMap::new();
        for observation in &self.observations {
            let positive = observation.at > fault_start && observation.at <= fault_end;
            // The step in which the system recovered is left out with the after-effects: the
            // detectors read it through windows and rates that reach back into the fault.
            let after_recovery = recovered.is_some_and(|at| {
                observation.at > fault_end
                    && observation.at.minus(observation.step) >= at.plus(observation.step)
            });
            let negative = observation.at <= fault_start || after_recovery;
            if !positive && !negative {
                continue;
            }
            for (family, flagged) in &observation.flags {
                let confusion = detection.entry(family.clone()).or_default();
                match (positive, *flagged) {
                    (true, true) => confusion.true_positives += 1,
                    (true, false) => confusion.false_negatives += 1,
                    (false, true) => confusion.false_positives += 1,
                    (false, false) => confusion.true_negatives += 1,
                }
            }
        }
        ExperimentReport {
            timeline,
            mttd_secs,
            mttr_secs,
            signal_changes,
            slo,
            detection,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn observation(secs: i64, flagged: bool, top: Option<&str>, errors: f64) -> Observation {
        let mut signals = BTreeMap::new();
        signals.insert(
            "orders".to_owned(),
            GoldenSnapshot {
                rps: 10.0,
                error_ratio: errors,
                p99_ms: 40.0,
            },
        );
        signals.insert(
            "shipping".to_owned(),
            GoldenSnapshot {
                rps: 2.0,
                error_ratio: errors,
                p99_ms: 30.0,
            },
        );
        Observation {
            at: at(secs),
            step: Duration::from_secs(30),
            flags: BTreeMap::from([("combined".to_owned(), flagged)]),
            top_service: top.map(str::to_owned),
            signals,
        }
    }

    #[test]
    fn milestones_mttd_mttr_and_confusion_follow_the_observations() {
        let schedule = Schedule {
            start: at(0),
            fault_start: at(600),
            fault_end: at(1200),
        };
        let mut recorder = Recorder::new(schedule, Some("shipping".to_owned()));
        for step in 1..=60 {
            let t = step * 30;
            let (flagged, top, errors) = match t {
                630 => (false, None, 0.0),          // detection lag
                660 => (true, Some("orders"), 0.4), // first anomaly, wrong service first
                690..=1200 => (true, Some("shipping"), 0.5),
                1230 | 1260 => (false, None, 0.2), // still recovering
                1500 => (true, None, 0.0),         // a false positive after the recovery
                _ => (t == 300, None, 0.0),        // one false positive in the baseline
            };
            recorder.observe(observation(t, flagged, top, errors));
        }
        let report = recorder.finish(&SloConfig::default());
        assert_eq!(report.mttd_secs, Some(90.0));
        assert_eq!(
            report.mttr_secs,
            Some(60.0),
            "back in band from the step ending at 1290"
        );
        let kinds: Vec<&str> = report.timeline.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "fault-start",
                "first-anomaly",
                "root-cause-ranked-first",
                "fault-end",
                "recovered"
            ]
        );
        let combined = report.detection["combined"];
        assert_eq!(
            (
                combined.true_positives,
                combined.false_negatives,
                combined.false_positives,
                combined.true_negatives
            ),
            (19, 1, 2, 35),
            "the 17 steps from 1320 on count as negatives, the three before as neither"
        );
        assert!((combined.precision() - 19.0 / 21.0).abs() < 1e-12);
        assert!(
            report
                .signal_changes
                .iter()
                .any(|c| c.service == "shipping" && c.signal == "error_ratio" && c.fault == 0.5)
        );
        let shipping = report
            .slo
            .iter()
            .find(|s| s.service == "shipping")
            .expect("has traffic");
        assert!(shipping.failed_requests > 0.0 && shipping.budget_burned > 0.0);
    }

    #[test]
    fn no_detection_means_no_mttd() {
        let schedule = Schedule {
            start: at(0),
            fault_start: at(60),
            fault_end: at(120),
        };
        let mut recorder = Recorder::new(schedule, Some("payment".to_owned()));
        for step in 1..=8 {
            recorder.observe(observation(step * 30, false, None, 0.0));
        }
        let report = recorder.finish(&SloConfig::default());
        assert_eq!(report.mttd_secs, None);
        assert_eq!(report.detection["combined"].recall(), 0.0);
    }
}
