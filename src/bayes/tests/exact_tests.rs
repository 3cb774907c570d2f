//! Exact inference (junction tree, variable elimination) against hand
//! computation and brute-force enumeration.

use super::brute::{enumerate, hard, max_err};
use crate::bayes::exact::variable_elimination;
use crate::bayes::generate::{alarm_like, asia, layered_service_like, random_network, sprinkler};
use crate::bayes::{Algorithm, BayesError, Evidence, InferOptions, JunctionTree, Method, infer};

#[test]
fn sprinkler_rain_given_wet_grass_by_hand() {
    let net = sprinkler().unwrap();
    let mut ev = Evidence::new();
    ev.hard(&net, "WetGrass", "T").unwrap();
    let post = infer(&net, &ev, &InferOptions::default()).unwrap();
    assert!(post.algorithm.is_exact());
    // P(R=T, W=T) = sum_{c,s} P(c) P(s|c) P(R=T|c) P(W=T|s,R=T)
    let r_w: f64 =
        0.5 * (0.1 * 0.8 * 0.99 + 0.9 * 0.8 * 0.9) + 0.5 * (0.5 * 0.2 * 0.99 + 0.5 * 0.2 * 0.9);
    // P(R=F, W=T) = sum_{c} P(c) P(S=T|c) P(R=F|c) * 0.9
    let nr_w: f64 = 0.5 * (0.1 * 0.2 * 0.9) + 0.5 * (0.5 * 0.8 * 0.9);
    let expected = r_w / (r_w + nr_w);
    assert!((expected - 0.7079).abs() < 1e-4);
    let got = post.prob(&net, "Rain", "T").unwrap();
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    assert!((post.log_evidence.unwrap() - (r_w + nr_w).ln()).abs() < 1e-12);
    // every marginal against brute force, with and without evidence
    let (bf, _) = enumerate(&net, &[hard(&net, "WetGrass", "T")]);
    assert!(max_err(&post.marginals, &bf) < 1e-12);
    let prior = infer(&net, &Evidence::new(), &InferOptions::default()).unwrap();
    let (bf, _) = enumerate(&net, &[]);
    assert!(max_err(&prior.marginals, &bf) < 1e-12);
}

#[test]
fn asia_with_evidence_matches_enumeration() {
    let net = asia().unwrap();
    let mut ev = Evidence::new();
    for (v, s) in [("smoke", "yes"), ("xray", "yes"), ("dysp", "yes")] {
        ev.hard(&net, v, s).unwrap();
    }
    let post = infer(&net, &ev, &InferOptions::default()).unwrap();
    let lik: Vec<_> = [("smoke", "yes"), ("xray", "yes"), ("dysp", "yes")]
        .iter()
        .map(|(v, s)| hard(&net, v, s))
        .collect();
    let (bf, pe) = enumerate(&net, &lik);
    assert!(max_err(&post.marginals, &bf) < 1e-12);
    assert!((post.log_evidence.unwrap() - pe.ln()).abs() < 1e-10);
    let lung = post.prob(&net, "lung", "yes").unwrap();
    // well-known value for this query
    // independent Python enumeration gave 0.7237140153108922
    assert!((lung - 0.723_714_015_310_892_2).abs() < 1e-12, "{lung}");
    // deterministic node: P(either=yes) >= P(lung=yes), P(tub=yes)
    let either = post.prob(&net, "either", "yes").unwrap();
    assert!(either + 1e-12 >= lung);
}

#[test]
fn soft_evidence_is_a_virtual_child() {
    let net = asia().unwrap();
    let mut ev = Evidence::new();
    ev.soft(&net, "xray", vec![0.8, 0.3]).unwrap();
    ev.soft(&net, "xray", vec![0.5, 1.0]).unwrap(); // multiplies in
    ev.hard(&net, "asia", "yes").unwrap();
    ev.soft(&net, "bronc", vec![0.0, 1.0]).unwrap(); // acts like hard bronc=no
    let post = infer(&net, &ev, &InferOptions::default()).unwrap();
    let x = net.id("xray").unwrap();
    let lik = vec![
        (x, vec![0.4, 0.3]),
        hard(&net, "asia", "yes"),
        hard(&net, "bronc", "no"),
    ];
    let (bf, pe) = enumerate(&net, &lik);
    assert!(max_err(&post.marginals, &bf) < 1e-12);
    assert!((post.log_evidence.unwrap() - pe.ln()).abs() < 1e-10);
}

