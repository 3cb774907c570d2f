use crate::support::{ChildGuard, free_port, http_get, poll, require_program, spawn_baynet};
use baynet::wire::prometheus::{PromData, decode_query};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

fn edges(prometheus: &str, query: &str) -> Option<BTreeSet<(String, String)>> {
    let (status, body) = http_get(&format!("{prometheus}/api/v1/query"), &[("query", query)])?;
    assert_eq!(status, 200, "{body}");
    let PromData::Vector(series) =
        decode_query(body.as_bytes()).expect("Prometheus answers valid JSON")
    else {
        panic!("expected a vector: {body}")
    };
    Some(
        series
            .iter()
            .filter(|s| s.samples.first().is_some_and(|p| p.value > 0.0))
            .map(|s| {
                (
                    s.label("source_workload").unwrap_or("").to_owned(),
                    s.label("destination_workload").unwrap_or("").to_owned(),
                )
            })
            .collect(),
    )
}

/// Starts a real Prometheus on 127.0.0.1 scraping `127.0.0.1:{sim_port}` every second; returns
/// the guard, its data directory and its base URL once it is ready.
pub fn start_prometheus(sim_port: u16) -> (ChildGuard, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    // A second job scrapes the same target as if it were one front-end pod and keeps none of
    // its samples: only the series Prometheus records about the scrape itself
    // (`scrape_duration_seconds`, `up`), labelled as the usual `kubernetes-pods` job labels them.
    let pod_job = "  - job_name: kubernetes-pods\n    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: '.+'\n        action: drop\n    static_configs:\n      - targets: ['127.0.0.1:{sim_port}']\n        labels: {namespace: sock-shop, pod: front-end-6d8f9c7b5d-x2v7k}\n".replace("{sim_port}", &sim_port.to_string());
    std::fs::write(&config, format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: baynet-sim\n    static_configs:\n      - targets: ['127.0.0.1:{sim_port}']\n{pod_job}")).unwrap();
    let prom_port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let guard = ChildGuard(child);
    let prometheus = format!("http://127.0.0.1:{prom_port}");
    poll(Duration::from_secs(30), Duration::from_millis(300), || {
        http_get(&format!("{prometheus}/-/ready"), &[]).filter(|(s, _)| *s == 200)
    })
    .expect("prometheus becomes ready");
    (guard, dir, prometheus)
}

/// `baynet sim serve` scraped by a real Prometheus gives the sock-shop picture, HTTP and TCP.
#[test]
fn real_prometheus_scrapes_the_simulated_mesh() {
    if !require_program("prometheus", "BAYNET_REQUIRE_PROMETHEUS") {
        return;
    }
    let sim_port = free_port();
    let _sim = spawn_baynet(&[
        "sim",
        "serve",
        "--listen",
        &format!("127.0.0.1:{sim_port}"),
        "--no-fault",
        "--load",
        "25",
        "--seed",
        "4",
    ]);
    let (_prometheus, _dir, prometheus) = start_prometheus(sim_port);

    let http_expected: BTreeSet<(String, String)> = [
        ("front-end", "catalogue"),
        ("front-end", "carts"),
        ("front-end", "orders"),
        ("front-end", "user"),
        ("orders", "carts"),
        ("orders", "user"),
        ("orders", "payment"),
        ("orders", "shipping"),
        ("unknown", "front-end"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    let http_query = r#"sum by (source_workload, destination_workload) (rate(istio_requests_total{reporter="destination", destination_workload_namespace="sock-shop"}[20s]))"#;
    let http_edges = poll(Duration::from_secs(60), Duration::from_secs(1), || {
        edges(&prometheus, http_query).filter(|e| e.is_superset(&http_expected))
    })
    .unwrap_or_else(|| {
        panic!(
            "HTTP edges never complete: {:?}",
            edges(&prometheus, http_query)
        )
    });
    assert_eq!(http_edges, http_expected, "no unexpected HTTP edges");

    let tcp_expected: BTreeSet<(String, String)> = [
        ("front-end", "session-db"),
        ("catalogue", "catalogue-db"),
        ("carts", "carts-db"),
        ("orders", "orders-db"),
        ("user", "user-db"),
        ("shipping", "rabbitmq"),
        ("queue-master", "rabbitmq"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    let tcp_query = r#"sum by (source_workload, destination_workload) (rate(istio_tcp_sent_bytes_total{reporter="source", source_workload_namespace="sock-shop"}[20s]))"#;
    let tcp_edges = poll(Duration::from_secs(30), Duration::from_secs(1), || {
        edges(&prometheus, tcp_query).filter(|e| e.is_superset(&tcp_expected))
    })
    .unwrap_or_else(|| {
        panic!(
            "TCP edges never complete: {:?}",
            edges(&prometheus, tcp_query)
        )
    });
    assert_eq!(tcp_edges, tcp_expected);

    // Per-workload request rates (once Prometheus holds a full window): front-end carries the
    // user traffic of a 25 actions/s load, browsing outnumbers payments.
    let rates_query = r#"sum by (destination_workload) (rate(istio_requests_total{reporter="destination"}[10s]))"#;
    let rates = || -> Option<std::collections::BTreeMap<String, f64>> {
        let (_, body) = http_get(
            &format!("{prometheus}/api/v1/query"),
            &[("query", rates_query)],
        )?;
        let PromData::Vector(series) = decode_query(body.as_bytes()).ok()? else {
            return None;
        };
        Some(
            series
                .iter()
                .map(|s| {
                    (
                        s.label("destination_workload").unwrap_or("").to_owned(),
                        s.samples[0].value,
                    )
                })
                .collect(),
        )
    };
    let in_range = |r: &std::collections::BTreeMap<String, f64>| {
        r.get("front-end").is_some_and(|v| (18.0..40.0).contains(v))
    };
    let rates = poll(Duration::from_secs(40), Duration::from_secs(1), || {
        rates().filter(in_range)
    })
    .unwrap_or_else(|| panic!("front-end rate never near 25 req/s: {:?}", rates()));
    assert!(rates["catalogue"] > rates["payment"], "{rates:?}");
    assert!(rates["payment"] > 0.0, "{rates:?}");
    assert!(
        !rates.contains_key("catalogue-db"),
        "databases speak TCP, not HTTP: {rates:?}"
    );
}
