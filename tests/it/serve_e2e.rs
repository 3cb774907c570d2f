//! The real `baynet serve` binary on a free 127.0.0.1 port: every endpoint against the Node
//! Graph API reference and the Prometheus exposition format, the bearer token on every
//! endpoint, an external event raising a quiet service's outage probability while the
//! simulation runs, the offline input mode, and a graceful exit on SIGTERM and SIGINT.

use crate::support::{ChildGuard, free_port, poll};
use baynet::wire::prometheus::exposition::{ExpositionSample, parse_exposition};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "e2e-Token_0123456789";

struct Server {
    child: ChildGuard,
    base: String,
    token: Option<&'static str>,
    stderr: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn start(args: &[&str], token: Option<&'static str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let stderr = dir.path().join("stderr.txt");
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_baynet"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env_remove("BAYNET_SERVE_TOKEN")
        .env_remove("BAYNET_SQS_QUEUE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
    if let Some(token) = token {
        command.env("BAYNET_SERVE_TOKEN", token);
    }
    let child = ChildGuard(command.spawn().unwrap());
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        token,
        stderr,
        _dir: dir,
    };
    poll(Duration::from_secs(20), Duration::from_millis(50), || {
        (server.get("/api/health").0 == 200).then_some(())
    })
    .unwrap_or_else(|| panic!("baynet serve answers /api/health: {}", server.log()));
    server
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> (u16, String, String) {
        let url = format!("{}{path}", self.base);
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(5)))
                .build(),
        );
        let result = if method == "POST" {
            let mut request = agent.post(&url).header("Content-Type", "application/json");
            if let Some(token) = token {
                request = request.header("Authorization", &format!("Bearer {token}"));
            }
            request.send(body)
        } else {
            let mut request = agent.get(&url);
            if let Some(token) = token {
                request = request.header("Authorization", &format!("Bearer {token}"));
            }
            request.call()
        };
        match result {
            Ok(mut response) => {
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                (
                    response.status().as_u16(),
                    content_type,
                    response.body_mut().read_to_string().unwrap_or_default(),
                )
            }
            Err(_) => (0, String::new(), String::new()),
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = self.request("GET", path, self.token, b"");
        (status, body)
    }

    fn json(&self, path: &str) -> Value {
        let (status, content_type, body) = self.request("GET", path, self.token, b"");
        assert_eq!(status, 200, "{path}: {body}");
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {content_type}"
        );
        serde_json::from_str(&body).unwrap()
    }

    fn metrics(&self) -> Vec<ExpositionSample> {
        let (status, content_type, body) = self.request("GET", "/metrics", self.token, b"");
        assert_eq!(status, 200, "{body}");
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        check_exposition_text(&body);
        parse_exposition(&body).unwrap()
    }

    fn post_event(&self, body: &str) -> (u16, String) {
        let (status, _, body) = self.request("POST", "/api/v1/events", self.token, body.as_bytes());
        (status, body)
    }

    /// Sends `signal` and waits for a clean exit; then nothing listens any more.
    fn stop_with(mut self, signal: &str) {
        let pid = self.child.0.id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
        let started = Instant::now();
        let exit = loop {
            if let Some(exit) = self.child.0.try_wait().unwrap() {
                break exit;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "baynet serve did not exit within 15 s of {signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = self.log();
        assert!(exit.success(), "exit {exit:?} after {signal}: {log}");
        assert!(log.contains("shutting down"), "{log}");
        assert_eq!(self.get("/api/health").0, 0, "still answering after exit");
    }
}

/// The text format, line by line: `# HELP`/`# TYPE` before a family's samples, known types,
/// `name{label="value",…} value` samples, counters ending in `_total`.
fn check_exposition_text(text: &str) {
    let name = regex::Regex::new(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$").unwrap();
    let sample =
        regex::Regex::new(r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$"#)
            .unwrap();
    let mut typed: std::collections::BTreeMap<String, String> = Default::default();
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').unwrap();
            assert!(name.is_match(family), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            if kind == "counter" {
                assert!(
                    family.ends_with("_total"),
                    "counter {family} should end in _total"
                );
            }
            assert!(
                typed.insert(family.to_owned(), kind.to_owned()).is_none(),
                "{family} typed twice"
            );
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(name.is_match(rest.split(' ').next().unwrap()), "{line}");
        } else {
            let captures = sample
                .captures(line)
                .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
            assert!(
                typed.contains_key(&captures[1]),
                "sample before its # TYPE: {line}"
            );
        }
    }
}

fn value(samples: &[ExpositionSample], name: &str, service: &str) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && s.labels.get("service").map(String::as_str) == Some(service))
        .map(|s| s.value)
}

