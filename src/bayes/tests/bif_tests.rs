//! BIF parsing robustness, error messages and round trips.

use crate::bayes::generate::{alarm_like, asia, layered_service_like, random_network, sprinkler};
use crate::bayes::{BayesError, bif};

#[test]
fn asia_parses_with_standard_cpts() {
    let net = asia().unwrap();
    assert_eq!(net.len(), 8);
    assert_eq!(net.name(), "unknown");
    let dysp = net.variable(net.id("dysp").unwrap()).unwrap();
    let names: Vec<&str> = dysp
        .parents()
        .iter()
        .map(|&p| net.variable(p).unwrap().name())
        .collect();
    assert_eq!(names, ["bronc", "either"]);
    // rows: (yes,yes) (yes,no) (no,yes) (no,no), last parent fastest
    assert_eq!(dysp.cpt(), &[0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.1, 0.9]);
    let either = net.variable(net.id("either").unwrap()).unwrap();
    assert_eq!(either.cpt(), &[1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
}

#[test]
fn round_trips_are_identical() {
    let nets = [
        asia().unwrap(),
        sprinkler().unwrap(),
        alarm_like(3).unwrap(),
        random_network(37, 4, 4, 9).unwrap(),
        layered_service_like(50, 1).unwrap(),
    ];
    for net in nets {
        let text = bif::write(&net);
        let back = bif::parse(&text).unwrap();
        assert_eq!(back, net, "{}", net.name());
        assert_eq!(bif::write(&back), text);
    }
}

#[test]
fn tolerant_syntax() {
    let src = r#"
        /* leading */ network "weird" { property version 1.0 ; // trailing
          property "x = (1, 2)" ;
        }
        variable A{type discrete[2]{a1 a2};property position = (1, 2);}
        variable
           B
        {
          type discrete [ 3 ] { b1, /* inline */ b2,
             b3 };
        }
        variable C { type discrete [ 2 ] { c1, c2 }; }
        probability(A){table 0.25 0.75;}
        probability ( B | A ) {
          property note ;
          table 0.1, 0.2,   // B=b1 for A=a1, a2 (child-major, as pgmpy)
                0.3, 0.3,
                0.6, 0.5;
        }
        probability ( C A B ) {   // old header form: child then parents
          default 0.5, 0.5;
          (a1, b2) 0.9, 0.1;
          (a2 b3) 0.2 0.8;
        }
    "#;
    let net = bif::parse(src).unwrap();
    assert_eq!(net.name(), "weird");
    assert_eq!(net.properties(), ["version 1.0", "\"x = (1, 2)\""]);
    let a = net.variable(0).unwrap();
    assert_eq!(a.properties(), ["position = (1, 2)"]);
    assert_eq!(a.cpt(), &[0.25, 0.75]);
    let b = net.variable(1).unwrap();
    assert_eq!(b.cpt(), &[0.1, 0.3, 0.6, 0.2, 0.3, 0.5]);
    let c = net.variable(2).unwrap();
    assert_eq!(c.parents(), &[0, 1]);
    let mut expect = vec![0.5; 12];
    expect[2..4].copy_from_slice(&[0.9, 0.1]); // (a1, b2) = row 1
    expect[10..12].copy_from_slice(&[0.2, 0.8]); // (a2, b3) = row 5
    assert_eq!(c.cpt(), expect.as_slice());
    let back = bif::parse(&bif::write(&net)).unwrap();
    assert_eq!(back, net);
}

#[test]
fn error_messages() {
    let e = |s: &str| bif::parse(s).unwrap_err().to_string();
    assert_eq!(
        e("variable A {\n type discrete [ 3 ] { a, b };\n}"),
        "BIF line 2: variable `A` declares 3 states but lists 2"
    );
    assert_eq!(
        e("variable A { type discrete [ 2 ] { a, b }; }\nprobability ( A ) {\n  table 0.5, x;\n}"),
        "BIF line 3: expected a probability, found `x`"
    );
    assert_eq!(
        e("variable A { type discrete [ 2 ] { a, b }; }\nprobability ( B ) { table 0.5, 0.5; }"),
        "BIF line 2: probability of undeclared variable `B`"
    );
    assert_eq!(
        e("variable A { type discrete [ 2 ] { a, b }; }\nprobability ( A | Z ) { (z) 0.5, 0.5; }"),
        "BIF line 2: variable `A`: unknown parent `Z`"
    );
    assert_eq!(
        e(
            "variable A { type discrete [ 2 ] { a, b }; }\nvariable B { type discrete [ 2 ] { a, b }; }\n\
           probability ( A ) { table 0.5, 0.5; }\nprobability ( B | A ) {\n (a) 0.5, 0.5;\n}"
        ),
        "BIF line 4: variable `B`: no probabilities for parent configuration (A=b)"
    );
    assert_eq!(
        e("variable A { type discrete [ 2 ] { a, b }; }\nprobability ( A ) { table 0.5, 0.4; }"),
        "variable `A`: CPT row for parents () sums to 0.9, expected 1"
    );
    assert_eq!(e("/* open"), "BIF line 1: unterminated /* comment");
    assert_eq!(
        e("\n\nfoo"),
        "BIF line 3: expected `network`, `variable` or `probability`, found `foo`"
    );
    assert!(matches!(
        bif::parse("variable A { type discrete [ 2 ] { a, b }; }"),
        Err(BayesError::MissingCpt(_))
    ));
}

#[test]
fn reads_pgmpy_writer_output() {
    // asia.bif after a round trip through pgmpy 1.1.2's BIFReader + BIFWriter
    // (different variable order, `( yes, no )` spacing, `;` placement, blank lines)
    let pg = bif::parse(include_str!("../testdata/asia_pgmpy.bif")).unwrap();
    let ours = asia().unwrap();
    assert_eq!(pg.len(), ours.len());
    for v in ours.variables() {
        let w = pg.variable(pg.id(v.name()).unwrap()).unwrap();
        assert_eq!(w.states(), v.states());
        let pn = |net: &crate::bayes::Network, x: &crate::bayes::Variable| -> Vec<String> {
            x.parents()
                .iter()
                .map(|&p| net.variable(p).unwrap().name().to_string())
                .collect()
        };
        assert_eq!(pn(&pg, w), pn(&ours, v));
        assert_eq!(w.cpt(), v.cpt(), "{}", v.name());
    }
}
