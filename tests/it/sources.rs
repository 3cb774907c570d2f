//! The live clients against real servers: `baynet sim serve` (Loki and Tempo APIs), a real
//! Prometheus scraping it, a Grafana-style datasource-proxy prefix, and a local misbehaving
//! server (malformed and truncated JSON, HTML, wrong content type, huge bodies, slowness,
//! dropped connections, 429 with Retry-After, 401); `baynet doctor` and `baynet fetch` end to
//! end.

use crate::prometheus::start_prometheus;
use crate::support::{free_port, http_get, poll, require_program, spawn_baynet};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use baynet::config::{Config, Endpoint, LabelNames, Limits, RetryPolicy, SourceKind, TempoSearch};
use baynet::detect::metrics::golden::Signal;
use baynet::model::{TimeRange, Timestamp, Trace};
use baynet::source::http::HttpClient;
use baynet::source::loki::LokiClient;
use baynet::source::{
    GraphMethod, LiveSource, LogSelection, SourceError, TelemetrySource, TraceSelection,
};
use baynet::wire::loki::{LokiData, decode_query_range};
use baynet::wire::prometheus::parse_exposition;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now() -> Timestamp {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    Timestamp(i64::try_from(nanos).unwrap())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sock_shop_config() -> Config {
    Config {
        namespace: "sock-shop".to_owned(),
        labels: LabelNames {
            service: "name".to_owned(),
            ..LabelNames::default()
        },
        ..Config::default()
    }
}

fn start_sim(extra: &[&str]) -> (crate::support::ChildGuard, u16) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["sim", "serve", "--listen", &listen];
    args.extend_from_slice(extra);
    let guard = spawn_baynet(&args);
    poll(Duration::from_secs(20), Duration::from_millis(100), || {
        http_get(&format!("http://127.0.0.1:{port}/api/echo"), &[]).filter(|(_, b)| b == "echo")
    })
    .expect("sim serve answers");
    (guard, port)
}

