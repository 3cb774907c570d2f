//! Pure decoders and encoders of the wire formats Baynet reads and serves: OTLP/Tempo traces
//! ([`otlp`]), Tempo search results ([`tempo`]), Loki query responses ([`loki`]), Prometheus
//! query responses and exposition text ([`prometheus`]) and Kiali graphs ([`kiali`]).
//!
//! Invariant: this module performs no I/O and never reads the clock. Inputs are untrusted bytes
//! or JSON values; every decoder returns a [`WireError`] naming the place of the problem instead
//! of panicking, whatever the input (malformed or truncated JSON, HTML error pages, wrong types,
//! out-of-range numbers). Decoders are lenient where real servers differ (integers as numbers or
//! strings, omitted zero fields) and strict where accepting the input would produce wrong data.

pub mod error;
pub(crate) mod json;
pub mod kiali;
pub mod loki;
pub mod meta;
pub mod otlp;
pub mod prometheus;
pub mod tempo;

#[cfg(test)]
pub(crate) mod testgen;

pub use error::WireError;

/// Loads a test fixture from `tests/fixtures/<name>` at compile time.
#[cfg(test)]
#[macro_export]
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $name
        ))
    };
}
