//! Network validation errors and evidence parsing.

use crate::bayes::generate::sprinkler;
use crate::bayes::{BayesError, Evidence, NetworkBuilder, marginals_json};

fn tf() -> [&'static str; 2] {
    ["T", "F"]
}

#[test]
fn row_sum_error_names_variable_and_parents() {
    let mut b = NetworkBuilder::new("n");
    b.variable("Cloudy", tf())
        .variable("Sprinkler", tf())
        .cpt("Cloudy", [] as [&str; 0], vec![0.5, 0.5])
        .cpt("Sprinkler", ["Cloudy"], vec![0.5, 0.4, 0.5, 0.5]);
    let e = b.build().unwrap_err();
    assert_eq!(
        e.to_string(),
        "variable `Sprinkler`: CPT row for parents (Cloudy=T) sums to 0.9, expected 1"
    );
}

#[test]
fn cycle_is_reported_as_path() {
    let mut b = NetworkBuilder::new("n");
    b.variable("A", tf())
        .variable("B", tf())
        .variable("C", tf());
    b.cpt("A", ["C"], vec![0.5; 4])
        .cpt("B", ["A"], vec![0.5; 4])
        .cpt("C", ["B"], vec![0.5; 4]);
    let e = b.build().unwrap_err().to_string();
    assert!(e.starts_with("cycle: "), "{e}");
    // any rotation of A -> B -> C -> A
    let ok = ["A → B → C → A", "B → C → A → B", "C → A → B → C"];
    assert!(ok.iter().any(|c| e.ends_with(c)), "{e}");
}

#[test]
fn structural_errors() {
    let build = |f: &dyn Fn(&mut NetworkBuilder)| {
        let mut b = NetworkBuilder::new("n");
        f(&mut b);
        b.build().unwrap_err()
    };
    let e = build(&|b| {
        b.variable("A", tf()).cpt("A", ["Z"], vec![0.5; 4]);
    });
    assert_eq!(e.to_string(), "variable `A`: unknown parent `Z`");
    let e = build(&|b| {
        b.variable("A", tf()).variable("A", tf());
    });
    assert_eq!(e, BayesError::DuplicateVariable("A".into()));
    let e = build(&|b| {
        b.variable("A", ["x", "x"]);
    });
    assert_eq!(e.to_string(), "variable `A`: duplicate state `x`");
    let e = build(&|b| {
        b.variable("A", tf()).variable("B", ["a", "b", "c"]);
        b.cpt("A", [] as [&str; 0], vec![0.5, 0.5])
            .cpt("B", ["A"], vec![0.5; 4]);
    });
    assert_eq!(
        e.to_string(),
        "variable `B`: probability table has 4 entries, expected 6 (3 states of `B` x 2 states of parent `A`)"
    );
    let e = build(&|b| {
        b.variable("A", tf())
            .cpt("A", [] as [&str; 0], vec![1.5, -0.5]);
    });
    assert_eq!(
        e.to_string(),
        "variable `A`: CPT row for parents () has invalid entry -0.5 (must be a finite number >= 0)"
    );
    let e = build(&|b| {
        b.variable("A", tf());
    });
    assert_eq!(e.to_string(), "variable `A` has no probability table");
    let e = build(&|b| {
        b.variable("bad name", tf());
    });
    assert!(matches!(e, BayesError::InvalidName { .. }), "{e}");
    let e = build(&|b| {
        b.variable("A", tf()).cpt("A", ["A"], vec![0.5; 4]);
    });
    assert!(matches!(e, BayesError::DuplicateParent { .. }), "{e}");
}

#[test]
fn row_sum_tolerance_is_1e6() {
    let mut b = NetworkBuilder::new("n");
    b.variable("A", tf())
        .cpt("A", [] as [&str; 0], vec![0.5 + 5e-7, 0.5]);
    assert!(b.build().is_ok());
    let mut b = NetworkBuilder::new("n");
    b.variable("A", tf())
        .cpt("A", [] as [&str; 0], vec![0.5 + 2e-6, 0.5]);
    assert!(matches!(b.build(), Err(BayesError::RowSum { .. })));
}

#[test]
fn evidence_parsing_errors() {
    let net = sprinkler().unwrap();
    let mut ev = Evidence::new();
    ev.parse_hard(&net, "WetGrass=T").unwrap();
    ev.parse_soft(&net, " Rain = 0.2, 0.8 ").unwrap();
    assert_eq!(ev.findings().len(), 2);
    let err = |r: Result<&mut Evidence, BayesError>| r.unwrap_err().to_string();
    let mut ev = Evidence::new();
    assert_eq!(err(ev.parse_hard(&net, "Foo=T")), "unknown variable `Foo`");
    assert_eq!(
        err(ev.parse_hard(&net, "Rain=maybe")),
        "variable `Rain` has no state `maybe` (states: T, F)"
    );
    assert_eq!(
        err(ev.parse_hard(&net, "Rain")),
        "evidence: `Rain`: expected VAR=STATE (missing `=`)"
    );
    assert_eq!(
        err(ev.parse_soft(&net, "Rain=0.2")),
        "evidence: variable `Rain` has 2 states (T, F) but 1 likelihoods were given"
    );
    assert!(err(ev.parse_soft(&net, "Rain=0.2,-1")).contains("negative"));
    assert!(err(ev.parse_soft(&net, "Rain=0.2,x")).contains("`x` is not a number"));
    assert!(err(ev.parse_soft(&net, "Rain=0,0")).contains("all likelihoods are zero"));
    assert!(ev.is_empty());
}

#[test]
fn marginals_json_shape() {
    let net = sprinkler().unwrap();
    let mut ev = Evidence::new();
    ev.parse_hard(&net, "WetGrass=T").unwrap();
    let j = marginals_json(&net, &ev);
    let rain_t = j["Rain"]["T"].as_f64().unwrap();
    assert!((rain_t - 0.7079276773).abs() < 1e-9, "{rain_t}");
    assert_eq!(j["WetGrass"]["T"].as_f64(), Some(1.0));
    assert_eq!(j.as_object().unwrap().len(), 4);
    for (_, m) in j.as_object().unwrap() {
        let s: f64 = m
            .as_object()
            .unwrap()
            .values()
            .map(|x| x.as_f64().unwrap())
            .sum();
        assert!((s - 1.0).abs() < 1e-12);
    }
    // impossible evidence is reported in the JSON
    let mut ev = Evidence::new();
    ev.parse_hard(&net, "Sprinkler=F").unwrap();
    ev.parse_hard(&net, "Rain=F").unwrap();
    ev.parse_hard(&net, "WetGrass=T").unwrap();
    let j = marginals_json(&net, &ev);
    assert_eq!(j["error"], "evidence has probability zero");
}
