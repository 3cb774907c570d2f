//! `baynet experiment`: all 12 scenarios recorded on the simulator in accelerated time (the
//! postmortems validate, MTTD and MTTR agree with a ground truth derived independently from
//! the schedule and the raw spans), the CLI end to end, and `--live --apply` against a
//! stand-in `kubectl` that logs its calls (normal run, Ctrl-C, failing apply).

use baynet::experiment::runner::{Recorded, RunSettings};
use baynet::knowledge::draft::{ExperimentMeta, from_experiment};
use baynet::knowledge::record;
use baynet::model::{Span, Timestamp};
use baynet::scenario::Scenario;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Phases of the accelerated recordings: 5 min baseline (the detectors learn the first 2),
/// 4 min fault, 6 min recovery (recovery needs three in-band steps in a row). Shorter than the
/// scenarios' 10/10/10 — the postmortem says so.
const PHASES: (Duration, Duration, Duration) = (
    Duration::from_secs(300),
    Duration::from_secs(240),
    Duration::from_secs(360),
);
const STEP: Duration = Duration::from_secs(60);
const BUCKET: i64 = 15;

/// The fault's visible effect, from the raw spans alone (not the metrics the recorder reads):
/// per 15-s bucket of completion, spans of the target and of its direct callers that failed
/// or took more than twice the baseline p99 of their operation. A bucket is abnormal when it holds more
/// such spans than any baseline bucket, or fewer than half the spans of the quietest one. Onset: the first abnormal bucket after the fault
/// start; end: the end of the last abnormal bucket before four normal ones in a row after the
/// fault end.
fn effect_window(
    spans: &[Span],
    target: &str,
    start: Timestamp,
    fault_start: Timestamp,
    fault_end: Timestamp,
    end: Timestamp,
) -> (Timestamp, Timestamp) {
    let graph = baynet::sim::topology::service_graph();
    let mut involved: Vec<String> = graph
        .callers(target)
        .into_iter()
        .map(str::to_owned)
        .collect();
    involved.push(target.to_owned());
    let relevant: Vec<&Span> = spans
        .iter()
        .filter(|s| involved.contains(&s.service))
        .collect();
    let mut normal: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for span in relevant.iter().filter(|s| s.start < fault_start) {
        normal
            .entry((span.service.as_str(), span.name.as_str()))
            .or_default()
            .push(span.duration().as_secs_f64());
    }
    let p99: BTreeMap<(&str, &str), f64> = normal
        .into_iter()
        .map(|(key, mut values)| {
            values.sort_by(f64::total_cmp);
            let index = ((values.len() - 1) as f64 * 0.99).round() as usize;
            (key, values[index])
        })
        .collect();
    let bucket_of = |t: Timestamp| (t.0 - start.0).div_euclid(BUCKET * 1_000_000_000);
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    let mut totals: BTreeMap<i64, usize> = BTreeMap::new();
    for span in &relevant {
        *totals.entry(bucket_of(span.start)).or_default() += 1;
        let limit = p99
            .get(&(span.service.as_str(), span.name.as_str()))
            .copied()
            .unwrap_or(0.0);
        if span.is_error() || span.duration().as_secs_f64() > 2.0 * limit.max(0.005) {
            // Counted when it completes: that is when the mesh's metrics see it.
            *counts.entry(bucket_of(span.end)).or_default() += 1;
        }
    }
    let (first_fault, last_fault) = (bucket_of(fault_start), bucket_of(fault_end));
    let total = |b: i64| totals.get(&b).copied().unwrap_or(0);
    // Silence (a dead gateway writes no spans at all) counts as abnormal too.
    let normal_min = (0..first_fault).map(total).min().unwrap_or(0);
    let bad = |b: i64| {
        counts.get(&b).copied().unwrap_or(0) + usize::from(2 * total(b) < normal_min) * 1000
    };
    let normal_max = (0..first_fault).map(bad).max().unwrap_or(0);
    let count = bad;
    let at = |b: i64| Timestamp(start.0 + b * BUCKET * 1_000_000_000);
    let onset = (first_fault..last_fault)
        .find(|&b| count(b) > normal_max)
        .map_or(fault_end, at);
    let mut effect_end = last_fault;
    let last = bucket_of(end);
    let mut b = last_fault;
    while b < last {
        if (b..b + 4).all(|x| count(x) <= normal_max) {
            break;
        }
        if count(b) > normal_max {
            effect_end = b + 1;
        }
        b += 1;
    }
    (onset, at(effect_end).max(fault_end))
}

