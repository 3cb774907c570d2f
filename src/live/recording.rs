//! Recording an experiment or a live incident from the console (pure): the snapshots seen
//! between start and stop become a timeline (fault start and end when the simulation says,
//! detection, each change of the top suspect, red services, all clear), MTTD and MTTR, and at
//! the end a postmortem drafted from the analysis at detection.
//!
//! MTTD is measured from the fault start when the source is the simulation (the injected fault
//! is known, as in `baynet experiment run --sim`) and from the incident's first anomalous
//! window otherwise; MTTR from the fault end (experiments) or the incident start (live) to the
//! first analysis that shows no incident again.

use super::{ExperimentInfo, Snapshot, SourceStatus};
use crate::analysis::Analysis;
use crate::knowledge::record::{Postmortem, Source};
use crate::model::Timestamp;
use crate::rca::Band;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

/// One line of the recorded timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Source time.
    pub at: Timestamp,
    /// `recording-start`, `fault-start`, `detected`, `ranked-first`, `red`, `all-clear`,
    /// `fault-end`, `scenario-change`, `recording-stop`.
    pub kind: &'static str,
    /// What happened (may hold service names from the source: sanitise before drawing).
    pub detail: String,
}

/// Longest timeline kept (a recording left running for days stays bounded).
const MAX_ENTRIES: usize = 500;

/// A recording in progress (or stopped, until saved).
#[derive(Debug, Clone)]
pub struct Recording {
    /// Source time at the start.
    pub started: Timestamp,
    /// The source at the start.
    pub source: String,
    /// The experiment being played, when the source is the simulation.
    pub experiment: Option<ExperimentInfo>,
    /// What happened, oldest first.
    pub timeline: Vec<Entry>,
    /// Source time of the first analysis that saw an incident.
    pub detected: Option<Timestamp>,
    /// Start of that incident as the analysis dated it.
    pub incident_start: Option<Timestamp>,
    /// When the expected root cause (experiments) was first ranked first.
    pub ranked_first: Option<Timestamp>,
    /// First analysis with no incident after the detection.
    pub recovered: Option<Timestamp>,
    /// Source time at the stop.
    pub stopped: Option<Timestamp>,
    /// Analyses observed.
    pub analyses: usize,
    /// Highest P(outage) seen per service.
    pub peak: BTreeMap<String, f64>,
    detection: Option<Arc<Analysis>>,
    last: Option<Arc<Analysis>>,
    top: Option<String>,
    red: BTreeSet<String>,
    in_incident: bool,
    fault_started: bool,
    fault_ended: bool,
    moved_on: bool,
    last_seen: Timestamp,
}

/// Why a recording cannot become a postmortem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordingError {
    /// No analysis ran while recording.
    #[error("no analysis finished while recording: nothing to write a postmortem from")]
    NoAnalysis,
}

/// Untrusted text as one Markdown-safe line: control characters become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn percent(p: f64) -> String {
    format!("{:.0} %", p * 100.0)
}

impl Recording {
    /// Starts recording at the source's current time.
    #[must_use]
    pub fn start(status: &SourceStatus) -> Self {
        let mut recording = Self {
            started: status.now,
            source: status.label.clone(),
            experiment: status.experiment.clone(),
            timeline: Vec::new(),
            detected: None,
            incident_start: None,
            ranked_first: None,
            recovered: None,
            stopped: None,
            analyses: 0,
            peak: BTreeMap::new(),
            detection: None,
            last: None,
            top: None,
            red: BTreeSet::new(),
            in_incident: false,
            fault_started: false,
            fault_ended: false,
            moved_on: false,
            last_seen: status.now,
        };
        let detail = match &status.experiment {
            Some(e) => format!(
                "recording {} ({} on {})",
                e.scenario, e.fault_class, e.root_cause
            ),
            None => format!("recording {}", status.label),
        };
        recording.push(status.now, "recording-start", detail);
        recording.schedule(status.now);
        recording
    }

