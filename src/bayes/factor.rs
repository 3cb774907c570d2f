//! Discrete factors over sets of variables, stored as flat `Vec<f64>` tables
//! with mixed-radix strides (the *last* variable of the scope varies fastest),
//! plus the precomputed index maps the junction tree uses in its inner loops.
//!
//! Operations: product, marginalisation (sum out), reduction (condition on a
//! state) and normalisation. Nothing here allocates per table entry and no
//! hash maps are used in loops; an index map turns "project this entry onto a
//! sub-scope" into a single array lookup.
//!
//! Invariant: pure (no I/O); table sizes fit in `u32` (checked on construction).

use super::error::BayesError;
use super::network::{Network, VarId};

/// A non-negative function of a few discrete variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    vars: Vec<VarId>,
    cards: Vec<usize>,
    values: Vec<f64>,
}

/// Product of cardinalities, or `None` if it does not fit in a `u32` index.
pub fn table_size(cards: &[usize]) -> Option<usize> {
    let mut n: usize = 1;
    for &c in cards {
        n = n.checked_mul(c)?;
    }
    (n <= u32::MAX as usize).then_some(n)
}

/// Strides of a scope with the last variable fastest.
pub fn strides(cards: &[usize]) -> Vec<usize> {
    let mut s = vec![1; cards.len()];
    for k in (0..cards.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1] * cards[k + 1];
    }
    s
}

/// For every entry of a table over `vars` (cards `cards`), the index of the
/// matching entry of a table over `sub` (a subset of `vars`, in `sub`'s own
/// order and strides). Variables of `sub` that are not in `vars` are ignored
/// (treated as fixed at state 0).
pub fn index_map(vars: &[VarId], cards: &[usize], sub: &[VarId]) -> Vec<u32> {
    let sub_cards: Vec<usize> = sub
        .iter()
        .map(|v| vars.iter().position(|x| x == v).map_or(1, |k| cards[k]))
        .collect();
    let sub_strides = strides(&sub_cards);
    let ss: Vec<usize> = vars
        .iter()
        .map(|v| {
            sub.iter()
                .position(|x| x == v)
                .map_or(0, |k| sub_strides[k])
        })
        .collect();
    let total: usize = cards.iter().product();
    let mut out = Vec::with_capacity(total);
    let n = vars.len();
    if n == 0 {
        out.push(0);
        return out;
    }
    let mut state = vec![0usize; n];
    let (last_card, last_stride) = (cards[n - 1], ss[n - 1]);
    let mut base = 0usize;
    while out.len() < total {
        for j in 0..last_card {
            out.push((base + j * last_stride) as u32);
        }
        // advance the odometer over all but the last variable
        let mut k = n - 1;
        loop {
            if k == 0 {
                return out;
            }
            k -= 1;
            state[k] += 1;
            base += ss[k];
            if state[k] < cards[k] {
                break;
            }
            base -= ss[k] * cards[k];
            state[k] = 0;
        }
    }
    out
}

