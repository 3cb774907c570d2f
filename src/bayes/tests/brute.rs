//! Brute-force joint enumeration used as ground truth by the tests.

use crate::bayes::{Network, VarId};

/// Posterior marginals and P(evidence) by enumerating every joint assignment.
/// `lik` holds per-variable likelihood vectors (hard evidence = indicator).
pub fn enumerate(net: &Network, lik: &[(VarId, Vec<f64>)]) -> (Vec<Vec<f64>>, f64) {
    let vars = net.variables();
    let n = vars.len();
    let mut state = vec![0usize; n];
    let mut marg: Vec<Vec<f64>> = vars.iter().map(|v| vec![0.0; v.card()]).collect();
    let mut total = 0.0;
    loop {
        let mut p = 1.0;
        for (i, v) in vars.iter().enumerate() {
            let mut row = 0;
            for &q in v.parents() {
                row = row * vars[q].card() + state[q];
            }
            p *= v.cpt()[row * v.card() + state[i]];
        }
        for (x, l) in lik {
            p *= l[state[*x]];
        }
        total += p;
        for i in 0..n {
            marg[i][state[i]] += p;
        }
        let mut k = n;
        loop {
            if k == 0 {
                for m in &mut marg {
                    m.iter_mut().for_each(|x| *x /= total);
                }
                return (marg, total);
            }
            k -= 1;
            state[k] += 1;
            if state[k] < vars[k].card() {
                break;
            }
            state[k] = 0;
        }
    }
}

/// Largest absolute difference between two sets of marginals.
pub fn max_err(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f64::max)
}

/// Indicator likelihood for hard evidence.
pub fn hard(net: &Network, var: &str, state: &str) -> (VarId, Vec<f64>) {
    let id = net.id(var).unwrap();
    let v = net.variable(id).unwrap();
    let mut l = vec![0.0; v.card()];
    l[v.state_index(state).unwrap()] = 1.0;
    (id, l)
}