    /// Whether the recording is still running.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.stopped.is_none()
    }

    fn push(&mut self, at: Timestamp, kind: &'static str, detail: String) {
        if self.timeline.len() < MAX_ENTRIES {
            self.timeline.push(Entry { at, kind, detail });
        }
    }

    /// Fault start and end milestones of the simulated experiment, once each, when `now`
    /// passes them.
    fn schedule(&mut self, now: Timestamp) {
        let Some(experiment) = self.experiment.clone() else {
            return;
        };
        if !self.fault_started && now >= experiment.fault_start {
            self.fault_started = true;
            self.push(
                experiment.fault_start,
                "fault-start",
                format!(
                    "{} injected into {}",
                    experiment.fault_class, experiment.root_cause
                ),
            );
        }
        if !self.fault_ended && now >= experiment.fault_end {
            self.fault_ended = true;
            self.push(
                experiment.fault_end,
                "fault-end",
                "fault removed".to_owned(),
            );
        }
    }

    /// Takes source news (the simulation may move to its next scenario).
    pub fn on_status(&mut self, status: &SourceStatus) {
        if !self.is_running() {
            return;
        }
        self.last_seen = self.last_seen.max(status.now);
        if !self.moved_on
            && let (Some(ours), Some(now)) = (&mut self.experiment, &status.experiment)
            && ours.scenario != now.scenario
        {
            // The scenario this recording follows is over: its fault ended at the latest now.
            ours.fault_end = ours.fault_end.min(status.now);
            let detail = format!(
                "the simulation moved on to {}; this recording keeps {}",
                now.scenario, ours.scenario
            );
            self.moved_on = true;
            self.push(status.now, "scenario-change", detail);
        }
        self.schedule(status.now);
    }

    /// Takes one analysis.
    pub fn observe(&mut self, snapshot: &Snapshot) {
        if !self.is_running() {
            return;
        }
        let at = snapshot
            .window
            .map_or(snapshot.source.now, |w| w.end)
            .max(self.started);
        self.last_seen = self.last_seen.max(snapshot.source.now);
        self.schedule(snapshot.source.now);
        if snapshot.problem.is_some() {
            // Still learning, or the analysis failed: nothing ranked to record.
            return;
        }
        let analysis = snapshot.analysis.clone();
        self.analyses += 1;
        for service in &snapshot.services {
            let peak = self.peak.entry(service.name.clone()).or_insert(0.0);
            *peak = peak.max(service.p_outage);
        }
        let top = snapshot.services.first();
        if snapshot.incident {
            if !self.in_incident {
                self.in_incident = true;
                self.recovered = None;
                let detail = top.map_or_else(
                    || "incident detected".to_owned(),
                    |t| {
                        format!(
                            "incident detected: {} most likely ({} outage)",
                            t.name,
                            percent(t.p_outage)
                        )
                    },
                );
                self.push(at, "detected", detail);
                if self.detected.is_none() {
                    self.detected = Some(at);
                    self.incident_start = snapshot.incident_start;
                    self.detection.clone_from(&analysis);
                }
            }
            if let Some(top) = top
                && self.top.as_deref() != Some(top.name.as_str())
            {
                self.top = Some(top.name.clone());
                self.push(
                    at,
                    "ranked-first",
                    format!("{} ranked first ({})", top.name, percent(top.p_root_cause)),
                );
                let expected = self.experiment.as_ref().map(|e| e.root_cause.as_str());
                if self.ranked_first.is_none() && expected == Some(top.name.as_str()) {
                    self.ranked_first = Some(at);
                }
            }
            for service in &snapshot.services {
                if service.band == Band::Red && self.red.insert(service.name.clone()) {
                    self.push(
                        at,
                        "red",
                        format!(
                            "{} turned red ({})",
                            service.name,
                            percent(service.p_outage)
                        ),
                    );
                }
            }
        } else if self.in_incident {
            self.in_incident = false;
            self.top = None;
            self.red.clear();
            self.recovered = Some(at);
            self.push(
                at,
                "all-clear",
                "no service above the green band".to_owned(),
            );
        }
        if analysis.is_some() {
            self.last = analysis;
        }
    }

    /// Stops recording at the last source time seen.
    pub fn stop(&mut self) {
        if self.is_running() {
            let at = self.last_seen;
            self.push(at, "recording-stop", "recording stopped".to_owned());
            self.stopped = Some(at);
        }
    }

    /// Time to detect, seconds: from the fault start to the expected root cause ranked first
    /// (experiments), else from the incident's first anomalous window to the detection.
    #[must_use]
    pub fn mttd_secs(&self) -> Option<f64> {
        match &self.experiment {
            Some(e) => self
                .ranked_first
                .map(|t| t.since(e.fault_start).as_secs_f64()),
            None => {
                let detected = self.detected?;
                let from = self.incident_start.unwrap_or(self.started).min(detected);
                Some(detected.since(from).as_secs_f64())
            }
        }
    }

    /// Time to recover, seconds: from the fault end (experiments) or the incident start (live)
    /// to the first analysis without an incident.
    #[must_use]
    pub fn mttr_secs(&self) -> Option<f64> {
        let recovered = self.recovered?;
        let from = match &self.experiment {
            Some(e) => e.fault_end,
            None => self.incident_start.or(self.detected)?,
        };
        Some(recovered.since(from.min(recovered)).as_secs_f64())
    }

    /// A postmortem of the recording with id `id`: drafted from the analysis at detection (or
    /// the last one when nothing was detected), with the timeline, MTTD and MTTR. Experiments
    /// carry their known root cause and fault class; live incidents the top suspect, an empty
    /// fault class and a `needs-review` tag for the on-call engineer to complete.
    ///
    /// # Errors
    /// When no analysis finished while recording.
    pub fn postmortem(&self, id: &str) -> Result<Postmortem, RecordingError> {
        let analysis = self
            .detection
            .as_ref()
            .or(self.last.as_ref())
            .ok_or(RecordingError::NoAnalysis)?;
        let (source, class, root) = match &self.experiment {
            Some(e) => (
                Source::ChaosExperiment,
                e.fault_class.as_str(),
                Some(e.root_cause.as_str()),
            ),
            None => (Source::LiveIncident, "", None),
        };
        let mut record = crate::knowledge::draft::from_analysis(analysis, id, source, class, root);
        let root = record.root_cause_service.clone();
        record.title = match &self.experiment {
            Some(e) => format!(
                "{} on {}: experiment {} recorded in the console",
                e.fault_class, e.root_cause, e.scenario
            ),
            None if self.detected.is_some() => {
                format!("Live incident, {root} suspected: recorded in the console")
            }
            None => "Recording without an incident".to_owned(),
        };
        record.started = Some(
            self.experiment
                .as_ref()
                .map_or(self.incident_start.unwrap_or(self.started), |e| {
                    e.fault_start
                })
                .to_rfc3339(),
        );
        record.detected = self
            .ranked_first
            .or(self.detected)
            .map(Timestamp::to_rfc3339);
        record.resolved = self.recovered.map(Timestamp::to_rfc3339);
        record.environment = Some(self.source.clone());
        if let Some(e) = &self.experiment {
            record.scenario = Some(e.path.clone().unwrap_or_else(|| e.scenario.clone()));
            record.chaos_kind = Some(e.chaos_kind.clone());
        }
        record.mttd_secs = self.mttd_secs();
        record.mttr_secs = self.mttr_secs();
        let mut tags = vec!["recorded-in-console".to_owned()];
        match &self.experiment {
            Some(e) => {
                tags.extend([
                    "chaos-experiment".to_owned(),
                    e.fault_class.clone(),
                    "simulated".to_owned(),
                ]);
            }
            None => tags.push("needs-review".to_owned()),
        }
        if !root.is_empty() {
            tags.push(root.clone());
        }
        tags.dedup();
        record.tags = tags;
        let mut body = String::new();
        let _ = writeln!(body, "\n## Recording\n");
        let _ = writeln!(
            body,
            "Recorded in the Baynet console from {} to {} on {}; {} analyses.",
            self.started.to_rfc3339(),
            self.stopped.unwrap_or(self.last_seen).to_rfc3339(),
            one_line(&self.source),
            self.analyses
        );
        let seconds = |v: Option<f64>| {
            v.map_or_else(
                || "not reached".to_owned(),
                |s| {
                    crate::model::time::format_duration(std::time::Duration::from_secs_f64(
                        s.max(0.0),
                    ))
                },
            )
        };
        let _ = writeln!(
            body,
            "MTTD {}, MTTR {}.",
            seconds(self.mttd_secs()),
            seconds(self.mttr_secs())
        );
        if self.experiment.is_none() {
            let _ = writeln!(
                body,
                "\nThe root cause and fault class are the console's suspicion: review them, set \
                 `fault_class` and `remediation`, and remove the `needs-review` tag."
            );
        }
        let _ = writeln!(body, "\n## Timeline\n");
        let _ = writeln!(body, "| time (UTC) | event | detail |");
        let _ = writeln!(body, "|---|---|---|");
        for entry in &self.timeline {
            let _ = writeln!(
                body,
                "| {} | {} | {} |",
                entry.at.to_rfc3339(),
                entry.kind,
                one_line(&entry.detail).replace('|', "\\|")
            );
        }
        let _ = writeln!(body, "\n## Peak outage probability\n");
        let mut peaks: Vec<(&String, &f64)> = self.peak.iter().collect();
        peaks.sort_by(|a, b| b.1.total_cmp(a.1));
        for (service, p) in peaks.into_iter().take(5) {
            let _ = writeln!(body, "- {service}: {}", percent(*p));
        }
        record.body = format!("{body}{}", record.body);
        Ok(record)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
/// A real analysis of a short simulated payment pod failure (computed once).
pub(crate) fn payment_analysis() -> Arc<Analysis> {
    static ANALYSIS: std::sync::OnceLock<Arc<Analysis>> = std::sync::OnceLock::new();
    Arc::clone(ANALYSIS.get_or_init(|| {
        let scenario = crate::scenario::resolve("06").expect("scenario 06");
        let mut config = crate::sim::run::config_for(&scenario, 3);
        config.baseline = std::time::Duration::from_secs(300);
        config.fault_duration = std::time::Duration::from_secs(240);
        config.recovery = std::time::Duration::from_secs(60);
        let data = crate::sim::run::run(config).expect("simulation");
        let analysis = crate::analysis::analyze(
            &crate::analysis::AnalysisInput {
                spans: &data.spans,
                series: &data.series,
                graph: data.graph.as_ref(),
                logs: None,
                baseline: None,
                window: None,
                data: None,
            },
            &crate::analysis::AnalysisConfig::default(),
            crate::rca::LinkStrengths::new(),
        )
        .expect("analysis");
        assert_eq!(analysis.ranking.ranking[0].service, "payment");
        Arc::new(analysis)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{Phase, ServiceView};

    fn status(now: i64, experiment: Option<ExperimentInfo>) -> SourceStatus {
        SourceStatus {
            label: "sim: 06-payment-pod-failure-one".to_owned(),
            phase: Phase::Baseline,
            now: Timestamp::from_secs(now),
            speed: 20.0,
            paused: false,
            buffered_logs: 0,
            health: Vec::new(),
            experiment,
        }
    }

    fn experiment() -> ExperimentInfo {
        ExperimentInfo {
            scenario: "06-payment-pod-failure-one".to_owned(),
            root_cause: "payment".to_owned(),
            fault_class: "pod-failure".to_owned(),
            chaos_kind: "PodChaos".to_owned(),
            path: None,
            fault_start: Timestamp::from_secs(1_180),
            fault_end: Timestamp::from_secs(1_420),
        }
    }

    /// A snapshot at `now` whose ranking puts `ranked` first with these P(outage) values.
    fn snapshot(now: i64, ranked: &[(&str, f64)], experiment: Option<ExperimentInfo>) -> Snapshot {
        let mut snapshot = Snapshot::empty(status(now, experiment));
        snapshot.window = crate::model::TimeRange::new(
            Timestamp::from_secs(now - 120),
            Timestamp::from_secs(now),
        );
        snapshot.services = ranked
            .iter()
            .map(|(name, p)| ServiceView {
                name: (*name).to_owned(),
                p_root_cause: *p,
                p_outage: *p,
                band: Band::of(*p),
                health: None,
                anomaly: BTreeMap::new(),
                sparkline: Vec::new(),
                p_history: Vec::new(),
                evidence: Vec::new(),
                explains: Vec::new(),
                logs: Vec::new(),
                traces: Vec::new(),
                golden: Vec::new(),
            })
            .collect();
        snapshot.incident = ranked.iter().any(|(_, p)| Band::of(*p) != Band::Green);
        snapshot.incident_start = snapshot.incident.then(|| Timestamp::from_secs(now - 60));
        snapshot.problem = None;
        snapshot.analysis = Some(payment_analysis());
        snapshot
    }

    #[test]
    fn an_experiment_is_timed_from_its_fault() {
        let e = experiment();
        let mut recording = Recording::start(&status(1_000, Some(e.clone())));
        recording.observe(&snapshot(1_100, &[("payment", 0.02)], Some(e.clone())));
        recording.on_status(&status(1_190, Some(e.clone())));
        // Orders is blamed first, then payment: MTTD is when payment is ranked first.
        recording.observe(&snapshot(
            1_240,
            &[("orders", 0.3), ("payment", 0.2)],
            Some(e.clone()),
        ));
        recording.observe(&snapshot(
            1_300,
            &[("payment", 0.9), ("orders", 0.1)],
            Some(e.clone()),
        ));
        recording.observe(&snapshot(1_315, &[("payment", 0.92)], Some(e.clone())));
        recording.on_status(&status(1_430, Some(e.clone())));
        recording.observe(&snapshot(1_480, &[("payment", 0.05)], Some(e.clone())));
        recording.stop();
        let kinds: Vec<&str> = recording.timeline.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [
                "recording-start",
                "fault-start",
                "detected",
                "ranked-first",
                "ranked-first",
                "red",
                "fault-end",
                "all-clear",
                "recording-stop"
            ]
        );
        assert_eq!(recording.mttd_secs(), Some(120.0));
        assert_eq!(recording.mttr_secs(), Some(60.0));
        assert_eq!(recording.analyses, 5);
        assert!((recording.peak["payment"] - 0.92).abs() < 1e-12);
        let record = recording.postmortem("console-test").expect("postmortem");
        assert_eq!(record.root_cause_service, "payment");
        assert_eq!(record.fault_class, "pod-failure");
        assert_eq!(record.source, Source::ChaosExperiment);
        assert_eq!(record.chaos_kind.as_deref(), Some("PodChaos"));
        assert_eq!(record.mttd_secs, Some(120.0));
        assert!(record.body.contains("| fault-start |"), "{}", record.body);
        assert!(
            record.body.contains("payment turned red (90 %)"),
            "{}",
            record.body
        );
        crate::knowledge::record::validate(std::path::Path::new("x.md"), &record)
            .expect("a valid record");
        let text = crate::knowledge::record::render(&record).expect("renders");
        let parsed = crate::knowledge::record::parse(std::path::Path::new("x.md"), &text)
            .expect("parses back");
        assert_eq!(parsed.mttr_secs, Some(60.0));
    }

    #[test]
    fn a_live_incident_is_timed_from_its_first_anomalous_window() {
        let mut recording = Recording::start(&status(1_000, None));
        recording.observe(&snapshot(1_060, &[("payment", 0.04)], None));
        recording.observe(&snapshot(1_200, &[("payment", 0.7)], None));
        recording.observe(&snapshot(1_500, &[("payment", 0.1)], None));
        recording.stop();
        // Detected at 1200 in an incident the analysis dates from 1140.
        assert_eq!(recording.mttd_secs(), Some(60.0));
        assert_eq!(recording.mttr_secs(), Some(360.0));
        let record = recording.postmortem("console-live").expect("postmortem");
        assert_eq!(record.source, Source::LiveIncident);
        assert_eq!(record.root_cause_service, "payment");
        assert!(record.fault_class.is_empty());
        assert!(record.tags.contains(&"needs-review".to_owned()));
        assert!(
            record.title.contains("payment suspected"),
            "{}",
            record.title
        );
    }

    #[test]
    fn nothing_to_save_without_an_analysis_and_the_timeline_is_bounded() {
        let mut recording = Recording::start(&status(1_000, None));
        recording.stop();
        assert_eq!(
            recording.postmortem("x").map(|_| ()),
            Err(RecordingError::NoAnalysis)
        );
        let mut recording = Recording::start(&status(1_000, None));
        for i in 0..2_000 {
            let p = if i % 2 == 0 { 0.9 } else { 0.01 };
            recording.observe(&snapshot(1_000 + i * 15, &[("carts", p)], None));
        }
        assert!(recording.timeline.len() <= MAX_ENTRIES);
    }
}
