use std::process::Command;

fn baynet(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const ASIA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bayes/testdata/asia.bif");

#[test]
fn bn_marginals_prints_every_posterior_as_json() {
    let (code, stdout, stderr) = baynet(&[
        "bn",
        "marginals",
        "--bif",
        ASIA,
        "--evidence",
        "smoke=yes",
        "--evidence",
        "xray=yes",
        "--evidence",
        "dysp=yes",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let posteriors: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let object = posteriors.as_object().unwrap();
    assert_eq!(object.len(), 8);
    // Lauritzen & Spiegelhalter's Asia: P(lung | smoke, xray, dysp) by enumeration.
    assert!((posteriors["lung"]["yes"].as_f64().unwrap() - 0.723_714_015_310_892_2).abs() < 1e-9);
    assert_eq!(posteriors["smoke"]["yes"].as_f64(), Some(1.0));
    for states in object.values() {
        let total: f64 = states
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_f64().unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-12);
    }
}

#[test]
fn bn_marginals_soft_evidence_and_clear_errors() {
    let (code, stdout, _) = baynet(&[
        "bn",
        "marginals",
        "--bif",
        ASIA,
        "--soft",
        "lung=0.9,0.1",
        "--json",
    ]);
    assert_eq!(code, 0);
    let posteriors: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // Prior P(lung) = 0.5·0.1 + 0.5·0.01 = 0.055; virtual evidence 0.9 : 0.1.
    let expected = 0.055 * 0.9 / (0.055 * 0.9 + 0.945 * 0.1);
    assert!((posteriors["lung"]["yes"].as_f64().unwrap() - expected).abs() < 1e-12);
    let (code, _, stderr) = baynet(&["bn", "marginals", "--bif", ASIA, "--evidence", "lung=maybe"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no state `maybe`") && stderr.contains("yes, no"),
        "{stderr}"
    );
    let (code, _, stderr) = baynet(&["bn", "marginals", "--bif", "/nonexistent.bif"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read /nonexistent.bif"), "{stderr}");
    let (code, _, _) = baynet(&["bn", "marginals"]);
    assert_eq!(code, 2, "usage errors exit with 2");
}

#[test]
fn sim_scenarios_lists_the_twelve_experiments() {
    let (code, stdout, _) = baynet(&["sim", "scenarios", "--json"]);
    assert_eq!(code, 0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[11]["name"], "shipping-network-delay");
    assert_eq!(rows[3]["root_cause"], "carts-db");
    let (code, _, stderr) = baynet(&["sim", "run", "--scenario", "nope", "--out", "/tmp/x"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("built-in: user-pod-failure"), "{stderr}");
    let (code, _, stderr) = baynet(&[
        "sim",
        "run",
        "--target",
        "carts-db",
        "--fault",
        "http-abort",
        "--out",
        "/tmp/x",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot target `carts-db`"), "{stderr}");
}

/// `baynet … | head` closes stdout early: the process leaves with SIGPIPE's status (141) and
/// no panic message, like any Unix tool.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(["bn", "marginals", "--bif", ASIA, "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before the child writes.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(141), "{stderr}");
}
