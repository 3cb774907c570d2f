//! `baynet chat` on a saved incident: the offline analyst names the failing service with
//! citations, `--show-prompt` shows the fenced prompt, and a dead LLM falls back to the analyst.

use std::process::Command;

fn baynet(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(args)
        .env_remove("BAYNET_LLM_URL")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_offline_analyst_answers_the_guided_questions() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("shipping");
    let dir_text = dir.to_str().unwrap();
    let (ok, _, stderr) = baynet(&[
        "sim",
        "run",
        "--scenario",
        "shipping-pod-failure",
        "--seed",
        "3",
        "--baseline",
        "8m",
        "--fault-duration",
        "5m",
        "--recovery",
        "1m",
        "--out",
        dir_text,
    ]);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = baynet(&["chat", "--input", dir_text, "--json", "What is failing?"]);
    assert!(ok, "{stderr}");
    let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let text = answer["text"].as_str().unwrap();
    assert!(
        text.starts_with("shipping is the most likely root cause [shipping]"),
        "{text}"
    );
    let citations: Vec<&str> = answer["citations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(citations.contains(&"shipping"));
    let suggestions = answer["suggestions"].as_array().unwrap();
    assert!((2..=4).contains(&suggestions.len()));

    let (ok, stdout, _) = baynet(&["chat", "--input", dir_text, "What is the blast radius?"]);
    assert!(ok);
    assert!(
        stdout.contains("drags down") && stdout.contains("orders"),
        "{stdout}"
    );

    let (ok, stdout, _) = baynet(&["chat", "--input", dir_text, "--show-prompt", "Why?"]);
    assert!(ok);
    assert!(
        stdout.contains("=== System ===")
            && stdout.contains("<<<DATA evidence service=shipping>>>")
    );

    // An unreachable LLM: the error says so and the analyst still answers.
    let port = crate::support::free_port().to_string();
    let url = format!("http://127.0.0.1:{port}/v1");
    let (ok, stdout, stderr) = baynet(&[
        "chat",
        "--input",
        dir_text,
        "--llm-url",
        &url,
        "--llm-timeout",
        "2",
        "What is failing?",
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("LLM failed") && stderr.contains("cannot reach"),
        "{stderr}"
    );
    assert!(stdout.contains("shipping is the most likely root cause"));
}
