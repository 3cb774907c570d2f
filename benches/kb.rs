//! Knowledge-base benchmarks: hybrid top-10 retrieval over 100k incidents (p50 / p99),
//! indexing rate, open and rebuild times. Run with `cargo bench --bench kb`; figures go to
//! BENCHMARKS.md ("Knowledge base").
//!
//! The incidents are synthetic postmortems (deterministic per index): one of the 14 sock-shop
//! services × 11 fault classes, a symptom signature over two to five services, a body of about
//! 1.5 kB built from incident-report sentences with numbers, tags and a remediation. Vectors use
//! the hashed bag of words (the model-free embedder): the query's MiniLM embedding is measured
//! by the `embed` benchmark, not here. Under `cargo test` (no `--bench`) the store holds 2,000
//! incidents so the test run stays short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baynet::knowledge::record::{Postmortem, Source, SymptomSignature};
use baynet::knowledge::retrieval::{SearchQuery, StoredRecord, content_hash};
use baynet::knowledge::store::KnowledgeStore;
use baynet::knowledge::vectors::{FlatIndex, HashedBagOfWords, TextEmbedder, VectorIndex};
use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SERVICES: [(&str, &str); 14] = [
    ("front-end", "gateway"),
    ("catalogue", "service"),
    ("catalogue-db", "database"),
    ("carts", "service"),
    ("carts-db", "database"),
    ("orders", "service"),
    ("orders-db", "database"),
    ("payment", "service"),
    ("shipping", "service"),
    ("queue-master", "service"),
    ("rabbitmq", "queue"),
    ("user", "service"),
    ("user-db", "database"),
    ("session-db", "cache"),
];
const CLASSES: [&str; 11] = [
    "pod-failure",
    "network-partition",
    "network-delay",
    "bandwidth",
    "io-fault",
    "cpu-stress",
    "memory-stress",
    "http-abort",
    "bad-deploy",
    "db-connection-exhaustion",
    "overload",
];
const SIGNALS: [&str; 12] = [
    "error_ratio",
    "latency_p99_ms",
    "latency_p50_ms",
    "requests_per_s",
    "tcp_failures_per_s",
    "restarts_per_s",
    "memory_bytes",
    "cpu_cores",
    "log_template",
    // Failure modes (`detect::logs::failure`): the signature's fourth part.
    "log_timeout",
    "log_refused",
    "log_io_error",
];
const SENTENCES: [&str; 12] = [
    "Callers saw {n} percent of requests fail with 503 while {s} was unreachable.",
    "The p99 latency of {s} rose from {n} ms to several seconds during the fault window.",
    "Envoy reported upstream connect errors and retries toward {s}; the gateway kept serving.",
    "The on-call engineer opened the console, saw {s} in red and checked its recent deploys.",
    "Template {n} appeared for the first time in the logs of {s}: connection refused by peer.",
    "Memory of the {s} pod grew by {n} MB before the container was OOM-killed and restarted.",
    "Queue depth on the broker climbed to {n} messages while consumers backed off.",
    "After the Chaos Mesh object was deleted, {s} recovered within {n} seconds.",
    "The error budget of the checkout SLO burned {n} percent faster than the monthly rate.",
    "Rolling back the deployment of {s} restored the success rate to its baseline.",
    "Disk reads of {s} failed with EIO for {n} seconds; the service returned 500 to callers.",
    "CPU throttling of {s} reached {n} percent of its quota; request queues formed upstream.",
];

/// A small deterministic generator (SplitMix64), so every run stores the same incidents.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

