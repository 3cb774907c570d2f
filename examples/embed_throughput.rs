//! Embedding throughput on exactly what `benches/python/st_throughput.py` measures: the first
//! 32 log lines of the logs bench's TSV (`target/bench-data/logs-lines.tsv`, written here
//! from the same simulated experiment when missing), one warm-up call, then the best of 10
//! calls. The cache is off, so every call runs the model.
//!
//! ```sh
//! cargo run --release --example embed_throughput [TSV] [LINES]
//! RAYON_NUM_THREADS=2 target/release/examples/embed_throughput   # thread count as ST's
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

fn write_tsv(path: &std::path::Path) {
    let scenario = baynet::scenario::resolve("04").expect("scenario 04");
    let data =
        baynet::sim::run::run(baynet::sim::run::config_for(&scenario, 7)).expect("simulates");
    let mut logs = data.logs;
    logs.sort_by_key(|r| r.timestamp);
    let tsv: String = logs
        .iter()
        .map(|r| format!("{}\t{}\n", r.service, r.line.replace(['\t', '\n'], " ")))
        .collect();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, tsv).unwrap();
}

fn main() {
    let mut args = std::env::args().skip(1);
    let tsv = args.next().map_or_else(
        || {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/bench-data/logs-lines.tsv")
        },
        std::path::PathBuf::from,
    );
    let count: usize = args.next().map_or(32, |n| n.parse().expect("a line count"));
    if !tsv.exists() {
        eprintln!("writing {}", tsv.display());
        write_tsv(&tsv);
    }
    let text = std::fs::read_to_string(&tsv).unwrap();
    let lines: Vec<String> = text
        .lines()
        .take(count)
        .map(|row| row.split_once('\t').map_or("", |(_, line)| line).to_owned())
        .collect();
    let model = baynet::embed::discover::find_model().unwrap();
    let mut embedder = baynet::embed::Embedder::load(&model)
        .unwrap()
        .with_cache_capacity(0);
    let start = Instant::now();
    let tokens: usize = lines
        .iter()
        .map(|line| {
            embedder
                .tokenizer()
                .encode(line.as_str(), true)
                .unwrap()
                .get_ids()
                .len()
        })
        .sum();
    let tokenizing = start.elapsed();
    embedder.embed_texts(&lines).unwrap();
    let mut best = Duration::MAX;
    for _ in 0..10 {
        let start = Instant::now();
        let vectors = embedder.embed_texts(&lines).unwrap();
        best = best.min(start.elapsed());
        assert_eq!(vectors.len(), lines.len());
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = lines.len() as f64 / best.as_secs_f64();
    println!(
        "baynet packed encoder (gemm): {} log lines ({tokens} word pieces, tokenized one by one in {:.1} ms), best of 10: {rate:.1} texts/s ({:.0} ms)",
        lines.len(),
        tokenizing.as_secs_f64() * 1e3,
        best.as_secs_f64() * 1e3
    );
}
