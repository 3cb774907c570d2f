//! Approximate inference (loopy BP, likelihood weighting) against the exact
//! junction tree.

use super::brute::max_err;
use crate::bayes::approx::{LbpOptions, LwOptions, likelihood_weighting, loopy_bp};
use crate::bayes::generate::{layered_service_like, random_network};
use crate::bayes::{Algorithm, Evidence, Finding, InferOptions, JunctionTree, Method, infer};

fn evidence_for(net: &crate::bayes::Network, seed: u64) -> Evidence {
    // two hard findings on late variables and one soft finding
    let mut ev = Evidence::new();
    let n = net.len();
    ev.push(n - 1 - (seed as usize % 3), Finding::Hard(0));
    ev.push(n / 2, Finding::Hard(1));
    let c = net.variable(n / 3).unwrap().card();
    let mut l = vec![0.4; c];
    l[0] = 1.0;
    ev.push(n / 3, Finding::Soft(l));
    ev
}

#[test]
fn lbp_is_exact_on_polytrees() {
    for seed in 0..4 {
        let net = random_network(40, 1, 3, seed).unwrap();
        let ev = evidence_for(&net, seed);
        let exact = JunctionTree::compile(&net, 1 << 20)
            .unwrap()
            .query(&ev)
            .unwrap();
        let r = loopy_bp(&net, &ev, &LbpOptions::default()).unwrap();
        assert!(r.converged, "seed {seed}");
        let err = max_err(&r.marginals, &exact.marginals);
        assert!(err < 1e-7, "seed {seed}: {err}");
    }
}

#[test]
fn approx_vs_exact_on_random_30_node_networks() {
    let mut worst_lbp: f64 = 0.0;
    let mut worst_lw: f64 = 0.0;
    for seed in 0..5 {
        let net = random_network(30, 3, 3, 100 + seed).unwrap();
        let ev = evidence_for(&net, seed);
        let exact = JunctionTree::compile(&net, 1 << 22)
            .unwrap()
            .query(&ev)
            .unwrap();
        let lbp = loopy_bp(&net, &ev, &LbpOptions::default()).unwrap();
        let lw = likelihood_weighting(
            &net,
            &ev,
            &LwOptions {
                samples: 200_000,
                seed,
            },
        )
        .unwrap();
        let (e_lbp, e_lw) = (
            max_err(&lbp.marginals, &exact.marginals),
            max_err(&lw.marginals, &exact.marginals),
        );
        worst_lbp = worst_lbp.max(e_lbp);
        worst_lw = worst_lw.max(e_lw);
        eprintln!(
            "seed {seed}: LBP err {e_lbp:.5} (converged {}, {} it), LW err {e_lw:.5} (ESS {:.0})",
            lbp.converged, lbp.iterations, lw.effective_sample_size
        );
        assert!(e_lw <= 0.01, "seed {seed}: LW error {e_lw}");
        // the facade forced onto its approximate path must also meet 0.01
        let opts = InferOptions {
            max_exact_entries: 0,
            ..InferOptions::default()
        };
        let post = infer(&net, &ev, &opts).unwrap();
        assert!(!post.algorithm.is_exact());
        let e = max_err(&post.marginals, &exact.marginals);
        assert!(
            e <= 0.01,
            "seed {seed}: facade ({}) error {e}",
            post.algorithm.name()
        );
    }
    eprintln!("worst LBP {worst_lbp:.5}, worst LW {worst_lw:.5}");
}

#[test]
fn lw_is_deterministic_per_seed() {
    let net = random_network(20, 2, 3, 5).unwrap();
    let ev = evidence_for(&net, 0);
    let o = LwOptions {
        samples: 2000,
        seed: 42,
    };
    assert_eq!(
        likelihood_weighting(&net, &ev, &o).unwrap(),
        likelihood_weighting(&net, &ev, &o).unwrap()
    );
}

#[test]
fn lbp_reports_non_convergence() {
    let net = random_network(30, 3, 3, 101).unwrap();
    let ev = evidence_for(&net, 1);
    let r = loopy_bp(
        &net,
        &ev,
        &LbpOptions {
            max_iterations: 1,
            tolerance: 0.0,
            damping: 0.5,
        },
    )
    .unwrap();
    assert_eq!(r.iterations, 1);
    assert!(!r.converged);
    let opts = InferOptions {
        method: Method::LoopyBp,
        ..InferOptions::default()
    };
    let p = infer(&net, &ev, &opts).unwrap();
    assert!(matches!(p.algorithm, Algorithm::LoopyBp { .. }));
}

#[test]
fn facade_picks_exact_for_large_service_graphs() {
    let net = layered_service_like(1000, 2).unwrap();
    let p = infer(&net, &Evidence::new(), &InferOptions::default()).unwrap();
    assert_eq!(p.algorithm.name(), "junction_tree");
    assert!(p.note.contains("fits the budget"), "{}", p.note);
}
