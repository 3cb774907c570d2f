//! Bounded load test of `baynet serve` on loopback: the server runs in-process with its
//! analysis refreshed every 100 ms (a full Bayesian ranking each time), while clients send a
//! fixed 1,000 requests/s for a fixed duration across the Node Graph, metrics and event
//! endpoints. Prints the achieved rate and latency percentiles.
//!
//! `cargo run --release --example serve_load -- [SECONDS] [RATE]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baynet::model::Timestamp;
use baynet::rca::{EvidenceItem, LinkStrengths, RcaConfig, ServiceEvidence, rank};
use baynet::serve::server::{AnalysisFeed, ServerConfig, Shared, run};
use baynet::serve::snapshot::Snapshot;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

struct RotatingFeed(u64);

impl AnalysisFeed for RotatingFeed {
    fn analyze(
        &mut self,
        now: Timestamp,
        external: &BTreeMap<String, (f64, Vec<EvidenceItem>)>,
    ) -> Result<Snapshot, String> {
        self.0 += 1;
        let graph = baynet::sim::topology::service_graph();
        let names: Vec<String> = graph.services().map(|s| s.name.clone()).collect();
        let failing = &names[(self.0 as usize) % names.len()];
        let mut evidence: BTreeMap<String, ServiceEvidence> = names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    ServiceEvidence {
                        degraded: Some(if n == failing { 0.95 } else { 0.03 }),
                        starved: Some(0.02),
                        ..Default::default()
                    },
                )
            })
            .collect();
        for (service, (score, _)) in external {
            evidence.entry(service.clone()).or_default().degraded = Some(*score);
        }
        let ranking = rank(
            &graph,
            &evidence,
            &LinkStrengths::new(),
            &RcaConfig::default(),
        )
        .map_err(|e| e.to_string())?;
        let mut snapshot = Snapshot::empty("sock-shop", now);
        snapshot.graph = graph;
        snapshot.ranking = ranking;
        Ok(snapshot)
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let config = ServerConfig {
        listen: address,
        token: None,
        update_every: Duration::from_millis(100),
        event_ttl: Duration::from_secs(600),
    };
    let shared = Shared::new(Snapshot::empty("sock-shop", Timestamp(0)), config.event_ttl);
    runtime.spawn(run(config, shared, RotatingFeed(0), std::future::pending()));
    std::thread::sleep(Duration::from_millis(500));
    baynet::serve::sqs::ensure_crypto_provider();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let base = format!("http://{address}");
    let started = Instant::now();
    let results = runtime.block_on(async move {
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
                let response = match index % 5 {
                    0 | 1 => client.get(format!("{base}/api/graph/data")).send().await,
                    2 => client.get(format!("{base}/api/graph/fields")).send().await,
                    3 => client.get(format!("{base}/metrics")).send().await,
                    _ => client.post(format!("{base}/api/v1/events")).header("content-type", "application/json").body(format!(r#"{{"event_id":"load-{index}","service":"payment","score":0.5,"ts":"2025-01-01T00:00:00Z"}}"#)).send().await,
                };
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
    println!(
        "{{\"requests\": {}, \"seconds\": {:.2}, \"achieved_rps\": {:.0}, \"errors\": {}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}, \"max_ms\": {:.2}}}",
        results.len(),
        elapsed.as_secs_f64(),
        results.len() as f64 / elapsed.as_secs_f64(),
        errors,
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().unwrap().as_secs_f64() * 1000.0
    );
}
