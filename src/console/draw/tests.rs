//! Snapshot-style tests: the app is drawn into a `TestBackend` and the buffer is checked for
//! concrete content and colours.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::draw;
use crate::chat::situation::SimilarIncident;
use crate::console::state::{App, View};
use crate::console::theme::{Palette, Theme};
use crate::live::{
    GoldenView, LiveEvent, LogLine, PastIncident, Phase, ServiceView, Snapshot, SourceStatus,
    SpanRow, TraceSummary,
};
use crate::model::{TimeRange, Timestamp};
use crate::rca::{Band, EvidenceItem};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use std::collections::BTreeMap;
use std::time::Duration;

/// A service view with P(outage) `p` and nothing else.
pub(crate) fn service(name: &str, p: f64) -> ServiceView {
    ServiceView {
        name: name.to_owned(),
        p_root_cause: p * 0.9,
        p_outage: p,
        band: Band::of(p),
        health: Some(1.0 - p),
        anomaly: BTreeMap::new(),
        sparkline: vec![0.1, 0.2, p, p],
        p_history: vec![0.0, p],
        evidence: Vec::new(),
        explains: Vec::new(),
        logs: Vec::new(),
        traces: Vec::new(),
        golden: Vec::new(),
    }
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_secs(1_735_689_600 + secs)
}

fn sample_snapshot() -> Snapshot {
    let mut payment = service("payment", 0.87);
    payment.evidence = vec![EvidenceItem {
        kind: "trace".to_owned(),
        description: "trace error_rate: 0.800 vs baseline 0.010".to_owned(),
        score: 0.97,
    }];
    payment.explains = vec![vec![
        "front-end".to_owned(),
        "orders".to_owned(),
        "payment".to_owned(),
    ]];
    payment.logs = vec![
        LogLine { timestamp: at(10), line: "GET /health 200".to_owned(), flagged: false },
        LogLine {
            timestamp: at(11),
            line: "\u{1b}[2J\u{1b}]8;;http://evil/\u{7}ERROR card authorisation refused\u{1b}]8;;\u{7}".to_owned(),
            flagged: true,
        },
    ];
    payment.traces = vec![TraceSummary {
        trace_id: "0123456789abcdef0123456789abcdef".to_owned(),
        root: "POST /orders".to_owned(),
        start: at(12),
        duration_ms: 120.0,
        error: true,
        slow: false,
        spans: vec![
            SpanRow {
                service: "front-end".to_owned(),
                name: "POST /orders".to_owned(),
                offset_ms: 0.0,
                duration_ms: 120.0,
                depth: 0,
                error: true,
            },
            SpanRow {
                service: "payment".to_owned(),
                name: "payment.authorise".to_owned(),
                offset_ms: 40.0,
                duration_ms: 60.0,
                depth: 1,
                error: true,
            },
        ],
    }];
    payment.golden = vec![GoldenView {
        signal: "error_ratio".to_owned(),
        values: vec![0.0, 0.01, 0.0, 0.6, 0.8],
        baseline_low: Some(0.0),
        baseline_high: Some(0.01),
    }];
    Snapshot {
        source: SourceStatus {
            label: "sim: 06-payment-pod-failure-one".to_owned(),
            phase: Phase::Fault,
            now: at(300),
            speed: 20.0,
            paused: false,
            buffered_logs: 2,
            health: Vec::new(),
            experiment: None,
        },
        baseline: TimeRange::new(at(0), at(150)),
        window: TimeRange::new(at(150), at(300)),
        incident_start: Some(at(180)),
        verdict: "payment is the most likely root cause (87%)".to_owned(),
        incident: true,
        services: vec![payment, service("orders", 0.30), service("front-end", 0.05)],
        edges: vec![
            ("front-end".to_owned(), "orders".to_owned()),
            ("orders".to_owned(), "payment".to_owned()),
        ],
        latency: Duration::from_millis(42),
        problem: None,
        past: Vec::new(),
        past_problem: None,
        analysis: None,
    }
}

fn app() -> App {
    let mut app = App::new();
    let snapshot = sample_snapshot();
    app.on_live(LiveEvent::Status(snapshot.source.clone()));
    app.on_live(LiveEvent::Snapshot(Box::new(snapshot)));
    app
}