#[test]
fn zero_probability_evidence_is_an_error() {
    let net = asia().unwrap();
    let mut ev = Evidence::new();
    ev.hard(&net, "tub", "yes").unwrap();
    ev.hard(&net, "either", "no").unwrap();
    for method in [Method::Exact, Method::LikelihoodWeighting, Method::LoopyBp] {
        let opts = InferOptions {
            method,
            ..InferOptions::default()
        };
        assert_eq!(
            infer(&net, &ev, &opts).unwrap_err(),
            BayesError::ZeroProbabilityEvidence,
            "{method:?}"
        );
    }
    let mut ev = Evidence::new();
    ev.hard(&net, "tub", "yes").unwrap();
    ev.hard(&net, "tub", "no").unwrap();
    assert_eq!(
        infer(&net, &ev, &InferOptions::default())
            .unwrap_err()
            .to_string(),
        "evidence has probability zero"
    );
}

#[test]
fn random_networks_match_enumeration() {
    for seed in 0..12 {
        let net = random_network(11, 3, 3, seed).unwrap();
        let mut ev = Evidence::new();
        ev.push(10, crate::bayes::Finding::Hard(0));
        ev.push(
            4,
            crate::bayes::Finding::Soft(vec![0.3; net.variable(4).unwrap().card()]),
        );
        let mut l4 = vec![0.3; net.variable(4).unwrap().card()];
        l4[0] = 0.9;
        ev.push(4, crate::bayes::Finding::Soft(l4.clone()));
        let lik: Vec<_> = vec![
            (10, {
                let mut l = vec![0.0; net.variable(10).unwrap().card()];
                l[0] = 1.0;
                l
            }),
            (4, l4.iter().map(|x| x * 0.3).collect()),
        ];
        let (bf, pe) = enumerate(&net, &lik);
        let jt = JunctionTree::compile(&net, 1 << 20).unwrap();
        let r = jt.query(&ev).unwrap();
        assert!(max_err(&r.marginals, &bf) < 1e-10, "seed {seed}");
        assert!((r.log_evidence - pe.ln()).abs() < 1e-9, "seed {seed}");
        for q in [0, 5, 10] {
            let ve = variable_elimination(&net, &ev, q).unwrap();
            assert!(max_err(&[ve], &bf[q..=q]) < 1e-10, "seed {seed} var {q}");
        }
    }
}

#[test]
fn alarm_like_junction_tree_matches_variable_elimination() {
    let net = alarm_like(7).unwrap();
    assert_eq!(net.len(), 37);
    let arcs: usize = net.variables().iter().map(|v| v.parents().len()).sum();
    assert_eq!(arcs, 46);
    let mut ev = Evidence::new();
    ev.hard(&net, "HRBP", "HIGH").unwrap();
    ev.hard(&net, "SAO2", "LOW").unwrap();
    ev.soft(&net, "BP", vec![0.7, 0.2, 0.1]).unwrap();
    let post = infer(&net, &ev, &InferOptions::default()).unwrap();
    let Algorithm::JunctionTree { treewidth, .. } = post.algorithm else {
        panic!("expected exact");
    };
    assert!(treewidth <= 6, "treewidth {treewidth}");
    for q in 0..net.len() {
        let ve = variable_elimination(&net, &ev, q).unwrap();
        assert!(max_err(&[ve], &post.marginals[q..=q]) < 1e-10, "var {q}");
    }
}

#[test]
fn service_network_exact_is_cheap_and_normalised() {
    let net = layered_service_like(2000, 3).unwrap();
    let mut ev = Evidence::new();
    ev.hard(&net, "svc1999", "fail").unwrap();
    ev.hard(&net, "svc1000", "fail").unwrap();
    let post = infer(&net, &ev, &InferOptions::default()).unwrap();
    let Algorithm::JunctionTree { treewidth, .. } = post.algorithm else {
        panic!("expected exact");
    };
    assert!(treewidth <= 6, "treewidth {treewidth}");
    for m in &post.marginals {
        assert!((m.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
    // deep chains must not underflow: log P(e) is finite and negative
    let le = post.log_evidence.unwrap();
    assert!(le.is_finite() && le < 0.0);
    // a 16-node slice matches enumeration
    let small = layered_service_like(16, 5).unwrap();
    let mut ev = Evidence::new();
    ev.hard(&small, "svc15", "fail").unwrap();
    let post = infer(&small, &ev, &InferOptions::default()).unwrap();
    let (bf, _) = enumerate(&small, &[hard(&small, "svc15", "fail")]);
    assert!(max_err(&post.marginals, &bf) < 1e-12);
}

#[test]
fn too_expensive_is_reported() {
    let net = random_network(60, 3, 3, 1).unwrap();
    let opts = InferOptions {
        method: Method::Exact,
        max_exact_entries: 100,
        ..InferOptions::default()
    };
    let e = infer(&net, &Evidence::new(), &opts).unwrap_err();
    assert!(
        matches!(e, BayesError::TooExpensive { budget: 100, .. }),
        "{e}"
    );
}
