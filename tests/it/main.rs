//! The single integration-test binary; one module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scenarios; // every file in scenarios/ parses and carries the fields Baynet relies on