fn key(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn render(app: &App, theme: &Theme, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| draw(frame, app, theme)).unwrap();
    terminal.backend().buffer().clone()
}

fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        for x in 0..area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// Position of the first cell where `needle` starts (ASCII needles).
fn find(buffer: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let area = buffer.area;
    let chars: Vec<char> = needle.chars().collect();
    for y in 0..area.height {
        for x in 0..area.width {
            let fits = chars.iter().enumerate().all(|(i, c)| {
                u16::try_from(i)
                    .ok()
                    .and_then(|i| x.checked_add(i))
                    .filter(|&cx| cx < area.width)
                    .is_some_and(|cx| buffer[(cx, y)].symbol() == c.to_string())
            });
            if fits {
                return Some((x, y));
            }
        }
    }
    None
}

#[test]
fn services_view_lists_ranked_services_with_band_colours() {
    let buffer = render(&app(), &Theme::default(), 100, 30);
    let screen = text(&buffer);
    assert!(
        screen.contains("payment is the most likely root cause (87%)"),
        "{screen}"
    );
    for needle in [
        "SERVICE",
        "P(OUTAGE)",
        "payment",
        "orders",
        "front-end",
        " 87% RED",
        " 30% YEL",
        "  5% GRN",
    ] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
    let payment_row = screen
        .lines()
        .position(|l| l.contains("payment  "))
        .unwrap();
    let orders_row = screen.lines().position(|l| l.contains("orders  ")).unwrap();
    assert!(payment_row < orders_row, "ranked order:\n{screen}");
    let (x, y) = find(&buffer, "87%").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    let (x, y) = find(&buffer, "30%").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Yellow);
    assert!(
        screen.contains("sim: 06-payment-pod-failure-one fault"),
        "status bar:\n{screen}"
    );
    assert!(
        screen.contains("analysis 42 ms") && screen.contains("LIVE 20×"),
        "{screen}"
    );
    assert!(screen.contains("▶"), "selection marker:\n{screen}");
}

#[test]
fn graph_view_shows_nodes_edges_and_the_explanation() {
    let mut app = app();
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Graph);
    let buffer = render(&app, &Theme::default(), 100, 30);
    let screen = text(&buffer);
    for needle in [
        "payment 87%",
        "orders 30%",
        "front-end 5%",
        "selected: payment",
        "explains: front-end ← orders ← payment",
        "trace error_rate: 0.800 vs baseline 0.010",
    ] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
    let (x, y) = find(&buffer, "payment 87%").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    let front = find(&buffer, "front-end 5%").unwrap();
    let orders = find(&buffer, "orders 30%").unwrap();
    let payment = find(&buffer, "payment 87%").unwrap();
    assert!(
        front.0 < orders.0 && orders.0 < payment.0,
        "layered left to right:\n{screen}"
    );
    assert!(
        screen
            .chars()
            .any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "braille edges:\n{screen}"
    );
}

#[test]
fn logs_view_highlights_error_lines_and_strips_escapes() {
    let mut app = app();
    key(&mut app, KeyCode::Char('3'));
    assert_eq!(app.view, View::Logs);
    let buffer = render(&app, &Theme::default(), 100, 30);
    let screen = text(&buffer);
    assert!(
        screen.contains("Logs: payment (2 lines, 1 flagged)"),
        "{screen}"
    );
    assert!(screen.contains("GET /health 200"));
    assert!(
        screen.contains("! ERROR card authorisation refused"),
        "{screen}"
    );
    assert!(
        !screen.contains('\u{1b}') && !screen.contains("evil"),
        "{screen}"
    );
    let (x, y) = find(&buffer, "ERROR card").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    // The filter hides what does not match.
    key(&mut app, KeyCode::Char('/'));
    for c in "health".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    let screen = text(&render(&app, &Theme::default(), 100, 30));
    assert!(
        screen.contains("GET /health 200") && !screen.contains("authorisation"),
        "{screen}"
    );
}

