//! Baynet's configuration: which live telemetry sources to read (Loki, Tempo, Prometheus,
//! Kiali), how to reach and authenticate to them, the label names of the cluster, and the query
//! limits. Read once from a TOML file (`~/.config/baynet/config.toml`, or `--config PATH`),
//! then overridden by environment variables (`BAYNET_LOKI_URL`, `BAYNET_LOKI_TOKEN`, …) and
//! command-line flags, and validated once: every error names the field (`loki.auth.token_env`).
//!
//! Invariant: secrets (bearer tokens, passwords) come only from an environment variable or a
//! file, never from the TOML text itself, and are held in [`Secret`], whose `Debug` prints
//! `<redacted>` and which has no `Display`. Nothing in this module prints or logs a secret.
//!
//! This is an adapter: it reads the file, the environment and secret files.

mod raw;

use crate::model::time::parse_duration;
use raw::{RawAuth, RawEndpoint, RawFile, RawKnowledge};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// The four kinds of live source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    /// Grafana Loki (logs).
    Loki,
    /// Grafana Tempo (traces).
    Tempo,
    /// Prometheus or a compatible API (Mimir, Thanos): Istio metrics.
    Prometheus,
    /// Kiali (service graph).
    Kiali,
}

impl SourceKind {
    /// All kinds, in report order.
    pub const ALL: [Self; 4] = [Self::Loki, Self::Tempo, Self::Prometheus, Self::Kiali];

    /// `loki`, `tempo`, `prometheus`, `kiali` (the TOML table name).
    #[must_use]
    pub const fn key(self) -> &'static str {
        match self {
            Self::Loki => "loki",
            Self::Tempo => "tempo",
            Self::Prometheus => "prometheus",
            Self::Kiali => "kiali",
        }
    }

    /// `Loki`, `Tempo`, `Prometheus`, `Kiali`.
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Self::Loki => "Loki",
            Self::Tempo => "Tempo",
            Self::Prometheus => "Prometheus",
            Self::Kiali => "Kiali",
        }
    }

    fn env_prefix(self) -> &'static str {
        match self {
            Self::Loki => "BAYNET_LOKI",
            Self::Tempo => "BAYNET_TEMPO",
            Self::Prometheus => "BAYNET_PROMETHEUS",
            Self::Kiali => "BAYNET_KIALI",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// A secret value (token, password). `Debug` is redacted; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for building a request header. Never print it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How a request authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: Secret,
        /// Where it came from (`env LOKI_TOKEN`, `file /run/secrets/t`), for reports.
        origin: String,
    },
    /// `Authorization: Basic base64(user:password)` (Grafana Cloud: instance id and API token).
    Basic {
        /// User name (not secret).
        username: String,
        /// The password.
        password: Secret,
        /// Where the password came from.
        origin: String,
    },
}

impl Auth {
    /// A description without the secret: `none`, `bearer token (env LOKI_TOKEN)`,
    /// `basic user 12345 (password from file /x)`.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::None => "none".to_owned(),
            Self::Bearer { origin, .. } => format!("bearer token ({origin})"),
            Self::Basic {
                username, origin, ..
            } => format!("basic, user {username} (password from {origin})"),
        }
    }
}

/// How Tempo is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TempoSearch {
    /// TraceQL, falling back to tag search when the server rejects it (Tempo < 2).
    #[default]
    Auto,
    /// TraceQL only.
    TraceQl,
    /// Legacy tag search only.
    Tags,
}

/// One configured source.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// Which API this is.
    pub kind: SourceKind,
    /// Base URL without a trailing slash; may carry a path prefix, such as a Grafana datasource
    /// proxy (`https://grafana/api/datasources/proxy/uid/<uid>`) or Kiali's web root (`/kiali`).
    pub url: String,
    /// Credentials.
    pub auth: Auth,
    /// `X-Scope-OrgID` tenant (Loki, Tempo, Mimir).
    pub tenant: Option<String>,
    /// Extra CA certificate (PEM) trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Tempo search mode (ignored elsewhere).
    pub search: TempoSearch,
}

impl Endpoint {
    /// An endpoint with default timeouts and no auth.
    #[must_use]
    pub fn new(kind: SourceKind, url: &str) -> Self {
        Self {
            kind,
            url: url.trim_end_matches('/').to_owned(),
            auth: Auth::None,
            tenant: None,
            ca_file: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            search: TempoSearch::Auto,
        }
    }

