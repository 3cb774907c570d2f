use super::*;
use crate::detect::window::WindowGrid;

fn points(values: impl Iterator<Item = f64>) -> Vec<Sample> {
    values
        .enumerate()
        .map(|(i, value)| Sample {
            timestamp: Timestamp::from_secs(15 * i64::try_from(i).expect("small")),
            value,
        })
        .collect()
}

/// 40 baseline points (10 min) then 40 scored points; errors jump at point 60.
fn golden_with_error_step() -> BTreeMap<String, GoldenSignals> {
    let noise = |i: usize| 0.001 * ((i * 7919) % 13) as f64;
    let errors = points((0..81).map(|i| if i >= 60 { 0.4 } else { noise(i) }));
    let traffic = points((0..81).map(|i| 10.0 + noise(i) * 100.0));
    let mut signals = BTreeMap::new();
    signals.insert(Signal::ErrorRatio, errors);
    signals.insert(Signal::Traffic, traffic);
    let mut golden = BTreeMap::new();
    golden.insert(
        "carts".to_owned(),
        GoldenSignals {
            signals,
            ..GoldenSignals::default()
        },
    );
    golden
}

fn ranges() -> (TimeRange, WindowGrid) {
    let baseline = TimeRange::new(Timestamp::from_secs(0), Timestamp::from_secs(600)).expect("ok");
    let scored = TimeRange::new(Timestamp::from_secs(600), Timestamp::from_secs(1200)).expect("ok");
    (
        baseline,
        WindowGrid::covering(scored, Duration::from_secs(60)),
    )
}

#[test]
fn an_error_step_fires_only_after_it_happens() {
    let (baseline, grid) = ranges();
    let report = detect_metrics(
        &golden_with_error_step(),
        baseline,
        &grid,
        &[],
        &MetricConfig::default(),
    );
    let scores = &report.family.scores["carts"];
    // Point 60 is t = 900 s: window (840, 900] is window 4; windows 0..4 stay quiet.
    for (w, score) in scores.iter().enumerate() {
        assert_eq!(*score >= 0.5, w >= 4, "window {w} score {score}");
    }
    let first = &report.family.events[0];
    assert_eq!(first.signal, "error_ratio");
    assert_eq!(first.evidence.metric_deltas[0].observed, 0.4);
    assert!(
        report
            .forecasts
            .iter()
            .any(|f| f.signal == "error_ratio" && f.values.len() == 8)
    );
    assert_eq!(report.iforest_scores["carts"].len(), grid.count);
    assert!(report.iforest_scores["carts"][6] > report.iforest_scores["carts"][0]);
}

#[test]
fn a_deploy_explains_traffic_but_not_errors() {
    let (baseline, grid) = ranges();
    let mut golden = golden_with_error_step();
    let signals = &mut golden.get_mut("carts").expect("carts").signals;
    for (i, point) in signals
        .get_mut(&Signal::Traffic)
        .expect("traffic")
        .iter_mut()
        .enumerate()
    {
        if (44..48).contains(&i) {
            point.value = 30.0;
        }
    }
    let deploy = ChangeEvent {
        service: "carts".into(),
        at: Timestamp::from_secs(650),
        kind: ChangeKind::Deploy,
    };
    let with_deploy = detect_metrics(
        &golden,
        baseline,
        &grid,
        &[deploy],
        &MetricConfig::default(),
    );
    let without = detect_metrics(&golden, baseline, &grid, &[], &MetricConfig::default());
    assert!(without.signal_scores["carts"]["traffic_rps"][0] >= 0.5);
    assert_eq!(with_deploy.signal_scores["carts"]["traffic_rps"][0], 0.0);
    assert!(with_deploy.signal_scores["carts"]["error_ratio"][5] >= 0.5);
}