#[test]
fn traces_view_lists_error_traces_and_opens_a_waterfall() {
    let mut app = app();
    key(&mut app, KeyCode::Char(':'));
    for c in "traces".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    let screen = text(&render(&app, &Theme::default(), 100, 30));
    assert!(
        screen.contains("Traces: payment (1 error or slow)"),
        "{screen}"
    );
    assert!(
        screen.contains("0123456789abcdef")
            && screen.contains("ERR")
            && screen.contains("POST /orders"),
        "{screen}"
    );
    key(&mut app, KeyCode::Enter);
    let buffer = render(&app, &Theme::default(), 100, 30);
    let screen = text(&buffer);
    assert!(
        screen.contains("Trace 0123456789abcdef0123456789abcdef (120.0 ms, 2 spans)"),
        "{screen}"
    );
    assert!(
        screen.contains("  payment payment.authorise"),
        "indented child:\n{screen}"
    );
    assert!(screen.contains('█'), "{screen}");
    key(&mut app, KeyCode::Esc);
    assert!(app.open_trace.is_none());
}

#[test]
fn metrics_view_shows_golden_signals_against_the_baseline_band() {
    let mut app = app();
    key(&mut app, KeyCode::Char('5'));
    let buffer = render(&app, &Theme::default(), 100, 30);
    let screen = text(&buffer);
    assert!(screen.contains("Metrics: payment"), "{screen}");
    assert!(
        screen.contains("error_ratio")
            && screen.contains("now   0.800")
            && screen.contains("base 0.000–0.010"),
        "{screen}"
    );
    assert!(screen.contains("P(outage)  87% RED"), "{screen}");
    let (x, y) = find(&buffer, "█").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red, "outside the band:\n{screen}");
}

fn past(id: &str, similarity: f64, markdown: &str) -> PastIncident {
    PastIncident {
        similar: SimilarIncident {
            id: id.to_owned(),
            title: format!("{id} title"),
            root_cause: "payment".to_owned(),
            fault_class: "http-abort".to_owned(),
            remediation: "rolled back \u{1b}[31mpayment".to_owned(),
            summary: "Payment answered 503.".to_owned(),
            similarity,
        },
        markdown: markdown.to_owned(),
    }
}

#[test]
fn incidents_list_the_similar_past_incidents_and_open_a_postmortem() {
    let mut app = app();
    let mut snapshot = app.snapshot.clone().unwrap();
    let long: String = (0..80).map(|i| format!("line {i}\n")).collect();
    snapshot.past = vec![
        past(
            "pm-2026-01-02-payment-abort",
            0.91,
            "# Payment abort\n\n\u{1b}]0;pwned\u{7}## Summary\nPayment answered 503.",
        ),
        past("playbook-http-abort", 0.55, &long),
    ];
    app.on_live(LiveEvent::Snapshot(Box::new(snapshot)));
    key(&mut app, KeyCode::Char('6'));
    assert_eq!(app.view, View::Incidents);
    let screen = text(&render(&app, &Theme::default(), 120, 30));
    assert!(screen.contains("Similar past incidents (2)"), "{screen}");
    assert!(
        screen.contains("0.91  pm-2026-01-02-payment-abort"),
        "{screen}"
    );
    assert!(screen.contains("Fixed by: rolled back payment"), "{screen}");
    assert!(!screen.contains('\u{1b}'));
    key(&mut app, KeyCode::Enter);
    let screen = text(&render(&app, &Theme::default(), 120, 30));
    assert!(screen.contains("# Payment abort"), "{screen}");
    assert!(
        !screen.contains("pwned\u{7}") && !screen.contains('\u{1b}'),
        "{screen}"
    );
    key(&mut app, KeyCode::Esc);
    assert!(app.open_incident.is_none());
    assert_eq!(app.view, View::Incidents, "Esc closes the postmortem first");
    // The second one scrolls.
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    for _ in 0..30 {
        key(&mut app, KeyCode::Char('j'));
    }
    let screen = text(&render(&app, &Theme::default(), 120, 30));
    assert!(
        screen.contains("line 30") && !screen.contains("line 29 "),
        "{screen}"
    );
    // A filter narrows the list.
    key(&mut app, KeyCode::Esc);
    app.on_key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE));
    for c in "playbook".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.visible_incidents().len(), 1);
}

