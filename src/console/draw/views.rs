//! The list views: Services, Logs, Traces (with the waterfall), Metrics, and the tabs of later
//! issues.

use super::{band_style, empty_line, percent_with_band, sanitize, sparkline, titled};
use crate::console::state::{App, View};
use crate::console::theme::Theme;
use crate::live::{GoldenView, LogLine, TraceSummary};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

fn waiting(app: &App) -> String {
    match &app.snapshot {
        Some(snapshot) => snapshot
            .problem
            .clone()
            .unwrap_or_else(|| "no services in the data".to_owned()),
        None => "waiting for the first analysis…".to_owned(),
    }
}

/// Services ranked by P(root cause), with health, sparkline and P(outage) in band colours.
pub fn services(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let [verdict_area, table_area] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
    let verdict = match &app.snapshot {
        Some(snapshot) if snapshot.problem.is_none() => snapshot.verdict.clone(),
        _ => waiting(app),
    };
    let incident = app.snapshot.as_ref().is_some_and(|s| s.incident);
    frame.render_widget(
        Paragraph::new(Line::styled(
            sanitize(&verdict),
            if incident {
                theme.alert()
            } else {
                theme.accent()
            },
        ))
        .wrap(Wrap { trim: true }),
        verdict_area,
    );
    let ranked = app.snapshot.as_ref().is_some_and(|s| s.problem.is_none());
    let visible = app.visible_services();
    let spark_width = usize::from(table_area.width.saturating_sub(58)).clamp(4, 40);
    let rows: Vec<Row<'_>> = visible
        .iter()
        .map(|service| {
            let selected = app.selected.as_deref() == Some(service.name.as_str());
            let health = service
                .health
                .map_or_else(|| "  –".to_owned(), |h| format!("{h:.2}"));
            let row = Row::new(vec![
                Cell::from(if selected { "▶" } else { " " }),
                Cell::from(sanitize(&service.name)),
                if ranked {
                    Cell::from(Span::styled(
                        percent_with_band(service),
                        band_style(service, theme),
                    ))
                } else {
                    Cell::from("   –")
                },
                Cell::from(if ranked {
                    format!("{:>5.1}%", service.p_root_cause * 100.0)
                } else {
                    "     –".to_owned()
                }),
                Cell::from(health),
                Cell::from(Span::styled(
                    sparkline(&service.sparkline, spark_width, 1.0),
                    band_style(service, theme),
                )),
            ]);
            if selected {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    let title = match &app.filter {
        Some(filter) => format!(" Services ({}) /{} ", visible.len(), sanitize(&filter.text)),
        None => format!(" Services ({}) ", visible.len()),
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(16),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Min(4),
        ],
    )
    .header(
        Row::new(vec![
            "",
            "SERVICE",
            "P(OUTAGE)",
            "P(ROOT)",
            "HEALTH",
            "ANOMALY",
        ])
        .style(theme.accent()),
    )
    .block(titled(title, theme));
    frame.render_widget(table, table_area);
}

/// Recent log lines of the selected service, error-looking lines highlighted.
pub fn logs(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let Some(service) = app.selected_service() else {
        frame.render_widget(
            empty_line(&waiting(app), theme).block(titled(" Logs ".to_owned(), theme)),
            area,
        );
        return;
    };
    let height = usize::from(area.height.saturating_sub(2));
    let logs = &service.logs;
    // The lines on screen (oldest first), how many lines pass, how many of them are flagged,
    // and how far a running filter has got.
    let (on_screen, count, flagged, progress): (Vec<&LogLine>, usize, usize, Option<usize>) =
        match &app.filter {
            None => {
                let end = logs.len().saturating_sub(app.log_scroll);
                let start = end.saturating_sub(height);
                (
                    logs[start..end].iter().collect(),
                    logs.len(),
                    logs.iter().filter(|l| l.flagged).count(),
                    None,
                )
            }
            Some(filter) => {
                let mut cache = app.log_matches.borrow_mut();
                let matches = match cache.take() {
                    Some(c)
                        if c.generation == app.generation
                            && c.service == service.name
                            && c.filter == filter.text
                            && c.total == logs.len() =>
                    {
                        c
                    }
                    _ => crate::console::state::LogMatches::new(
                        app.generation,
                        &service.name,
                        &filter.text,
                        logs.len(),
                    ),
                };
                let matches = cache.insert(matches);
                if !matches.complete() {
                    matches.scan(
                        crate::console::state::LogMatches::LINES_PER_FRAME,
                        |i| logs.get(i).is_some_and(|l| filter.keeps(&l.line)),
                        |i| logs.get(i).is_some_and(|l| l.flagged),
                    );
                }
                let mut on_screen: Vec<&LogLine> = matches
                    .newest_first
                    .iter()
                    .skip(app.log_scroll)
                    .take(height)
                    .filter_map(|&i| logs.get(i))
                    .collect();
                on_screen.reverse();
                let progress = (!matches.complete())
                    .then(|| 100 - matches.unscanned * 100 / matches.total.max(1));
                (
                    on_screen,
                    matches.newest_first.len(),
                    matches.flagged,
                    progress,
                )
            }
        };
    let shown: Vec<Line<'_>> = on_screen
        .iter()
        .map(|l| {
            let text = format!(
                "{} {}{}",
                l.timestamp.format("%H:%M:%S"),
                if l.flagged { "! " } else { "  " },
                sanitize(&l.line)
            );
            if l.flagged {
                Line::styled(text, theme.alert())
            } else {
                Line::raw(text)
            }
        })
        .collect();
    let count = match progress {
        None => count.to_string(),
        Some(percent) => format!("{count}+ … filtering {percent} %"),
    };
    let title = format!(
        " Logs: {} ({} lines, {} flagged{}) ",
        sanitize(&service.name),
        count,
        flagged,
        if app.log_scroll > 0 {
            format!(", {} up", app.log_scroll)
        } else {
            String::new()
        }
    );
    if shown.is_empty() {
        frame.render_widget(
            empty_line("no log lines from this service in the window", theme)
                .block(titled(title, theme)),
            area,
        );
    } else {
        frame.render_widget(Paragraph::new(shown).block(titled(title, theme)), area);
    }
}

/// Error and slow traces of the selected service; the waterfall of the open one.
pub fn traces(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let Some(service) = app.selected_service() else {
        frame.render_widget(
            empty_line(&waiting(app), theme).block(titled(" Traces ".to_owned(), theme)),
            area,
        );
        return;
    };
    if let Some(id) = &app.open_trace
        && let Some(trace) = service.traces.iter().find(|t| &t.trace_id == id)
    {
        waterfall(frame, area, trace, theme);
        return;
    }
    let visible = app.visible_traces();
    let rows: Vec<Row<'_>> = visible
        .iter()
        .enumerate()
        .map(|(index, trace)| {
            let kind = match (trace.error, trace.slow) {
                (true, true) => "ERR+SLOW",
                (true, false) => "ERR",
                _ => "SLOW",
            };
            let row = Row::new(vec![
                Cell::from(trace.start.format("%H:%M:%S")),
                Cell::from(trace.trace_id.chars().take(16).collect::<String>()),
                Cell::from(Span::styled(
                    kind,
                    if trace.error {
                        theme.alert()
                    } else {
                        theme.band(crate::rca::Band::Yellow)
                    },
                )),
                Cell::from(format!("{:>8.1} ms", trace.duration_ms)),
                Cell::from(format!("{:>3}", trace.spans.len())),
                Cell::from(sanitize(&trace.root)),
            ]);
            if index == app.trace_cursor {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    let title = format!(
        " Traces: {} ({} error or slow) ",
        sanitize(&service.name),
        visible.len()
    );
    if rows.is_empty() {
        frame.render_widget(
            empty_line(
                "no error or slow traces of this service in the window",
                theme,
            )
            .block(titled(title, theme)),
            area,
        );
        return;
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Length(11),
            Constraint::Length(3),
            Constraint::Min(8),
        ],
    )
    .header(Row::new(vec!["TIME", "TRACE", "KIND", "DURATION", "SP", "ROOT"]).style(theme.accent()))
    .block(titled(title, theme));
    frame.render_widget(table, area);
}

fn waterfall(frame: &mut Frame<'_>, area: Rect, trace: &TraceSummary, theme: &Theme) {
    let label_width = (usize::from(area.width.saturating_sub(2)) * 2 / 5).clamp(10, 44);
    let bar_width = usize::from(area.width.saturating_sub(2))
        .saturating_sub(label_width + 12)
        .max(1);
    let total = trace.duration_ms.max(0.001);
    let lines: Vec<Line<'_>> = trace
        .spans
        .iter()
        .map(|span| {
            let label: String = format!(
                "{}{} {}",
                "  ".repeat(span.depth.min(10)),
                sanitize(&span.service),
                sanitize(&span.name)
            )
            .chars()
            .take(label_width)
            .collect();
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let (offset, length) = (
                ((span.offset_ms / total) * bar_width as f64)
                    .floor()
                    .max(0.0) as usize,
                ((span.duration_ms / total) * bar_width as f64)
                    .ceil()
                    .max(1.0) as usize,
            );
            let offset = offset.min(bar_width.saturating_sub(1));
            let length = length.min(bar_width - offset);
            let style = if span.error {
                theme.alert()
            } else {
                theme.accent()
            };
            Line::from(vec![
                Span::raw(format!("{label:<label_width$}")),
                Span::raw(" ".repeat(offset)),
                Span::styled("█".repeat(length), style),
                Span::raw(" ".repeat(bar_width - offset - length)),
                Span::styled(
                    format!(
                        " {:>8.1}ms{}",
                        span.duration_ms,
                        if span.error { " ERR" } else { "" }
                    ),
                    style,
                ),
            ])
        })
        .collect();
    let title = format!(
        " Trace {} ({:.1} ms, {} spans) Esc: back ",
        &trace.trace_id,
        trace.duration_ms,
        trace.spans.len()
    );
    frame.render_widget(Paragraph::new(lines).block(titled(title, theme)), area);
}

fn format_value(value: f64) -> String {
    if !value.is_finite() {
        "–".to_owned()
    } else if value.abs() >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if value.abs() >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

fn golden_line(view: &GoldenView, width: usize, theme: &Theme) -> Line<'static> {
    let label = format!("{:<15}", view.signal);
    let latest = view
        .values
        .iter()
        .rev()
        .find(|v| v.is_finite())
        .copied()
        .unwrap_or(f64::NAN);
    let band = match (view.baseline_low, view.baseline_high) {
        (Some(low), Some(high)) => format!(" base {}–{}", format_value(low), format_value(high)),
        _ => " base –".to_owned(),
    };
    let head = format!("{label} now {:>7}{band:<20} ", format_value(latest));
    let spark_width = width.saturating_sub(head.chars().count()).max(1);
    let start = view.values.len().saturating_sub(spark_width);
    let values = &view.values[start..];
    let max = values
        .iter()
        .copied()
        .chain(view.baseline_high)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let mut spans = vec![Span::raw(head)];
    for &value in values {
        let outside = match (view.baseline_low, view.baseline_high) {
            (Some(low), Some(high)) if value.is_finite() => {
                let margin = (high - low).abs().max(high.abs() * 0.05).max(1e-9) * 0.5;
                value > high + margin || value < low - margin
            }
            _ => false,
        };
        let glyph = sparkline(&[value], 1, max);
        spans.push(if outside {
            Span::styled(glyph, theme.alert())
        } else {
            Span::raw(glyph)
        });
    }
    Line::from(spans)
}

/// Golden signals of the selected service as sparklines against their baseline band.
pub fn metrics(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let Some(service) = app.selected_service() else {
        frame.render_widget(
            empty_line(&waiting(app), theme).block(titled(" Metrics ".to_owned(), theme)),
            area,
        );
        return;
    };
    let title = format!(
        " Metrics: {} (golden signals, 15 s steps; red = outside the baseline band) ",
        sanitize(&service.name)
    );
    if service.golden.is_empty() {
        frame.render_widget(
            empty_line("no metric series for this service", theme).block(titled(title, theme)),
            area,
        );
        return;
    }
    let width = usize::from(area.width.saturating_sub(2));
    let mut lines: Vec<Line<'_>> = Vec::new();
    for view in &service.golden {
        lines.push(golden_line(view, width, theme));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(
            "P(outage) {}  history {}",
            percent_with_band(service),
            sparkline(&service.p_history, width.saturating_sub(30).max(1), 1.0)
        ),
        theme.band(service.band),
    ));
    frame.render_widget(Paragraph::new(lines).block(titled(title, theme)), area);
}

/// The tabs of features that come with later issues: says so plainly.
/// The Experiments view: the recording in progress (or the last one) with its timeline, what
/// the simulation is playing, and the postmortems saved in this session.
pub fn experiments(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let record_key = app.keymap.keys_of(crate::console::keys::Action::Record);
    let mut lines: Vec<Line<'_>> = Vec::new();
    let fmt = |t: crate::model::Timestamp| t.format("%H:%M:%S");
    let since = |from: crate::model::Timestamp, to: crate::model::Timestamp| {
        crate::model::time::format_duration(std::time::Duration::from_secs(
            to.since(from).as_secs(),
        ))
    };
    match &app.recording {
        Some(recording) => {
            let now = app.status.as_ref().map_or(recording.started, |s| s.now);
            let head = if recording.is_running() {
                Line::from(vec![
                    Span::styled("● REC ", theme.alert()),
                    Span::raw(format!(
                        "since {} ({}) — {} stops and saves",
                        fmt(recording.started),
                        since(recording.started, now),
                        record_key
                    )),
                ])
            } else {
                Line::styled(
                    format!(
                        "last recording {}–{}",
                        fmt(recording.started),
                        fmt(recording.stopped.unwrap_or(now))
                    ),
                    theme.accent(),
                )
            };
            lines.push(head);
            if let Some(e) = &recording.experiment {
                lines.push(Line::raw(format!(
                    "experiment {} — {} on {} (the injected fault is known)",
                    sanitize(&e.scenario),
                    sanitize(&e.fault_class),
                    sanitize(&e.root_cause)
                )));
            } else {
                lines.push(Line::raw(format!("source {}", sanitize(&recording.source))));
            }
            let secs = |v: Option<f64>| {
                v.map_or_else(
                    || "–".to_owned(),
                    |s| {
                        crate::model::time::format_duration(std::time::Duration::from_secs_f64(
                            s.max(0.0).round(),
                        ))
                    },
                )
            };
            lines.push(Line::raw(format!(
                "MTTD {}   MTTR {}   analyses {}",
                secs(recording.mttd_secs()),
                secs(recording.mttr_secs()),
                recording.analyses
            )));
            lines.push(Line::raw(""));
            for entry in &recording.timeline {
                let style = match entry.kind {
                    "detected" | "red" => theme.alert(),
                    "fault-start" | "fault-end" => theme.accent(),
                    _ => ratatui::style::Style::default(),
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{} ", fmt(entry.at)), theme.dim()),
                    Span::styled(format!("{:<16}", entry.kind), style),
                    Span::raw(sanitize(&entry.detail)),
                ]));
            }
        }
        None => {
            lines.push(Line::raw(format!(
                "Not recording. Press {record_key} to record this experiment or incident: the \
                 timeline, MTTD and MTTR are kept until you press {record_key} again, then a \
                 postmortem is saved into your knowledge directory."
            )));
            if let Some(e) = app.status.as_ref().and_then(|s| s.experiment.as_ref()) {
                lines.push(Line::raw(""));
                lines.push(Line::raw(format!(
                    "Playing {}: {} on {}, fault {}–{}",
                    sanitize(&e.scenario),
                    sanitize(&e.fault_class),
                    sanitize(&e.root_cause),
                    fmt(e.fault_start),
                    fmt(e.fault_end)
                )));
            }
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                "On a cluster, `baynet experiment run scenarios/FILE.yaml --live --apply` applies a Chaos Mesh manifest and records it.",
                theme.dim(),
            ));
        }
    }
    if !app.saved.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled("Saved in this session", theme.accent()));
        for saved in app.saved.iter().rev() {
            let (text, style) = match &saved.outcome {
                None => ("saving…".to_owned(), theme.dim()),
                Some(Ok(path)) => (sanitize(path), ratatui::style::Style::default()),
                Some(Err(error)) => (format!("not saved: {}", sanitize(error)), theme.alert()),
            };
            lines.push(Line::from(vec![
                Span::raw(format!("{}  ", sanitize(&saved.id))),
                Span::styled(text, style),
            ]));
        }
    }
    // Keep the newest timeline lines in view.
    let inner = usize::from(area.height.saturating_sub(2));
    let skip = lines.len().saturating_sub(inner);
    let lines: Vec<Line<'_>> = if skip > 0 && app.saved.is_empty() {
        let mut kept = lines[..3.min(lines.len())].to_vec();
        kept.extend(lines.into_iter().skip(skip + 3));
        kept
    } else {
        lines
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(titled(format!(" {} ", View::Experiments.title()), theme)),
        area,
    );
}

