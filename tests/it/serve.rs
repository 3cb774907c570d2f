use crate::support::{ChildGuard, free_port, poll};
use baynet::model::Timestamp;
use baynet::rca::{EvidenceItem, LinkStrengths, RcaConfig, ServiceEvidence, rank};
use baynet::serve::server::{AnalysisFeed, ServerConfig, Shared, run};
use baynet::serve::sigv4::Credentials;
use baynet::serve::snapshot::Snapshot;
use baynet::serve::sqs::{Outcome, SqsClient, SqsConfig, poll_once};
use baynet::wire::prometheus::exposition::parse_exposition;
use std::collections::BTreeMap;
use std::time::Duration;

/// A feed over the sock-shop graph: shipping and its callers look degraded; external events
/// are merged into the evidence the same way detector scores are.
struct TestFeed;

impl AnalysisFeed for TestFeed {
    fn analyze(
        &mut self,
        now: Timestamp,
        external: &BTreeMap<String, (f64, Vec<EvidenceItem>)>,
    ) -> Result<Snapshot, String> {
        let graph = baynet::sim::topology::service_graph();
        let mut evidence: BTreeMap<String, ServiceEvidence> = graph
            .services()
            .map(|s| {
                (
                    s.name.clone(),
                    ServiceEvidence {
                        degraded: Some(0.02),
                        starved: Some(0.02),
                        ..Default::default()
                    },
                )
            })
            .collect();
        for (service, score) in [("shipping", 0.97), ("orders", 0.9), ("front-end", 0.8)] {
            evidence.insert(
                service.to_owned(),
                ServiceEvidence {
                    degraded: Some(score),
                    starved: Some(0.02),
                    ..Default::default()
                },
            );
        }
        for (service, (score, items)) in external {
            let entry = evidence.entry(service.clone()).or_default();
            entry.degraded = Some(entry.degraded.unwrap_or(0.0).max(*score));
            entry.items.extend(items.iter().cloned());
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
        snapshot.health = ranking
            .ranking
            .iter()
            .map(|r| (r.service.clone(), 1.0 - r.p_degraded * 0.5))
            .collect();
        snapshot.ranking = ranking;
        Ok(snapshot)
    }
}

fn start(token: Option<&str>) -> (tokio::runtime::Runtime, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let port = free_port();
    let config = ServerConfig {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        token: token.map(str::to_owned),
        update_every: Duration::from_millis(100),
        event_ttl: Duration::from_secs(600),
    };
    let shared = Shared::new(Snapshot::empty("sock-shop", Timestamp(0)), config.event_ttl);
    runtime.spawn(run(config, shared, TestFeed, std::future::pending()));
    let base = format!("http://127.0.0.1:{port}");
    poll(Duration::from_secs(10), Duration::from_millis(50), || {
        ureq::get(&format!("{base}/api/health"))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .ok()
    })
    .expect("server starts");
    (runtime, base)
}

fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = ureq::get(url).config().http_status_as_error(false).build();
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let mut response = request.call().unwrap();
    (
        response.status().as_u16(),
        response.body_mut().read_to_string().unwrap(),
    )
}

fn post(url: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut response = ureq::post(url)
        .config()
        .http_status_as_error(false)
        .build()
        .header("Content-Type", content_type)
        .send(body)
        .unwrap();
    (
        response.status().as_u16(),
        response.body_mut().read_to_string().unwrap(),
    )
}