#[test]
fn incidents_say_why_the_list_is_empty() {
    let mut app = app();
    let mut snapshot = app.snapshot.clone().unwrap();
    snapshot.past_problem = Some("knowledge base unavailable: locked".to_owned());
    app.on_live(LiveEvent::Snapshot(Box::new(snapshot)));
    key(&mut app, KeyCode::Char('6'));
    let screen = text(&render(&app, &Theme::default(), 100, 30));
    assert!(
        screen.contains("knowledge base unavailable: locked"),
        "{screen}"
    );
}

fn experiment_status(now: i64) -> SourceStatus {
    SourceStatus {
        now: at(now),
        experiment: Some(crate::live::ExperimentInfo {
            scenario: "06-payment-pod-failure-one".to_owned(),
            root_cause: "payment".to_owned(),
            fault_class: "pod-failure".to_owned(),
            chaos_kind: "PodChaos".to_owned(),
            path: None,
            fault_start: at(180),
            fault_end: at(420),
        }),
        ..sample_snapshot().source
    }
}

#[test]
fn the_experiments_view_records_a_timeline_and_saves_a_postmortem() {
    let mut app = App::new();
    app.on_live(LiveEvent::Status(experiment_status(100)));
    key(&mut app, KeyCode::Char('8'));
    let screen = text(&render(&app, &Theme::default(), 110, 30));
    assert!(screen.contains("Not recording. Press r"), "{screen}");
    assert!(
        screen.contains("Playing 06-payment-pod-failure-one: pod-failure on payment"),
        "{screen}"
    );
    key(&mut app, KeyCode::Char('r'));
    assert!(app.recording.as_ref().is_some_and(|r| r.is_running()));
    app.on_live(LiveEvent::Status(experiment_status(200)));
    let mut snapshot = sample_snapshot();
    snapshot.source = experiment_status(300);
    snapshot.analysis = Some(crate::live::recording::payment_analysis());
    app.on_live(LiveEvent::Snapshot(Box::new(snapshot)));
    let screen = text(&render(&app, &Theme::default(), 110, 30));
    assert!(screen.contains("● REC since"), "{screen}");
    assert!(screen.contains("fault-start"), "{screen}");
    assert!(screen.contains("payment turned red (87 %)"), "{screen}");
    // Ranked first at 300 s, 120 s after the fault start at 180 s.
    assert!(screen.contains("MTTD 2m"), "{screen}");
    let requests = app.on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE));
    let [crate::console::state::Request::Save(record)] = requests.as_slice() else {
        panic!("one save request, got {requests:?}");
    };
    assert_eq!(record.root_cause_service, "payment");
    assert_eq!(record.fault_class, "pod-failure");
    assert!(record.id.starts_with("rec-20250101-0"), "{}", record.id);
    let id = record.id.clone();
    let screen = text(&render(&app, &Theme::default(), 110, 30));
    assert!(screen.contains("saving…"), "{screen}");
    app.on_saved(&id, Ok("/kb/rec.md".to_owned()));
    let screen = text(&render(&app, &Theme::default(), 110, 30));
    assert!(screen.contains("/kb/rec.md"), "{screen}");
    assert!(screen.contains("last recording"), "{screen}");
}

#[test]
fn a_recording_without_an_analysis_or_without_a_knowledge_base_is_not_saved() {
    let mut app = app();
    key(&mut app, KeyCode::Char('r'));
    let requests = app.on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE));
    assert!(requests.is_empty());
    assert!(
        app.message
            .as_deref()
            .is_some_and(|m| m.contains("no analysis finished")),
        "{:?}",
        app.message
    );
    let mut off = self::app();
    off.can_save = false;
    key(&mut off, KeyCode::Char('r'));
    let requests = off.on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE));
    assert!(requests.is_empty());
    assert!(
        off.message
            .as_deref()
            .is_some_and(|m| m.contains("--no-kb"))
    );
}