/// Four errors among nineteen requests (ratio 0.21) is within sampling noise next to a clean
/// baseline: the decision lets it pass while the score the ranking reads keeps it. The same
/// ratio over 600 requests, or every one of nineteen failing, is called.
#[test]
fn an_error_ratio_of_few_requests_is_decided_by_its_count() {
    let (baseline, grid) = ranges();
    let run = |ratio: f64, requests: f64| {
        let mut golden = golden_with_error_step();
        let carts = golden.get_mut("carts").expect("carts");
        let errors = carts.signals.get_mut(&Signal::ErrorRatio).expect("errors");
        for point in errors.iter_mut().skip(60) {
            point.value = ratio;
        }
        carts.error_ratio_requests = points((0..81).map(|_| requests));
        let report = detect_metrics(&golden, baseline, &grid, &[], &MetricConfig::default());
        (
            report.family.scores["carts"][5],
            report.family.verdict["carts"][5],
        )
    };
    let (score, verdict) = run(4.0 / 19.0, 19.0);
    assert!(score >= 0.5, "{score}");
    // Binomial z with rate max(0.001, 1/19): (0.2105 − 0.0008) / 0.0512 = 4.09 → 0.45.
    assert!((verdict - 0.45).abs() < 0.01, "{verdict}");
    let (_, verdict) = run(4.0 / 19.0, 600.0);
    assert!(verdict >= 0.5, "{verdict}");
    let (_, verdict) = run(1.0, 19.0);
    assert!(verdict >= 0.5, "{verdict}");
    // Two of nineteen against a clean baseline: z ≈ 2.05 (the orders case in EVALUATION.md).
    assert!((binomial_z(2.0 / 19.0, 0.0, 19.0) - 2.05).abs() < 0.01);
    // Without counts the ratio alone decides, as before.
    assert!(binomial_z(0.1, 0.0, 0.0).is_infinite());
    let golden = golden_with_error_step();
    let report = detect_metrics(&golden, baseline, &grid, &[], &MetricConfig::default());
    assert_eq!(
        report.family.verdict["carts"],
        report.family.scores["carts"]
    );
}

/// A p99 jump that the decision's stand-in (the p99 no single request sets) does not show is
/// kept as evidence and not called, unless it lies beyond the highest baseline p99 by the z
/// threshold; one the stand-in shows too is called.
#[test]
fn a_p99_set_by_one_request_is_not_called() {
    let (baseline, grid) = ranges();
    let noise = |i: usize| ((i * 7919) % 13) as f64 * 0.2;
    let run = |p99_after: f64, stand_in_after: f64| {
        // The baseline saw one slow request too: 60 ms at point 20.
        let p99 = points((0..81).map(|i| match i {
            20 => 60.0,
            60.. => p99_after,
            _ => 24.0 + noise(i),
        }));
        let stand_in = points((0..81).map(|i| {
            if i >= 60 {
                stand_in_after
            } else {
                23.0 + noise(i)
            }
        }));
        let mut signals = BTreeMap::new();
        signals.insert(Signal::LatencyP99, p99);
        let mut golden = BTreeMap::new();
        golden.insert(
            "carts".to_owned(),
            GoldenSignals {
                signals,
                latency_p99_decision: stand_in,
                ..GoldenSignals::default()
            },
        );
        let report = detect_metrics(&golden, baseline, &grid, &[], &MetricConfig::default());
        (
            report.family.scores["carts"][5],
            report.family.verdict["carts"][5],
        )
    };
    // p99 110 against a median near 25 with the ±50 % floor (scale 12.6): z ≈ 6.7, scored;
    // beyond the baseline's highest (60) only (110 − 60) / 12.6 = 3.97 → 0.44: not called.
    let (score, verdict) = run(110.0, 24.5);
    assert!(score >= 0.5, "{score}");
    assert!((verdict - 0.443).abs() < 0.01, "{verdict}");
    // One request at 1 s is beyond anything the baseline saw: called.
    let (score, verdict) = run(1000.0, 24.5);
    assert!(
        verdict >= 0.5 && (verdict - score).abs() < 0.05,
        "{score} {verdict}"
    );
    // The stand-in moves too (two or more slow requests): called.
    let (score, verdict) = run(110.0, 110.0);
    assert!(
        verdict >= 0.5 && (verdict - score).abs() < 0.05,
        "{score} {verdict}"
    );
}