fn incident(i: usize) -> StoredRecord {
    let mut rng = Rng(i as u64);
    let (service, _) = SERVICES[rng.below(SERVICES.len())];
    let class = CLASSES[rng.below(CLASSES.len())];
    let mut signature = SymptomSignature::default();
    let spread = 2 + rng.below(4);
    for k in 0..spread {
        let (name, role) = if k == 0 {
            SERVICES
                .iter()
                .copied()
                .find(|(s, _)| *s == service)
                .unwrap()
        } else {
            SERVICES[rng.below(SERVICES.len())]
        };
        let mut signals = BTreeMap::new();
        for _ in 0..1 + rng.below(3) {
            let signal = SIGNALS[rng.below(SIGNALS.len())];
            #[allow(clippy::cast_precision_loss)]
            let score = 0.5 + (rng.below(50) as f64) / 100.0;
            signals.insert(signal.to_owned(), score);
            let list = signature.role_mut(role).unwrap();
            if !list.iter().any(|s| s == signal) {
                list.push(signal.to_owned());
            }
        }
        signature
            .services
            .entry(name.to_owned())
            .or_default()
            .extend(signals);
    }
    let mut body = format!("## Summary\n\n{class} on {service} (incident {i}).\n\n## Timeline\n\n");
    for _ in 0..12 {
        let sentence = SENTENCES[rng.below(SENTENCES.len())];
        let other = SERVICES[rng.below(SERVICES.len())].0;
        body.push_str(
            &sentence
                .replace("{s}", if rng.below(2) == 0 { service } else { other })
                .replace("{n}", &(10 + rng.below(990)).to_string()),
        );
        body.push(' ');
    }
    body.push_str("\n\n## Lessons\n\nAlert on the callers' error ratio, not only on the pod.\n");
    let day = 1 + i % 28;
    let record = Postmortem {
        id: format!("bench-{i:06}"),
        title: format!("{class} of {service} ({i})"),
        started: Some(format!("2026-{:02}-{day:02}T10:00:00Z", 1 + i % 12)),
        detected: None,
        resolved: None,
        environment: Some("bench".to_owned()),
        source: Source::ChaosExperiment,
        scenario: None,
        chaos_kind: None,
        root_cause_service: service.to_owned(),
        fault_class: class.to_owned(),
        affected_services: signature.services.keys().cloned().collect(),
        symptom_signature: signature,
        mttd_secs: Some(60.0),
        mttr_secs: Some(300.0),
        impact: None,
        detectors: Vec::new(),
        ranking: Vec::new(),
        remediation: format!("Restart {service}; check the {class} playbook."),
        follow_ups: Vec::new(),
        tags: vec![class.to_owned(), format!("team-{}", i % 7)],
        body: String::new(),
    };
    StoredRecord {
        path: PathBuf::from(format!("bench/{i:06}.md")),
        hash: content_hash(body.as_bytes()),
        record,
        body,
    }
}

/// A query like the console's: an analysis's evidence text and its signature, focused on the
/// top suspect; `i` varies the suspect and the signals.
fn query(i: usize) -> SearchQuery {
    let sample = incident(1_000_000 + i);
    SearchQuery {
        text: format!(
            "{} {} error_ratio latency_p99_ms connection refused upstream 503",
            sample.record.root_cause_service, sample.record.fault_class
        ),
        focus_service: Some(sample.record.root_cause_service.clone()),
        signature: Some(sample.record.symptom_signature),
        limit: 10,
        ..SearchQuery::default()
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at]
}

