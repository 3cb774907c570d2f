//! Approximate inference for networks whose junction tree is too large:
//!
//! * [`loopy_bp`]: loopy belief propagation on the factor graph (one factor per
//!   CPT, evidence as unary likelihoods on the variable nodes), sequential
//!   sweeps in topological then reverse topological order, damped updates
//!   `m <- (1 - damping) * m_new + damping * m_old`, normalised messages. It
//!   reports the number of iterations, whether the largest message change fell
//!   below the tolerance, and that change. Exact on polytrees.
//! * [`likelihood_weighting`]: forward sampling in topological order with a
//!   seeded ChaCha8 RNG; an observed variable (hard or soft) is sampled from its
//!   CPT row multiplied by the likelihood and the sample weight is multiplied by
//!   that row's normaliser (for hard evidence this is classic likelihood
//!   weighting). Reports the effective sample size.
//!
//! Invariant: pure and deterministic given the options (the RNG is seeded).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::BayesError;
use super::evidence::Evidence;
use super::network::Network;

/// Options of loopy belief propagation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbpOptions {
    /// Weight of the old message in `[0, 1)`.
    pub damping: f64,
    /// Converged when no message entry changes by more than this.
    pub tolerance: f64,
    /// Upper bound on sweeps (one sweep = forward + backward pass).
    pub max_iterations: usize,
}

impl Default for LbpOptions {
    fn default() -> Self {
        Self {
            damping: 0.3,
            tolerance: 1e-9,
            max_iterations: 200,
        }
    }
}

/// Options of likelihood weighting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LwOptions {
    /// Number of samples.
    pub samples: usize,
    /// Seed of the ChaCha8 RNG.
    pub seed: u64,
}

impl Default for LwOptions {
    fn default() -> Self {
        Self {
            samples: 200_000,
            seed: 0x5EED,
        }
    }
}

/// Result of loopy BP.
#[derive(Debug, Clone, PartialEq)]
pub struct LbpResult {
    /// Approximate marginals (beliefs), indexed by variable id.
    pub marginals: Vec<Vec<f64>>,
    /// Sweeps performed.
    pub iterations: usize,
    /// Whether the largest change fell below the tolerance.
    pub converged: bool,
    /// Largest message change in the last sweep.
    pub max_delta: f64,
}

/// Result of likelihood weighting.
#[derive(Debug, Clone, PartialEq)]
pub struct LwResult {
    /// Weighted-frequency marginals, indexed by variable id.
    pub marginals: Vec<Vec<f64>>,
    /// Samples drawn.
    pub samples: usize,
    /// `(sum w)^2 / sum w^2`.
    pub effective_sample_size: f64,
    /// Estimate of ln P(evidence).
    pub log_evidence: f64,
}

fn normalize(v: &mut [f64]) -> f64 {
    let s: f64 = v.iter().sum();
    if s > 0.0 {
        let inv = 1.0 / s;
        v.iter_mut().for_each(|x| *x *= inv);
    }
    s
}

/// Loopy belief propagation with damping.
pub fn loopy_bp(
    net: &Network,
    evidence: &Evidence,
    opts: &LbpOptions,
) -> Result<LbpResult, BayesError> {
    if !(0.0..1.0).contains(&opts.damping) || opts.tolerance.is_nan() || opts.tolerance < 0.0 {
        return Err(BayesError::InvalidOption(
            "LBP damping must be in [0, 1) and tolerance >= 0".into(),
        ));
    }
    let vars = net.variables();
    let n = vars.len();
    let cards: Vec<usize> = vars.iter().map(|v| v.card()).collect();
    let liks = evidence.likelihoods(&cards)?;
    // Factor f = CPT of variable f, scope [parents..., f]; one message slot per
    // (factor, position) in each direction, flattened.
    let mut scope_off = Vec::with_capacity(n + 1);
    let mut scope: Vec<usize> = Vec::new();
    let mut msg_off: Vec<usize> = Vec::new();
    let mut total = 0usize;
    for (f, v) in vars.iter().enumerate() {
        scope_off.push(scope.len());
        for &x in v.parents().iter().chain(std::iter::once(&f)) {
            scope.push(x);
            msg_off.push(total);
            total += cards[x];
        }
    }
    scope_off.push(scope.len());
    // incidence: for each variable the slots (index into scope) touching it
    let mut inc: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (slot, &x) in scope.iter().enumerate() {
        inc[x].push(slot);
    }
    let mut f2v: Vec<f64> = vec![0.0; total];
    for (slot, &x) in scope.iter().enumerate() {
        let o = msg_off[slot];
        f2v[o..o + cards[x]].fill(1.0 / cards[x] as f64);
    }
    let order = net.topological_order();
    let mut sched: Vec<usize> = order.to_vec();
    sched.extend(order.iter().rev());
    let mut incoming: Vec<f64> = Vec::new();
    let mut outgoing: Vec<f64> = Vec::new();
    let mut state: Vec<usize> = Vec::new();
    let (mut iterations, mut converged, mut max_delta) = (0, false, f64::INFINITY);
    while iterations < opts.max_iterations && !converged {
        iterations += 1;
        max_delta = 0.0;
        for &f in &sched {
            let slots = scope_off[f]..scope_off[f + 1];
            let k = slots.len();
            // variable -> factor messages for this factor's scope
            incoming.clear();
            let mut in_off = Vec::with_capacity(k);
            for slot in slots.clone() {
                let x = scope[slot];
                in_off.push(incoming.len());
                let start = incoming.len();
                match &liks[x] {
                    Some(l) => incoming.extend_from_slice(l),
                    None => incoming.extend(std::iter::repeat_n(1.0, cards[x])),
                }
                for &other in &inc[x] {
                    if other != slot {
                        let o = msg_off[other];
                        for (a, b) in incoming[start..].iter_mut().zip(&f2v[o..o + cards[x]]) {
                            *a *= b;
                        }
                    }
                }
                if normalize(&mut incoming[start..]) <= 0.0 {
                    return Err(BayesError::ZeroProbabilityEvidence);
                }
            }
            // factor -> variable messages: sum over the CPT table
            outgoing.clear();
            outgoing.resize(incoming.len(), 0.0);
            state.clear();
            state.resize(k, 0);
            let sc: Vec<usize> = slots.clone().map(|s| cards[scope[s]]).collect();
            for &t in vars[f].cpt() {
                if t > 0.0 {
                    for j in 0..k {
                        let mut p = t;
                        for i in 0..k {
                            if i != j {
                                p *= incoming[in_off[i] + state[i]];
                            }
                        }
                        outgoing[in_off[j] + state[j]] += p;
                    }
                }
                let mut i = k;
                while i > 0 {
                    i -= 1;
                    state[i] += 1;
                    if state[i] < sc[i] {
                        break;
                    }
                    state[i] = 0;
                }
            }
            for (j, slot) in slots.enumerate() {
                let c = sc[j];
                let new = &mut outgoing[in_off[j]..in_off[j] + c];
                if normalize(new) <= 0.0 {
                    return Err(BayesError::ZeroProbabilityEvidence);
                }
                let o = msg_off[slot];
                for (old, nw) in f2v[o..o + c].iter_mut().zip(new.iter()) {
                    let upd = (1.0 - opts.damping) * nw + opts.damping * *old;
                    max_delta = f64::max(max_delta, (upd - *old).abs());
                    *old = upd;
                }
            }
        }
        converged = max_delta <= opts.tolerance;
    }
    let mut marginals = Vec::with_capacity(n);
    for x in 0..n {
        let mut b = liks[x].clone().unwrap_or_else(|| vec![1.0; cards[x]]);
        for &slot in &inc[x] {
            let o = msg_off[slot];
            b.iter_mut()
                .zip(&f2v[o..o + cards[x]])
                .for_each(|(a, m)| *a *= m);
        }
        if normalize(&mut b) <= 0.0 {
            return Err(BayesError::ZeroProbabilityEvidence);
        }
        marginals.push(b);
    }
    Ok(LbpResult {
        marginals,
        iterations,
        converged,
        max_delta,
    })
}

