use crate::support::{free_port, http_get, poll, spawn_baynet};
use baynet::wire::WireError;
use baynet::wire::loki::{LokiData, decode_labels, decode_query_range};
use baynet::wire::otlp::decode_traces;
use baynet::wire::tempo::{decode_search, stripped_trace_id};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// `baynet sim serve` answers Loki and Tempo queries with the shapes the real servers use,
/// decoded by our own clients' decoders; the fault shows up while it is injected.
#[test]
fn sim_serve_answers_loki_and_tempo() {
    let port = free_port();
    // Speed 60: 10 s baseline, 10 s of user pod failure, 10 s recovery.
    let _server = spawn_baynet(&[
        "sim",
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--scenario",
        "01",
        "--speed",
        "60",
        "--load",
        "20",
        "--trace-sampling",
        "1",
    ]);
    let base = format!("http://127.0.0.1:{port}");
    poll(Duration::from_secs(20), Duration::from_millis(100), || {
        http_get(&format!("{base}/api/echo"), &[]).filter(|(_, body)| body == "echo")
    })
    .expect("server answers /api/echo");
    std::thread::sleep(Duration::from_secs(3));

    // Loki: a stream selector, backward order, limit respected.
    let start = (now_ns() - 60_000_000_000).to_string();
    let end = (now_ns() + 1_000_000_000).to_string();
    let (status, body) = http_get(
        &format!("{base}/loki/api/v1/query_range"),
        &[
            ("query", r#"{namespace="sock-shop", name="carts"}"#),
            ("start", &start),
            ("end", &end),
            ("limit", "50"),
        ],
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let LokiData::Streams(records) = decode_query_range(body.as_bytes()).unwrap() else {
        panic!("streams expected")
    };
    assert!(!records.is_empty() && records.len() <= 50);
    assert!(
        records
            .iter()
            .all(|r| r.service == "carts" && r.labels["namespace"] == "sock-shop")
    );
    assert!(
        records
            .iter()
            .any(|r| r.labels["container"] == "istio-proxy"),
        "Envoy access logs are part of the pod's logs"
    );
    let (_, body) = http_get(
        &format!("{base}/loki/api/v1/query_range"),
        &[
            ("query", r#"{name=~"front-end|carts"} |= "GET""#),
            ("start", &start),
            ("end", &end),
            ("direction", "forward"),
        ],
    )
    .unwrap();
    let LokiData::Streams(records) = decode_query_range(body.as_bytes()).unwrap() else {
        panic!("streams expected")
    };
    assert!(
        records
            .iter()
            .all(|r| r.line.contains("GET") && (r.service == "carts" || r.service == "front-end"))
    );
    let (_, body) = http_get(
        &format!("{base}/loki/api/v1/labels"),
        &[("start", &start), ("end", &end)],
    )
    .unwrap();
    let labels = decode_labels(body.as_bytes()).unwrap();
    for wanted in ["container", "name", "namespace", "pod"] {
        assert!(labels.iter().any(|l| l == wanted), "{labels:?}");
    }
    let (_, body) = http_get(
        &format!("{base}/loki/api/v1/label/name/values"),
        &[("start", &start), ("end", &end)],
    )
    .unwrap();
    let names = decode_labels(body.as_bytes()).unwrap();
    for wanted in ["front-end", "catalogue", "carts", "orders", "user"] {
        assert!(names.iter().any(|n| n == wanted), "{names:?}");
    }
    // Errors come back as plain text, as Loki sends them.
    let (status, body) = http_get(
        &format!("{base}/loki/api/v1/query_range"),
        &[("query", "sum(rate({a=\"b\"}[1m]))")],
    )
    .unwrap();
    assert_eq!(status, 400);
    assert!(
        matches!(
            decode_query_range(body.as_bytes()),
            Err(WireError::NotJson { .. })
        ),
        "{body}"
    );
    let (status, body) = http_get(
        &format!("{base}/loki/api/v1/query_range"),
        &[("query", r#"{name="carts"}"#), ("limit", "6000")],
    )
    .unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("max entries limit"), "{body}");

    // Tempo: tag search, then fetch a trace by its (possibly zero-stripped) id.
    let (status, body) = http_get(
        &format!("{base}/api/search"),
        &[("tags", "service.name=front-end"), ("limit", "5")],
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let found = decode_search(body.as_bytes()).unwrap();
    assert!(!found.is_empty() && found.len() <= 5);
    let summary = &found[0];
    assert_eq!(summary.root_service_name, "front-end.sock-shop");
    let (status, body) = http_get(
        &format!("{base}/api/traces/{}", stripped_trace_id(&summary.trace_id)),
        &[],
    )
    .unwrap();
    assert_eq!(status, 200);
    let spans = decode_traces(body.as_bytes()).unwrap();
    assert!(spans.iter().all(|s| s.trace_id == summary.trace_id));
    assert!(
        spans
            .iter()
            .any(|s| s.parent_span_id.is_none() && s.service == "front-end")
    );
    let (status, _) = http_get(
        &format!("{base}/api/traces/0123456789abcdef0123456789abcdef"),
        &[],
    )
    .unwrap();
    assert_eq!(status, 404);
    let (status, body) = http_get(&format!("{base}/api/search"), &[("q", "{ nonsense }")]).unwrap();
    assert_eq!(status, 400);
    assert!(body.starts_with("invalid TraceQL query"), "{body}");

    // While user's pod is down, TraceQL finds 5xx client spans calling it.
    let failing = poll(Duration::from_secs(30), Duration::from_millis(500), || {
        let (_, body) = http_get(&format!("{base}/api/search"), &[("q", r#"{ span.http.status_code >= 500 && name = "user.sock-shop.svc.cluster.local:80/*" }"#), ("limit", "3")])?;
        decode_search(body.as_bytes()).ok().filter(|found| !found.is_empty())
    })
    .expect("5xx calls into user appear during the pod failure");
    assert!(failing.iter().all(|t| !t.spans.is_empty()));
}