    /// Whether the URL goes through Grafana's datasource proxy.
    #[must_use]
    pub fn is_grafana_proxy(&self) -> bool {
        self.url.contains("/api/datasources/proxy/")
    }
}

/// Label names of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelNames {
    /// Loki stream label holding the Kubernetes namespace.
    pub namespace: String,
    /// Loki stream label naming the service (`app`, `container`, `service_name`; sock-shop
    /// pods carry `name`).
    pub service: String,
    /// Istio label suffix naming a workload: `workload` reads `source_workload` /
    /// `destination_workload`; `canonical_service` or `app` are alternatives.
    pub workload: String,
    /// TraceQL attribute naming a span's service.
    pub trace_service: String,
}

impl Default for LabelNames {
    fn default() -> Self {
        Self {
            namespace: "namespace".to_owned(),
            service: "app".to_owned(),
            workload: "workload".to_owned(),
            trace_service: "resource.service.name".to_owned(),
        }
    }
}

/// Query limits that keep long ranges correct and memory bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A response body larger than this is refused.
    pub max_response_bytes: u64,
    /// Loki lines per request (Loki's default `max_entries_limit_per_query` is 5000).
    pub loki_page_lines: usize,
    /// Long log ranges are split into chunks of this length.
    pub loki_chunk: Duration,
    /// At most this many log lines per fetch.
    pub max_log_lines: usize,
    /// Tempo search results per window.
    pub tempo_search_limit: usize,
    /// Long trace ranges are searched in windows of this length.
    pub tempo_search_window: Duration,
    /// Trace fetches in flight at once.
    pub trace_fetch_concurrency: usize,
    /// At most this many traces per fetch.
    pub max_traces: usize,
    /// Points per series a Prometheus range query may return (Prometheus refuses > 11,000).
    pub max_points: usize,
    /// Preferred metric step (the scrape interval).
    pub metrics_step: Duration,
    /// Shortest `rate()` window (at least 4 scrape intervals; Prometheus 3 needs two samples
    /// inside the window).
    pub rate_window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_response_bytes: 64 * 1024 * 1024,
            loki_page_lines: 5000,
            loki_chunk: Duration::from_secs(3600),
            max_log_lines: 100_000,
            tempo_search_limit: 200,
            tempo_search_window: Duration::from_secs(3600),
            trace_fetch_concurrency: 8,
            max_traces: 2000,
            max_points: 11_000,
            metrics_step: Duration::from_secs(15),
            rate_window: Duration::from_secs(60),
        }
    }
}

/// Retries of transient failures (429, 502, 503, 504, connection errors, timeouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; doubles each retry, with full jitter.
    pub base_delay: Duration,
    /// Longest single wait, also the longest `Retry-After` honoured (longer → give up).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// Where the knowledge base keeps its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KbBackend {
    /// The embedded store (redb + tantivy) beside the knowledge directory.
    #[default]
    Embedded,
    /// A Qdrant collection over its REST API.
    Qdrant,
}

impl KbBackend {
    /// `embedded` or `qdrant`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Qdrant => "qdrant",
        }
    }
}

impl std::str::FromStr for KbBackend {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "embedded" => Ok(Self::Embedded),
            "qdrant" => Ok(Self::Qdrant),
            other => Err(format!(
                "`{}` is not a knowledge backend; use embedded or qdrant",
                shorten(other)
            )),
        }
    }
}

/// The default Qdrant URL.
pub const DEFAULT_QDRANT_URL: &str = "http://localhost:6333";

/// `[knowledge]`, then `BAYNET_KB_BACKEND`, `QDRANT_URL`, `BAYNET_QDRANT_COLLECTION`,
/// `QDRANT_API_KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeSettings {
    /// The backend.
    pub backend: KbBackend,
    /// Qdrant's base URL (default [`DEFAULT_QDRANT_URL`]).
    pub qdrant_url: Option<String>,
    /// The collection, when set (else one is derived from the knowledge directory).
    pub collection: Option<String>,
    /// The API key sent in the `api-key` header.
    pub qdrant_api_key: Option<Secret>,
    /// Where the key came from (`env QDRANT_API_KEY`), for reports.
    pub qdrant_api_key_origin: Option<String>,
    /// Timeout of one Qdrant request.
    pub qdrant_timeout: Duration,
}

