//! `baynet doctor`: checks every configured source — reachable, credentials accepted, version,
//! which labels and metrics exist, whether Istio metrics are present, whether traces carry an
//! HTTP status — and renders a report (text or JSON). Sources are checked concurrently; one
//! failing never hides the others.

use super::SourceError;
use super::live::LiveSource;
use super::query::{TraceSelection, quote};
use crate::config::{Config, Endpoint, SourceKind};
use crate::model::{TimeRange, Timestamp};
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// The outcome of one check or source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Works.
    Ok,
    /// Works, but something is missing or unusual.
    Warn,
    /// Does not work.
    Fail,
    /// Not in the configuration.
    NotConfigured,
}

impl Verdict {
    /// `ok`, `warn`, `FAIL`, `-`.
    #[must_use]
    pub const fn mark(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
            Self::NotConfigured => "-",
        }
    }
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Result.
    pub verdict: Verdict,
    /// What was found, or what to do.
    pub detail: String,
}

/// One source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// `loki`, `tempo`, `prometheus`, `kiali`.
    pub source: &'static str,
    /// The URL, when configured.
    pub url: Option<String>,
    /// Auth description (never the secret).
    pub auth: Option<String>,
    /// Tenant.
    pub tenant: Option<String>,
    /// The worst verdict of the checks (or `not_configured`).
    pub verdict: Verdict,
    /// A short word for a failure (`unreachable`, `auth refused`, …).
    pub reason: Option<String>,
    /// Server version, when it says.
    pub version: Option<String>,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The config file read.
    pub config_file: Option<String>,
    /// The namespace checked.
    pub namespace: String,
    /// One per source kind.
    pub sources: Vec<SourceReport>,
}

impl DoctorReport {
    /// Whether any configured source failed.
    #[must_use]
    pub fn any_failed(&self) -> bool {
        self.sources.iter().any(|s| s.verdict == Verdict::Fail)
    }
}

struct Checks {
    checks: Vec<Check>,
    version: Option<String>,
    reason: Option<String>,
}

impl Checks {
    fn new() -> Self {
        Self {
            checks: Vec::new(),
            version: None,
            reason: None,
        }
    }
    fn push(&mut self, name: &str, verdict: Verdict, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.to_owned(),
            verdict,
            detail: detail.into(),
        });
    }
    fn fail(&mut self, name: &str, error: &SourceError) {
        self.reason = Some(error.verdict().to_owned());
        self.push(name, Verdict::Fail, error.to_string());
    }
}

fn list(items: &[String], max: usize) -> String {
    let mut shown: Vec<&str> = items.iter().take(max).map(String::as_str).collect();
    if items.len() > max {
        shown.push("…");
    }
    shown.join(", ")
}

async fn check_loki(source: &LiveSource, config: &Config, range: TimeRange, out: &mut Checks) {
    let Some(loki) = &source.loki else { return };
    let names = match loki.labels(range).await {
        Ok(names) => {
            out.push(
                "reachable, credentials accepted",
                Verdict::Ok,
                format!("{} label names in the last hour", names.len()),
            );
            names
        }
        Err(error) => return out.fail("reachable, credentials accepted", &error),
    };
    match loki.buildinfo().await {
        Ok(info) => {
            out.push("version", Verdict::Ok, format!("Loki {}", info.version));
            out.version = Some(info.version);
        }
        Err(error) => out.push(
            "version",
            Verdict::Warn,
            format!("unknown ({})", error.verdict()),
        ),
    }
    for (what, label) in [
        ("namespace label", &config.labels.namespace),
        ("service label", &config.labels.service),
    ] {
        if names.contains(label) {
            out.push(what, Verdict::Ok, format!("`{label}` present"));
        } else {
            out.push(
                what,
                Verdict::Warn,
                format!(
                    "no `{label}` label in the last hour; set labels.{} to one of: {}",
                    if what.starts_with("namespace") {
                        "namespace"
                    } else {
                        "service"
                    },
                    list(&names, 12)
                ),
            );
        }
    }
    if names.contains(&config.labels.namespace) {
        match loki.label_values(&config.labels.namespace, range).await {
            Ok(values) if values.contains(&config.namespace) => {
                out.push(
                    "namespace has logs",
                    Verdict::Ok,
                    format!("`{}` found", config.namespace),
                );
            }
            Ok(values) => out.push(
                "namespace has logs",
                Verdict::Warn,
                format!(
                    "no logs of namespace `{}` in the last hour; seen: {}",
                    config.namespace,
                    list(&values, 10)
                ),
            ),
            Err(error) => out.push("namespace has logs", Verdict::Warn, error.to_string()),
        }
    }
}

