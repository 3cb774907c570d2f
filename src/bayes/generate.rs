//! Network generators and the textbook example networks, for tests, benches
//! and the CLI's demo mode.
//!
//! * [`random_network`]: random DAG, parents drawn from earlier variables.
//! * [`alarm_like`]: the 37-variable / 46-arc structure and state counts of the
//!   ALARM monitoring network (Beinlich et al. 1989) with random CPTs.
//! * [`layered_service_like`]: a service-dependency DAG of binary `ok`/`fail`
//!   nodes with noisy-OR CPTs; each service depends on up to three of the
//!   services declared just before it (bounded treewidth, like a layered
//!   microservice call graph).
//! * [`sprinkler`] and [`asia`]: the classic examples with textbook CPTs.
//!
//! Invariant: pure and deterministic in the seed (ChaCha8 RNG); no I/O (the
//! Asia BIF text is compiled in with `include_str!`).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::bif;
use super::error::BayesError;
use super::network::{Network, NetworkBuilder};

/// BIF text of the Asia network (bnlearn layout, with comments).
pub const ASIA_BIF: &str = include_str!("testdata/asia.bif");

/// The Asia network of Lauritzen & Spiegelhalter (1988).
pub fn asia() -> Result<Network, BayesError> {
    bif::parse(ASIA_BIF)
}

/// The sprinkler network (Cloudy, Sprinkler, Rain, WetGrass), states `T`, `F`:
/// P(C)=0.5; P(S|C)=0.1/0.5; P(R|C)=0.8/0.2; P(W|S,R)=0.99/0.9/0.9/0.0.
pub fn sprinkler() -> Result<Network, BayesError> {
    let tf = ["T", "F"];
    let mut b = NetworkBuilder::new("sprinkler");
    b.variable("Cloudy", tf)
        .variable("Sprinkler", tf)
        .variable("Rain", tf)
        .variable("WetGrass", tf)
        .cpt("Cloudy", [] as [&str; 0], vec![0.5, 0.5])
        .cpt("Sprinkler", ["Cloudy"], vec![0.1, 0.9, 0.5, 0.5])
        .cpt("Rain", ["Cloudy"], vec![0.8, 0.2, 0.2, 0.8])
        .cpt(
            "WetGrass",
            ["Sprinkler", "Rain"],
            vec![0.99, 0.01, 0.9, 0.1, 0.9, 0.1, 0.0, 1.0],
        );
    b.build()
}

/// A random distribution over `card` states (normalised exponentials, i.e.
/// Dirichlet(1)), occasionally sharpened so some entries are near 0 or 1.
fn random_row(rng: &mut ChaCha8Rng, card: usize) -> Vec<f64> {
    let sharp = rng.random::<f64>() < 0.3;
    let mut row: Vec<f64> = (0..card)
        .map(|_| {
            let e = -(1.0 - rng.random::<f64>()).ln();
            if sharp { e * e * e } else { e }
        })
        .collect();
    let s: f64 = row.iter().sum();
    if s > 0.0 {
        row.iter_mut().for_each(|x| *x /= s);
    } else {
        row = vec![1.0 / card as f64; card];
    }
    row
}

fn random_cpt(rng: &mut ChaCha8Rng, card: usize, rows: usize) -> Vec<f64> {
    (0..rows).flat_map(|_| random_row(rng, card)).collect()
}