/// Every endpoint answers in the shape the reference describes, and external events raise the
/// Bayesian evidence like the built-in detectors do.
#[test]
fn serve_endpoints_match_the_node_graph_and_prometheus_contracts() {
    let (_runtime, base) = start(None);
    assert_eq!(get(&format!("{base}/api/health"), None).0, 200);
    let (status, body) = get(&format!("{base}/api/graph/fields"), None);
    assert_eq!(status, 200);
    let fields: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        fields["nodes_fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["field_name"] == "mainstat")
    );
    assert!(
        fields["edges_fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["field_name"] == "source")
    );
    let data = poll(Duration::from_secs(5), Duration::from_millis(50), || {
        let (_, body) = get(
            &format!("{base}/api/graph/data?namespace=sock-shop&unknown=1"),
            None,
        );
        let data: serde_json::Value = serde_json::from_str(&body).ok()?;
        (data["nodes"].as_array()?.len() == 14).then_some(data)
    })
    .expect("the updater publishes the network");
    let ids: Vec<&str> = data["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    for edge in data["edges"].as_array().unwrap() {
        assert!(
            ids.contains(&edge["source"].as_str().unwrap())
                && ids.contains(&edge["target"].as_str().unwrap()),
            "dangling edge {edge}"
        );
    }
    let shipping = data["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "shipping")
        .unwrap();
    assert_eq!(shipping["color"], "red");

    let (status, text) = get(&format!("{base}/metrics"), None);
    assert_eq!(status, 200);
    let samples = parse_exposition(&text).unwrap();
    let outage =
        |service: &str, samples: &[baynet::wire::prometheus::exposition::ExpositionSample]| {
            samples
                .iter()
                .find(|s| {
                    s.name == "baynet_service_outage_probability"
                        && s.labels.get("service").map(String::as_str) == Some(service)
                })
                .map(|s| s.value)
                .unwrap()
        };
    assert!(outage("shipping", &samples) > 0.46);
    let payment_before = outage("payment", &samples);
    assert!(
        samples
            .iter()
            .any(|s| s.name == "baynet_last_update_age_seconds" && s.value < 5.0)
    );

    // Event intake: accepted, duplicate, malformed, wrong type, too large.
    let event = br#"{"event_id":"e-1","service":"payment","anomaly_type":"error_rate","score":0.99,"ts":"2020-01-01T00:00:00Z","context":"declines 40%"}"#;
    let fresh = format!(
        r#"{{"event_id":"e-2","service":"payment","anomaly_type":"latency","score":0.99,"ts":"{}"}}"#,
        chrono::Utc::now().to_rfc3339()
    );
    assert_eq!(
        post(
            &format!("{base}/api/v1/events"),
            "application/json",
            fresh.as_bytes()
        )
        .0,
        202
    );
    assert_eq!(
        post(
            &format!("{base}/api/v1/events"),
            "application/json",
            fresh.as_bytes()
        )
        .0,
        200,
        "duplicates are acknowledged, not added"
    );
    let (status, body) = post(
        &format!("{base}/api/v1/events"),
        "application/json",
        b"{\"service\":\"payment\"}",
    );
    assert_eq!(status, 400);
    assert!(body.contains("`start`"), "{body}");
    assert_eq!(
        post(&format!("{base}/api/v1/events"), "text/plain", event).0,
        415
    );
    assert_eq!(
        post(
            &format!("{base}/api/v1/events"),
            "application/json",
            &vec![b' '; 200_000]
        )
        .0,
        413
    );
    let raised = poll(Duration::from_secs(5), Duration::from_millis(100), || {
        let samples = parse_exposition(&get(&format!("{base}/metrics"), None).1).ok()?;
        let now = outage("payment", &samples);
        (now > payment_before + 0.05).then_some(now)
    });
    assert!(
        raised.is_some(),
        "an external event on payment raises its outage probability above {payment_before}"
    );
    let samples = parse_exposition(&get(&format!("{base}/metrics"), None).1).unwrap();
    let events = |outcome: &str| {
        samples
            .iter()
            .filter(|s| {
                s.name == "baynet_events_total"
                    && s.labels.get("outcome").map(String::as_str) == Some(outcome)
            })
            .map(|s| s.value)
            .sum::<f64>()
    };
    assert_eq!(
        (events("accepted"), events("duplicate"), events("rejected")),
        (1.0, 1.0, 2.0)
    );
}

#[test]
fn a_token_guards_every_endpoint() {
    let (_runtime, base) = start(Some("s3cret"));
    for path in [
        "/api/health",
        "/api/graph/fields",
        "/api/graph/data",
        "/metrics",
    ] {
        assert_eq!(
            get(&format!("{base}{path}"), None).0,
            401,
            "{path} without a token"
        );
        assert_eq!(
            get(&format!("{base}{path}"), Some("wrong")).0,
            401,
            "{path} with a wrong token"
        );
        assert_eq!(
            get(&format!("{base}{path}"), Some("s3cret")).0,
            200,
            "{path} with the token"
        );
    }
    assert_eq!(
        post(&format!("{base}/api/v1/events"), "application/json", b"{}").0,
        401
    );
}

fn sqs_call(endpoint: &str, operation: &str, body: serde_json::Value) -> serde_json::Value {
    let mut response = ureq::post(endpoint)
        .config()
        .http_status_as_error(false)
        .build()
        .header("Content-Type", "application/x-amz-json-1.0")
        .header("X-Amz-Target", &format!("AmazonSQS.{operation}"))
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0")
        .send(body.to_string().as_bytes())
        .unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// The SQS consumer against moto's SQS server: valid events are processed and deleted, a
/// malformed message is left on the queue and redriven to the dead-letter queue.
#[test]
fn sqs_consumer_processes_events_and_leaves_malformed_ones_for_the_dead_letter_queue() {
    if !crate::support::require_program("moto_server", "BAYNET_REQUIRE_MOTO") {
        return;
    }
    let port = free_port();
    let moto = std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _moto = ChildGuard(moto);
    let endpoint = format!("http://127.0.0.1:{port}/");
    poll(Duration::from_secs(30), Duration::from_millis(200), || {
        ureq::get(&format!("http://127.0.0.1:{port}/moto-api/"))
            .call()
            .ok()
    })
    .expect("moto starts");
    let dlq = sqs_call(
        &endpoint,
        "CreateQueue",
        serde_json::json!({"QueueName": "anomalies-dlq"}),
    );
    let dlq_url = dlq["QueueUrl"].as_str().unwrap().to_owned();
    let dlq_arn = sqs_call(
        &endpoint,
        "GetQueueAttributes",
        serde_json::json!({"QueueUrl": dlq_url, "AttributeNames": ["QueueArn"]}),
    )["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string();
    let queue = sqs_call(
        &endpoint,
        "CreateQueue",
        serde_json::json!({"QueueName": "anomalies", "Attributes": {"RedrivePolicy": redrive, "VisibilityTimeout": "1"}}),
    );
    let queue_url = queue["QueueUrl"].as_str().unwrap().to_owned();
    let good = r#"{"event_id":"a-20250101-0010-carts","service":"carts","namespace":"sock-shop","signal":"error_rate","value":0.25,"baseline":0.002,"ts":"2025-01-01T00:10:00Z"}"#;
    for body in [good, "{not json", good] {
        sqs_call(
            &endpoint,
            "SendMessage",
            serde_json::json!({"QueueUrl": queue_url, "MessageBody": body}),
        );
    }
    let credentials = Credentials {
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
        session_token: None,
    };
    let config = SqsConfig {
        queue_url: queue_url.clone(),
        endpoint: Some(endpoint.clone()),
        region: "us-east-1".into(),
        wait_time_secs: 1,
        visibility_timeout_secs: 1,
        max_messages: 10,
    };
    let client = SqsClient::new(config, credentials.clone()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut accepted = Vec::new();
    let mut rejected = 0;
    for _ in 0..8 {
        let outcomes = runtime
            .block_on(poll_once(&client, |_| {}))
            .expect("receive works");
        for outcome in outcomes {
            match outcome {
                Outcome::Accepted(event) => accepted.push(event.event_id),
                Outcome::Rejected { error, .. } => {
                    rejected += 1;
                    assert!(error.to_string().contains("not a JSON object"), "{error}");
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert_eq!(
        accepted,
        ["a-20250101-0010-carts", "a-20250101-0010-carts"],
        "both copies delivered (at least once); the store de-duplicates them"
    );
    assert_eq!(
        rejected, 2,
        "the malformed message came back once, then went to the dead-letter queue"
    );
    let dead_client = SqsClient::new(
        SqsConfig {
            queue_url: dlq_url,
            endpoint: Some(endpoint),
            region: "us-east-1".into(),
            wait_time_secs: 1,
            visibility_timeout_secs: 30,
            max_messages: 10,
        },
        credentials,
    )
    .unwrap();
    let dead = runtime.block_on(dead_client.receive()).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "{not json");
    let missing = SqsClient::new(
        SqsConfig {
            queue_url: format!("{queue_url}-missing"),
            endpoint: Some(format!("http://127.0.0.1:{port}/")),
            region: "us-east-1".into(),
            wait_time_secs: 0,
            visibility_timeout_secs: 1,
            max_messages: 1,
        },
        Credentials {
            access_key_id: "t".into(),
            secret_access_key: "t".into(),
            session_token: None,
        },
    )
    .unwrap();
    let error = runtime
        .block_on(missing.receive())
        .expect_err("no such queue");
    assert!(!error.is_transient(), "{error}");
    assert!(
        error.to_string().contains("QueueDoesNotExist")
            || error.to_string().contains("NonExistentQueue"),
        "{error}"
    );
}
