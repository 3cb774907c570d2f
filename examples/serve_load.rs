//! Bounded load test of `baynet serve` on loopback. The server runs in-process on its own
//! two-thread runtime with the real feed: the built-in simulation at 60x (scenario 06), the
//! detectors and the Bayesian network re-run on every newly closed detector window (about once
//! a second) and a re-ranking with the external events every 100 ms. A separate client runtime
//! sends a fixed request rate for a fixed duration across the Node Graph, metrics and event
//! endpoints, open-loop (a slow answer does not slow the sender). Prints the achieved rate,
//! latency percentiles and how many analyses ran meanwhile.
//!
//! `cargo run --release --example serve_load -- [SECONDS] [RATE]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baynet::analysis::AnalysisConfig;
use baynet::live::SimSettings;
use baynet::model::Timestamp;
use baynet::serve::feed::{ExternalEvidence, SimSource, SourceFeed};
use baynet::serve::server::{AnalysisFeed, ServerConfig, Shared, now, run};
use baynet::serve::snapshot::Snapshot;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The real feed, counting its analyses and updates for the report.
struct Counted {
    feed: SourceFeed<SimSource>,
    analyses: Arc<AtomicU64>,
    updates: Arc<AtomicU64>,
}

impl AnalysisFeed for Counted {
    fn analyze(&mut self, now: Timestamp, external: &ExternalEvidence) -> Result<Snapshot, String> {
        let result = self.feed.analyze(now, external);
        self.analyses.store(self.feed.analyses(), Ordering::Relaxed);
        self.updates.fetch_add(1, Ordering::Relaxed);
        result
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .min(120);
    let rate: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
        .min(20_000);
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let config = ServerConfig {
        listen: address,
        token: Some("load-test-token".to_owned()),
        update_every: Duration::from_millis(100),
        event_ttl: Duration::from_secs(600),
    };
    let mut settings = SimSettings::new(vec![baynet::scenario::resolve("06").unwrap()]);
    settings.speed = 60.0;
    let analyses = Arc::new(AtomicU64::new(0));
    let updates = Arc::new(AtomicU64::new(0));
    let feed = Counted {
        feed: SourceFeed::new(
            SimSource::new(settings, now()).unwrap(),
            "sock-shop",
            AnalysisConfig::default(),
        ),
        analyses: Arc::clone(&analyses),
        updates: Arc::clone(&updates),
    };
    let shared = Shared::new(Snapshot::empty("sock-shop", now()), config.event_ttl);
    server_runtime.spawn(run(config, shared, feed, std::future::pending()));
    // Past the simulation's baseline (150 s simulated = 2.5 s), so analyses run during the test.
    std::thread::sleep(Duration::from_secs(5));
    let (analyses_before, updates_before) = (
        analyses.load(Ordering::Relaxed),
        updates.load(Ordering::Relaxed),
    );
    baynet::serve::sqs::ensure_crypto_provider();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let base = format!("http://{address}");
    let started = Instant::now();
    let results = client_runtime.block_on(async move {
        let mut handles = Vec::new();
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let total = seconds * rate;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for index in 0..total {
            ticker.tick().await;
            let client = client.clone();
            let base = base.clone();
            handles.push(tokio::spawn(async move {
                let begin = Instant::now();
                let request = match index % 5 {
                    0 | 1 => client.get(format!("{base}/api/graph/data")),
                    2 => client.get(format!("{base}/api/graph/fields")),
                    3 => client.get(format!("{base}/metrics")),
                    _ => client
                        .post(format!("{base}/api/v1/events"))
                        .header("content-type", "application/json")
                        .body(format!(
                            r#"{{"event_id":"load-{index}","service":"user","score":0.5,"ts":"{}"}}"#,
                            chrono::Utc::now().to_rfc3339()
                        )),
                };
                let response = request.bearer_auth("load-test-token").send().await;
                let ok = match response {
                    Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                    Err(_) => false,
                };
                (begin.elapsed(), ok)
            }));
        }
        let mut results = Vec::with_capacity(handles.len());
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        results
    });
    let elapsed = started.elapsed();
    let mut latencies: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
    latencies.sort();
    let errors = results.iter().filter(|(_, ok)| !ok).count();
    let analyses = analyses.load(Ordering::Relaxed) - analyses_before;
    let updates = updates.load(Ordering::Relaxed) - updates_before;
    println!(
        "{{\"analyses_during\": {analyses}, \"updates_during\": {updates}, \"requests\": {}, \"seconds\": {:.2}, \"achieved_rps\": {:.0}, \"errors\": {}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}, \"max_ms\": {:.2}}}",
        results.len(),
        elapsed.as_secs_f64(),
        results.len() as f64 / elapsed.as_secs_f64(),
        errors,
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().unwrap().as_secs_f64() * 1000.0
    );
}