async fn check_tempo(source: &LiveSource, config: &Config, range: TimeRange, out: &mut Checks) {
    let Some(tempo) = &source.tempo else { return };
    let selection = TraceSelection {
        limit: 5,
        ..TraceSelection::default()
    };
    let (found, syntax) = match tempo.search(&selection, range).await {
        Ok(found) => found,
        Err(error) => return out.fail("reachable, credentials accepted", &error),
    };
    out.push(
        "reachable, credentials accepted",
        Verdict::Ok,
        format!(
            "search answered ({} traces in the last hour, {})",
            found.len(),
            match syntax {
                super::tempo::SearchSyntax::TraceQl => "TraceQL",
                super::tempo::SearchSyntax::Tags => "tag search: TraceQL was rejected",
            }
        ),
    );
    match tempo.buildinfo().await {
        Ok(info) => {
            out.push("version", Verdict::Ok, format!("Tempo {}", info.version));
            out.version = Some(info.version);
        }
        Err(error) => out.push(
            "version",
            Verdict::Warn,
            format!("unknown ({})", error.verdict()),
        ),
    }
    match tempo.tag_values(&config.labels.trace_service).await {
        Ok(values) if !values.is_empty() => out.push(
            "services",
            Verdict::Ok,
            format!(
                "{} values of {}: {}",
                values.len(),
                config.labels.trace_service,
                list(&values, 8)
            ),
        ),
        Ok(_) => out.push(
            "services",
            Verdict::Warn,
            format!(
                "no values of {}; set labels.trace_service",
                config.labels.trace_service
            ),
        ),
        Err(error) => out.push(
            "services",
            Verdict::Warn,
            format!("tag values unavailable ({})", error.verdict()),
        ),
    }
    let Some(first) = found.first() else {
        out.push(
            "traces carry HTTP status",
            Verdict::Warn,
            "no trace in the last hour to inspect; is anything sending traces?",
        );
        return;
    };
    match tempo.trace(first.trace_id).await {
        Ok(Some(spans)) => {
            let with_status = spans.iter().filter(|s| s.http_status().is_some()).count();
            if with_status > 0 {
                out.push(
                    "traces carry HTTP status",
                    Verdict::Ok,
                    format!(
                        "{with_status} of {} spans of trace {} have http.status_code",
                        spans.len(),
                        first.trace_id.to_hex()
                    ),
                );
            } else {
                out.push("traces carry HTTP status", Verdict::Warn, format!("trace {} has no http.status_code / http.response.status_code; errors will come from span status only", first.trace_id.to_hex()));
            }
        }
        Ok(None) => out.push(
            "traces carry HTTP status",
            Verdict::Warn,
            format!(
                "search found trace {} but fetching it gave 404",
                first.trace_id.to_hex()
            ),
        ),
        Err(error) => out.push("traces carry HTTP status", Verdict::Warn, error.to_string()),
    }
}

