//! Drafting a postmortem from an analysis (pure): the signature, the ranking at detection and
//! the evidence as the body. The caller adds what only a human or the ground truth knows (the
//! fault class, the remediation). [`from_experiment`] writes the postmortem of a recorded chaos
//! experiment.

use super::record::{DetectorResult, Postmortem, RankedAtDetection, Source};
use super::signature;
use crate::analysis::Analysis;
use std::collections::BTreeMap;

/// A draft postmortem of `analysis` with id `id`; `fault_class` and `root_cause` when known
/// (else the top suspect).
#[must_use]
pub fn from_analysis(
    analysis: &Analysis,
    id: &str,
    source: Source,
    fault_class: &str,
    root_cause: Option<&str>,
) -> Postmortem {
    let top = analysis.ranking.ranking.first();
    let root = root_cause
        .map(str::to_owned)
        .or_else(|| top.map(|r| r.service.clone()))
        .unwrap_or_default();
    let signature = signature::from_analysis(analysis);
    let affected: Vec<String> = signature.services.keys().cloned().collect();
    let mut detectors: BTreeMap<String, f64> = BTreeMap::new();
    for event in &analysis.report.events {
        if event.window_start >= analysis.focus.start && event.window_start < analysis.focus.end {
            let slot = detectors
                .entry(event.kind.as_str().to_owned())
                .or_insert(0.0);
            *slot = slot.max(event.score);
        }
    }
    let mut body = String::from("\n## Summary\n");
    body.push_str(&analysis.ranking.verdict);
    body.push_str("\n\n## Evidence at detection\n");
    for ranked in analysis.ranking.ranking.iter().take(3) {
        for item in &ranked.evidence {
            body.push_str(&format!(
                "- {}: {} ({:.2})\n",
                ranked.service, item.description, item.score
            ));
        }
    }
    Postmortem {
        id: id.to_owned(),
        title: format!(
            "{} on {}",
            if fault_class.is_empty() {
                "incident"
            } else {
                fault_class
            },
            root
        ),
        started: analysis.incident_start.map(|t| t.to_rfc3339()),
        detected: None,
        resolved: None,
        environment: None,
        source,
        scenario: None,
        chaos_kind: None,
        root_cause_service: root,
        fault_class: fault_class.to_owned(),
        affected_services: affected,
        symptom_signature: signature,
        mttd_secs: None,
        mttr_secs: None,
        impact: None,
        detectors: detectors
            .into_iter()
            .map(|(detector, score)| DetectorResult {
                detector,
                fired: true,
                score: Some(score),
            })
            .collect(),
        ranking: analysis
            .ranking
            .ranking
            .iter()
            .take(3)
            .map(|r| RankedAtDetection {
                service: r.service.clone(),
                p_root_cause: r.p_root_cause,
                p_outage: Some(r.p_outage),
            })
            .collect(),
        remediation: String::new(),
        follow_ups: Vec::new(),
        tags: Vec::new(),
        body,
    }
}

/// What the postmortem of an experiment says about where and how it ran.
#[derive(Debug, Clone)]
pub struct ExperimentMeta<'a> {
    /// Record id.
    pub id: String,
    /// The experiment.
    pub scenario: &'a crate::scenario::Scenario,
    /// Where it ran (`simulator, seed 7`, `live cluster (context prod)`).
    pub environment: String,
    /// Whether it ran on the simulator.
    pub simulated: bool,
    /// Notes printed under the schedule (shortened phases, a missing telemetry source…).
    pub notes: Vec<String>,
}

/// Markdown table cell: one line, no pipes, no control characters.
fn cell(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|")
}

fn number(value: f64, digits: usize) -> String {
    if value.is_finite() {
        format!("{value:.digits$}")
    } else {
        "–".to_owned()
    }
}

fn seconds(value: Option<f64>) -> String {
    value.map_or_else(|| "not reached".to_owned(), span)
}

/// A duration in seconds as `1m30s`; `0s` below a second.
fn span(secs: f64) -> String {
    if secs.is_finite() && secs >= 1.0 {
        crate::model::time::format_duration(std::time::Duration::from_secs_f64(secs))
    } else {
        "0s".to_owned()
    }
}

