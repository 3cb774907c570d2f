//! Detector benchmarks: MAIA health scoring and the whole trace family over 10k simulated
//! traces, and the metric family (golden signals + detectors) over the 14-service signal set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baynet::detect::metrics::golden::{GoldenConfig, golden_signals_with};
use baynet::detect::metrics::{MetricConfig, detect_metrics};
use baynet::detect::traces::health::{HealthConfig, health_score};
use baynet::detect::traces::{TraceConfig, detect_traces};
use baynet::detect::window::WindowGrid;
use baynet::model::{Span, TimeRange, Trace};
use baynet::sim::SimConfig;
use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

fn dataset() -> baynet::model::Dataset {
    let scenario = baynet::scenario::resolve("12").expect("scenario 12");
    let mut config = baynet::sim::run::config_for(&scenario, 7);
    config.trace_sample_rate = 1.0;
    config.load_per_sec = 8.0;
    baynet::sim::run::run(SimConfig { ..config }).expect("simulates")
}

fn bench(c: &mut Criterion) {
    let data = dataset();
    let truth = data.ground_truth.clone().expect("labelled");
    let traces = Trace::group(data.spans.clone());
    let kept: Vec<Trace> = traces.into_iter().take(10_000).collect();
    assert_eq!(kept.len(), 10_000, "need 10k traces");
    let spans: Vec<Span> = kept.iter().flat_map(|t| t.spans.iter().cloned()).collect();
    let end = spans.iter().map(|s| s.start).max().expect("spans");
    let baseline = TimeRange::new(truth.start, truth.start.plus(Duration::from_secs(480))).unwrap();
    let scored = TimeRange::new(baseline.end, end).unwrap();
    let grid = WindowGrid::covering(scored, Duration::from_secs(60));

    c.bench_function("health_score/10k_traces_per_service", |b| {
        b.iter(|| {
            let mut by_service: BTreeMap<&str, Vec<&Span>> = BTreeMap::new();
            for span in spans
                .iter()
                .filter(|s| s.kind == baynet::model::SpanKind::Server)
            {
                by_service.entry(&span.service).or_default().push(span);
            }
            let scores: Vec<f64> = by_service
                .values()
                .filter_map(|list| health_score(list, None, end, &HealthConfig::default()))
                .map(|h| h.score)
                .collect();
            assert_eq!(scores.len(), 7, "HTTP services with server spans");
            black_box(scores)
        });
    });
    c.bench_function("detect_traces/10k_traces", |b| {
        b.iter(|| {
            let report = detect_traces(&spans, baseline, &grid, &[], &TraceConfig::default());
            assert!(report.family.scores.contains_key("shipping"));
            black_box(report)
        });
    });
    let series = data.series.clone();
    let all = TimeRange::new(baseline.end, truth.end).unwrap();
    let metric_grid = WindowGrid::covering(all, Duration::from_secs(60));
    c.bench_function("golden_signals/14_services_30min", |b| {
        b.iter(|| {
            let golden = golden_signals_with(&series, GoldenConfig::default());
            assert_eq!(golden.len(), 14);
            black_box(golden)
        });
    });
    let golden = golden_signals_with(&series, GoldenConfig::default());
    c.bench_function("detect_metrics/14_services_30min", |b| {
        b.iter(|| {
            let report = detect_metrics(
                &golden,
                baseline,
                &metric_grid,
                &[],
                &MetricConfig::default(),
            );
            assert!(report.family.events.iter().any(|e| e.service == "shipping"));
            black_box(report)
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