async fn check_prometheus(
    source: &LiveSource,
    config: &Config,
    range: TimeRange,
    out: &mut Checks,
) {
    let Some(prometheus) = &source.prometheus else {
        return;
    };
    if let Err(error) = prometheus.query("vector(1)", range.end).await {
        return out.fail("reachable, credentials accepted", &error);
    }
    out.push(
        "reachable, credentials accepted",
        Verdict::Ok,
        "instant query answered",
    );
    match prometheus.buildinfo().await {
        Ok(info) => {
            out.push(
                "version",
                Verdict::Ok,
                format!("Prometheus {}", info.version),
            );
            out.version = Some(info.version);
        }
        Err(error) => out.push(
            "version",
            Verdict::Warn,
            format!(
                "unknown ({}; Mimir and proxies may hide it)",
                error.verdict()
            ),
        ),
    }
    let ns = quote(&config.namespace);
    let workload = format!("source_{}", config.labels.workload);
    let checks: [(&str, String, &str, bool); 7] = [
        (
            "Istio HTTP metrics",
            format!("istio_requests_total{{destination_workload_namespace={ns}}}"),
            "no istio_requests_total for the namespace: is the sidecar injected and Prometheus scraping the Envoy proxies (port 15090)?",
            true,
        ),
        (
            "Istio TCP metrics",
            format!("istio_tcp_sent_bytes_total{{destination_workload_namespace={ns}}}"),
            "no istio_tcp_* series: databases and brokers will be missing from the graph",
            true,
        ),
        (
            "cAdvisor metrics",
            format!("container_cpu_usage_seconds_total{{namespace={ns}}}"),
            "no container_cpu_usage_seconds_total: saturation signals unavailable",
            true,
        ),
        (
            "kube-state-metrics",
            format!("kube_pod_container_status_restarts_total{{namespace={ns}}}"),
            "no kube_pod_container_status_restarts_total: restarts and deploys will not show as changes",
            true,
        ),
        (
            "scrape timings",
            format!("scrape_duration_seconds{{namespace={ns}, pod!=\"\"}}"),
            "absent (optional: with `namespace` and `pod` labels on the pods' scrape job, a pod whose egress is capped or delayed shows even when no request does)",
            false,
        ),
        (
            "Tempo service-graph metrics",
            "traces_service_graph_request_total".to_owned(),
            "absent (optional: the graph comes from Istio metrics or traces)",
            false,
        ),
        (
            "workload labels",
            format!("istio_requests_total{{destination_workload_namespace={ns}}}"),
            "",
            true,
        ),
    ];
    for (name, selector, missing, warn) in checks {
        match prometheus.series(&selector, range).await {
            Ok(sets) if name == "workload labels" => {
                if sets.is_empty() {
                    continue;
                }
                if sets.iter().any(|s| s.contains_key(&workload)) {
                    out.push(name, Verdict::Ok, format!("`{workload}` present"));
                } else {
                    out.push(
                        name,
                        Verdict::Warn,
                        format!("Istio series have no `{workload}`; set labels.workload"),
                    );
                }
            }
            Ok(sets) if !sets.is_empty() => {
                out.push(name, Verdict::Ok, format!("{} series", sets.len()))
            }
            Ok(_) => out.push(
                name,
                if warn { Verdict::Warn } else { Verdict::Ok },
                missing,
            ),
            Err(error) => out.push(name, Verdict::Warn, error.to_string()),
        }
    }
}

async fn check_kiali(source: &LiveSource, config: &Config, range: TimeRange, out: &mut Checks) {
    let Some(kiali) = &source.kiali else { return };
    match kiali
        .graph(&config.namespace, Duration::from_secs(600), range.end)
        .await
    {
        Ok(graph) if graph.edge_count() > 0 => out.push(
            "reachable, credentials accepted",
            Verdict::Ok,
            format!(
                "graph of `{}`: {} services, {} edges",
                config.namespace,
                graph.service_count(),
                graph.edge_count()
            ),
        ),
        Ok(_) => out.push(
            "reachable, credentials accepted",
            Verdict::Warn,
            format!(
                "the graph of `{}` has no edges in the last 10 minutes",
                config.namespace
            ),
        ),
        Err(error) => out.fail("reachable, credentials accepted", &error),
    }
}

