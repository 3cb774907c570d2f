use super::*;
use crate::detect::window::WindowGrid;
use crate::model::{AttributeValue, SpanId, SpanKind, SpanStatus, StatusCode, TraceId};

struct Builder {
    spans: Vec<Span>,
    next_id: u64,
}

#[allow(clippy::too_many_arguments)]
impl Builder {
    fn span(
        &mut self,
        trace: u8,
        parent: Option<SpanId>,
        service: &str,
        kind: SpanKind,
        name: &str,
        start_ms: i64,
        ms: i64,
        status: u16,
    ) -> SpanId {
        self.next_id += 1;
        let id = SpanId(self.next_id.to_be_bytes());
        self.spans.push(Span {
            trace_id: TraceId([trace; 16]),
            span_id: id,
            parent_span_id: parent,
            name: name.into(),
            kind,
            service: service.into(),
            start: Timestamp::from_millis(start_ms),
            end: Timestamp::from_millis(start_ms + ms),
            attributes: vec![(
                "http.status_code".into(),
                AttributeValue::Int(status.into()),
            )],
            resource: vec![],
            status: SpanStatus {
                code: if status >= 500 {
                    StatusCode::Error
                } else {
                    StatusCode::Unset
                },
                message: String::new(),
            },
        });
        id
    }

    /// front-end server → client call to carts → carts server (when `reached`).
    fn request(&mut self, trace: u8, start_ms: i64, carts_status: Option<u16>, carts_ms: i64) {
        let front_status = if carts_status.is_some_and(|s| s < 500) {
            200
        } else {
            500
        };
        let root = self.span(
            trace,
            None,
            "front-end",
            SpanKind::Server,
            "GET /cart",
            start_ms,
            carts_ms + 10,
            front_status,
        );
        let client_status = carts_status.unwrap_or(503);
        let call = self.span(
            trace,
            Some(root),
            "front-end",
            SpanKind::Client,
            "carts.sock-shop.svc.cluster.local:80/*",
            start_ms + 2,
            carts_ms + 4,
            client_status,
        );
        if let Some(status) = carts_status {
            self.span(
                trace,
                Some(call),
                "carts",
                SpanKind::Server,
                "carts.sock-shop.svc.cluster.local:80/*",
                start_ms + 3,
                carts_ms,
                status,
            );
        }
    }
}

fn scenario() -> (Vec<Span>, TimeRange, WindowGrid) {
    let mut builder = Builder {
        spans: Vec::new(),
        next_id: 0,
    };
    let mut trace = 0_u8;
    // Baseline: 10 min, 6 requests per minute, all fine (20–30 ms).
    for i in 0..60 {
        trace = trace.wrapping_add(1);
        builder.request(trace, i * 10_000, Some(200), 20 + (i % 3) * 5);
    }
    // Scored minute 0: fine. Minute 1: carts returns 500. Minute 2: carts unreachable.
    for i in 0..6 {
        trace = trace.wrapping_add(1);
        builder.request(trace, 600_000 + i * 10_000, Some(200), 25);
        trace = trace.wrapping_add(1);
        builder.request(trace, 660_000 + i * 10_000, Some(500), 25);
        trace = trace.wrapping_add(1);
        builder.request(trace, 720_000 + i * 10_000, None, 3);
    }
    let baseline = TimeRange::new(Timestamp::from_secs(0), Timestamp::from_secs(600)).expect("ok");
    let scored = TimeRange::new(Timestamp::from_secs(600), Timestamp::from_secs(780)).expect("ok");
    (
        builder.spans,
        baseline,
        WindowGrid::covering(scored, Duration::from_secs(60)),
    )
}

#[test]
fn errors_are_attributed_where_they_originate() {
    let (spans, baseline, grid) = scenario();
    let report = detect_traces(&spans, baseline, &grid, &[], &TraceConfig::default());
    let carts = &report.family.scores["carts"];
    let front = &report.family.scores["front-end"];
    assert!(
        carts[0] < 0.5 && carts[1] >= 0.5 && carts[2] >= 0.5,
        "{carts:?}"
    );
    // front-end only propagated carts' errors: it did not originate them.
    assert!(front.iter().all(|s| *s < 0.5), "{front:?}");
    assert!(!report.status_fallback);
    let edge = &report.propagation.edges[0];
    assert_eq!(
        (edge.caller.as_str(), edge.callee.as_str()),
        ("front-end", "carts")
    );
    assert_eq!(
        (
            edge.calls,
            edge.callee_errors,
            edge.errors_propagated,
            edge.errors_absorbed
        ),
        (18, 12, 12, 0)
    );
    let carts_origin = report
        .propagation
        .origins
        .iter()
        .find(|o| o.service == "carts")
        .expect("carts");
    assert_eq!(
        (carts_origin.errors_originated, carts_origin.unreachable),
        (6, 6)
    );
    // Health of carts in minute 1: all 5xx, 0 % 2xx → two penalties.
    let health = &report.health["carts"][1].health;
    assert!((health.score - 0.6).abs() < 1e-12, "{health:?}");
    let event = report
        .family
        .events
        .iter()
        .find(|e| e.service == "carts")
        .expect("event");
    assert_eq!(event.signal, "span_errors");
    assert!(!event.evidence.trace_ids.is_empty());
}

#[test]
fn traces_missing_their_usual_callee_score_as_structural_anomalies() {
    let (spans, baseline, grid) = scenario();
    let report = detect_traces(&spans, baseline, &grid, &[], &TraceConfig::default());
    // The unreachable calls have no carts server child, which the baseline always had.
    assert_eq!(report.traces.len(), 6);
    assert!(
        report
            .traces
            .iter()
            .all(|t| t.reasons.iter().any(|r| r.starts_with("missing call")))
    );
    assert!(
        index::host_service("outbound|80||user.sock-shop.svc.cluster.local") == Some("user".into())
    );
    assert_eq!(
        index::host_service("http://carts/carts/1"),
        Some("carts".into())
    );
}
