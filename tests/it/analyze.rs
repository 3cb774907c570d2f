//! `baynet analyze` on directories written by `baynet sim run`: the root cause comes first,
//! with whatever mix of telemetry the directory holds.

use std::path::Path;
use std::process::Command;

fn simulate(dir: &Path, scenario: &str, seed: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args([
            "sim",
            "run",
            "--scenario",
            scenario,
            "--seed",
            seed,
            "--baseline",
            "8m",
            "--fault-duration",
            "5m",
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

fn analyze(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(["analyze", "--json", "--input"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn top(result: &serde_json::Value) -> (String, f64, String) {
    let first = &result["ranking"][0];
    (
        first["service"].as_str().unwrap().to_owned(),
        first["p_outage"].as_f64().unwrap(),
        first["band"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn ranks_the_root_cause_first_with_any_mix_of_telemetry() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("payment");
    simulate(&dir, "payment-pod-failure-one", "5");
    let full = analyze(&dir, &[]);
    let (service, p, band) = top(&full);
    assert_eq!(service, "payment");
    assert!(p > 0.45 && band == "red", "{p} {band}");
    assert!(!full["incident_start"].is_null(), "an incident was found");
    let ranking = full["ranking"].as_array().unwrap();
    assert_eq!(ranking.len(), 14, "every sock-shop service is ranked");
    let sum: f64 = ranking
        .iter()
        .map(|r| r["p_root_cause"].as_f64().unwrap())
        .sum();
    assert!(sum <= 1.0 + 1e-9, "root-cause probabilities sum to {sum}");
    assert!(!ranking[0]["evidence"].as_array().unwrap().is_empty());

    // Explicit windows: the baseline and the first minutes of the fault.
    let explicit = analyze(&dir, &["--baseline", "0m..7m", "--window", "7m..12m"]);
    assert_eq!(top(&explicit).0, "payment");

    // Metrics only.
    let metrics_only = root.path().join("metrics-only");
    std::fs::create_dir_all(&metrics_only).unwrap();
    std::fs::copy(dir.join("metrics.json"), metrics_only.join("metrics.json")).unwrap();
    assert_eq!(top(&analyze(&metrics_only, &[])).0, "payment");

    // Traces only.
    let traces_only = root.path().join("traces-only");
    std::fs::create_dir_all(&traces_only).unwrap();
    std::fs::copy(dir.join("traces.json"), traces_only.join("traces.json")).unwrap();
    assert_eq!(top(&analyze(&traces_only, &[])).0, "payment");
}

#[test]
fn a_fault_free_directory_blames_nobody() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("quiet");
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args([
            "sim",
            "run",
            "--no-fault",
            "--seed",
            "21",
            "--baseline",
            "14m",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result = analyze(&dir, &[]);
    for service in result["ranking"].as_array().unwrap() {
        assert!(service["p_outage"].as_f64().unwrap() <= 0.15, "{service}");
    }
    assert_eq!(result["incident"], false);
}

#[test]
fn an_empty_directory_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(["analyze", "--input"])
        .arg(root.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no telemetry found"), "{stderr}");
}