impl Default for KnowledgeSettings {
    fn default() -> Self {
        Self {
            backend: KbBackend::Embedded,
            qdrant_url: None,
            collection: None,
            qdrant_api_key: None,
            qdrant_api_key_origin: None,
            qdrant_timeout: Duration::from_secs(30),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Kubernetes namespace of the application (`sock-shop`).
    pub namespace: String,
    /// Whether `namespace` was given (config file, `BAYNET_NAMESPACE` or `--namespace`) rather
    /// than defaulted, so a caller that knows better (an experiment's target) may choose it.
    pub namespace_configured: bool,
    /// Label names.
    pub labels: LabelNames,
    /// Query limits.
    pub limits: Limits,
    /// Retries.
    pub retry: RetryPolicy,
    /// Loki, when configured.
    pub loki: Option<Endpoint>,
    /// Tempo, when configured.
    pub tempo: Option<Endpoint>,
    /// Prometheus, when configured.
    pub prometheus: Option<Endpoint>,
    /// Kiali, when configured.
    pub kiali: Option<Endpoint>,
    /// Console key bindings from `[console.keys]`: action name → keys (the console validates
    /// them and names the bad entry).
    pub console_keys: std::collections::BTreeMap<String, Vec<String>>,
    /// The knowledge base's backend.
    pub knowledge: KnowledgeSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            file: None,
            namespace: "default".to_owned(),
            namespace_configured: false,
            labels: LabelNames::default(),
            limits: Limits::default(),
            retry: RetryPolicy::default(),
            loki: None,
            tempo: None,
            prometheus: None,
            kiali: None,
            console_keys: std::collections::BTreeMap::new(),
            knowledge: KnowledgeSettings::default(),
        }
    }
}

impl Config {
    /// The endpoint of `kind`, if configured.
    #[must_use]
    pub fn endpoint(&self, kind: SourceKind) -> Option<&Endpoint> {
        match kind {
            SourceKind::Loki => self.loki.as_ref(),
            SourceKind::Tempo => self.tempo.as_ref(),
            SourceKind::Prometheus => self.prometheus.as_ref(),
            SourceKind::Kiali => self.kiali.as_ref(),
        }
    }

    fn endpoint_mut(&mut self, kind: SourceKind) -> &mut Option<Endpoint> {
        match kind {
            SourceKind::Loki => &mut self.loki,
            SourceKind::Tempo => &mut self.tempo,
            SourceKind::Prometheus => &mut self.prometheus,
            SourceKind::Kiali => &mut self.kiali,
        }
    }

    /// Whether any live source is configured.
    #[must_use]
    pub fn has_sources(&self) -> bool {
        SourceKind::ALL.iter().any(|k| self.endpoint(*k).is_some())
    }
}