/// `/api/graph/fields` and `/api/graph/data` as the Node Graph API reference requires.
fn check_node_graph(server: &Server, query: &str) -> Value {
    let fields = server.json(&format!("/api/graph/fields{query}"));
    let names = |key: &str| -> BTreeSet<String> {
        fields[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let object = f.as_object().unwrap();
                assert!(
                    object
                        .keys()
                        .all(|k| ["field_name", "type", "color", "displayName"]
                            .contains(&k.as_str())),
                    "{f}"
                );
                assert!(
                    ["string", "number"].contains(&f["type"].as_str().unwrap()),
                    "{f}"
                );
                let name = f["field_name"].as_str().unwrap().to_owned();
                if let Some(prefix) = name.split_once("__").map(|(p, _)| p) {
                    assert!(["detail", "arc"].contains(&prefix), "{name}");
                    assert_eq!(name, name.to_lowercase(), "prefixed fields stay lowercase");
                }
                name
            })
            .collect()
    };
    let node_fields = names("nodes_fields");
    let edge_fields = names("edges_fields");
    for required in ["id", "title", "mainstat", "color"] {
        assert!(
            node_fields.contains(required),
            "nodes_fields lacks {required}"
        );
    }
    for required in ["id", "source", "target"] {
        assert!(
            edge_fields.contains(required),
            "edges_fields lacks {required}"
        );
    }
    let data = server.json(&format!("/api/graph/data{query}"));
    let nodes = data["nodes"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    for node in nodes {
        let object = node.as_object().unwrap();
        assert!(
            object.keys().all(|k| node_fields.contains(k)),
            "a key of {node} is not in the fields"
        );
        assert!(
            ids.insert(node["id"].as_str().unwrap().to_owned()),
            "duplicate node {node}"
        );
        assert!(
            ["green", "yellow", "red"].contains(&node["color"].as_str().unwrap()),
            "{node}"
        );
        let percent = node["mainstat"]
            .as_str()
            .unwrap()
            .strip_suffix('%')
            .unwrap();
        assert!(
            (0.0..=100.0).contains(&percent.parse::<f64>().unwrap()),
            "{node}"
        );
        assert!(
            node["secondarystat"].is_number() || node["secondarystat"].is_null(),
            "{node}"
        );
        assert!(
            node["detail__p_root_cause"]
                .as_f64()
                .is_some_and(|p| (0.0..=1.0).contains(&p))
        );
    }
    let mut edge_ids = BTreeSet::new();
    for edge in data["edges"].as_array().unwrap() {
        assert!(
            edge.as_object()
                .unwrap()
                .keys()
                .all(|k| edge_fields.contains(k)),
            "{edge}"
        );
        assert!(
            edge_ids.insert(edge["id"].as_str().unwrap().to_owned()),
            "duplicate edge {edge}"
        );
        for end in ["source", "target"] {
            assert!(
                ids.contains(edge[end].as_str().unwrap()),
                "dangling {end} in {edge}"
            );
        }
        assert!(
            edge["thickness"].as_f64().is_some_and(|t| t >= 1.0),
            "{edge}"
        );
    }
    data
}

fn node<'a>(data: &'a Value, id: &str) -> &'a Value {
    data["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("no node {id}"))
}

fn percent(node: &Value) -> f64 {
    node["mainstat"]
        .as_str()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap()
}