/// Loki paging by time returns exactly what one big request returns; Tempo search-then-fetch
/// (TraceQL and the tag-search fallback) returns whole traces of the selected service.
#[test]
fn live_clients_read_logs_and_traces_from_sim_serve() {
    let (_sim, port) = start_sim(&[
        "--no-fault",
        "--load",
        "20",
        "--seed",
        "5",
        "--trace-sampling",
        "1",
    ]);
    let base = format!("http://127.0.0.1:{port}");
    // Wait (bounded) until the simulation has written enough lines to page through; a loaded
    // machine steps it more slowly than a fixed sleep assumes.
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(500));
        let end = now();
        let lines = http_get(
            &format!("{base}/loki/api/v1/query_range"),
            &[
                ("query", r#"{namespace="sock-shop", name=~"carts|orders"}"#),
                ("start", &end.minus(Duration::from_secs(60)).0.to_string()),
                ("end", &end.0.to_string()),
                ("limit", "5000"),
            ],
        )
        .and_then(|(_, body)| match decode_query_range(body.as_bytes()) {
            Ok(LokiData::Streams(records)) => Some(records.len()),
            _ => None,
        })
        .unwrap_or(0);
        if lines > 40 {
            break;
        }
    }
    // The range ends a few seconds back: lines near "now" can still be written by the next
    // simulated tick (a request that started in one second logs when it completes), so the two
    // reads below would otherwise race the simulation rather than compare paging.
    std::thread::sleep(Duration::from_secs(3));
    let end = now().minus(Duration::from_secs(3));
    let range = TimeRange::new(end.minus(Duration::from_secs(60)), end).unwrap();

    let mut config = sock_shop_config();
    config.loki = Some(Endpoint::new(SourceKind::Loki, &base));
    config.tempo = Some(Endpoint::new(SourceKind::Tempo, &format!("{base}/")));
    config.limits.loki_page_lines = 5;
    config.limits.loki_chunk = Duration::from_secs(2);
    let source = LiveSource::new(&config).unwrap();
    let rt = runtime();

    // Logs: 5-line pages over 2 s chunks versus one request of up to 5000 lines.
    let selection = LogSelection {
        services: vec!["carts".into(), "orders".into()],
        ..LogSelection::default()
    };
    let paged = rt.block_on(source.logs(&selection, range)).unwrap();
    let (status, body) = http_get(
        &format!("{base}/loki/api/v1/query_range"),
        &[
            ("query", r#"{namespace="sock-shop", name=~"carts|orders"}"#),
            ("start", &range.start.0.to_string()),
            ("end", &range.end.0.to_string()),
            ("limit", "5000"),
            ("direction", "forward"),
        ],
    )
    .unwrap();
    assert_eq!(status, 200);
    let LokiData::Streams(direct) = decode_query_range(body.as_bytes()).unwrap() else {
        panic!("streams expected")
    };
    assert!(direct.len() > 20, "enough lines to page: {}", direct.len());
    assert!(direct.len() < 5000);
    let key = |r: &baynet::model::LogRecord| (r.timestamp, r.service.clone(), r.line.clone());
    let paged_keys: Vec<_> = paged.iter().map(key).collect();
    let mut direct_keys: Vec<_> = direct.iter().map(key).collect();
    direct_keys.sort();
    let mut sorted = paged_keys.clone();
    sorted.sort();
    assert_eq!(sorted, direct_keys, "paging loses or repeats nothing");
    assert!(paged.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    let services: BTreeSet<&str> = paged.iter().map(|r| r.service.as_str()).collect();
    assert_eq!(services, BTreeSet::from(["carts", "orders"]));
    // A line limit is honoured.
    let capped = rt
        .block_on(source.logs(
            &LogSelection {
                max_lines: direct.len() / 2,
                ..selection.clone()
            },
            range,
        ))
        .unwrap();
    assert_eq!(capped.len(), direct.len() / 2);

    // Traces: search then fetch, with TraceQL.
    let carts = TraceSelection {
        services: vec!["carts".into()],
        limit: 10,
        ..TraceSelection::default()
    };
    let spans = rt.block_on(source.traces(&carts, range)).unwrap();
    let traces = Trace::group(spans);
    assert!(!traces.is_empty() && traces.len() <= 10, "{}", traces.len());
    for trace in &traces {
        assert!(trace.spans.iter().any(|s| s.service == "carts"));
        assert!(trace.root().is_some(), "whole traces are fetched");
    }
    // The same through tag search.
    config.tempo.as_mut().unwrap().search = TempoSearch::Tags;
    let tags = LiveSource::new(&config).unwrap();
    let tag_traces = Trace::group(rt.block_on(tags.traces(&carts, range)).unwrap());
    assert!(!tag_traces.is_empty());
    assert!(
        tag_traces
            .iter()
            .all(|t| t.spans.iter().any(|s| s.service == "carts"))
    );
    // Graph from trace pairs when only Tempo is there.
    let reading = rt.block_on(source.service_graph(range)).unwrap();
    assert_eq!(reading.method, GraphMethod::TraceSpans);
    assert!(reading.graph.edge("front-end", "carts").is_some());
    assert!(reading.graph.edge("orders", "payment").is_some() || reading.graph.edge_count() >= 4);
    // Golden signals need Prometheus: a clear error, not a panic or an empty answer.
    let error = rt
        .block_on(source.golden_signals(range, Duration::from_secs(15)))
        .unwrap_err();
    assert!(matches!(
        error,
        SourceError::NotConfigured {
            kind: SourceKind::Prometheus
        }
    ));
}

/// A Grafana datasource-proxy prefix in the URL is kept on every request.
#[test]
fn grafana_datasource_proxy_prefix() {
    let rt = runtime();
    let options = baynet::sim_server::ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        config: baynet::sim::SimConfig {
            fault: None,
            load_per_sec: 20.0,
            trace_sample_rate: 1.0,
            ..baynet::sim::SimConfig::default()
        },
        speed: 1.0,
        max_log_lines: 100_000,
        max_traces: 10_000,
    };
    let mut host = baynet::sim_server::start_host(&options).unwrap();
    let start = host.simulation().now();
    host.advance_to(start.plus(Duration::from_secs(30)));
    let host = Arc::new(std::sync::Mutex::new(host));
    let app = Router::new().nest(
        "/api/datasources/proxy/uid/P8E80F9AEF21F6940",
        baynet::sim_server::router(host),
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}/api/datasources/proxy/uid/P8E80F9AEF21F6940");
    let mut config = sock_shop_config();
    config.loki = Some(Endpoint::new(SourceKind::Loki, &base));
    config.tempo = Some(Endpoint::new(SourceKind::Tempo, &base));
    assert!(config.loki.as_ref().unwrap().is_grafana_proxy());
    let source = LiveSource::new(&config).unwrap();
    let range = TimeRange::new(start, start.plus(Duration::from_secs(31))).unwrap();
    let logs = rt
        .block_on(source.logs(&LogSelection::default(), range))
        .unwrap();
    assert!(logs.len() > 50, "{}", logs.len());
    let loki = source.loki.as_ref().unwrap();
    assert_eq!(rt.block_on(loki.buildinfo()).unwrap().version, "3.2.0");
    let names = rt.block_on(loki.labels(range)).unwrap();
    assert!(names.contains(&"name".to_owned()));
    let spans = rt
        .block_on(source.traces(
            &TraceSelection {
                limit: 3,
                ..TraceSelection::default()
            },
            range,
        ))
        .unwrap();
    assert!(!spans.is_empty());
}

