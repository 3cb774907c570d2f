//! The TOML file as written, before validation. Unknown keys are errors (a typo must not be
//! silently ignored). No `Debug`: an inline secret (refused later) must never be printed.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub namespace: Option<String>,
    pub labels: Option<RawLabels>,
    pub limits: Option<RawLimits>,
    pub retry: Option<RawRetry>,
    pub loki: Option<RawEndpoint>,
    pub tempo: Option<RawEndpoint>,
    pub prometheus: Option<RawEndpoint>,
    pub kiali: Option<RawEndpoint>,
    pub console: Option<RawConsole>,
    pub knowledge: Option<RawKnowledge>,
}

/// `[knowledge]`: the knowledge base's backend. An inline `qdrant_api_key` is read only to be
/// refused.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKnowledge {
    pub backend: Option<String>,
    pub qdrant_url: Option<String>,
    pub collection: Option<String>,
    pub qdrant_api_key_env: Option<String>,
    pub qdrant_api_key_file: Option<PathBuf>,
    pub qdrant_api_key: Option<toml::Value>,
    pub qdrant_timeout: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsole {
    /// Action name → keys (checked by the console's keymap).
    pub keys: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLabels {
    pub namespace: Option<String>,
    pub service: Option<String>,
    pub workload: Option<String>,
    pub trace_service: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub max_response_bytes: Option<u64>,
    pub loki_page_lines: Option<usize>,
    pub loki_chunk: Option<String>,
    pub max_log_lines: Option<usize>,
    pub tempo_search_limit: Option<usize>,
    pub tempo_search_window: Option<String>,
    pub trace_fetch_concurrency: Option<usize>,
    pub max_traces: Option<usize>,
    pub max_points: Option<usize>,
    pub metrics_step: Option<String>,
    pub rate_window: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetry {
    pub max_retries: Option<u32>,
    pub base_delay: Option<String>,
    pub max_delay: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    pub url: Option<String>,
    pub tenant: Option<String>,
    pub timeout: Option<String>,
    pub connect_timeout: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub search: Option<String>,
    pub auth: Option<RawAuth>,
}

/// Inline `token`/`password` are read only to be refused with a clear message.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub token: Option<toml::Value>,
    pub password: Option<toml::Value>,
}