fn report_for(kind: SourceKind, endpoint: Option<&Endpoint>, checks: Checks) -> SourceReport {
    let verdict = match endpoint {
        None => Verdict::NotConfigured,
        Some(_) => checks
            .checks
            .iter()
            .map(|c| c.verdict)
            .max()
            .unwrap_or(Verdict::Ok),
    };
    SourceReport {
        source: kind.key(),
        url: endpoint.map(|e| e.url.clone()),
        auth: endpoint.map(|e| e.auth.describe()),
        tenant: endpoint.and_then(|e| e.tenant.clone()),
        verdict,
        reason: checks.reason,
        version: checks.version,
        checks: checks.checks,
    }
}

/// Checks every configured source, looking at the hour before `now`. Retries are limited to
/// one so that a dead source is reported quickly.
pub async fn diagnose(config: &Config, now: Timestamp) -> DoctorReport {
    let mut quick = config.clone();
    quick.retry.max_retries = quick.retry.max_retries.min(1);
    let range = TimeRange {
        start: now.minus(Duration::from_secs(3600)),
        end: now,
    };
    let source = match LiveSource::new(&quick) {
        Ok(source) => source,
        Err(error) => {
            let sources = SourceKind::ALL
                .iter()
                .map(|kind| {
                    let mut checks = Checks::new();
                    if config.endpoint(*kind).is_some() {
                        checks.fail("client setup", &error);
                    }
                    report_for(*kind, config.endpoint(*kind), checks)
                })
                .collect();
            return DoctorReport {
                config_file: config.file.as_ref().map(|p| p.display().to_string()),
                namespace: config.namespace.clone(),
                sources,
            };
        }
    };
    let (mut loki, mut tempo, mut prometheus, mut kiali) =
        (Checks::new(), Checks::new(), Checks::new(), Checks::new());
    futures_util::join!(
        check_loki(&source, &quick, range, &mut loki),
        check_tempo(&source, &quick, range, &mut tempo),
        check_prometheus(&source, &quick, range, &mut prometheus),
        check_kiali(&source, &quick, range, &mut kiali),
    );
    let sources = vec![
        report_for(SourceKind::Loki, config.loki.as_ref(), loki),
        report_for(SourceKind::Tempo, config.tempo.as_ref(), tempo),
        report_for(
            SourceKind::Prometheus,
            config.prometheus.as_ref(),
            prometheus,
        ),
        report_for(SourceKind::Kiali, config.kiali.as_ref(), kiali),
    ];
    DoctorReport {
        config_file: config.file.as_ref().map(|p| p.display().to_string()),
        namespace: config.namespace.clone(),
        sources,
    }
}

/// The report as text, one block per source.
#[must_use]
pub fn render_text(report: &DoctorReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "config: {}   namespace: {}",
        report
            .config_file
            .as_deref()
            .unwrap_or("(none; environment and flags only)"),
        report.namespace
    );
    for source in &report.sources {
        let title = source.source;
        match &source.url {
            None => {
                let _ = writeln!(out, "\n{title}: not configured");
            }
            Some(url) => {
                let verdict = match (&source.verdict, &source.reason) {
                    (Verdict::Fail, Some(reason)) => format!("FAIL ({reason})"),
                    (v, _) => v.mark().to_owned(),
                };
                let _ = writeln!(out, "\n{title}: {verdict}   {url}");
                let _ = writeln!(
                    out,
                    "  auth: {}{}",
                    source.auth.as_deref().unwrap_or("none"),
                    source
                        .tenant
                        .as_ref()
                        .map(|t| format!(", tenant {t}"))
                        .unwrap_or_default()
                );
                for check in &source.checks {
                    let _ = writeln!(
                        out,
                        "  [{:>4}] {}: {}",
                        check.verdict.mark(),
                        check.name,
                        check.detail
                    );
                }
            }
        }
    }
    out
}