fn knowledge_base(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    // `BAYNET_BENCH_KB_RECORDS` overrides the size (profiling a smaller store).
    let count = std::env::var("BAYNET_BENCH_KB_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 100_000 } else { 2_000 });
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<StoredRecord> = (0..count).map(incident).collect();

    let started = Instant::now();
    let mut store =
        KnowledgeStore::open(dir.path(), Box::new(HashedBagOfWords::default())).unwrap();
    store.replace_all(records.clone()).unwrap();
    let indexing = started.elapsed();
    assert_eq!(store.len(), count);
    drop(store);

    let started = Instant::now();
    let mut store =
        KnowledgeStore::open(dir.path(), Box::new(HashedBagOfWords::default())).unwrap();
    let open = started.elapsed();
    assert_eq!(store.len(), count);

    // Latency distribution over distinct queries (criterion reports the mean of one query).
    let mut times = Vec::new();
    for i in 0..if full { 1_000 } else { 20 } {
        let q = query(i);
        let started = Instant::now();
        let hits = store.search(&q).unwrap();
        times.push(started.elapsed());
        assert_eq!(hits.len(), 10);
    }
    times.sort();
    #[allow(clippy::cast_precision_loss)]
    let rate = count as f64 / indexing.as_secs_f64();
    eprintln!(
        "kb: {count} incidents: indexed in {:.1} s ({rate:.0} records/s, embedding included), \
         opened in {:.2} s; hybrid top-10 over {} queries: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        indexing.as_secs_f64(),
        open.as_secs_f64(),
        times.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );

    // Each step alone (sequentially; `search` runs BM25 and the signatures on threads beside
    // the vectors): where the time goes.
    let mut steps: [Vec<Duration>; 4] = Default::default();
    for i in 0..if full { 300 } else { 10 } {
        let times = store.step_times(&query(i)).unwrap();
        for (all, time) in steps.iter_mut().zip(times) {
            all.push(time);
        }
    }
    let mut line = String::new();
    for (name, all) in ["embed", "bm25", "vectors", "signatures"]
        .iter()
        .zip(steps.iter_mut())
    {
        all.sort();
        line.push_str(&format!(
            " {name} p50 {:.2} ms p99 {:.2} ms;",
            percentile(all, 0.5).as_secs_f64() * 1e3,
            percentile(all, 0.99).as_secs_f64() * 1e3
        ));
    }
    eprintln!("kb: steps alone:{line}");

    // The vector ranking (codes, then exact rescoring) against the exact scan: how many of
    // the exact top 50 it returns.
    let mut exact = FlatIndex::default();
    for stored in store.records() {
        let (_, found) = store.vectors_of(&stored.record.id).unwrap();
        exact.upsert(&stored.record.id, found);
    }
    let mut embedder = HashedBagOfWords::default();
    let (mut found, mut wanted, mut exact_time) = (0_usize, 0_usize, Duration::ZERO);
    let (mut top10, mut shortfall) = (0_usize, 0.0_f32);
    for i in 0..if full { 200 } else { 10 } {
        let vector = embedder.embed(&[query(i).text]).unwrap().remove(0);
        let started = Instant::now();
        let truth = exact.search_exact(&vector, 50, &|_| true);
        exact_time += started.elapsed();
        let got = exact.search(&vector, 50, &|_| true);
        wanted += truth.len();
        found += truth
            .iter()
            .filter(|t| got.iter().any(|g| g.0 == t.0))
            .count();
        top10 += truth
            .iter()
            .take(10)
            .filter(|t| got.iter().any(|g| g.0 == t.0))
            .count();
        // How far below the exact 50th score the returned 50th falls.
        if let (Some(t), Some(g)) = (truth.last(), got.last()) {
            shortfall = shortfall.max(t.1 - g.1);
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let recall = found as f64 / wanted.max(1) as f64;
    eprintln!(
        "kb: vector top-50 recall against the exact scan {recall:.4} ({found}/{wanted}), exact top 10 \
         among the 50 returned {top10}/{}, 50th score at most {shortfall:.4} below the exact 50th; \
         exact scan {:.2} ms per query",
        wanted.min(10 * if full { 200 } else { 10 }),
        exact_time.as_secs_f64() * 1e3 / if full { 200.0 } else { 10.0 }
    );
    for rescored in [100, 200, 400, 800, 3200] {
        let (mut found, mut top10, mut time) = (0_usize, 0_usize, Duration::ZERO);
        for i in 0..if full { 200 } else { 10 } {
            let vector = embedder.embed(&[query(i).text]).unwrap().remove(0);
            let truth = exact.search_exact(&vector, 50, &|_| true);
            let started = Instant::now();
            let got = exact.search_rescoring(&vector, 50, rescored, &|_| true);
            time += started.elapsed();
            let hit = |t: &(String, f32)| got.iter().any(|g| g.0 == t.0);
            found += truth.iter().filter(|t| hit(t)).count();
            top10 += truth.iter().take(10).filter(|t| hit(t)).count();
        }
        eprintln!(
            "kb: rescoring {rescored}: top-50 recall {found}/{wanted}, exact top 10 found {top10}; {:.2} ms per query",
            time.as_secs_f64() * 1e3 / if full { 200.0 } else { 10.0 }
        );
    }
    drop(exact);

    let mut group = c.benchmark_group("kb");
    group.sample_size(20);
    let q = query(7);
    group.bench_function(format!("hybrid_top10_{count}"), |b| {
        b.iter(|| store.search(&q).unwrap());
    });
    let filtered = SearchQuery {
        fault_class: Some("io-fault".to_owned()),
        ..query(8)
    };
    group.bench_function(format!("hybrid_top10_{count}_fault_filter"), |b| {
        b.iter(|| store.search(&filtered).unwrap());
    });
    group.finish();

    // The rebuild `kb reindex` does when every file changed: all records re-embedded and
    // re-indexed in one transaction.
    let started = Instant::now();
    store.replace_all(records).unwrap();
    eprintln!(
        "kb: rebuild of {count} incidents in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

criterion_group!(benches, knowledge_base);
criterion_main!(benches);