/// Random network: variables `X0..X{n-1}` with 2..=`max_states` states
/// `s0, s1, ...`; variable `i` gets 0..=`max_parents` distinct parents drawn
/// uniformly from the variables before it; random CPT rows.
pub fn random_network(
    n_vars: usize,
    max_parents: usize,
    max_states: usize,
    seed: u64,
) -> Result<Network, BayesError> {
    if max_states < 2 {
        return Err(BayesError::InvalidOption("max_states must be >= 2".into()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cards: Vec<usize> = (0..n_vars)
        .map(|_| rng.random_range(2..=max_states))
        .collect();
    let mut b = NetworkBuilder::new(format!("random_{n_vars}_{seed}"));
    for (i, &c) in cards.iter().enumerate() {
        b.variable(format!("X{i}"), (0..c).map(|s| format!("s{s}")));
    }
    for (i, &c) in cards.iter().enumerate() {
        let k = rng.random_range(0..=max_parents.min(i));
        let mut parents: Vec<usize> = Vec::with_capacity(k);
        while parents.len() < k {
            let p = rng.random_range(0..i);
            if !parents.contains(&p) {
                parents.push(p);
            }
        }
        parents.sort_unstable();
        let rows: usize = parents.iter().map(|&p| cards[p]).product();
        b.cpt(
            format!("X{i}"),
            parents.iter().map(|p| format!("X{p}")),
            random_cpt(&mut rng, c, rows),
        );
    }
    b.build()
}

const LNH: &[&str] = &["LOW", "NORMAL", "HIGH"];
const TF: &[&str] = &["TRUE", "FALSE"];
const ZLNH: &[&str] = &["ZERO", "LOW", "NORMAL", "HIGH"];

/// (name, states, parents) of the ALARM network, parents before children.
const ALARM: &[(&str, &[&str], &[&str])] = &[
    ("HYPOVOLEMIA", TF, &[]),
    ("LVFAILURE", TF, &[]),
    ("ERRLOWOUTPUT", TF, &[]),
    ("ERRCAUTER", TF, &[]),
    ("INSUFFANESTH", TF, &[]),
    ("ANAPHYLAXIS", TF, &[]),
    ("KINKEDTUBE", TF, &[]),
    ("FIO2", &["LOW", "NORMAL"], &[]),
    ("PULMEMBOLUS", TF, &[]),
    ("INTUBATION", &["NORMAL", "ESOPHAGEAL", "ONESIDED"], &[]),
    ("DISCONNECT", TF, &[]),
    ("MINVOLSET", LNH, &[]),
    ("HISTORY", TF, &["LVFAILURE"]),
    ("LVEDVOLUME", LNH, &["HYPOVOLEMIA", "LVFAILURE"]),
    ("CVP", LNH, &["LVEDVOLUME"]),
    ("PCWP", LNH, &["LVEDVOLUME"]),
    ("STROKEVOLUME", LNH, &["HYPOVOLEMIA", "LVFAILURE"]),
    ("TPR", LNH, &["ANAPHYLAXIS"]),
    ("PAP", LNH, &["PULMEMBOLUS"]),
    ("SHUNT", &["NORMAL", "HIGH"], &["INTUBATION", "PULMEMBOLUS"]),
    ("VENTMACH", ZLNH, &["MINVOLSET"]),
    ("VENTTUBE", ZLNH, &["DISCONNECT", "VENTMACH"]),
    ("PRESS", ZLNH, &["INTUBATION", "KINKEDTUBE", "VENTTUBE"]),
    ("VENTLUNG", ZLNH, &["INTUBATION", "KINKEDTUBE", "VENTTUBE"]),
    ("MINVOL", ZLNH, &["INTUBATION", "VENTLUNG"]),
    ("VENTALV", ZLNH, &["INTUBATION", "VENTLUNG"]),
    ("ARTCO2", LNH, &["VENTALV"]),
    ("EXPCO2", ZLNH, &["ARTCO2", "VENTLUNG"]),
    ("PVSAT", LNH, &["FIO2", "VENTALV"]),
    ("SAO2", LNH, &["PVSAT", "SHUNT"]),
    (
        "CATECHOL",
        &["NORMAL", "HIGH"],
        &["ARTCO2", "INSUFFANESTH", "SAO2", "TPR"],
    ),
    ("HR", LNH, &["CATECHOL"]),
    ("HRBP", LNH, &["ERRLOWOUTPUT", "HR"]),
    ("HREKG", LNH, &["ERRCAUTER", "HR"]),
    ("HRSAT", LNH, &["ERRCAUTER", "HR"]),
    ("CO", LNH, &["HR", "STROKEVOLUME"]),
    ("BP", LNH, &["CO", "TPR"]),
];

/// The ALARM structure (37 variables, 46 arcs, 2-4 states) with random CPTs.
pub fn alarm_like(seed: u64) -> Result<Network, BayesError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = NetworkBuilder::new("alarm_like");
    for (name, states, _) in ALARM {
        b.variable(*name, states.iter().copied());
    }
    let card = |n: &str| ALARM.iter().find(|v| v.0 == n).map_or(1, |v| v.1.len());
    for (name, states, parents) in ALARM {
        let rows: usize = parents.iter().map(|p| card(p)).product();
        b.cpt(
            *name,
            parents.iter().copied(),
            random_cpt(&mut rng, states.len(), rows),
        );
    }
    b.build()
}

/// Service-dependency network of `n` binary services `svc0..` (states `ok`,
/// `fail`). About 10% of services (and the first) are roots; every other one
/// depends on 1..=3 distinct services among the 6 declared just before it.
/// CPTs are noisy-OR: `P(fail | parents) = 1 - (1 - leak) * prod over failed
/// parents p of (1 - q_p)` with leak in [0.001, 0.05) and q_p in [0.3, 0.9).
pub fn layered_service_like(n: usize, seed: u64) -> Result<Network, BayesError> {
    const WINDOW: usize = 6;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = NetworkBuilder::new(format!("services_{n}"));
    for i in 0..n {
        b.variable(format!("svc{i}"), ["ok", "fail"]);
    }
    for i in 0..n {
        let k = if i == 0 || rng.random::<f64>() < 0.1 {
            0
        } else {
            rng.random_range(1..=3usize).min(i.min(WINDOW))
        };
        let mut parents: Vec<usize> = Vec::with_capacity(k);
        while parents.len() < k {
            let p = i - rng.random_range(1..=i.min(WINDOW));
            if !parents.contains(&p) {
                parents.push(p);
            }
        }
        parents.sort_unstable();
        let leak = rng.random_range(0.001..0.05);
        let q: Vec<f64> = parents.iter().map(|_| rng.random_range(0.3..0.9)).collect();
        let mut table = Vec::with_capacity(2 << k);
        for cfg in 0..(1usize << k) {
            // parent j is the (k-1-j)-th bit: last parent fastest; bit 1 = fail
            let mut ok = 1.0 - leak;
            for (j, qj) in q.iter().enumerate() {
                if (cfg >> (k - 1 - j)) & 1 == 1 {
                    ok *= 1.0 - qj;
                }
            }
            table.push(ok);
            table.push(1.0 - ok);
        }
        b.cpt(
            format!("svc{i}"),
            parents.iter().map(|p| format!("svc{p}")),
            table,
        );
    }
    b.build()
}
