//! Helper for `pgmpy_compare.py` (not part of the `bayes` module): writes
//! `asia.bif` and `random37.bif` into a directory, runs our exact inference
//! with the given evidence and prints `{"marginals": ..., "seconds": ...}`.
//!
//! Usage: `cargo run --release --example bn_compare -- OUT_DIR NET VAR=STATE...`
//! where NET is `asia` or `random37`.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use baynet::bayes::generate::{ASIA_BIF, random_network};
use baynet::bayes::{Evidence, InferOptions, bif, infer};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = &args[0];
    let which = &args[1];
    std::fs::write(format!("{dir}/asia.bif"), ASIA_BIF).unwrap();
    let r37 = random_network(37, 3, 3, 2024).unwrap();
    std::fs::write(format!("{dir}/random37.bif"), bif::write(&r37)).unwrap();
    let text = std::fs::read_to_string(format!("{dir}/{which}.bif")).unwrap();
    let net = bif::parse(&text).unwrap();
    let mut ev = Evidence::new();
    for spec in &args[2..] {
        ev.parse_hard(&net, spec).unwrap();
    }
    let opts = InferOptions::default();
    let reps = 2000;
    let t = Instant::now();
    let mut post = infer(&net, &ev, &opts).unwrap();
    for _ in 1..reps {
        post = infer(&net, &ev, &opts).unwrap();
    }
    let secs = t.elapsed().as_secs_f64() / reps as f64;
    let out = serde_json::json!({
        "marginals": post.to_json(&net),
        "seconds": secs,
        "algorithm": post.algorithm.name(),
    });
    println!("{out}");
}