#[test]
fn the_status_bar_shows_each_live_source() {
    let mut app = app();
    let mut status = sample_snapshot().source;
    status.phase = Phase::Live;
    status.health = vec![
        crate::live::PartHealth {
            part: "logs".to_owned(),
            ok: true,
            detail: "12 new".to_owned(),
        },
        crate::live::PartHealth {
            part: "metrics".to_owned(),
            ok: false,
            detail: "prometheus: connection refused\u{1b}[31m".to_owned(),
        },
    ];
    app.on_live(LiveEvent::Status(status));
    let screen = text(&render(&app, &Theme::default(), 160, 30));
    assert!(screen.contains("logs✓"), "{screen}");
    assert!(
        screen.contains("metrics✗ prometheus: connection refused"),
        "{screen}"
    );
    assert!(screen.contains("│ LIVE │"), "{screen}");
    assert!(!screen.contains('\u{1b}'));
}

#[test]
fn no_color_draws_no_colours_but_keeps_band_tags() {
    let theme = Theme::new(Palette::Default, true);
    let buffer = render(&app(), &theme, 100, 30);
    for cell in buffer.content() {
        assert_eq!(cell.fg, Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, Color::Reset, "{cell:?}");
    }
    assert!(text(&buffer).contains(" 87% RED"));
    let cb = render(&app(), &Theme::new(Palette::ColorBlind, false), 100, 30);
    let (x, y) = find(&cb, "87%").unwrap();
    assert_eq!(cb[(x, y)].fg, Color::Rgb(0xD5, 0x5E, 0x00));
}

#[test]
fn every_view_survives_tiny_and_small_terminals() {
    let mut app = app();
    let theme = Theme::default();
    for size in [(20, 5), (80, 24), (1, 1), (0, 0), (200, 60)] {
        for digit in '1'..='8' {
            key(&mut app, KeyCode::Char(digit));
            let _ = render(&app, &theme, size.0, size.1);
            key(&mut app, KeyCode::Enter);
            let _ = render(&app, &theme, size.0, size.1);
            key(&mut app, KeyCode::Char('?'));
            let _ = render(&app, &theme, size.0, size.1);
            key(&mut app, KeyCode::Esc);
            key(&mut app, KeyCode::Char(':'));
            key(&mut app, KeyCode::Char('x'));
            let _ = render(&app, &theme, size.0, size.1);
            key(&mut app, KeyCode::Esc);
        }
    }
    // Before the first ranking: no probabilities are shown, only the reason.
    let mut warming = App::new();
    let mut snapshot = sample_snapshot();
    snapshot.problem = Some("learning normal behaviour".to_owned());
    warming.on_live(LiveEvent::Snapshot(Box::new(snapshot)));
    let screen = text(&render(&warming, &theme, 100, 30));
    assert!(
        screen.contains("learning normal behaviour") && screen.contains("payment"),
        "{screen}"
    );
    assert!(
        !screen.contains("87%") && !screen.contains("RED"),
        "{screen}"
    );
    let empty = App::new();
    let screen = text(&render(&empty, &theme, 80, 24));
    assert!(
        screen.contains("waiting for the first analysis"),
        "{screen}"
    );
    let _ = render(&empty, &theme, 20, 5);
}

#[test]
fn help_shows_the_keys_of_the_current_view() {
    let mut app = app();
    key(&mut app, KeyCode::Char('4'));
    key(&mut app, KeyCode::Char('?'));
    let screen = text(&render(&app, &Theme::default(), 100, 30));
    assert!(
        screen.contains("Help: Traces") && screen.contains("waterfall of the trace"),
        "{screen}"
    );
}

#[test]
fn chat_answers_a_suggested_question_about_the_snapshot() {
    let mut app = app();
    app.switch_to(View::Chat);
    let before = text(&render(&app, &Theme::new(Palette::Default, false), 100, 30));
    assert!(before.contains("Suggested questions"), "{before}");
    assert!(before.contains("1  What is failing?"), "{before}");
    key(&mut app, KeyCode::Char('1'));
    assert_eq!(
        app.view,
        View::Chat,
        "digits ask questions in the chat, not switch views"
    );
    let after = text(&render(&app, &Theme::new(Palette::Default, false), 100, 30));
    assert!(after.contains("> What is failing?"), "{after}");
    assert!(
        after.contains("payment is the most likely root cause [payment]"),
        "{after}"
    );
    assert!(after.contains("87 %"), "{after}");
    // The suggestions moved on.
    assert!(after.contains("Why do you suspect payment?"), "{after}");
    key(&mut app, KeyCode::Char('2'));
    assert_eq!(app.chat.len(), 2);
}