/// Why the configuration is unusable.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A value is wrong.
    #[error("{origin}: {field}: {message}")]
    Invalid {
        /// The file, `environment` or `command line`.
        origin: String,
        /// The field (`loki.auth.token_env`, `BAYNET_LOKI_URL`, `--loki`).
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Values given on the command line (they win over the environment and the file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--loki URL`.
    pub loki: Option<String>,
    /// `--tempo URL`.
    pub tempo: Option<String>,
    /// `--prometheus URL`.
    pub prometheus: Option<String>,
    /// `--kiali URL`.
    pub kiali: Option<String>,
    /// `--namespace NS`.
    pub namespace: Option<String>,
}

impl Overrides {
    fn url(&self, kind: SourceKind) -> Option<&String> {
        match kind {
            SourceKind::Loki => self.loki.as_ref(),
            SourceKind::Tempo => self.tempo.as_ref(),
            SourceKind::Prometheus => self.prometheus.as_ref(),
            SourceKind::Kiali => self.kiali.as_ref(),
        }
    }
}

/// The default file: `$XDG_CONFIG_HOME/baynet/config.toml`, else `~/.config/baynet/config.toml`.
#[must_use]
pub fn default_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = env("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("baynet").join("config.toml"));
    }
    env("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".config/baynet/config.toml"))
}

/// The process environment as a lookup function.
#[must_use]
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads the configuration: `path` (must exist) or `$BAYNET_CONFIG` or the default file (may be
/// missing), then the environment, then `overrides`; validates everything once.
///
/// # Errors
/// [`ConfigError`] naming the file and field.
pub fn load(
    path: Option<&Path>,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let (file, text) = read_file(path, env)?;
    let mut config = parse_toml(&text, file.as_deref(), env)?;
    apply_env(&mut config, env)?;
    apply_overrides(&mut config, overrides)?;
    Ok(config)
}

fn read_file(
    path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Option<PathBuf>, String), ConfigError> {
    let explicit = path.map(Path::to_path_buf).or_else(|| {
        env("BAYNET_CONFIG")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    let read = |file: PathBuf| {
        std::fs::read_to_string(&file)
            .map(|text| (Some(file.clone()), text))
            .map_err(|source| ConfigError::Io { path: file, source })
    };
    match explicit {
        Some(file) => read(file),
        None => match default_path(env) {
            Some(file) if file.is_file() => read(file),
            _ => Ok((None, String::new())),
        },
    }
}

/// Loads only the knowledge base's settings: the file's `[knowledge]` table (the rest of the
/// file must still be well-formed TOML with known keys, but its sources are not validated, so
/// an unset Loki token does not keep `baynet kb` from working), then the environment.
///
/// # Errors
/// [`ConfigError`] naming the file and field.
pub fn load_knowledge(
    path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<KnowledgeSettings, ConfigError> {
    let (file, text) = read_file(path, env)?;
    let shown = file
        .as_deref()
        .map_or_else(|| PathBuf::from("config"), Path::to_path_buf);
    let raw: RawFile = toml::from_str(&text).map_err(|error| ConfigError::Parse {
        path: shown.clone(),
        message: error.to_string().trim().to_owned(),
    })?;
    let origin = shown.display().to_string();
    let base_dir = file
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    let ctx = Ctx {
        origin: &origin,
        base_dir: base_dir.as_deref(),
        env,
    };
    let mut config = Config::default();
    if let Some(knowledge) = raw.knowledge {
        config.knowledge = knowledge_from(&ctx, knowledge)?;
    }
    apply_knowledge_env(&mut config, env)?;
    Ok(config.knowledge)
}

/// Parses and validates TOML text (no environment or flag overrides); `file` names it in errors
/// and anchors relative secret and CA file paths.
///
/// # Errors
/// [`ConfigError::Parse`] for bad TOML or unknown keys, [`ConfigError::Invalid`] naming the
/// field otherwise.
pub fn parse_toml(
    text: &str,
    file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let shown = file.map_or_else(|| PathBuf::from("config"), Path::to_path_buf);
    let raw: RawFile = toml::from_str(text).map_err(|error| ConfigError::Parse {
        path: shown.clone(),
        message: error.to_string().trim().to_owned(),
    })?;
    let origin = shown.display().to_string();
    let base_dir = file.and_then(Path::parent).map(Path::to_path_buf);
    let ctx = Ctx {
        origin: &origin,
        base_dir: base_dir.as_deref(),
        env,
    };
    let mut config = Config {
        file: file.map(Path::to_path_buf),
        ..Config::default()
    };
    if let Some(namespace) = raw.namespace {
        config.namespace = check_name(&ctx, "namespace", &namespace)?;
        config.namespace_configured = true;
    }
    if let Some(labels) = raw.labels {
        let l = &mut config.labels;
        for (field, value, target) in [
            ("labels.namespace", labels.namespace, &mut l.namespace),
            ("labels.service", labels.service, &mut l.service),
            ("labels.workload", labels.workload, &mut l.workload),
            (
                "labels.trace_service",
                labels.trace_service,
                &mut l.trace_service,
            ),
        ] {
            if let Some(value) = value {
                *target = check_name(&ctx, field, &value)?;
            }
        }
        if !["workload", "canonical_service", "app"].contains(&l.workload.as_str()) {
            return Err(ctx.invalid(
                "labels.workload",
                format!(
                    "`{}` is not an Istio workload label; use workload, canonical_service or app",
                    l.workload
                ),
            ));
        }
    }
    if let Some(limits) = raw.limits {
        let l = &mut config.limits;
        set_positive(
            &ctx,
            "limits.max_response_bytes",
            limits.max_response_bytes,
            &mut l.max_response_bytes,
        )?;
        set_positive(
            &ctx,
            "limits.loki_page_lines",
            limits.loki_page_lines,
            &mut l.loki_page_lines,
        )?;
        set_positive(
            &ctx,
            "limits.max_log_lines",
            limits.max_log_lines,
            &mut l.max_log_lines,
        )?;
        set_positive(
            &ctx,
            "limits.tempo_search_limit",
            limits.tempo_search_limit,
            &mut l.tempo_search_limit,
        )?;
        set_positive(
            &ctx,
            "limits.trace_fetch_concurrency",
            limits.trace_fetch_concurrency,
            &mut l.trace_fetch_concurrency,
        )?;
        set_positive(
            &ctx,
            "limits.max_traces",
            limits.max_traces,
            &mut l.max_traces,
        )?;
        set_positive(
            &ctx,
            "limits.max_points",
            limits.max_points,
            &mut l.max_points,
        )?;
        set_duration(
            &ctx,
            "limits.loki_chunk",
            limits.loki_chunk.as_deref(),
            &mut l.loki_chunk,
        )?;
        set_duration(
            &ctx,
            "limits.tempo_search_window",
            limits.tempo_search_window.as_deref(),
            &mut l.tempo_search_window,
        )?;
        set_duration(
            &ctx,
            "limits.metrics_step",
            limits.metrics_step.as_deref(),
            &mut l.metrics_step,
        )?;
        set_duration(
            &ctx,
            "limits.rate_window",
            limits.rate_window.as_deref(),
            &mut l.rate_window,
        )?;
        if l.trace_fetch_concurrency > 64 {
            return Err(ctx.invalid(
                "limits.trace_fetch_concurrency",
                format!(
                    "{} is too many parallel fetches; use at most 64",
                    l.trace_fetch_concurrency
                ),
            ));
        }
    }
    if let Some(retry) = raw.retry {
        let r = &mut config.retry;
        if let Some(n) = retry.max_retries {
            if n > 20 {
                return Err(ctx.invalid(
                    "retry.max_retries",
                    format!("{n} is too many; use at most 20"),
                ));
            }
            r.max_retries = n;
        }
        set_duration(
            &ctx,
            "retry.base_delay",
            retry.base_delay.as_deref(),
            &mut r.base_delay,
        )?;
        set_duration(
            &ctx,
            "retry.max_delay",
            retry.max_delay.as_deref(),
            &mut r.max_delay,
        )?;
        if r.base_delay > r.max_delay {
            return Err(ctx.invalid("retry.base_delay", "is longer than retry.max_delay"));
        }
    }
    if let Some(keys) = raw.console.and_then(|c| c.keys) {
        config.console_keys = keys;
    }
    if let Some(knowledge) = raw.knowledge {
        config.knowledge = knowledge_from(&ctx, knowledge)?;
    }
    for (kind, raw_endpoint) in [
        (SourceKind::Loki, raw.loki),
        (SourceKind::Tempo, raw.tempo),
        (SourceKind::Prometheus, raw.prometheus),
        (SourceKind::Kiali, raw.kiali),
    ] {
        if let Some(raw_endpoint) = raw_endpoint {
            *config.endpoint_mut(kind) = Some(endpoint(&ctx, kind, raw_endpoint)?);
        }
    }
    Ok(config)
}

struct Ctx<'a> {
    origin: &'a str,
    base_dir: Option<&'a Path>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Ctx<'_> {
    fn invalid(&self, field: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    fn resolve(&self, path: &Path) -> PathBuf {
        match self.base_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }
}

fn check_name(ctx: &Ctx<'_>, field: &str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ctx.invalid(field, "must not be empty"));
    }
    if value
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\\' || c == '`')
    {
        return Err(ctx.invalid(
            field,
            "must not contain quotes, backslashes or control characters",
        ));
    }
    Ok(value.to_owned())
}

fn set_positive<T: Copy + PartialOrd + Default + fmt::Display>(
    ctx: &Ctx<'_>,
    field: &str,
    value: Option<T>,
    target: &mut T,
) -> Result<(), ConfigError> {
    if let Some(value) = value {
        if value <= T::default() {
            return Err(ctx.invalid(field, format!("must be positive, got {value}")));
        }
        *target = value;
    }
    Ok(())
}

fn set_duration(
    ctx: &Ctx<'_>,
    field: &str,
    value: Option<&str>,
    target: &mut Duration,
) -> Result<(), ConfigError> {
    if let Some(text) = value {
        let duration = parse_duration(text).map_err(|e| {
            ctx.invalid(
                field,
                format!("{e} (write a duration such as 30s, 5m or 1h)"),
            )
        })?;
        if duration.is_zero() {
            return Err(ctx.invalid(field, "must be longer than zero"));
        }
        *target = duration;
    }
    Ok(())
}

/// Checks a base URL: http(s), a host, no credentials, no query; returns it without a trailing
/// slash.
fn check_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        format!(
            "`{}` is not a URL ({e}); write e.g. http://loki:3100",
            shorten(url)
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("scheme `{}` is not http or https", parsed.scheme()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "credentials in the URL are not accepted (they would be printed); use the auth table"
                .to_owned(),
        );
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("the base URL must not have a query or fragment".to_owned());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn shorten(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(80).collect()
}

fn endpoint(ctx: &Ctx<'_>, kind: SourceKind, raw: RawEndpoint) -> Result<Endpoint, ConfigError> {
    let key = kind.key();
    let field = |name: &str| format!("{key}.{name}");
    let url = raw
        .url
        .ok_or_else(|| ctx.invalid(&field("url"), "is required when the table is present"))?;
    let url = check_url(&url).map_err(|m| ctx.invalid(&field("url"), m))?;
    let mut out = Endpoint::new(kind, &url);
    if let Some(tenant) = raw.tenant {
        out.tenant =
            Some(check_header_value(&tenant).map_err(|m| ctx.invalid(&field("tenant"), m))?);
    }
    set_duration(
        ctx,
        &field("timeout"),
        raw.timeout.as_deref(),
        &mut out.timeout,
    )?;
    set_duration(
        ctx,
        &field("connect_timeout"),
        raw.connect_timeout.as_deref(),
        &mut out.connect_timeout,
    )?;
    if let Some(ca) = raw.ca_file {
        let path = ctx.resolve(&ca);
        if !path.is_file() {
            return Err(ctx.invalid(
                &field("ca_file"),
                format!("{} is not a readable file", path.display()),
            ));
        }
        out.ca_file = Some(path);
    }
    if let Some(search) = raw.search {
        if kind != SourceKind::Tempo {
            return Err(ctx.invalid(&field("search"), "only applies to [tempo]"));
        }
        out.search = match search.as_str() {
            "auto" => TempoSearch::Auto,
            "traceql" => TempoSearch::TraceQl,
            "tags" => TempoSearch::Tags,
            other => {
                return Err(ctx.invalid(
                    &field("search"),
                    format!("`{}` is not auto, traceql or tags", shorten(other)),
                ));
            }
        };
    }
    if let Some(auth) = raw.auth {
        out.auth = auth_from(ctx, &field("auth"), auth)?;
    }
    Ok(out)
}

fn check_header_value(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if value.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err("must be printable ASCII (it is sent as an HTTP header)".to_owned());
    }
    Ok(value.to_owned())
}

fn secret_from(
    ctx: &Ctx<'_>,
    field: &str,
    from_env: Option<String>,
    from_file: Option<PathBuf>,
    what: &str,
) -> Result<(Secret, String), ConfigError> {
    let (text, origin, where_field) = match (from_env, from_file) {
        (Some(_), Some(_)) => {
            return Err(ctx.invalid(
                field,
                format!("give either {what}_env or {what}_file, not both"),
            ));
        }
        (Some(var), None) => {
            let value = (ctx.env)(&var).ok_or_else(|| {
                ctx.invalid(
                    &format!("{field}.{what}_env"),
                    format!("environment variable {var} is not set; export it or use {what}_file"),
                )
            })?;
            (value, format!("env {var}"), format!("{field}.{what}_env"))
        }
        (None, Some(file)) => {
            let path = ctx.resolve(&file);
            let value = std::fs::read_to_string(&path).map_err(|e| {
                ctx.invalid(
                    &format!("{field}.{what}_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            (
                value,
                format!("file {}", path.display()),
                format!("{field}.{what}_file"),
            )
        }
        (None, None) => {
            return Err(ctx.invalid(
                field,
                format!("needs {what}_env (a variable name) or {what}_file (a path)"),
            ));
        }
    };
    let value = text.trim();
    if value.is_empty() {
        return Err(ctx.invalid(&where_field, format!("the {what} is empty")));
    }
    if value.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(ctx.invalid(
            &where_field,
            format!("the {what} contains control or non-ASCII characters"),
        ));
    }
    Ok((Secret(value.to_owned()), origin))
}

fn auth_from(ctx: &Ctx<'_>, field: &str, raw: RawAuth) -> Result<Auth, ConfigError> {
    if raw.token.is_some() {
        return Err(ctx.invalid(
            &format!("{field}.token"),
            "secrets are not accepted in the file; use token_env (a variable name) or token_file",
        ));
    }
    if raw.password.is_some() {
        return Err(ctx.invalid(
            &format!("{field}.password"),
            "secrets are not accepted in the file; use password_env or password_file",
        ));
    }
    match raw.kind.as_deref() {
        Some("none") => Ok(Auth::None),
        Some("bearer") => {
            let (token, origin) = secret_from(ctx, field, raw.token_env, raw.token_file, "token")?;
            Ok(Auth::Bearer { token, origin })
        }
        Some("basic") => {
            let username = raw.username.ok_or_else(|| {
                ctx.invalid(&format!("{field}.username"), "is required for basic auth")
            })?;
            let username = check_header_value(&username)
                .map_err(|m| ctx.invalid(&format!("{field}.username"), m))?;
            if username.contains(':') {
                return Err(ctx.invalid(&format!("{field}.username"), "must not contain `:`"));
            }
            let (password, origin) =
                secret_from(ctx, field, raw.password_env, raw.password_file, "password")?;
            Ok(Auth::Basic {
                username,
                password,
                origin,
            })
        }
        Some(other) => Err(ctx.invalid(
            &format!("{field}.type"),
            format!("`{}` is not none, bearer or basic", shorten(other)),
        )),
        None => Err(ctx.invalid(
            &format!("{field}.type"),
            "is required (none, bearer or basic)",
        )),
    }
}

fn knowledge_from(ctx: &Ctx<'_>, raw: RawKnowledge) -> Result<KnowledgeSettings, ConfigError> {
    if raw.qdrant_api_key.is_some() {
        return Err(ctx.invalid(
            "knowledge.qdrant_api_key",
            "secrets are not accepted in the file; use qdrant_api_key_env (a variable name) or qdrant_api_key_file",
        ));
    }
    let mut out = KnowledgeSettings::default();
    if let Some(backend) = raw.backend {
        out.backend = backend
            .parse()
            .map_err(|m: String| ctx.invalid("knowledge.backend", m))?;
    }
    if let Some(url) = raw.qdrant_url {
        out.qdrant_url = Some(check_url(&url).map_err(|m| ctx.invalid("knowledge.qdrant_url", m))?);
    }
    if let Some(collection) = raw.collection {
        out.collection = Some(
            check_collection(&collection).map_err(|m| ctx.invalid("knowledge.collection", m))?,
        );
    }
    if raw.qdrant_api_key_env.is_some() || raw.qdrant_api_key_file.is_some() {
        let (key, origin) = secret_from(
            ctx,
            "knowledge",
            raw.qdrant_api_key_env,
            raw.qdrant_api_key_file,
            "qdrant_api_key",
        )?;
        out.qdrant_api_key = Some(key);
        out.qdrant_api_key_origin = Some(origin);
    }
    set_duration(
        ctx,
        "knowledge.qdrant_timeout",
        raw.qdrant_timeout.as_deref(),
        &mut out.qdrant_timeout,
    )?;
    Ok(out)
}

fn check_collection(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty()
        || name.len() > 255
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "`{}` is not a usable collection name; use letters, digits, `-`, `_` and `.`",
            shorten(name)
        ));
    }
    Ok(name.to_owned())
}