impl Factor {
    /// Build a factor; `values.len()` must equal the product of `cards`.
    pub fn new(vars: Vec<VarId>, cards: Vec<usize>, values: Vec<f64>) -> Result<Self, BayesError> {
        let size = table_size(&cards)
            .ok_or_else(|| BayesError::InvalidOption("factor table too large".into()))?;
        if vars.len() != cards.len() || values.len() != size {
            return Err(BayesError::InvalidOption(format!(
                "factor over {} variables needs {} values, got {}",
                vars.len(),
                size,
                values.len()
            )));
        }
        Ok(Self {
            vars,
            cards,
            values,
        })
    }
    /// The constant factor 1 (empty scope).
    pub fn unit() -> Self {
        Self {
            vars: Vec::new(),
            cards: Vec::new(),
            values: vec![1.0],
        }
    }
    /// The CPT of `var` as a factor over `[parents..., var]`.
    pub fn from_cpt(net: &Network, var: VarId) -> Option<Self> {
        let v = net.variable(var)?;
        let mut vars = v.parents().to_vec();
        vars.push(var);
        let cards = vars
            .iter()
            .map(|&x| net.variable(x).map_or(1, |y| y.card()))
            .collect();
        Some(Self {
            vars,
            cards,
            values: v.cpt().to_vec(),
        })
    }
    /// Scope.
    pub fn vars(&self) -> &[VarId] {
        &self.vars
    }
    /// Cardinalities of the scope.
    pub fn cards(&self) -> &[usize] {
        &self.cards
    }
    /// Table values (last variable fastest).
    pub fn values(&self) -> &[f64] {
        &self.values
    }
    /// Product with another factor; the scope is `self`'s followed by the new
    /// variables of `other`.
    pub fn product(&self, other: &Factor) -> Result<Factor, BayesError> {
        let mut vars = self.vars.clone();
        let mut cards = self.cards.clone();
        for (v, c) in other.vars.iter().zip(&other.cards) {
            if !vars.contains(v) {
                vars.push(*v);
                cards.push(*c);
            }
        }
        table_size(&cards)
            .ok_or_else(|| BayesError::InvalidOption("factor product too large".into()))?;
        let ma = index_map(&vars, &cards, &self.vars);
        let mb = index_map(&vars, &cards, &other.vars);
        let values = ma
            .iter()
            .zip(&mb)
            .map(|(&a, &b)| self.values[a as usize] * other.values[b as usize])
            .collect();
        Ok(Factor {
            vars,
            cards,
            values,
        })
    }
    /// Sum out every variable not in `keep` (result keeps `self`'s order).
    pub fn marginalize(&self, keep: &[VarId]) -> Factor {
        let (vars, cards): (Vec<VarId>, Vec<usize>) = self
            .vars
            .iter()
            .zip(&self.cards)
            .filter(|(v, _)| keep.contains(v))
            .map(|(v, c)| (*v, *c))
            .unzip();
        let map = index_map(&self.vars, &self.cards, &vars);
        let mut values = vec![0.0; cards.iter().product()];
        for (x, &m) in self.values.iter().zip(&map) {
            values[m as usize] += x;
        }
        Factor {
            vars,
            cards,
            values,
        }
    }
    /// Sum out one variable.
    pub fn sum_out(&self, var: VarId) -> Factor {
        let keep: Vec<VarId> = self.vars.iter().copied().filter(|&v| v != var).collect();
        self.marginalize(&keep)
    }
    /// Condition on `var = state`: drop `var` from the scope keeping only the
    /// matching entries. A variable outside the scope leaves the factor unchanged.
    pub fn reduce(&self, var: VarId, state: usize) -> Factor {
        let Some(k) = self.vars.iter().position(|&v| v == var) else {
            return self.clone();
        };
        let st = strides(&self.cards);
        let (stride, card) = (st[k], self.cards[k]);
        let values = (0..self.values.len())
            .filter(|i| (i / stride) % card == state)
            .map(|i| self.values[i])
            .collect();
        let mut vars = self.vars.clone();
        let mut cards = self.cards.clone();
        vars.remove(k);
        cards.remove(k);
        Factor {
            vars,
            cards,
            values,
        }
    }
    /// Multiply a likelihood vector over `var` into the table (no-op if `var`
    /// is not in scope or the vector has the wrong length).
    pub fn multiply_likelihood(&mut self, var: VarId, lik: &[f64]) {
        let Some(k) = self.vars.iter().position(|&v| v == var) else {
            return;
        };
        if lik.len() != self.cards[k] {
            return;
        }
        let stride = strides(&self.cards)[k];
        scale_axis(&mut self.values, stride, lik);
    }
    /// Divide by the sum; returns the sum (0 leaves the table untouched).
    pub fn normalize(&mut self) -> f64 {
        let s: f64 = self.values.iter().sum();
        if s > 0.0 {
            self.values.iter_mut().for_each(|x| *x /= s);
        }
        s
    }
}

/// Multiply `lik[state]` into every entry of a table, where the variable has
/// stride `stride` and cardinality `lik.len()`.
pub(crate) fn scale_axis(values: &mut [f64], stride: usize, lik: &[f64]) {
    let block = stride * lik.len();
    if block == 0 {
        return;
    }
    for chunk in values.chunks_mut(block) {
        for (s, part) in chunk.chunks_mut(stride).enumerate() {
            let l = lik[s];
            part.iter_mut().for_each(|x| *x *= l);
        }
    }
}

/// Sum a table onto the axis of one variable with `stride`/`card`, adding into `out`.
pub(crate) fn sum_axis(values: &[f64], stride: usize, out: &mut [f64]) {
    let block = stride * out.len();
    if block == 0 {
        return;
    }
    for chunk in values.chunks(block) {
        for (s, part) in chunk.chunks(stride).enumerate() {
            out[s] += part.iter().sum::<f64>();
        }
    }
}
