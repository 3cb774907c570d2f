//! Tests of the Bayesian network engine (unit + integration, moved with the module).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod approx_tests;
mod bif_tests;
mod brute;
mod exact_tests;
mod network_tests;