fn apply_knowledge_env(
    config: &mut Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let invalid = |field: &str, message: String| ConfigError::Invalid {
        origin: "environment".to_owned(),
        field: field.to_owned(),
        message,
    };
    let k = &mut config.knowledge;
    if let Some(backend) = env("BAYNET_KB_BACKEND").filter(|v| !v.is_empty()) {
        k.backend = backend
            .parse()
            .map_err(|m| invalid("BAYNET_KB_BACKEND", m))?;
    }
    if let Some(url) = env("QDRANT_URL").filter(|v| !v.is_empty()) {
        k.qdrant_url = Some(check_url(&url).map_err(|m| invalid("QDRANT_URL", m))?);
    }
    if let Some(collection) = env("BAYNET_QDRANT_COLLECTION").filter(|v| !v.is_empty()) {
        k.collection = Some(
            check_collection(&collection).map_err(|m| invalid("BAYNET_QDRANT_COLLECTION", m))?,
        );
    }
    if let Some(key) = env("QDRANT_API_KEY").filter(|v| !v.is_empty()) {
        let key = check_header_value(&key)
            .map_err(|_| invalid("QDRANT_API_KEY", "must be printable ASCII".to_owned()))?;
        k.qdrant_api_key = Some(Secret(key));
        k.qdrant_api_key_origin = Some("env QDRANT_API_KEY".to_owned());
    }
    Ok(())
}

