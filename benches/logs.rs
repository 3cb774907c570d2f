//! Log-family benchmarks: Drain template mining over a simulated experiment's log lines, the
//! whole model-free log family, MAIA window scoring with the hashing twin, and (when the model
//! is installed) all-MiniLM-L6-v2 embeddings per second with candle.
//!
//! The lines mined are also written to `target/bench-data/logs-lines.tsv` (service TAB line)
//! so that `benches/python/drain3_compare.py` mines exactly the same input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baynet::detect::logs::drain::Drain;
use baynet::detect::logs::maia::{HashEmbed, MaiaConfig, score_sequences};
use baynet::detect::logs::{LogConfig, detect_logs};
use baynet::detect::window::WindowGrid;
use baynet::model::{LogRecord, TimeRange};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn records() -> (Vec<LogRecord>, TimeRange, TimeRange) {
    let scenario = baynet::scenario::resolve("04").expect("scenario 04");
    let data =
        baynet::sim::run::run(baynet::sim::run::config_for(&scenario, 7)).expect("simulates");
    let truth = data.ground_truth.clone().expect("labelled");
    let mut logs = data.logs;
    logs.sort_by_key(|r| r.timestamp);
    let baseline = TimeRange::new(truth.start, truth.start.plus(Duration::from_secs(480))).unwrap();
    let scored = TimeRange::new(baseline.end, truth.end).unwrap();
    (logs, baseline, scored)
}

fn bench(c: &mut Criterion) {
    let (logs, baseline, scored) = records();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let tsv: String = logs
        .iter()
        .map(|r| format!("{}\t{}\n", r.service, r.line.replace(['\t', '\n'], " ")))
        .collect();
    std::fs::write(dir.join("logs-lines.tsv"), tsv).unwrap();
    let mut reference = Drain::default();
    for r in &logs {
        reference.add(&r.service, &r.line);
    }
    let n_templates = reference.clusters().len();
    eprintln!("{} lines, {n_templates} templates", logs.len());

    let mut group = c.benchmark_group("drain");
    group.throughput(Throughput::Elements(logs.len() as u64));
    let mine = || {
        let mut drain = Drain::default();
        for r in &logs {
            black_box(drain.add(&r.service, &r.line));
        }
        assert_eq!(drain.clusters().len(), n_templates);
    };
    group.bench_function("mine_sim_experiment_lines", |b| b.iter(mine));
    // The same work timed by the thread's CPU clock: lines per second *on one core*, which
    // stays comparable when other processes share the machine (wall-clock time then counts
    // the time the thread waited for a core).
    group.bench_function("mine_sim_experiment_lines_thread_cpu_time", |b| {
        b.iter_custom(|iterations| {
            let start = cpu_time::ThreadTime::now();
            for _ in 0..iterations {
                mine();
            }
            start.elapsed()
        });
    });
    group.finish();

    let grid = WindowGrid::covering(scored, Duration::from_secs(60));
    let mut group = c.benchmark_group("detect_logs");
    group.throughput(Throughput::Elements(logs.len() as u64));
    group.sample_size(10);
    group.bench_function("model_free_whole_experiment", |b| {
        b.iter(|| {
            let report = detect_logs(&logs, baseline, &grid, &LogConfig::default(), None).unwrap();
            assert!(report.family.scores.contains_key("carts-db"));
            black_box(report)
        });
    });
    group.finish();

    // Window scoring on one service's template sequence (the hashing twin isolates the
    // pipeline's own cost from the model's).
    let carts: Vec<&LogRecord> = logs.iter().filter(|r| r.service == "carts").collect();
    let mut drain = Drain::default();
    let texts: Vec<String> = carts
        .iter()
        .map(|r| drain.add(&r.service, &r.line))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|i| drain.template_text(i))
        .collect();
    let split = carts
        .iter()
        .position(|r| r.timestamp >= baseline.end)
        .unwrap_or(0);
    let normal: Vec<&str> = texts[..split].iter().map(String::as_str).collect();
    let window: Vec<&str> = texts[split..].iter().map(String::as_str).collect();
    let mut group = c.benchmark_group("maia");
    group.throughput(Throughput::Elements((window.len() / 10) as u64));
    group.sample_size(10);
    group.bench_function("score_windows_hash_embed", |b| {
        b.iter(|| {
            let out = score_sequences(
                &normal,
                &window,
                &MaiaConfig::default(),
                &mut HashEmbed::default(),
            )
            .unwrap();
            assert!(!out.is_empty());
            black_box(out)
        });
    });
    group.finish();

    match baynet::embed::discover::find_model() {
        Ok(model) => {
            let mut embedder = baynet::embed::Embedder::load(&model)
                .unwrap()
                .with_cache_capacity(0);
            let short: Vec<String> = logs.iter().take(32).map(|r| r.line.clone()).collect();
            let mut group = c.benchmark_group("embed");
            group.throughput(Throughput::Elements(32));
            group.sample_size(10);
            group.bench_function("minilm_32_log_lines_batch32", |b| {
                b.iter(|| {
                    let v = embedder.embed_texts(&short).unwrap();
                    assert_eq!(v.len(), 32);
                    black_box(v)
                });
            });
            let windows: Vec<String> = texts.chunks(10).take(32).map(|w| w.join("\n")).collect();
            group.bench_function("minilm_32_template_windows_batch32", |b| {
                b.iter(|| {
                    let v = embedder.embed_texts(&windows).unwrap();
                    assert_eq!(v.len(), windows.len());
                    black_box(v)
                });
            });
            group.finish();
        }
        Err(error) => eprintln!("SKIPPED embed benchmarks: {error}"),
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
