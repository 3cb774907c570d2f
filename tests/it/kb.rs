//! `baynet kb`: the knowledge base end to end on a temporary `XDG_DATA_HOME` — add, list,
//! search with filters, similar, show, rm, export/import, reindex; bad input leaves the store
//! as it was; SIGKILLed writers lose no acknowledged record.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Kb {
    data: tempfile::TempDir,
    hashed: bool,
}

impl Kb {
    fn new() -> Self {
        Self {
            data: tempfile::tempdir().unwrap(),
            hashed: false,
        }
    }

    /// The model-free embedder (the crash test is about durability, not embeddings).
    fn hashed(mut self) -> Self {
        self.hashed = true;
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_baynet"));
        command
            .env("XDG_DATA_HOME", self.data.path())
            .env("XDG_CONFIG_HOME", self.data.path().join("config"))
            .env_remove("BAYNET_CONFIG")
            .env_remove("BAYNET_KB_BACKEND")
            .env_remove("BAYNET_KB_DIR")
            .env(
                "BAYNET_CURATED_KB",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge"),
            )
            .arg("kb");
        if self.hashed {
            command.env("BAYNET_KB_EMBEDDER", "hashed");
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "kb {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn ids(&self) -> Vec<String> {
        self.json(&["list", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }

    fn user_dir(&self) -> PathBuf {
        self.data.path().join("baynet").join("knowledge")
    }
}

fn postmortem(id: &str, class: &str, service: &str, signals: &str, title: &str) -> String {
    format!(
        "---\nid: {id}\ntitle: \"{title}\"\nstarted: 2026-11-20T10:00:00Z\nsource: chaos-experiment\n\
         root_cause_service: {service}\nfault_class: {class}\naffected_services: [front-end, {service}]\n\
         symptom_signature:\n  gateway: [error_ratio]\n  services:\n    {service}: {{{signals}}}\n\
         mttd_secs: 75\nremediation: \"Fix {service}\"\ntags: [recorded, {class}]\n---\n\n\
         ## Summary\n{title} on {service}.\n\n## Timeline\nDetected by the trace detectors.\n"
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn add_search_similar_show_rm_export_import() {
    let kb = Kb::new();
    let files = tempfile::tempdir().unwrap();
    let curated = kb.ids();
    assert!(
        curated.contains(&"playbook-pod-failure".to_owned()),
        "{curated:?}"
    );
    let carts = write(
        files.path(),
        "a.md",
        &postmortem(
            "inc-carts-pod",
            "pod-failure",
            "carts",
            "health: 0.95, traffic_rps: 0.9, restarts_per_s: 0.7",
            "Carts pods stopped serving after the node drain",
        ),
    );
    let orders = write(
        files.path(),
        "b.md",
        &postmortem(
            "inc-orders-cpu",
            "cpu-stress",
            "orders",
            "cpu_cores: 0.97, latency_p99_ms: 0.8",
            "Orders starved of CPU by a noisy neighbour",
        ),
    );
    let probe = write(
        files.path(),
        "c.md",
        &postmortem(
            "inc-orders-pod",
            "pod-failure",
            "orders",
            "health: 0.9, traffic_rps: 0.95",
            "Orders pod crash loop",
        ),
    );
    let out = kb.ok(&["add", carts.to_str().unwrap(), orders.to_str().unwrap()]);
    assert_eq!(out, "added inc-carts-pod\nadded inc-orders-cpu\n");
    assert!(kb.user_dir().join("inc-carts-pod.md").is_file());
    // Adding the same content again is a no-op, not a duplicate.
    kb.ok(&["add", carts.to_str().unwrap()]);
    assert_eq!(kb.ids().len(), curated.len() + 2);

    let hits = kb.json(&["search", "noisy neighbour CPU", "--json", "--limit", "3"]);
    assert_eq!(hits[0]["id"], "inc-orders-cpu", "{hits:#}");
    let hits = kb.json(&["search", "serving", "--service", "carts", "--json"]);
    let ids: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids[0], "inc-carts-pod", "{hits:#}");
    assert!(!ids.contains(&"inc-orders-cpu"), "{hits:#}");
    let hits = kb.json(&["search", "latency", "--fault", "network-delay", "--json"]);
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .all(|h| h["fault_class"] == "network-delay")
    );
    assert!(!hits.as_array().unwrap().is_empty());
    assert!(
        !kb.run(&["search", "x", "--fault", "gremlins"])
            .status
            .success()
    );

    // Same fault class on another service outranks another fault on the same service.
    kb.ok(&["add", probe.to_str().unwrap()]);
    let similar = kb.json(&[
        "similar",
        "--to",
        "inc-orders-pod",
        "--json",
        "--limit",
        "3",
    ]);
    let top: Vec<&str> = similar
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["fault_class"].as_str().unwrap())
        .collect();
    assert_eq!(top[0], "pod-failure", "{similar:#}");
    assert!(
        similar
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["id"] != "inc-orders-pod")
    );

    let shown = kb.ok(&["show", "inc-carts-pod"]);
    assert!(shown.contains("root_cause_service: carts") && shown.contains("## Timeline"));

    let export = kb.ok(&["export"]);
    assert_eq!(export.lines().count(), curated.len() + 3);
    kb.ok(&["rm", "inc-carts-pod"]);
    assert!(!kb.ids().contains(&"inc-carts-pod".to_owned()));
    assert!(!kb.user_dir().join("inc-carts-pod.md").is_file());
    let refused = kb.run(&["rm", "playbook-pod-failure"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("curated"));

    let fresh = Kb::new();
    let dump = write(files.path(), "dump.jsonl", &export);
    fresh.ok(&["import", dump.to_str().unwrap()]);
    let mut expected = kb.ids();
    expected.push("inc-carts-pod".to_owned());
    expected.sort();
    assert_eq!(fresh.ids(), expected);

    // The Markdown files are the source of truth: a wiped store comes back from them.
    std::fs::remove_dir_all(fresh.data.path().join("baynet").join("store")).unwrap();
    let report = fresh.json(&["reindex", "--json"]);
    assert_eq!(report["indexed"].as_u64().unwrap() as usize, expected.len());
    assert_eq!(fresh.ids(), expected);
}

#[test]
fn bad_input_is_refused_with_the_file_named_and_nothing_lost() {
    let kb = Kb::new();
    let files = tempfile::tempdir().unwrap();
    let good = write(
        files.path(),
        "good.md",
        &postmortem(
            "inc-good",
            "overload",
            "catalogue",
            "traffic_rps: 0.9",
            "Catalogue overload",
        ),
    );
    kb.ok(&["add", good.to_str().unwrap()]);
    let before = kb.ids();
    let base = postmortem(
        "inc-bad",
        "overload",
        "user",
        "traffic_rps: 0.9",
        "User overload",
    );
    let mut huge = base.clone();
    huge.push_str(&"x".repeat(1024 * 1024 + 1));
    let mut binary = base.clone().into_bytes();
    binary.extend_from_slice(b"\0\x01\x02");
    std::fs::write(files.path().join("binary.md"), &binary).unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            write(
                files.path(),
                "malformed.md",
                "---\nid: [unclosed\n---\nbody\n",
            ),
            "front matter",
        ),
        (
            write(files.path(), "nofront.md", "# only a heading\n"),
            "front matter",
        ),
        (
            write(
                files.path(),
                "missing.md",
                &base.replace("title: \"User overload\"\n", ""),
            ),
            "title",
        ),
        (
            write(
                files.path(),
                "class.md",
                &base.replace("fault_class: overload", "fault_class: gremlins"),
            ),
            "fault_class",
        ),
        (write(files.path(), "huge.md", &huge), "1 MiB"),
        (files.path().join("binary.md"), "binary"),
        (
            write(files.path(), "dup.md", &base.replace("inc-bad", "inc-good")),
            "duplicate id `inc-good`",
        ),
    ];
    for (path, needle) in &cases {
        // The bad file comes second: the good first file must not be written either.
        let other = write(
            files.path(),
            "other.md",
            &postmortem(
                "inc-other",
                "overload",
                "carts",
                "traffic_rps: 0.5",
                "Other",
            ),
        );
        let output = kb.run(&["add", other.to_str().unwrap(), path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{}: accepted", path.display());
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            stderr.contains(name) && stderr.contains(needle),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(kb.ids(), before, "{name} changed the store");
        assert!(!kb.user_dir().join("inc-other.md").is_file());
    }
    // Two files with one id in one call: both are named.
    let a = write(files.path(), "one.md", &base);
    let b = write(files.path(), "two.md", &base);
    let output = kb.run(&["add", a.to_str().unwrap(), b.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("one.md") && stderr.contains("two.md"),
        "{stderr}"
    );
    // A bad file dropped into the user directory is skipped by reindex, not fatal.
    std::fs::write(kb.user_dir().join("junk.md"), "no front matter").unwrap();
    let report = kb.json(&["reindex", "--json"]);
    assert_eq!(report["skipped"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(kb.ids(), before);
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// 20 rounds: a writer adds 1,000 records and is SIGKILLed at a random moment of its run
/// (`BAYNET_KB_CRASH_ROUNDS` / `BAYNET_KB_CRASH_RECORDS` change the sizes). In the first rounds
/// a reader process searches the whole time the writer writes and must never fail.
#[test]
fn sigkill_loses_no_acknowledged_record() {
    let rounds = env_count("BAYNET_KB_CRASH_ROUNDS", 20);
    let per_round = env_count("BAYNET_KB_CRASH_RECORDS", 1000);
    let kb = Kb::new().hashed();
    let files = tempfile::tempdir().unwrap();
    kb.ok(&["list"]);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut acknowledged: Vec<String> = Vec::new();
    let mut killed_mid_write = 0;
    let mut reader_searches = 0;
    // How long an undisturbed writer takes, measured on the first round (it is not killed).
    let mut full_run = Duration::from_secs(2);
    for round in 0..rounds {
        let paths: Vec<PathBuf> = (0..per_round)
            .map(|n| {
                write(
                    files.path(),
                    &format!("r{round}-{n}.md"),
                    &postmortem(
                        &format!("crash-{round}-{n}"),
                        "pod-failure",
                        "carts",
                        "health: 0.9",
                        &format!("Crash record zq{round}x{n}"),
                    ),
                )
            })
            .collect();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let millis = u64::try_from(full_run.as_millis()).unwrap_or(2000).max(20);
        let delay = if round == 0 {
            Duration::from_secs(600)
        } else {
            Duration::from_millis(10 + seed % millis)
        };
        let child = kb
            .command()
            .arg("add")
            .args(&paths)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let mut child = child;
        let reading = round < 3;
        while started.elapsed() < delay {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if reading {
                // A reader in another process while the writer writes: never an error.
                let output = kb.run(&["search", "crash record", "--json", "--limit", "3"]);
                assert!(
                    output.status.success(),
                    "round {round}: a search during a write failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                reader_searches += 1;
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if round == 0 {
            full_run = started.elapsed();
        }
        if child.try_wait().unwrap().is_none() {
            killed_mid_write += 1;
        }
        let _ = child.kill(); // SIGKILL
        let output = child.wait_with_output().unwrap();
        if round == 0 {
            assert!(
                output.status.success(),
                "the undisturbed writer failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if let Some(id) = line.strip_prefix("added ") {
                acknowledged.push(id.to_owned());
            }
        }
        // Reopen: every acknowledged record is there and searchable.
        let ids = kb.ids();
        for id in &acknowledged {
            assert!(ids.contains(id), "round {round}: acknowledged {id} lost");
        }
        if let Some(last) = acknowledged.last() {
            let token = last.replace("crash-", "zq").replace('-', "x");
            // Its unique token is a BM25 hit; the fused ranking may place records with
            // identical signatures and vectors near it, so look at the first 100.
            let hits = kb.json(&["search", &token, "--json", "--limit", "100"]);
            assert!(
                hits.as_array()
                    .unwrap()
                    .iter()
                    .any(|h| h["id"].as_str() == Some(last.as_str())),
                "{token} not found: {hits}"
            );
        }
    }
    assert!(reader_searches > 0 || rounds == 0, "the reader never ran");
    assert!(!acknowledged.is_empty(), "no writer got to commit");
    // Files copied but not indexed when the writer died come back with reindex.
    kb.ok(&["reindex"]);
    let ids = kb.ids();
    let on_disk = std::fs::read_dir(kb.user_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "md")
        })
        .count();
    let recorded = ids.iter().filter(|id| id.starts_with("crash-")).count();
    assert_eq!(recorded, on_disk);
    assert!(acknowledged.iter().all(|id| ids.contains(id)));
    eprintln!(
        "{rounds} rounds × {per_round}: {} acknowledged, {killed_mid_write} writers killed mid-run, {reader_searches} concurrent searches, {on_disk} files after reindex; an undisturbed writer took {full_run:?}",
        acknowledged.len()
    );
}

#[test]
fn similar_to_an_input_directory_finds_the_fault_class_playbook() {
    let kb = Kb::new();
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args([
            "sim",
            "run",
            "--scenario",
            "09-shipping-pod-failure",
            "--seed",
            "5",
            "--baseline",
            "8m",
            "--fault-duration",
            "5m",
            "--recovery",
            "1m",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hits = kb.json(&[
        "similar",
        "--to",
        dir.path().to_str().unwrap(),
        "--json",
        "--limit",
        "3",
    ]);
    let classes: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["fault_class"].as_str().unwrap())
        .collect();
    assert_eq!(classes.len(), 3, "{hits:#}");
    assert!(classes.contains(&"pod-failure"), "{hits:#}");
}

/// Leave-one-out retrieval on the 12 built-in scenarios: measured 0.88 top-3 (7 of 8
/// answerable runs) against 0.47 for a random ranking; the bar allows one more miss.
#[test]
fn eval_retrieval_finds_the_same_fault_class_in_the_top_three() {
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(["eval", "retrieval", "--random", "0", "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["runs"].as_array().unwrap().len(), 12);
    assert!(report["answerable"].as_u64().unwrap() >= 6, "{report:#}");
    let top3 = report["hit_rate_top3"].as_f64().unwrap();
    assert!(top3 >= 0.75, "top-3 same-class hit rate {top3}");
}

#[test]
fn export_to_a_file_and_import_round_trip_and_bad_lines_are_named() {
    let kb = Kb::new().hashed();
    let files = tempfile::tempdir().unwrap();
    for (name, id, class, service) in [
        ("a.md", "inc-a", "pod-failure", "carts"),
        ("b.md", "inc-b", "cpu-stress", "orders"),
    ] {
        let path = write(
            files.path(),
            name,
            &postmortem(id, class, service, "health: 0.9", &format!("{id} title")),
        );
        kb.ok(&["add", path.to_str().unwrap()]);
    }
    let out = files.path().join("kb.jsonl");
    kb.ok(&["export", "--out", out.to_str().unwrap()]);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), kb.ids().len());
    for line in &lines {
        // The hash is SHA-256 of the Markdown exactly as exported.
        let markdown = line["markdown"].as_str().unwrap();
        let expected = baynet::knowledge::store::content_hash(markdown.as_bytes());
        assert_eq!(line["hash"], expected.as_str());
        assert!(line.get("vectors").is_none());
    }
    let a = lines.iter().find(|l| l["id"] == "inc-a").unwrap();
    assert_eq!(a["curated"], false);
    assert_eq!(
        a["markdown"].as_str().unwrap(),
        std::fs::read_to_string(files.path().join("a.md")).unwrap(),
        "a user record exports its file's bytes"
    );
    assert!(lines.iter().any(|l| l["curated"] == true));
    let with_vectors = kb.ok(&["export", "--with-vectors"]);
    let first: serde_json::Value =
        serde_json::from_str(with_vectors.lines().next().unwrap()).unwrap();
    assert_eq!(first["embedder"], "hashed-bow-512");
    assert_eq!(first["vectors"][0].as_array().unwrap().len(), 512);

    let other = Kb::new().hashed();
    other.ok(&["import", out.to_str().unwrap()]);
    assert_eq!(other.ids(), kb.ids());
    for id in ["inc-a", "inc-b", "playbook-pod-failure"] {
        let body = |k: &Kb| {
            let shown = k.ok(&["show", id]);
            shown.split_once('\n').unwrap().1.to_owned()
        };
        assert_eq!(body(&other), body(&kb), "{id}");
    }
    let search = |k: &Kb| k.json(&["search", "inc-b title orders", "--json"]);
    assert_eq!(search(&other)[0]["id"], search(&kb)[0]["id"]);
    assert_eq!(search(&other)[0]["id"], "inc-b");
    // Importing the same export again changes nothing.
    other.ok(&["import", out.to_str().unwrap()]);
    assert_eq!(other.ids(), kb.ids());

    // Bad lines: every one named by number; nothing stored.
    let good = |id: &str| {
        let markdown = postmortem(id, "overload", "user", "traffic_rps: 0.9", "Overload");
        serde_json::json!({"id": id, "markdown": markdown}).to_string()
    };
    let altered = {
        let markdown = postmortem("inc-d", "overload", "user", "traffic_rps: 0.9", "Overload");
        serde_json::json!({"id": "inc-d", "markdown": markdown, "hash": "00ff"}).to_string()
    };
    let wrong_id = serde_json::json!({
        "id": "inc-e",
        "markdown": postmortem("inc-f", "overload", "user", "traffic_rps: 0.9", "Overload"),
    })
    .to_string();
    let bad_front =
        serde_json::json!({"id": "inc-g", "markdown": "---\nid: [oops\n---\n"}).to_string();
    let dump = [
        good("inc-c"),
        "{not json".to_owned(),
        bad_front,
        String::new(),
        altered,
        good("inc-c"),
        wrong_id,
        good("inc-h"),
    ]
    .join("\n");
    let bad = write(files.path(), "bad.jsonl", &dump);
    let before = other.ids();
    let output = other.run(&["import", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    for needle in [
        "line 2: not an export line",
        "line 3: ",
        "line 5: `hash` does not match",
        "line 6: duplicate id `inc-c` (first on line 1)",
        "line 7: `id` is inc-e but",
        "5 of 8 lines",
        "nothing was imported",
    ] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    assert!(
        !stderr.contains("line 1:") && !stderr.contains("line 8:"),
        "{stderr}"
    );
    assert_eq!(other.ids(), before, "nothing stored");
    // --skip-invalid imports the good ones.
    let output = other.run(&["import", "--skip-invalid", bad.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ids = other.ids();
    assert!(ids.contains(&"inc-c".to_owned()) && ids.contains(&"inc-h".to_owned()));
    assert_eq!(ids.len(), before.len() + 2);
}

#[test]
fn each_kb_dir_has_its_own_store() {
    let kb = Kb::new().hashed();
    let files = tempfile::tempdir().unwrap();
    let one = kb.data.path().join("one");
    let two = kb.data.path().join("two");
    let path = write(
        files.path(),
        "a.md",
        &postmortem(
            "inc-only-one",
            "pod-failure",
            "carts",
            "health: 0.9",
            "Only in one",
        ),
    );
    let dir = |d: &Path| d.to_str().unwrap().to_owned();
    kb.ok(&["--kb-dir", &dir(&one), "add", path.to_str().unwrap()]);
    let ids = |d: &Path| -> Vec<String> {
        serde_json::from_str::<serde_json::Value>(&kb.ok(&["--kb-dir", &dir(d), "list", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(ids(&one).contains(&"inc-only-one".to_owned()));
    assert!(
        !ids(&two).contains(&"inc-only-one".to_owned()),
        "the second KB must not see the first's index"
    );
    assert!(
        !kb.ids().contains(&"inc-only-one".to_owned()),
        "nor the default KB"
    );
    assert!(one.join(".baynet-store").join("kb.redb").is_file());
    assert_eq!(
        std::fs::read_to_string(one.join(".baynet-store").join(".gitignore"))
            .unwrap()
            .lines()
            .last(),
        Some("*")
    );
    // The default knowledge base keeps its store where it was.
    assert!(
        kb.data
            .path()
            .join("baynet")
            .join("store")
            .join("kb.redb")
            .is_file()
    );
    // The store's own files never count as records: reindex sees exactly one.
    let report: serde_json::Value =
        serde_json::from_str(&kb.ok(&["--kb-dir", &dir(&one), "reindex", "--json"])).unwrap();
    assert!(report["skipped"].as_array().unwrap().is_empty(), "{report}");
}