/// A fence longer than any backtick run in `text`.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// The postmortem of a recorded experiment: the draft of its detection analysis (signature,
/// evidence) plus the timeline, MTTD, MTTR, golden-signal changes, SLO impact, the detectors'
/// confusion matrix, the final ranking, the Chaos Mesh manifest and a generated summary.
#[must_use]
pub fn from_experiment(
    meta: &ExperimentMeta<'_>,
    recorded: &crate::experiment::runner::Recorded,
) -> Postmortem {
    use std::fmt::Write as _;
    let scenario = meta.scenario;
    let fault = &scenario.fault;
    let class = fault.class.as_str();
    let root = fault.target.as_str();
    let report = &recorded.report;
    let schedule = recorded.schedule;
    let mut record = recorded.detection.as_ref().map_or_else(
        || Postmortem {
            id: meta.id.clone(),
            title: String::new(),
            started: None,
            detected: None,
            resolved: None,
            environment: None,
            source: Source::ChaosExperiment,
            scenario: None,
            chaos_kind: None,
            root_cause_service: root.to_owned(),
            fault_class: class.to_owned(),
            affected_services: Vec::new(),
            symptom_signature: super::record::SymptomSignature::default(),
            mttd_secs: None,
            mttr_secs: None,
            impact: None,
            detectors: Vec::new(),
            ranking: Vec::new(),
            remediation: String::new(),
            follow_ups: Vec::new(),
            tags: Vec::new(),
            body: String::new(),
        },
        |analysis| {
            from_analysis(
                analysis,
                &meta.id,
                Source::ChaosExperiment,
                class,
                Some(root),
            )
        },
    );
    let evidence_section = record
        .body
        .split_once("## Evidence at detection\n")
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default();
    record.title = format!(
        "{class} on {root}: chaos experiment {}{}",
        scenario.name,
        if meta.simulated { " (simulated)" } else { "" }
    );
    record.started = Some(schedule.fault_start.to_rfc3339());
    record.detected = report.mttd_secs.map(|s| {
        schedule
            .fault_start
            .plus(std::time::Duration::from_secs_f64(s))
            .to_rfc3339()
    });
    record.resolved = report.mttr_secs.map(|s| {
        schedule
            .fault_end
            .plus(std::time::Duration::from_secs_f64(s))
            .to_rfc3339()
    });
    record.environment = Some(meta.environment.clone());
    record.scenario = Some(
        scenario
            .path
            .as_ref()
            .map_or_else(|| scenario.name.clone(), |p| p.display().to_string()),
    );
    record.chaos_kind = Some(scenario.kind.as_str().to_owned());
    record.mttd_secs = report.mttd_secs;
    record.mttr_secs = report.mttr_secs;
    let mut affected: std::collections::BTreeSet<String> =
        record.affected_services.iter().cloned().collect();
    affected.extend(report.signal_changes.iter().map(|c| c.service.clone()));
    affected.insert(root.to_owned());
    record.affected_services = affected.into_iter().collect();
    let worst = report
        .slo
        .iter()
        .filter(|s| s.failed_requests > 0.0)
        .max_by(|a, b| a.budget_burned.total_cmp(&b.budget_burned));
    record.impact = Some(match worst {
        Some(s) => format!(
            "{:.0} failed requests at {} (availability {:.2} % over the experiment, {:.3} % of its error budget burned)",
            s.failed_requests,
            s.service,
            s.availability * 100.0,
            s.budget_burned * 100.0
        ),
        None => "no failed requests recorded".to_owned(),
    });
    let peak = |kind: &str| -> Option<f64> {
        recorded.detection.as_ref().map(|a| {
            a.anomaly
                .values()
                .filter_map(|kinds| kinds.get(kind).copied())
                .filter(|v| v.is_finite())
                .fold(0.0_f64, f64::max)
                .clamp(0.0, 1.0)
        })
    };
    record.detectors = report
        .detection
        .iter()
        .map(|(family, confusion)| DetectorResult {
            detector: family.clone(),
            fired: confusion.true_positives > 0,
            score: peak(match family.as_str() {
                "logs" => "log",
                "traces" => "trace",
                "metrics" => "metric",
                other => other,
            }),
        })
        .collect();
    record.remediation = if meta.simulated {
        format!("The simulated {class} ended with the experiment's fault phase.")
    } else {
        format!(
            "Removed the {} resource `{}` (kubectl delete) at the end of the fault phase.",
            scenario.kind.as_str(),
            scenario.name
        )
    };
    let mut tags = vec![
        "chaos-experiment".to_owned(),
        class.to_owned(),
        root.to_owned(),
        if meta.simulated { "simulated" } else { "live" }.to_owned(),
    ];
    tags.dedup();
    record.tags = tags;

    // The body.
    let at = |t: crate::model::Timestamp| t.to_rfc3339();
    let offset = |t: crate::model::Timestamp| {
        let secs = (t.0 - schedule.start.0) as f64 / 1e9;
        span(secs)
    };
    let combined = report
        .detection
        .get("combined")
        .copied()
        .unwrap_or_default();
    let final_top = recorded
        .at_fault_end
        .as_ref()
        .and_then(|a| a.ranking.ranking.first().map(|r| r.service.clone()));
    let mut body = String::from("\n## Summary\n");
    let _ = write!(
        body,
        "{} on {root} ({}, {}). ",
        scenario.kind.as_str(),
        scenario.name,
        meta.environment
    );
    match report.timeline.iter().find(|m| m.kind == "first-anomaly") {
        Some(first) => {
            let _ = write!(
                body,
                "The detectors first flagged it {} after the fault start ({}). ",
                seconds(Some(first.at.since(schedule.fault_start).as_secs_f64())),
                cell(&first.detail)
            );
        }
        None => body.push_str("The detectors never flagged the fault. "),
    }
    match report.mttd_secs {
        Some(mttd) => {
            let _ = write!(
                body,
                "{root} was ranked the most likely root cause {} after the fault start (MTTD). ",
                seconds(Some(mttd))
            );
        }
        None => {
            let _ = write!(
                body,
                "{root} was never ranked first during the fault{}. ",
                final_top
                    .as_ref()
                    .map(|s| format!(
                        "; the network's top suspect at the fault end was {}",
                        cell(s)
                    ))
                    .unwrap_or_default()
            );
        }
    }
    match report.mttr_secs {
        Some(mttr) => {
            let _ = write!(
                body,
                "Every golden signal was back inside its baseline band {} after the fault was removed (MTTR). ",
                seconds(Some(mttr))
            );
        }
        None => body.push_str(
            "The golden signals were not all back inside their baseline bands by the end of the recording. ",
        ),
    }
    let _ = write!(
        body,
        "Combined detectors over the fault window: precision {:.2}, recall {:.2}, F1 {:.2}.",
        combined.precision(),
        combined.recall(),
        combined.f1()
    );
    if let Some(impact) = &record.impact {
        let _ = write!(body, " Impact: {impact}.");
    }
    body.push_str("\n\n## Schedule\n");
    let _ = writeln!(
        body,
        "- baseline {} → fault {} → recovery until {} (baseline {}, fault {}, recovery {})",
        at(schedule.start),
        at(schedule.fault_start),
        at(recorded.end),
        crate::model::time::format_duration(schedule.fault_start.since(schedule.start)),
        crate::model::time::format_duration(schedule.fault_end.since(schedule.fault_start)),
        crate::model::time::format_duration(recorded.end.since(schedule.fault_end)),
    );
    let _ = writeln!(
        body,
        "- detectors learned normal from {} to {}; {} analysis steps of {}, {} analysed{}",
        at(recorded.learned_baseline.start),
        at(recorded.learned_baseline.end),
        recorded.observations.len(),
        recorded.observations.first().map_or_else(
            || "–".to_owned(),
            |o| crate::model::time::format_duration(o.step)
        ),
        recorded.analysed_steps,
        if recorded.schedule_detected {
            "; the fault window was detected from the telemetry, not given"
        } else {
            ""
        }
    );
    if let Some(problem) = recorded.problems.first() {
        let _ = writeln!(
            body,
            "- {} steps could not be analysed, first at {}: {}",
            recorded.problems.len(),
            at(problem.at),
            cell(&problem.message)
        );
    }
    for note in &meta.notes {
        let _ = writeln!(body, "- {}", cell(note));
    }
    body.push_str(
        "\n## Timeline\n| time | since start | milestone | detail |\n|---|---|---|---|\n",
    );
    for milestone in &report.timeline {
        let _ = writeln!(
            body,
            "| {} | {} | {} | {} |",
            at(milestone.at),
            offset(milestone.at),
            milestone.kind,
            cell(&milestone.detail)
        );
    }
    let _ = write!(
        body,
        "\n- MTTD (fault start → {root} ranked first): {}\n- MTTR (fault end → every golden signal back inside its baseline band): {}\n",
        seconds(report.mttd_secs),
        seconds(report.mttr_secs)
    );
    body.push_str("\n## Golden-signal changes\nMedians per phase; only signals that left their baseline band during the fault.\n\n| service | signal | baseline | fault | recovery |\n|---|---|---|---|---|\n");
    for change in &report.signal_changes {
        let digits = if change.signal == "error_ratio" { 3 } else { 1 };
        let _ = writeln!(
            body,
            "| {} | {} | {} | {} | {} |",
            cell(&change.service),
            change.signal,
            number(change.baseline, digits),
            number(change.fault, digits),
            number(change.recovery, digits)
        );
    }
    if report.signal_changes.is_empty() {
        body.push_str("| – | – | – | – | – |\n");
    }
    body.push_str("\n## SLO impact\n| service | availability objective | requests | failed | availability | error budget burned | p99 over objective |\n|---|---|---|---|---|---|---|\n");
    let mut slo: Vec<&crate::experiment::slo::SloImpact> = report.slo.iter().collect();
    slo.sort_by(|a, b| b.budget_burned.total_cmp(&a.budget_burned));
    for s in slo {
        let _ = writeln!(
            body,
            "| {} | {:.2} % | {:.0} | {:.0} | {:.3} % | {:.3} % | {} |",
            cell(&s.service),
            s.availability_objective * 100.0,
            s.requests,
            s.failed_requests,
            s.availability * 100.0,
            s.budget_burned * 100.0,
            span(s.latency_violation_secs)
        );
    }
    body.push_str("\n## Detectors\nPer analysis step: fault steps are positives; baseline steps and the steps after the recovery are negatives (the steps from the fault end to the end of the first step after the recovery are left out).\n\n| family | TP | FP | TN | FN | precision | recall | F1 |\n|---|---|---|---|---|---|---|---|\n");
    for (family, c) in &report.detection {
        let _ = writeln!(
            body,
            "| {family} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} |",
            c.true_positives,
            c.false_positives,
            c.true_negatives,
            c.false_negatives,
            c.precision(),
            c.recall(),
            c.f1()
        );
    }
    body.push_str("\n## Final ranking\n");
    match &recorded.at_fault_end {
        Some(analysis) => {
            let _ = writeln!(
                body,
                "The last analysis before the fault was removed: {}\n\n| # | service | P(root cause) | P(outage) | band |\n|---|---|---|---|---|",
                cell(&analysis.ranking.verdict)
            );
            for (index, ranked) in analysis.ranking.ranking.iter().take(5).enumerate() {
                let _ = writeln!(
                    body,
                    "| {} | {} | {:.3} | {:.3} | {:?} |",
                    index + 1,
                    cell(&ranked.service),
                    ranked.p_root_cause,
                    ranked.p_outage,
                    ranked.band
                );
            }
        }
        None => body.push_str("No analysis ran during the fault.\n"),
    }
    if !evidence_section.trim().is_empty() {
        body.push_str("\n## Evidence at detection\n");
        body.push_str(&evidence_section);
    }
    let fence = fence_for(&scenario.manifest);
    let _ = write!(
        body,
        "\n## Chaos Mesh manifest\n{fence}yaml\n{}{}{fence}\n",
        scenario.manifest,
        if scenario.manifest.ends_with('\n') {
            ""
        } else {
            "\n"
        }
    );
    record.body = body;
    record
}
