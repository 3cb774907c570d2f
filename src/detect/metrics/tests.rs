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
    golden.insert("carts".to_owned(), GoldenSignals { signals });
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