// ---- a misbehaving server ----------------------------------------------------------------

#[derive(Default)]
struct Counters {
    calls: BTreeMap<String, AtomicUsize>,
}

impl Counters {
    fn new() -> Self {
        let mut calls = BTreeMap::new();
        for mode in ["flaky429", "always503", "unauthorized", "flaky502"] {
            calls.insert(mode.to_owned(), AtomicUsize::new(0));
        }
        Self { calls }
    }
    fn bump(&self, mode: &str) -> usize {
        self.calls
            .get(mode)
            .map_or(0, |c| c.fetch_add(1, Ordering::SeqCst))
    }
    fn get(&self, mode: &str) -> usize {
        self.calls.get(mode).map_or(0, |c| c.load(Ordering::SeqCst))
    }
}

const GOOD: &str = r#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{"namespace":"sock-shop","name":"carts"},"values":[["1735690195123456789","hello"]]}]}}"#;

async fn misbehave(
    State(counters): State<Arc<Counters>>,
    Path((mode, _rest)): Path<(String, String)>,
    _headers: HeaderMap,
) -> Response {
    let json = [(header::CONTENT_TYPE, "application/json")];
    match mode.as_str() {
        "good" => (json, GOOD).into_response(),
        "truncated" => (json, &GOOD[..GOOD.len() / 2]).into_response(),
        "malformed" => (json, r#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["x","y"]]}]}}"#).into_response(),
        "wrongshape" => (json, r#"{"status":"success","data":{"resultType":"streams","result":{"a":1}}}"#).into_response(),
        "html" => (
            [(header::CONTENT_TYPE, "text/html")],
            "<!DOCTYPE html><html><head><title>Grafana - Sign In</title></head><body>login</body></html>",
        )
            .into_response(),
        "text" => ([(header::CONTENT_TYPE, "text/plain")], "no org id").into_response(),
        "huge" => (json, vec![b' '; 3 * 1024 * 1024]).into_response(),
        "hugestream" => {
            let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024]));
            let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
            (json, body).into_response()
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            (json, GOOD).into_response()
        }
        "flaky429" => {
            if counters.bump("flaky429") == 0 {
                (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "too many outstanding requests").into_response()
            } else {
                (json, GOOD).into_response()
            }
        }
        "flaky502" => {
            if counters.bump("flaky502") < 2 {
                (StatusCode::BAD_GATEWAY, "<html><title>502 Bad Gateway</title></html>").into_response()
            } else {
                (json, GOOD).into_response()
            }
        }
        "always503" => {
            counters.bump("always503");
            (StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable").into_response()
        }
        "unauthorized" => {
            counters.bump("unauthorized");
            (StatusCode::UNAUTHORIZED, "no org id").into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Accepts connections and closes them mid-answer (headers promise more than is sent).
async fn dropping_server(listener: tokio::net::TcpListener) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Bounded: at most 50 connections.
    for _ in 0..50 {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut buffer = [0u8; 2048];
        let _ = socket.read(&mut buffer).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"status\":\"succ")
            .await;
        drop(socket);
    }
}

fn loki_client(base: &str, retries: u32, max_bytes: u64, timeout: Duration) -> LokiClient {
    let mut endpoint = Endpoint::new(SourceKind::Loki, base);
    endpoint.timeout = timeout;
    let retry = RetryPolicy {
        max_retries: retries,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(2),
    };
    LokiClient::new(
        HttpClient::new(&endpoint, retry, max_bytes).unwrap(),
        Limits::default(),
    )
}

/// Bad input never panics and every failure is classified with a message naming the cause.
#[test]
fn bad_servers_give_clear_classified_errors() {
    let rt = runtime();
    let counters = Arc::new(Counters::new());
    let app = Router::new()
        .route("/{mode}/{*rest}", get(misbehave))
        .with_state(Arc::clone(&counters));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    let drop_listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let drop_addr = drop_listener.local_addr().unwrap();
    rt.spawn(dropping_server(drop_listener));

    let range = TimeRange::new(
        Timestamp::from_secs(1_735_690_000),
        Timestamp::from_secs(1_735_690_300),
    )
    .unwrap();
    let query = |mode: &str, retries: u32, max_bytes: u64, timeout: Duration| {
        let client = loki_client(
            &format!("http://{addr}/{mode}"),
            retries,
            max_bytes,
            timeout,
        );
        rt.block_on(client.query_page(
            "{name=\"carts\"}",
            range,
            10,
            baynet::wire::loki::Direction::Forward,
        ))
    };
    let second = Duration::from_secs(2);
    let mib = 1024 * 1024;

    let good = query("good", 0, mib, second).unwrap();
    assert_eq!(good.len(), 1);
    assert_eq!(good[0].line, "hello");

    for (mode, expect) in [
        ("truncated", "malformed JSON"),
        ("malformed", "`x` is not an integer"),
        ("wrongshape", "expected an array of streams"),
        ("html", "HTML page: Grafana - Sign In"),
        ("text", "not JSON; it says: no org id"),
    ] {
        let error = query(mode, 0, mib, second).unwrap_err();
        assert!(
            matches!(error, SourceError::Decode { .. }),
            "{mode}: {error:?}"
        );
        assert!(!error.is_transient(), "{mode}");
        let text = error.to_string();
        assert!(text.contains(expect), "{mode}: {text}");
        assert!(
            text.contains(&format!("http://{addr}/{mode}/loki/api/v1/query_range")),
            "{text}"
        );
        assert!(
            !text.contains("query="),
            "no query string in messages: {text}"
        );
    }

    for mode in ["huge", "hugestream"] {
        let error = query(mode, 0, mib, second).unwrap_err();
        assert!(
            matches!(error, SourceError::TooLarge { limit, .. } if limit == mib),
            "{mode}: {error:?}"
        );
        assert!(error.to_string().contains("max_response_bytes"));
    }

    let started = Instant::now();
    let error = query("slow", 0, mib, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(error, SourceError::Timeout { .. }), "{error:?}");
    assert!(error.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // 429 with Retry-After: 1 → waits about a second, then succeeds.
    let started = Instant::now();
    let records = query("flaky429", 3, mib, second).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(counters.get("flaky429"), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    // 502 twice (an HTML page from a proxy) → backoff, then success.
    assert_eq!(query("flaky502", 3, mib, second).unwrap().len(), 1);
    assert_eq!(counters.get("flaky502"), 3);
    // 503 forever → 1 + 2 retries, then the error.
    let error = query("always503", 2, mib, second).unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(counters.get("always503"), 3);
    // 401 is permanent: no retry.
    let error = query("unauthorized", 3, mib, second).unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert_eq!(counters.get("unauthorized"), 1);
    assert!(error.to_string().contains("[loki.auth]"));

    // A connection dropped mid-body is transient and reported as such after the retries.
    let client = loki_client(&format!("http://{drop_addr}"), 1, mib, second);
    let error = rt
        .block_on(client.query_page(
            "{name=\"carts\"}",
            range,
            10,
            baynet::wire::loki::Direction::Forward,
        ))
        .unwrap_err();
    assert!(
        matches!(error, SourceError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    // A dead port.
    let dead = free_port();
    let client = loki_client(&format!("http://127.0.0.1:{dead}"), 1, mib, second);
    let error = rt.block_on(client.labels(range)).unwrap_err();
    assert!(
        matches!(error, SourceError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("check the URL"), "{error}");
}

/// A server that answers 401 to everything, as Kiali does without a session.
fn start_unauthorized(rt: &tokio::runtime::Runtime) -> u16 {
    let app = Router::new().fallback(|| async {
        (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"Unauthorized: session expired"}"#,
        )
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move { axum::serve(listener, app).await });
    port
}

/// `baynet doctor`: the simulator passes, a dead port is unreachable, a 401 server is "auth
/// refused"; the exit code says that something failed; no secret is printed.
#[test]
fn doctor_verdicts() {
    let rt = runtime();
    let (_sim, port) = start_sim(&["--no-fault", "--load", "20", "--trace-sampling", "1"]);
    std::thread::sleep(Duration::from_secs(2));
    let unauthorized = start_unauthorized(&rt);
    let dead = free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "namespace = \"sock-shop\"\n[labels]\nservice = \"name\"\n[loki]\nurl = \"http://127.0.0.1:{port}\"\ntenant = \"demo\"\n[tempo]\nurl = \"http://127.0.0.1:{port}\"\n[prometheus]\nurl = \"http://127.0.0.1:{dead}\"\nconnect_timeout = \"1s\"\n[kiali]\nurl = \"http://127.0.0.1:{unauthorized}/kiali\"\n[kiali.auth]\ntype = \"bearer\"\ntoken_env = \"DOCTOR_TEST_TOKEN\"\n"
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(["doctor", "--json", "--config"])
        .arg(&config)
        .env("DOCTOR_TEST_TOKEN", "tok-very-secret-123")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stdout.contains("tok-very-secret") && !stderr.contains("tok-very-secret"));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let source = |name: &str| {
        report["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"] == name)
            .unwrap()
            .clone()
    };
    let loki = source("loki");
    assert_eq!(loki["verdict"], "ok", "{loki:#}");
    assert_eq!(loki["version"], "3.2.0");
    assert_eq!(loki["tenant"], "demo");
    let tempo = source("tempo");
    assert!(
        tempo["verdict"] == "ok" || tempo["verdict"] == "warn",
        "{tempo:#}"
    );
    let http_check = tempo["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "traces carry HTTP status")
        .unwrap();
    assert_eq!(http_check["verdict"], "ok", "{tempo:#}");
    let prometheus = source("prometheus");
    assert_eq!(prometheus["verdict"], "fail");
    assert_eq!(prometheus["reason"], "unreachable");
    let kiali = source("kiali");
    assert_eq!(kiali["verdict"], "fail");
    assert_eq!(kiali["reason"], "auth refused");
    assert!(
        kiali["auth"]
            .as_str()
            .unwrap()
            .contains("env DOCTOR_TEST_TOKEN")
    );

    // The text report says the same in words.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(["doctor", "--config"])
        .arg(&config)
        .env("DOCTOR_TEST_TOKEN", "tok-very-secret-123")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("loki: ok"), "{text}");
    assert!(text.contains("prometheus: FAIL (unreachable)"), "{text}");
    assert!(text.contains("kiali: FAIL (auth refused)"), "{text}");
    assert!(!text.contains("tok-very-secret"));
    // A config error names the field.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(["doctor", "--config"])
        .arg(&config)
        .env_remove("DOCTOR_TEST_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("kiali.auth.token_env"), "{stderr}");
}

/// Golden signals and the service graph read back from a real Prometheus scraping the
/// simulator match the simulator's own counters; `baynet fetch` saves a directory that
/// `baynet analyze` reads.
#[test]
fn prometheus_golden_signals_and_graph_match_the_simulator() {
    if !require_program("prometheus", "BAYNET_REQUIRE_PROMETHEUS") {
        return;
    }
    let (_sim, sim_port) = start_sim(&[
        "--no-fault",
        "--load",
        "25",
        "--seed",
        "9",
        "--trace-sampling",
        "0.5",
    ]);
    let (_prometheus, _dir, prometheus) = start_prometheus(sim_port);
    let sim = format!("http://127.0.0.1:{sim_port}");
    // The simulator's truth: request counters read straight from its exposition, 20 s apart.
    let scrape = || -> BTreeMap<String, f64> {
        let (_, text) = http_get(&format!("{sim}/metrics"), &[]).unwrap();
        let mut totals = BTreeMap::new();
        for sample in parse_exposition(&text).unwrap() {
            if sample.name == "istio_requests_total"
                && sample.labels.get("reporter").map(String::as_str) == Some("destination")
            {
                *totals
                    .entry(sample.labels["destination_workload"].clone())
                    .or_insert(0.0) += sample.value;
            }
        }
        totals
    };
    std::thread::sleep(Duration::from_secs(15));
    let t0 = now();
    let first = scrape();
    std::thread::sleep(Duration::from_secs(20));
    let t1 = now();
    let second = scrape();
    let seconds = t1.since(t0).as_secs_f64();
    let truth: BTreeMap<String, f64> = second
        .iter()
        .map(|(w, v)| {
            (
                w.clone(),
                (v - first.get(w).copied().unwrap_or(0.0)) / seconds,
            )
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));

    let mut config = sock_shop_config();
    config.prometheus = Some(Endpoint::new(SourceKind::Prometheus, &prometheus));
    // Prometheus scrapes every second here: rate() over 10 s windows.
    config.limits.rate_window = Duration::from_secs(10);
    config.loki = Some(Endpoint::new(SourceKind::Loki, &sim));
    config.tempo = Some(Endpoint::new(SourceKind::Tempo, &sim));
    let source = LiveSource::new(&config).unwrap();
    let rt = runtime();
    let range = TimeRange::new(t0, t1).unwrap();
    let golden = rt
        .block_on(source.golden_signals(range, Duration::from_secs(2)))
        .unwrap();
    for workload in ["front-end", "catalogue", "carts", "orders", "payment"] {
        let traffic = &golden[workload].signals[&Signal::Traffic];
        let values: Vec<f64> = traffic
            .iter()
            .map(|s| s.value)
            .filter(|v| v.is_finite())
            .collect();
        assert!(!values.is_empty(), "{workload}");
        #[allow(clippy::cast_precision_loss)]
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let expected = truth[workload];
        assert!(
            (mean - expected).abs() <= 0.25 * expected + 0.3,
            "{workload}: Prometheus {mean:.2} req/s, simulator {expected:.2} req/s"
        );
        // No fault, but the simulator's background noise (a stray 5xx now and then): one
        // error among the ~15 requests of one of orders' 10-s windows is 0.067.
        let errors = &golden[workload].signals[&Signal::ErrorRatio];
        let ratios: Vec<f64> = errors
            .iter()
            .map(|s| s.value)
            .filter(|v| v.is_finite())
            .collect();
        #[allow(clippy::cast_precision_loss)]
        let mean_ratio = ratios.iter().sum::<f64>() / ratios.len().max(1) as f64;
        assert!(
            mean_ratio < 0.03 && ratios.iter().all(|&v| (0.0..0.2).contains(&v)),
            "{workload}: {errors:?}"
        );
        let p99 = &golden[workload].signals[&Signal::LatencyP99];
        assert!(
            p99.iter().any(|s| s.value.is_finite() && s.value > 0.0),
            "{workload}"
        );
    }
    assert!(
        golden.contains_key("carts-db"),
        "TCP-only stores have golden signals too"
    );
    assert!(golden["carts-db"].signals.contains_key(&Signal::TcpBytes));
    // Prometheus's own record of scraping the (pretend) front-end pod: a local scrape takes
    // milliseconds.
    let scrape: Vec<f64> = golden["front-end"].signals[&Signal::ScrapeDuration]
        .iter()
        .map(|s| s.value)
        .filter(|v| v.is_finite())
        .collect();
    assert!(
        !scrape.is_empty() && scrape.iter().all(|&v| v > 0.0 && v < 1.0),
        "{scrape:?}"
    );

    // The graph from Istio metrics is the sock-shop topology.
    let reading = rt.block_on(source.service_graph(range)).unwrap();
    assert_eq!(
        reading.method,
        GraphMethod::IstioMetrics,
        "{:?}",
        reading.notes
    );
    let edges: BTreeSet<(String, String)> = reading
        .graph
        .edges()
        .iter()
        .map(|(a, b, _)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("front-end", "catalogue"),
        ("front-end", "carts"),
        ("front-end", "orders"),
        ("front-end", "user"),
        ("orders", "carts"),
        ("orders", "user"),
        ("orders", "payment"),
        ("orders", "shipping"),
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
    assert_eq!(edges, expected);
    let carts = reading.graph.edge("front-end", "carts").unwrap();
    assert!(
        carts.request_rate > 0.5 && carts.error_rate < 0.05,
        "{carts:?}"
    );
    assert_eq!(
        reading.graph.edge("carts", "carts-db").unwrap().protocol,
        baynet::model::Protocol::Tcp
    );

    // fetch → directory → analyze.
    let out = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args([
            "fetch",
            "--since",
            "30s",
            "--json",
            "--namespace",
            "sock-shop",
        ])
        .args(["--loki", &sim, "--tempo", &sim, "--prometheus", &prometheus])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for part in report["parts"].as_array().unwrap() {
        if part["part"] != "changes" {
            assert!(part["error"].is_null(), "{part}");
            assert!(part["count"].as_u64().unwrap() > 0, "{part}");
        }
    }
    assert_eq!(report["graph_method"], "istio_metrics");
    let dataset = baynet::input_dir::read_dir(out.path()).unwrap();
    assert!(!dataset.logs.is_empty() && !dataset.spans.is_empty() && !dataset.series.is_empty());
    assert!(
        dataset
            .series
            .iter()
            .any(|s| s.name() == "istio_requests_total")
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(["analyze", "--json", "--step", "10s", "--input"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let analysis: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // The fetched graph reaches the analysis: its edges include the sock-shop calls.
    let analysed: BTreeSet<(String, String)> = analysis["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap().to_owned(),
                e[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        analysed.contains(&("orders".to_owned(), "payment".to_owned())),
        "{analysed:?}"
    );
    assert!(
        analysed.contains(&("carts".to_owned(), "carts-db".to_owned())),
        "{analysed:?}"
    );
    assert!(
        analysis["health"]["front-end"].is_number(),
        "{}",
        analysis["health"]
    );
}