fn meta<'a>(scenario: &'a Scenario, seed: u64) -> ExperimentMeta<'a> {
    ExperimentMeta {
        id: format!("exp-test-{}", scenario.name),
        scenario,
        environment: format!("simulator, seed {seed}"),
        simulated: true,
        notes: vec!["phases shortened to 5m/4m/6m for the test".to_owned()],
    }
}

#[test]
fn all_twelve_scenarios_are_recorded_and_agree_with_the_ground_truth() {
    let started = Instant::now();
    let seed = 7;
    let scenarios = baynet::scenario::builtin().unwrap();
    assert_eq!(scenarios.len(), 12);
    let runs: Vec<(Scenario, u64)> = scenarios.iter().map(|s| (s.clone(), seed)).collect();
    let settings = RunSettings {
        step: STEP,
        ..RunSettings::default()
    };
    let recorded: Vec<Recorded> =
        baynet::eval::experiments::record_all(&runs, Some(PHASES), &settings, 2).unwrap();
    let recording_secs = started.elapsed().as_secs_f64();
    let mut summary = Vec::new();
    let mut mttd_checked = 0;
    let mut mttr_checked = 0;
    let mut failures: Vec<String> = Vec::new();
    let graph = baynet::sim::topology::service_graph();
    for (scenario, rec) in scenarios.iter().zip(&recorded) {
        let name = &scenario.name;
        // The truth of the schedule: the simulator's start plus the phases.
        let config = baynet::experiment::runner::sim_config(scenario, seed, Some(PHASES));
        let fault_start = config.start.plus(PHASES.0);
        let fault_end = fault_start.plus(PHASES.1);
        let end = fault_end.plus(PHASES.2);
        assert_eq!(rec.schedule.start, config.start, "{name}");
        assert_eq!(rec.schedule.fault_start, fault_start, "{name}");
        assert_eq!(rec.schedule.fault_end, fault_end, "{name}");
        let milestone = |kind: &str| rec.report.timeline.iter().find(|m| m.kind == kind);
        assert_eq!(milestone("fault-start").unwrap().at, fault_start, "{name}");
        assert_eq!(milestone("fault-end").unwrap().at, fault_end, "{name}");
        assert_eq!(
            rec.observations.len(),
            15,
            "{name}: one observation per minute"
        );

        // The postmortem validates against the knowledge-base schema and carries the figures.
        let postmortem = from_experiment(&meta(scenario, seed), rec);
        let text = record::render(&postmortem).unwrap();
        let parsed = record::parse(Path::new("exp.md"), &text)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert_eq!(parsed.source, record::Source::ChaosExperiment);
        assert_eq!(parsed.root_cause_service, scenario.fault.target);
        assert_eq!(parsed.fault_class, scenario.fault.class.as_str());
        assert_eq!(parsed.mttd_secs, rec.report.mttd_secs);
        assert_eq!(parsed.mttr_secs, rec.report.mttr_secs);
        for section in [
            "## Summary",
            "## Timeline",
            "## Golden-signal changes",
            "## SLO impact",
            "## Detectors",
            "## Final ranking",
            "## Chaos Mesh manifest",
        ] {
            assert!(parsed.body.contains(section), "{name}: no {section}");
        }
        assert!(parsed.body.contains(scenario.manifest.trim_end()), "{name}");
        assert!(!parsed.summary().is_empty());

        // MTTD and MTTR against the effect seen in the raw spans (independent of the metrics
        // the recorder reads), within one analysis step.
        let dataset = baynet::sim::run::run(config).unwrap();
        let truth = dataset.ground_truth.clone().unwrap();
        assert_eq!(
            (truth.fault_start, truth.fault_end),
            (fault_start, fault_end)
        );
        let (onset, effect_end) = effect_window(
            &dataset.spans,
            &scenario.fault.target,
            config_start(&truth),
            fault_start,
            fault_end,
            end,
        );
        let onset_secs = onset.since(fault_start).as_secs_f64();
        let effect_end_secs = effect_end.since(fault_end).as_secs_f64();
        // MTTD: an offline analysis of the independently simulated dataset, with the same
        // baseline and window, ranks the root cause first at fault start + MTTD and at no step
        // end before it (none up to a step after the fault end when there is no MTTD).
        let offline_top = |at: Timestamp| -> Option<String> {
            let learned = rec.learned_baseline;
            let window = baynet::experiment::runner::sliding_window(
                learned.end,
                at,
                settings.max_window,
                STEP,
            )?;
            let keep = |t: Timestamp| learned.contains(t) || window.contains(t);
            let spans: Vec<Span> = dataset
                .spans
                .iter()
                .filter(|s| keep(s.start))
                .cloned()
                .collect();
            let series: Vec<baynet::model::Series> = dataset
                .series
                .iter()
                .map(|one| baynet::model::Series {
                    labels: one.labels.clone(),
                    samples: one
                        .samples
                        .iter()
                        .filter(|p| p.timestamp >= learned.start && p.timestamp <= window.end)
                        .copied()
                        .collect(),
                })
                .filter(|one| !one.samples.is_empty())
                .collect();
            let analysis = baynet::analysis::analyze(
                &baynet::analysis::AnalysisInput {
                    spans: &spans,
                    series: &series,
                    graph: Some(&graph),
                    logs: None,
                    baseline: Some(learned),
                    window: Some(window),
                    data: baynet::model::TimeRange::new(learned.start, window.end),
                },
                &settings.analysis,
                baynet::rca::LinkStrengths::new(),
            )
            .ok()?;
            analysis
                .ranking
                .incident
                .then(|| analysis.ranking.ranking.first().map(|r| r.service.clone()))
                .flatten()
        };
        let target = Some(scenario.fault.target.clone());
        let step_secs = STEP.as_secs() as i64;
        let last_checked = match rec.report.mttd_secs {
            Some(mttd) => {
                let at = fault_start.plus(Duration::from_secs_f64(mttd));
                if offline_top(at) != target {
                    failures.push(format!(
                        "{name}: offline analysis at MTTD {mttd}s does not rank {} first",
                        scenario.fault.target
                    ));
                }
                mttd_checked += 1;
                mttd as i64 - step_secs
            }
            None => PHASES.1.as_secs() as i64 + step_secs,
        };
        for offset in (step_secs..=last_checked).step_by(step_secs as usize) {
            let top = offline_top(fault_start.plus(Duration::from_secs(offset as u64)));
            if top == target {
                failures.push(format!(
                    "{name}: offline analysis ranks the root cause first at +{offset}s, before the recorded MTTD {:?}",
                    rec.report.mttd_secs
                ));
            }
        }
        if let Some(mttr) = rec.report.mttr_secs {
            if (mttr - effect_end_secs).abs() > STEP.as_secs_f64() {
                failures.push(format!(
                    "{name}: MTTR {mttr}s, effect over {effect_end_secs}s after the fault end"
                ));
            }
            mttr_checked += 1;
        }
        summary.push(format!(
            "{name}: onset +{onset_secs}s mttd {:?} effect end +{effect_end_secs}s mttr {:?}",
            rec.report.mttd_secs, rec.report.mttr_secs
        ));
    }
    eprintln!(
        "recorded 12 scenarios in {recording_secs:.1}s (total {:.1}s)\n{}",
        started.elapsed().as_secs_f64(),
        summary.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{}\n\n{}",
        failures.join("\n"),
        summary.join("\n")
    );
    assert!(
        mttd_checked >= 10,
        "MTTD measured in {mttd_checked}/12\n{}",
        summary.join("\n")
    );
    assert!(
        mttr_checked >= 10,
        "MTTR measured in {mttr_checked}/12\n{}",
        summary.join("\n")
    );
}

