//! Detector evaluation on a subset of the simulator scenarios (the full set runs via
//! `baynet eval detectors`): faults are detected and normal windows stay mostly quiet.
use baynet::eval::detectors::{EvalConfig, evaluate};

#[test]
fn trace_and_metric_detectors_find_delay_and_pod_failure_faults() {
    for filter in ["shipping-network-delay", "user-pod-failure"] {
        let config = EvalConfig {
            random_seeds: vec![],
            scenario_filter: filter.to_owned(),
            ..EvalConfig::default()
        };
        let report = evaluate(&config).unwrap();
        assert_eq!(report.runs.len(), 1);
        let combined = report.runs[0].families["combined"];
        assert!(combined.recall >= 0.9, "{filter}: {combined:?}");
        assert!(combined.precision >= 0.9, "{filter}: {combined:?}");
        assert!(
            report.runs[0].localisation_hit3,
            "{filter}: {:?}",
            report.runs[0].ranking
        );
    }
}