#[test]
fn the_logs_filter_is_cached_per_snapshot_and_follows_changes() {
    let mut app = app();
    key(&mut app, KeyCode::Char('3'));
    let typed = |app: &mut App, text: &str| {
        key(app, KeyCode::Char('/'));
        for _ in 0..20 {
            key(app, KeyCode::Backspace);
        }
        for c in text.chars() {
            key(app, KeyCode::Char(c));
        }
        key(app, KeyCode::Enter);
    };
    typed(&mut app, "health");
    let screen = text(&render(&app, &Theme::default(), 100, 20));
    assert!(
        screen.contains("GET /health 200") && screen.contains("(1 lines"),
        "{screen}"
    );
    assert!(!screen.contains("authorisation"), "{screen}");
    typed(&mut app, "!health");
    let screen = text(&render(&app, &Theme::default(), 100, 20));
    assert!(
        screen.contains("authorisation") && !screen.contains("GET /health"),
        "{screen}"
    );
    // A new snapshot with another line: the cached matches are recomputed.
    let mut snapshot = sample_snapshot();
    snapshot.services[0].logs.push(LogLine {
        timestamp: at(20),
        line: "ERROR gateway timeout".to_owned(),
        flagged: true,
    });
    app.on_live(LiveEvent::Snapshot(Box::new(snapshot)));
    let screen = text(&render(&app, &Theme::default(), 100, 20));
    assert!(
        screen.contains("gateway timeout") && screen.contains("(2 lines"),
        "{screen}"
    );
}

#[test]
fn a_filter_over_a_large_buffer_is_spread_over_frames_newest_first() {
    let mut app = app();
    let mut snapshot = sample_snapshot();
    let lines = 50_000_usize;
    snapshot.services[0].logs = (0..lines)
        .map(|n| LogLine {
            timestamp: at(1),
            line: if n == 10 || n == lines - 3 {
                format!("ERROR needle {n}")
            } else {
                format!("shipment {n} queued")
            },
            flagged: n == 10,
        })
        .collect();
    app.on_live(LiveEvent::Snapshot(Box::new(snapshot)));
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('/'));
    for c in "needle".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    // The first frame tests the newest 10,000 lines only: the newest match is on screen, the
    // count is a lower bound with the progress.
    let first = text(&render(&app, &Theme::default(), 100, 20));
    assert!(first.contains("ERROR needle 49997"), "{first}");
    assert!(!first.contains("ERROR needle 10"), "{first}");
    assert!(
        first.contains("(1+ … filtering 20 % lines, 0 flagged"),
        "{first}"
    );
    let second = text(&render(&app, &Theme::default(), 100, 20));
    assert!(second.contains("filtering 40 %"), "{second}");
    for _ in 0..2 {
        let _ = render(&app, &Theme::default(), 100, 20);
    }
    let fifth = text(&render(&app, &Theme::default(), 100, 20));
    assert!(
        fifth.contains("ERROR needle 10") && fifth.contains("ERROR needle 49997"),
        "{fifth}"
    );
    assert!(fifth.contains("(2 lines, 1 flagged)"), "{fifth}");
    let cached = app.log_matches.borrow().clone().expect("cache");
    assert_eq!(cached.newest_first, vec![lines - 3, 10]);
    assert!(cached.complete());
}

#[test]
fn log_matches_scan_newest_first_within_the_budget() {
    use crate::console::state::LogMatches;
    let mut matches = LogMatches::new(1, "s", "x", 10);
    let keeps = |i: usize| i.is_multiple_of(3);
    matches.scan(4, keeps, |i| i == 9);
    assert_eq!(
        (matches.newest_first.clone(), matches.unscanned),
        (vec![9, 6], 6)
    );
    assert_eq!(matches.flagged, 1);
    matches.scan(100, keeps, |_| false);
    assert_eq!(matches.newest_first, vec![9, 6, 3, 0]);
    assert!(matches.complete());
    matches.scan(100, |_| true, |_| true);
    assert_eq!(
        matches.newest_first.len(),
        4,
        "a complete scan adds nothing"
    );
}