/// Likelihood weighting with a seeded ChaCha8 RNG.
pub fn likelihood_weighting(
    net: &Network,
    evidence: &Evidence,
    opts: &LwOptions,
) -> Result<LwResult, BayesError> {
    if opts.samples == 0 {
        return Err(BayesError::InvalidOption(
            "likelihood weighting needs at least one sample".into(),
        ));
    }
    let vars = net.variables();
    let n = vars.len();
    let cards: Vec<usize> = vars.iter().map(|v| v.card()).collect();
    let liks = evidence.likelihoods(&cards)?;
    // parent strides inside each CPT's row index
    let pstrides: Vec<Vec<(usize, usize)>> = vars
        .iter()
        .map(|v| {
            let mut s = 1;
            let mut out: Vec<(usize, usize)> = v
                .parents()
                .iter()
                .rev()
                .map(|&p| {
                    let r = (p, s);
                    s *= cards[p];
                    r
                })
                .collect();
            out.reverse();
            out
        })
        .collect();
    let mut off = Vec::with_capacity(n + 1);
    let mut t = 0;
    for &c in &cards {
        off.push(t);
        t += c;
    }
    let mut acc = vec![0.0; t];
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut state = vec![0usize; n];
    let mut q: Vec<f64> = Vec::new();
    let (mut sum_w, mut sum_w2) = (0.0f64, 0.0f64);
    let order = net.topological_order();
    'samples: for _ in 0..opts.samples {
        let mut w = 1.0;
        for &x in order {
            let row: usize = pstrides[x].iter().map(|&(p, s)| state[p] * s).sum();
            let c = cards[x];
            let probs = &vars[x].cpt()[row * c..(row + 1) * c];
            let chosen = match &liks[x] {
                None => sample(probs, 1.0, rng.random::<f64>()),
                Some(l) => {
                    q.clear();
                    q.extend(probs.iter().zip(l).map(|(p, l)| p * l));
                    let z: f64 = q.iter().sum();
                    if z <= 0.0 {
                        continue 'samples;
                    }
                    w *= z;
                    sample(&q, z, rng.random::<f64>())
                }
            };
            state[x] = chosen;
        }
        for x in 0..n {
            acc[off[x] + state[x]] += w;
        }
        sum_w += w;
        sum_w2 += w * w;
    }
    if sum_w <= 0.0 {
        return Err(BayesError::ZeroProbabilityEvidence);
    }
    let marginals = (0..n)
        .map(|x| {
            acc[off[x]..off[x] + cards[x]]
                .iter()
                .map(|a| a / sum_w)
                .collect()
        })
        .collect();
    Ok(LwResult {
        marginals,
        samples: opts.samples,
        effective_sample_size: sum_w * sum_w / sum_w2,
        log_evidence: (sum_w / opts.samples as f64).ln(),
    })
}

/// Inverse-CDF draw from unnormalised weights `p` with total `z`.
fn sample(p: &[f64], z: f64, u: f64) -> usize {
    let mut target = u * z;
    for (i, &x) in p.iter().enumerate() {
        if target < x {
            return i;
        }
        target -= x;
    }
    // rounding: fall back to the last state with positive mass
    p.iter().rposition(|&x| x > 0.0).unwrap_or(0)
}