fn config_start(truth: &baynet::model::GroundTruth) -> Timestamp {
    truth.start
}

/// A temporary knowledge base (data home) and a stand-in kubectl on PATH.
struct Env {
    data: tempfile::TempDir,
    bin: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let env = Self {
            data: tempfile::tempdir().unwrap(),
            bin: tempfile::tempdir().unwrap(),
        };
        let script = env.bin.path().join("kubectl");
        // Logs "<unix time> <args>" per call and the manifest; fails `apply` when told to.
        std::fs::write(
            &script,
            "#!/bin/sh\nprintf '%s %s\\n' \"$(date +%s.%N)\" \"$*\" >> \"$FAKE_KUBECTL_LOG\"\ncat >> \"$FAKE_KUBECTL_LOG.stdin\"\nif [ \"$1\" = \"$FAKE_KUBECTL_FAIL\" ]; then echo 'Error from server (Forbidden): podchaos.chaos-mesh.org is forbidden' >&2; exit 1; fi\nexit 0\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        env
    }

    fn log(&self) -> PathBuf {
        self.bin.path().join("calls.log")
    }

    fn command(&self, args: &[&str]) -> Command {
        let path = format!(
            "{}:{}",
            self.bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new(env!("CARGO_BIN_EXE_baynet"));
        command
            .env("XDG_DATA_HOME", self.data.path())
            .env_remove("BAYNET_KB_DIR")
            .env(
                "BAYNET_CURATED_KB",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge"),
            )
            .env("PATH", path)
            .env("FAKE_KUBECTL_LOG", self.log())
            .args(args);
        command
    }

    /// `(unix time, args)` per kubectl call.
    fn calls(&self) -> Vec<(f64, String)> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let (time, args) = line.split_once(' ').unwrap();
                (time.parse().unwrap(), args.to_owned())
            })
            .collect()
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn a_simulated_experiment_is_added_to_the_knowledge_base_and_listed() {
    let env = Env::new();
    let output = env
        .command(&[
            "experiment",
            "run",
            "06",
            "--sim",
            "--baseline",
            "4m",
            "--fault",
            "3m",
            "--recovery",
            "3m",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let id = report["id"].as_str().unwrap().to_owned();
    assert_eq!(id, "exp-sim-payment-pod-failure-one-s7-240-180-180");
    assert!(report["report"]["mttd_secs"].as_f64().unwrap() <= 180.0);
    let path = PathBuf::from(report["path"].as_str().unwrap());
    assert!(path.starts_with(env.data.path()), "{}", path.display());
    let listed = env
        .command(&["experiment", "list", "--json"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(
        rows.as_array().unwrap().len(),
        1,
        "only experiments are listed"
    );
    assert_eq!(rows[0]["id"], id.as_str());
    let shown = env.command(&["experiment", "show", &id]).output().unwrap();
    assert!(shown.status.success());
    let text = String::from_utf8(shown.stdout).unwrap();
    let parsed = record::parse(Path::new("shown.md"), &text).unwrap();
    assert_eq!(parsed.root_cause_service, "payment");
    assert!(text.contains("phases set on the command line"), "{text}");
    let similar = env
        .command(&["kb", "search", "payment pod failure", "--json"])
        .output()
        .unwrap();
    let hits: serde_json::Value = serde_json::from_slice(&similar.stdout).unwrap();
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == id.as_str()),
        "the recorded experiment is retrievable: {hits}"
    );
    let not_experiment = env
        .command(&["experiment", "show", "playbook-pod-failure"])
        .output()
        .unwrap();
    assert!(!not_experiment.status.success());
    assert!(String::from_utf8_lossy(&not_experiment.stderr).contains("kb show"));
}

#[test]
fn live_apply_applies_at_the_fault_start_and_deletes_at_the_fault_end() {
    let env = Env::new();
    let out = env.data.path().join("exp.md");
    let started = unix_now();
    let output = env
        .command(&[
            "experiment",
            "run",
            "06",
            "--live",
            "--apply",
            "--baseline",
            "2s",
            "--fault",
            "3s",
            "--recovery",
            "1s",
            "--no-kb",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("no live telemetry source is configured"),
        "{stderr}"
    );
    let calls = env.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].1, "apply -f -");
    assert_eq!(calls[1].1, "delete --ignore-not-found -f -");
    let (apply_at, delete_at) = (calls[0].0 - started, calls[1].0 - started);
    assert!(
        (1.9..3.5).contains(&apply_at),
        "apply at +{apply_at:.2}s, expected +2s"
    );
    let fault = delete_at - apply_at;
    assert!(
        (2.8..3.6).contains(&fault),
        "deleted {fault:.2}s after the apply, expected 3s"
    );
    let manifest = std::fs::read_to_string(format!("{}.stdin", env.log().display())).unwrap();
    assert!(manifest.contains("kind: PodChaos") && manifest.contains("payment"));
    let text = std::fs::read_to_string(&out).unwrap();
    let parsed = record::parse(&out, &text).unwrap();
    assert!(parsed.id.starts_with("exp-payment-pod-failure-one-"));
    assert!(
        parsed
            .body
            .contains("no live telemetry source is configured")
    );
}

fn kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn ctrl_c_during_the_fault_deletes_the_chaos_resource() {
    let env = Env::new();
    let child = env
        .command(&[
            "experiment",
            "run",
            "06",
            "--live",
            "--apply",
            "--baseline",
            "1s",
            "--fault",
            "60s",
            "--recovery",
            "1s",
            "--no-kb",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = crate::support::ChildGuard(child);
    let applied = crate::support::poll(Duration::from_secs(10), Duration::from_millis(50), || {
        (env.calls().len() == 1).then_some(())
    });
    assert!(applied.is_some(), "no apply within 10 s: {:?}", env.calls());
    let interrupted_at = Instant::now();
    kill(child.0.id(), "-INT");
    let status = crate::support::poll(Duration::from_secs(10), Duration::from_millis(50), || {
        child.0.try_wait().unwrap()
    })
    .expect("exits within 10 s of Ctrl-C");
    assert!(interrupted_at.elapsed() < Duration::from_secs(5));
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("interrupted"), "{stderr}");
    let calls: Vec<String> = env.calls().into_iter().map(|(_, a)| a).collect();
    assert_eq!(
        calls,
        ["apply -f -", "delete --ignore-not-found -f -"],
        "{stderr}"
    );
}

#[test]
fn ctrl_c_before_the_fault_start_applies_nothing() {
    let env = Env::new();
    let child = env
        .command(&[
            "experiment",
            "run",
            "06",
            "--live",
            "--apply",
            "--baseline",
            "60s",
            "--fault",
            "60s",
            "--recovery",
            "1s",
            "--no-kb",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = crate::support::ChildGuard(child);
    // Wait until it announced the schedule (the handler is installed before that line).
    let mut stderr = child.0.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 256];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !String::from_utf8_lossy(&seen).contains("applying") {
        let n = std::io::Read::read(&mut stderr, &mut buffer).unwrap();
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buffer[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).contains("applying"));
    kill(child.0.id(), "-INT");
    let status = crate::support::poll(Duration::from_secs(10), Duration::from_millis(50), || {
        child.0.try_wait().unwrap()
    })
    .expect("exits");
    assert!(!status.success());
    assert!(env.calls().is_empty(), "{:?}", env.calls());
}

#[test]
fn a_failing_apply_is_reported_verbatim_and_cleaned_up() {
    let env = Env::new();
    let started = Instant::now();
    let output = env
        .command(&[
            "experiment",
            "run",
            "06",
            "--live",
            "--apply",
            "--baseline",
            "1s",
            "--fault",
            "60s",
            "--recovery",
            "1s",
            "--no-kb",
        ])
        .env("FAKE_KUBECTL_FAIL", "apply")
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "stops at the failed apply"
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Error from server (Forbidden): podchaos.chaos-mesh.org is forbidden"),
        "{stderr}"
    );
    let calls: Vec<String> = env.calls().into_iter().map(|(_, a)| a).collect();
    assert_eq!(
        calls,
        ["apply -f -", "delete --ignore-not-found -f -"],
        "{stderr}"
    );
}

#[test]
fn live_without_apply_needs_the_times_until_telemetry_is_connected() {
    let env = Env::new();
    let output = env
        .command(&["experiment", "run", "06", "--live", "--no-kb"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--fault-start"));
    // With the times of an experiment that ran in the past, it records at once.
    let output = env
        .command(&[
            "experiment",
            "run",
            "06",
            "--live",
            "--fault-start",
            "2026-01-01T10:00:00Z",
            "--fault-end",
            "2026-01-01T10:05:00Z",
            "--baseline",
            "2m",
            "--recovery",
            "2m",
            "--no-kb",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["schedule"]["fault_start"],
        "2026-01-01T10:00:00.000000000Z"
    );
    assert_eq!(
        report["schedule"]["start"],
        "2026-01-01T09:58:00.000000000Z"
    );
    assert_eq!(report["report"]["mttd_secs"], serde_json::Value::Null);
    assert!(env.calls().is_empty(), "no kubectl without --apply");
}

/// `experiment run --live` with sources configured records an experiment someone else ran from
/// the telemetry Loki and Tempo hold (the simulator serving their APIs, the fault 8 to 14
/// minutes after its start): the right service is ranked first and the MTTD is measured.
#[test]
fn a_live_experiment_is_recorded_from_the_configured_sources() {
    let (_server, base, start) = crate::support::serve_past_simulation(
        "06",
        5,
        (
            Duration::from_secs(8 * 60),
            Duration::from_secs(6 * 60),
            Duration::from_secs(3 * 60),
        ),
        Duration::from_secs(18 * 60),
    );
    let fault_start = start.plus(Duration::from_secs(8 * 60));
    let fault_end = start.plus(Duration::from_secs(14 * 60));
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args([
            "experiment",
            "run",
            "06",
            "--live",
            "--fault-start",
            &fault_start.to_rfc3339(),
            "--fault-end",
            &fault_end.to_rfc3339(),
            "--baseline",
            "8m",
            "--recovery",
            "3m",
            "--loki",
            &base,
            "--tempo",
            &base,
            "--no-kb",
            "--json",
        ])
        .env_remove("BAYNET_PROMETHEUS_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("no live telemetry source"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mttd = report["report"]["mttd_secs"].as_f64();
    assert!(
        mttd.is_some_and(|s| (0.0..=300.0).contains(&s)),
        "MTTD {mttd:?}: {}",
        serde_json::to_string_pretty(&report["report"]).unwrap()
    );
    assert!(
        report["analysed_steps"].as_u64().unwrap_or(0) >= 10,
        "{report}"
    );
    // The logs are read from the scenario's namespace (sock-shop, not `default`) and analysed:
    // payment's own lines stop, so the log family flags every fault step, at the quietest
    // hour too, where the sampled traces alone miss most of them.
    let logs = &report["report"]["detection"]["logs"];
    assert!(
        logs["true_positives"].as_u64().unwrap_or(0) >= 5 && logs["false_positives"] == 0,
        "log family: {logs}"
    );
    let combined = &report["report"]["detection"]["combined"];
    assert_eq!(combined["false_positives"], 0, "{combined}");
    assert!(
        stderr.contains("reading namespace `sock-shop`, the scenario's target"),
        "{stderr}"
    );
}
