//! One console frame at 200×60 into a `TestBackend`, with 100k log lines held for the selected
//! service: the Services view, and the Logs view without and with a regex filter (matches
//! complete, and the first frame after a snapshot, which tests at most the per-frame budget). Each iteration checks what was drawn.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baynet::console::draw::draw;
use baynet::console::state::App;
use baynet::console::theme::Theme;
use baynet::live::{LiveEvent, LogLine, Phase, ServiceView, Snapshot, SourceStatus};
use baynet::model::Timestamp;
use baynet::rca::Band;
use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::collections::BTreeMap;
use std::hint::black_box;

const NAMES: [&str; 14] = [
    "shipping",
    "orders",
    "front-end",
    "user",
    "carts",
    "catalogue",
    "rabbitmq",
    "payment",
    "session-db",
    "catalogue-db",
    "carts-db",
    "orders-db",
    "user-db",
    "queue-master",
];

fn snapshot() -> Snapshot {
    let services = NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let p = if i == 0 { 0.98 } else { 0.01 };
            ServiceView {
                name: (*name).to_owned(),
                p_root_cause: p,
                p_outage: p,
                band: Band::of(p),
                health: Some(1.0 - p / 2.0),
                anomaly: BTreeMap::new(),
                sparkline: (0..10).map(|w| f64::from(w) / 10.0).collect(),
                p_history: vec![p; 60],
                evidence: Vec::new(),
                explains: Vec::new(),
                logs: if i == 0 {
                    (0..100_000i64)
                        .map(|n| LogLine {
                            timestamp: Timestamp::from_secs(1_735_689_600 + n / 100),
                            line: format!(
                                "level=info msg=\"shipment {n} queued\" caller=rabbitmq.go:{}",
                                n % 97
                            ),
                            flagged: n % 50 == 0,
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                traces: Vec::new(),
                golden: Vec::new(),
            }
        })
        .collect();
    let mut snapshot = Snapshot::empty(SourceStatus {
        label: "sim: bench".to_owned(),
        phase: Phase::Fault,
        now: Timestamp::from_secs(1_735_690_600),
        speed: 20.0,
        paused: false,
        buffered_logs: 100_000,
        health: Vec::new(),
        experiment: None,
    });
    snapshot.services = services;
    snapshot.problem = None;
    snapshot.verdict = "shipping is the most likely root cause".to_owned();
    snapshot
}

fn row(buffer: &ratatui::buffer::Buffer, y: u16) -> String {
    (0..buffer.area.width)
        .map(|x| buffer[(x, y)].symbol())
        .collect()
}

fn shows(buffer: &ratatui::buffer::Buffer, text: &str) -> bool {
    (0..buffer.area.height).any(|y| row(buffer, y).contains(text))
}

fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn frame(c: &mut Criterion) {
    let theme = Theme::default();
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut app = App::new();
    app.on_live(LiveEvent::Snapshot(Box::new(snapshot())));
    let mut group = c.benchmark_group("console_frame_200x60");
    group.bench_function("services", |b| {
        b.iter(|| {
            terminal.draw(|f| draw(f, black_box(&app), &theme)).unwrap();
            let first = row(terminal.backend().buffer(), 5);
            assert!(
                first.contains("shipping") && first.contains("98% RED"),
                "{first}"
            );
        });
    });
    press(&mut app, KeyCode::Char('3'));
    group.bench_function("logs_100k_lines", |b| {
        b.iter(|| {
            terminal.draw(|f| draw(f, black_box(&app), &theme)).unwrap();
            assert!(row(terminal.backend().buffer(), 57).contains("shipment 99999 queued"));
        });
    });
    press(&mut app, KeyCode::Char('/'));
    for c in "shipment 9+ queued".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    assert!(app.filter.is_some());
    // Steady state: the filter's matches are complete for this snapshot.
    for _ in 0..10 {
        terminal.draw(|f| draw(f, &app, &theme)).unwrap();
    }
    assert!(
        app.log_matches
            .borrow()
            .as_ref()
            .is_some_and(baynet::console::state::LogMatches::complete)
    );
    group.bench_function("logs_100k_lines_regex_filter_matched", |b| {
        b.iter(|| {
            terminal.draw(|f| draw(f, black_box(&app), &theme)).unwrap();
            assert!(shows(terminal.backend().buffer(), "shipment 99999 queued"));
        });
    });
    // The worst frame: the first after a snapshot, which tests the newest lines within the
    // per-frame budget (the matches are dropped before each frame).
    group.bench_function("logs_100k_lines_regex_filter_first_frame", |b| {
        b.iter(|| {
            app.log_matches.borrow_mut().take();
            terminal.draw(|f| draw(f, black_box(&app), &theme)).unwrap();
            assert!(shows(terminal.backend().buffer(), "shipment 99999 queued"));
        });
    });
    // Before the budget: the whole buffer through the regex in one frame.
    let filter = app.filter.clone().unwrap();
    let logs = &app.snapshot.as_ref().unwrap().services[0].logs;
    group.bench_function("regex_over_100k_lines_unbudgeted", |b| {
        b.iter(|| {
            let kept = logs.iter().filter(|l| filter.keeps(&l.line)).count();
            assert_eq!(kept, 5);
        });
    });
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