/// Every endpoint of the real binary on the live simulation, with a token; an event for a quiet
/// service raises its outage probability in `/metrics` and in the graph; SIGTERM ends it.
#[test]
fn the_serve_binary_feeds_grafana_and_prometheus_and_takes_events() {
    let server = start(
        &[
            "--scenario",
            "06",
            "--speed",
            "30",
            "--update-every",
            "200ms",
            "--event-ttl",
            "10m",
        ],
        Some(TOKEN),
    );
    // Authentication on every endpoint.
    for path in [
        "/api/health",
        "/api/graph/fields",
        "/api/graph/data",
        "/metrics",
    ] {
        assert_eq!(
            server.request("GET", path, None, b"").0,
            401,
            "{path} without a token"
        );
        assert_eq!(
            server.request("GET", path, Some("wrong"), b"").0,
            401,
            "{path} with a wrong token"
        );
    }
    assert_eq!(server.request("POST", "/api/v1/events", None, b"{}").0, 401);
    assert_eq!(
        server
            .request("POST", "/api/v1/events", Some("e2e"), b"{}")
            .0,
        401
    );
    assert!(!server.log().contains(TOKEN), "the token is never printed");

    // The simulation runs at 30x: the baseline (150 s simulated) and two detector windows take
    // 9 s; then the detectors' scores appear next to the network's (an analysis takes seconds
    // in a debug build; the scenario lasts 18 s).
    let samples = poll(Duration::from_secs(40), Duration::from_millis(200), || {
        let samples = server.metrics();
        samples
            .iter()
            .any(|s| {
                s.name == "baynet_service_anomaly_score"
                    && s.labels.get("signal").map(String::as_str) == Some("trace")
            })
            .then_some(samples)
    })
    .unwrap_or_else(|| panic!("a detector analysis within 40 s: {}", server.log()));
    for name in [
        "baynet_service_outage_probability",
        "baynet_service_root_cause_probability",
        "baynet_service_band",
    ] {
        assert_eq!(
            samples.iter().filter(|s| s.name == name).count(),
            14,
            "{name}"
        );
    }
    assert!(
        samples
            .iter()
            .any(|s| s.name == "baynet_service_health_score")
    );
    let errors: Vec<(&str, f64)> = samples
        .iter()
        .filter(|s| s.name == "baynet_source_errors_total")
        .map(|s| (s.labels["source"].as_str(), s.value))
        .collect();
    assert_eq!(errors, [("analysis", 0.0), ("simulation", 0.0)]);
    // The age grows while an analysis runs (seconds in a debug build) and drops when it lands.
    let age = |samples: &[ExpositionSample]| {
        samples
            .iter()
            .find(|s| s.name == "baynet_last_update_age_seconds")
            .unwrap()
            .value
    };
    assert!(
        (0.0..60.0).contains(&age(&samples)),
        "updated {} s ago",
        age(&samples)
    );
    poll(Duration::from_secs(30), Duration::from_millis(100), || {
        (age(&server.metrics()) < 1.0).then_some(())
    })
    .expect("the analysis is current within 1 s at some point");
    let total: f64 = samples
        .iter()
        .filter(|s| s.name == "baynet_service_root_cause_probability")
        .map(|s| s.value)
        .sum();
    assert!(
        total <= 1.0 + 1e-9,
        "root-cause probabilities sum to {total}"
    );

    let data = check_node_graph(&server, "");
    assert_eq!(data["nodes"].as_array().unwrap().len(), 14);
    assert_eq!(data["edges"].as_array().unwrap().len(), 15);
    let focused = check_node_graph(&server, "?service=carts&window=5m");
    let ids: BTreeSet<&str> = focused["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from(["carts", "carts-db", "front-end", "orders"])
    );

    // A quiet service: user (scenario 06 fails payment). An external event raises it.
    let before = value(
        &server.metrics(),
        "baynet_service_outage_probability",
        "user",
    )
    .unwrap();
    assert!(before < 0.15, "user is quiet: {before}");
    let event = format!(
        r#"{{"event_id":"e2e-user-1","service":"user","anomaly_type":"error_rate","score":0.99,"ts":"{}","context":"login failures 35% (from the e2e test)"}}"#,
        chrono::Utc::now().to_rfc3339()
    );
    let (status, body) = server.post_event(&event);
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["event_id"],
        "e2e-user-1"
    );
    assert_eq!(
        server.post_event(&event).0,
        200,
        "a duplicate is acknowledged"
    );
    assert_eq!(server.post_event(r#"{"service":"user"}"#).0, 400);
    let raised = poll(Duration::from_secs(5), Duration::from_millis(100), || {
        let samples = server.metrics();
        let now = value(&samples, "baynet_service_outage_probability", "user")?;
        (now > before + 0.3).then_some(samples)
    })
    .unwrap_or_else(|| panic!("the event raises user's outage probability above {before}"));
    assert_eq!(
        raised
            .iter()
            .find(|s| s.name == "baynet_service_anomaly_score"
                && s.labels.get("service").map(String::as_str) == Some("user")
                && s.labels.get("signal").map(String::as_str) == Some("external"))
            .map(|s| s.value),
        Some(0.99)
    );
    let accepted: f64 = raised
        .iter()
        .filter(|s| {
            s.name == "baynet_events_total"
                && s.labels.get("outcome").map(String::as_str) == Some("accepted")
        })
        .map(|s| s.value)
        .sum();
    assert_eq!(accepted, 1.0);
    let graph = check_node_graph(&server, "");
    let user = node(&graph, "user");
    assert!(percent(user) > before * 100.0 + 30.0, "{user}");
    assert!(
        user["detail__evidence"]
            .as_str()
            .unwrap()
            .contains("login failures 35%"),
        "{user}"
    );
    assert_ne!(user["color"], "green", "{user}");

    server.stop_with("-TERM");
}

fn write_incident(dir: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args([
            "sim",
            "run",
            "--scenario",
            "06",
            "--seed",
            "5",
            "--baseline",
            "5m",
            "--fault-duration",
            "4m",
            "--recovery",
            "1m",
            "--out",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `--input DIR`: the offline incident is analysed once (payment red) and re-ranked with
/// external events; no token means open endpoints; Ctrl-C (SIGINT) ends it cleanly.
#[test]
fn the_serve_binary_serves_an_offline_incident_and_stops_on_ctrl_c() {
    let incident = tempfile::tempdir().unwrap();
    write_incident(incident.path());
    let dir = incident.path().to_str().unwrap();
    let server = start(&["--input", dir, "--update-every", "100ms"], None);
    let graph = poll(Duration::from_secs(30), Duration::from_millis(100), || {
        let graph = check_node_graph(&server, "");
        (graph["nodes"].as_array()?.len() == 14).then_some(graph)
    })
    .expect("the incident is analysed");
    assert_eq!(node(&graph, "payment")["color"], "red", "{graph}");
    let subtitle = node(&graph, "payment")["subtitle"]
        .as_str()
        .unwrap()
        .to_owned();
    let name = incident.path().file_name().unwrap().to_str().unwrap();
    assert!(subtitle.starts_with(&name.to_lowercase()), "{subtitle}");
    let quiet = percent(node(&graph, "catalogue"));
    let (status, _) = server.post_event(&format!(
        r#"{{"service":"catalogue","anomaly_type":"latency","score":0.98,"ts":{}}}"#,
        chrono::Utc::now().timestamp()
    ));
    assert_eq!(status, 202);
    poll(Duration::from_secs(5), Duration::from_millis(100), || {
        (percent(node(&check_node_graph(&server, ""), "catalogue")) > quiet + 30.0).then_some(())
    })
    .expect("the event raises catalogue");
    let samples = server.metrics();
    assert!(
        samples
            .iter()
            .any(|s| s.name == "baynet_source_errors_total"
                && s.labels.get("source").map(String::as_str) == Some(&format!("input:{name}")))
    );
    server.stop_with("-INT");
}

#[test]
fn bad_settings_are_refused_with_a_reason() {
    let run = |args: &[&str], env: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_baynet"));
        command
            .arg("serve")
            .args(args)
            .env_remove("BAYNET_SERVE_TOKEN")
            .env_remove("BAYNET_SQS_QUEUE_URL")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION");
        if let Some(token) = env {
            command.env("BAYNET_SERVE_TOKEN", token);
        }
        let output = command.output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["--update-every", "soon"], None);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("--update-every"), "{stderr}");
    let (code, stderr) = run(&["--speed", "0"], None);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("--speed"), "{stderr}");
    let (code, stderr) = run(&[], Some("has space"));
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("printable ASCII") && !stderr.contains("has space"),
        "{stderr}"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    let (code, stderr) = run(&["--token-file", file.path().to_str().unwrap()], None);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("is empty"), "{stderr}");
    let (code, stderr) = run(&["--input", "/nonexistent/incident"], None);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("/nonexistent/incident"), "{stderr}");
    let (code, stderr) = run(&["--sqs-queue-url", "http://127.0.0.1:1/1/q"], None);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("region"), "{stderr}");
}
