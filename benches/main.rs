//! Criterion benchmarks. Run with `cargo bench --bench main`; figures go to BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baynet::scenario;
use baynet::sim::run::{config_for, run};
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

/// A whole 30-minute experiment (10 min baseline, 10 min fault, 10 min recovery), simulated in
/// memory, then written to disk as an offline input directory.
fn simulate_experiment(c: &mut Criterion) {
    let scenario = scenario::resolve("04").unwrap();
    let mut group = c.benchmark_group("sim");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("30min_experiment_in_memory", |b| {
        b.iter(|| {
            let dataset = run(config_for(&scenario, 7)).unwrap();
            assert!(dataset.logs.len() > 10_000);
            dataset
        });
    });
    let dir = tempfile::tempdir().unwrap();
    group.bench_function("30min_experiment_to_disk", |b| {
        b.iter(|| {
            let dataset = run(config_for(&scenario, 7)).unwrap();
            baynet::input_dir::write_dir(dir.path(), &dataset).unwrap();
        });
    });
    group.finish();
}

criterion_group!(benches, simulate_experiment);
criterion_main!(benches);