/// The Incidents view: past incidents and playbooks like the current situation, most similar
/// first; Enter opens one's postmortem.
pub fn incidents(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    if let Some(open) = app.opened_incident() {
        let title = format!(
            " {} — {} (Esc closes) ",
            sanitize(&open.similar.id),
            sanitize(&open.similar.title)
        );
        let lines: Vec<Line<'_>> = open
            .markdown
            .lines()
            .skip(app.reader_scroll)
            .map(|line| {
                let clean = sanitize(line);
                if clean.starts_with('#') {
                    Line::styled(clean, theme.accent())
                } else {
                    Line::raw(clean)
                }
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(titled(title, theme)),
            area,
        );
        return;
    }
    let visible = app.visible_incidents();
    let title = format!(" Similar past incidents ({}) ", visible.len());
    if visible.is_empty() {
        let why = match &app.snapshot {
            Some(snapshot) => snapshot.past_problem.clone().unwrap_or_else(|| {
                "no similar incident or playbook in the knowledge base".to_owned()
            }),
            None => waiting(app),
        };
        frame.render_widget(empty_line(&why, theme).block(titled(title, theme)), area);
        return;
    }
    let [list, detail] = Layout::vertical([Constraint::Min(3), Constraint::Length(6)]).areas(area);
    let rows: Vec<Row<'_>> = visible
        .iter()
        .enumerate()
        .map(|(index, past)| {
            let row = Row::new(vec![
                Cell::from(format!("{:>4.2}", past.similar.similarity)),
                Cell::from(sanitize(&past.similar.id)),
                Cell::from(sanitize(&past.similar.fault_class)),
                Cell::from(sanitize(&past.similar.root_cause)),
                Cell::from(sanitize(&past.similar.title)),
            ]);
            if index == app.incident_cursor {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(5),
            Constraint::Length(34),
            Constraint::Length(22),
            Constraint::Length(14),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(vec!["SIM", "ID", "FAULT", "ROOT CAUSE", "TITLE"]).style(theme.accent()))
    .block(titled(title, theme));
    frame.render_widget(table, list);
    if let Some(current) = visible.get(app.incident_cursor) {
        let lines = vec![
            Line::raw(sanitize(&current.similar.summary)),
            Line::from(vec![
                Span::styled("Fixed by: ", theme.accent()),
                Span::raw(sanitize(&current.similar.remediation)),
            ]),
        ];
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(titled(
                    " Summary (Enter reads the postmortem) ".to_owned(),
                    theme,
                )),
            detail,
        );
    }
}

/// The Chat view: the conversation (newest at the bottom) and the numbered suggestions.
pub fn chat(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let suggestions = app.chat_suggestions();
    let height = u16::try_from(suggestions.len())
        .unwrap_or(4)
        .saturating_add(2);
    let [talk, choices] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(height)]).areas(area);
    let mut lines: Vec<Line<'static>> = Vec::new();
    if app.chat.is_empty() {
        lines.push(Line::styled(
            "Ask about the current situation: press 1-4 for a suggested question.".to_owned(),
            theme.dim(),
        ));
    }
    for turn in &app.chat {
        lines.push(Line::styled(
            format!("> {}", sanitize(&turn.question)),
            theme.accent(),
        ));
        for text in turn.answer.text.lines() {
            lines.push(Line::raw(sanitize(text)));
        }
        lines.push(Line::raw(String::new()));
    }
    // Keep the newest lines in view: wrapping is approximate, so scroll by line count.
    let inner_height = usize::from(talk.height.saturating_sub(2)).max(1);
    let width = usize::from(talk.width.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(width).max(1)).sum();
    let scroll = u16::try_from(rows.saturating_sub(inner_height)).unwrap_or(u16::MAX);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(titled(" Chat (offline analyst) ".to_owned(), theme)),
        talk,
    );
    let choice_lines: Vec<Line<'static>> = if suggestions.is_empty() {
        vec![Line::styled(
            "waiting for the first ranking".to_owned(),
            theme.dim(),
        )]
    } else {
        suggestions
            .iter()
            .enumerate()
            .map(|(i, q)| {
                Line::from(vec![
                    Span::styled(format!(" {} ", i + 1), theme.selected()),
                    Span::raw(format!(" {}", sanitize(q))),
                ])
            })
            .collect()
    };
    frame.render_widget(
        Paragraph::new(choice_lines).block(titled(" Suggested questions ".to_owned(), theme)),
        choices,
    );
}
