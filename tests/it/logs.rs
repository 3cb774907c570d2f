//! `baynet logs templates` on a small file: ids, templates and the Loki input format.
use std::process::Command;

const SMALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/logs/small.log");

fn templates(args: &[&str]) -> Vec<serde_json::Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(["logs", "templates", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn raw_lines_get_their_templates_and_stable_ids() {
    let rows = templates(&["--input", SMALL, "--service", "orders"]);
    assert_eq!(rows.len(), 8);
    let template = |i: usize| rows[i]["template"].as_str().unwrap().to_owned();
    let id = |i: usize| rows[i]["template_id"].as_str().unwrap().to_owned();
    assert_eq!(
        template(0),
        "<TS> <TS> INFO <NUM> --- <*> w.w.s.orders.OrdersController : Order <HEX> created in <DUR>"
    );
    assert_eq!(template(2), "dial tcp <IP>: connect: connection refused");
    assert_eq!(template(4), "GET /catalogue <NUM> <NUM> ms - <NUM>");
    assert_eq!(template(6), "user <*> logged in from <IP>");
    for pair in [(0, 1), (2, 3), (4, 5), (6, 7)] {
        assert_eq!(id(pair.0), id(pair.1));
    }
    let mut distinct: Vec<String> = (0..8).map(id).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4);
    assert!(rows.iter().all(|r| r["service"] == "orders"));
    assert_eq!(
        rows[3]["line"],
        "dial tcp 10.0.3.9:27017: connect: connection refused"
    );
    // Same input, same ids; the id does not depend on later lines generalising the template.
    let again = templates(&["--input", SMALL, "--service", "orders"]);
    assert_eq!(again, rows);
}

#[test]
fn loki_responses_are_read_per_service() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loki.json");
    let body = serde_json::json!({
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": [
                {"stream": {"app": "carts"}, "values": [
                    ["1709294400000000002", "user bob logged in"],
                    ["1709294400000000001", "user alice logged in"]
                ]},
                {"stream": {"app": "orders"}, "values": [
                    ["1709294400000000003", "user carol logged in"]
                ]}
            ]
        }
    });
    std::fs::write(&path, body.to_string()).unwrap();
    let rows = templates(&["--input", path.to_str().unwrap(), "--format", "loki"]);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["line"], "user alice logged in");
    assert_eq!(rows[0]["service"], "carts");
    assert_eq!(rows[0]["template"], "user <*> logged in");
    assert_eq!(rows[0]["template_id"], rows[1]["template_id"]);
    assert_eq!(rows[2]["service"], "orders");
    assert_ne!(rows[2]["template_id"], rows[0]["template_id"]);
}

#[test]
fn a_bad_input_fails_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(["logs", "templates", "--input", "/nonexistent/x.log"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/x.log"));
}