fn apply_env(config: &mut Config, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    apply_knowledge_env(config, env)?;
    let invalid = |field: &str, message: String| ConfigError::Invalid {
        origin: "environment".to_owned(),
        field: field.to_owned(),
        message,
    };
    if let Some(namespace) = env("BAYNET_NAMESPACE").filter(|v| !v.is_empty()) {
        let ctx = Ctx {
            origin: "environment",
            base_dir: None,
            env,
        };
        config.namespace = check_name(&ctx, "BAYNET_NAMESPACE", &namespace)?;
        config.namespace_configured = true;
    }
    for kind in SourceKind::ALL {
        let prefix = kind.env_prefix();
        let url_var = format!("{prefix}_URL");
        if let Some(url) = env(&url_var).filter(|v| !v.is_empty()) {
            let url = check_url(&url).map_err(|m| invalid(&url_var, m))?;
            let slot = config.endpoint_mut(kind);
            match slot {
                Some(existing) => existing.url = url,
                None => *slot = Some(Endpoint::new(kind, &url)),
            }
        }
        let tenant_var = format!("{prefix}_TENANT");
        if let Some(tenant) = env(&tenant_var).filter(|v| !v.is_empty()) {
            let tenant = check_header_value(&tenant).map_err(|m| invalid(&tenant_var, m))?;
            let Some(endpoint) = config.endpoint_mut(kind) else {
                return Err(invalid(
                    &tenant_var,
                    format!(
                        "is set but {} has no URL ({url_var} or [{}] url)",
                        kind.title(),
                        kind.key()
                    ),
                ));
            };
            endpoint.tenant = Some(tenant);
        }
        let token_var = format!("{prefix}_TOKEN");
        if let Some(token) = env(&token_var).filter(|v| !v.is_empty()) {
            let token = check_header_value(&token)
                .map_err(|_| invalid(&token_var, "must be printable ASCII".to_owned()))?;
            let Some(endpoint) = config.endpoint_mut(kind) else {
                return Err(invalid(
                    &token_var,
                    format!(
                        "is set but {} has no URL ({url_var} or [{}] url)",
                        kind.title(),
                        kind.key()
                    ),
                ));
            };
            endpoint.auth = Auth::Bearer {
                token: Secret(token),
                origin: format!("env {token_var}"),
            };
        }
    }
    Ok(())
}

fn apply_overrides(config: &mut Config, overrides: &Overrides) -> Result<(), ConfigError> {
    if let Some(namespace) = &overrides.namespace {
        let env = |_: &str| None;
        let ctx = Ctx {
            origin: "command line",
            base_dir: None,
            env: &env,
        };
        config.namespace = check_name(&ctx, "--namespace", namespace)?;
        config.namespace_configured = true;
    }
    for kind in SourceKind::ALL {
        if let Some(url) = overrides.url(kind) {
            let url = check_url(url).map_err(|message| ConfigError::Invalid {
                origin: "command line".to_owned(),
                field: format!("--{}", kind.key()),
                message,
            })?;
            let slot = config.endpoint_mut(kind);
            match slot {
                Some(existing) => existing.url = url,
                None => *slot = Some(Endpoint::new(kind, &url)),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
