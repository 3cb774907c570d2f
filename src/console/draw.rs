//! Drawing: renders an [`App`] into a ratatui frame. Reads the state, never changes it. Every
//! piece of untrusted text goes through [`sanitize`] first. Any terminal size works; below
//! about 40×8 the views simply show less.

mod graph;
mod views;

use super::sanitize::sanitize;
use super::state::{App, Mode, TABS, View, help_for};
use super::theme::{Theme, band_tag};
use crate::live::ServiceView;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub use graph::layers;

/// Eight levels of a text sparkline.
const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A text sparkline of the last `width` values scaled to `[0, max]` (NaN shows as a space).
#[must_use]
pub fn sparkline(values: &[f64], width: usize, max: f64) -> String {
    let start = values.len().saturating_sub(width);
    values[start..]
        .iter()
        .map(|&v| {
            if !v.is_finite() || max <= 0.0 {
                ' '
            } else {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let level = ((v / max).clamp(0.0, 1.0) * 7.0).round() as usize;
                SPARK[level.min(7)]
            }
        })
        .collect()
}

/// `87% RED`.
#[must_use]
pub fn percent_with_band(service: &ServiceView) -> String {
    format!(
        "{:>3.0}% {}",
        service.p_outage * 100.0,
        band_tag(service.band)
    )
}

/// Draws the whole console.
pub fn draw(frame: &mut Frame<'_>, app: &App, theme: &Theme) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    let prompt = matches!(app.mode, Mode::Command(_) | Mode::Filter(_)) || app.message.is_some();
    let [tabs, body, prompt_area, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(u16::from(prompt)),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(frame, tabs, app, theme);
    match app.view {
        View::Services => views::services(frame, body, app, theme),
        View::Graph => graph::draw(frame, body, app, theme),
        View::Logs => views::logs(frame, body, app, theme),
        View::Traces => views::traces(frame, body, app, theme),
        View::Metrics => views::metrics(frame, body, app, theme),
        View::Chat => views::chat(frame, body, app, theme),
        View::Incidents => views::incidents(frame, body, app, theme),
        View::Experiments => views::experiments(frame, body, app, theme),
    }
    if prompt {
        let line = match &app.mode {
            Mode::Command(text) => Line::from(vec![
                Span::styled(":", theme.accent()),
                Span::raw(sanitize(text)),
                Span::styled("▏", theme.accent()),
            ]),
            Mode::Filter(text) => Line::from(vec![
                Span::styled("/", theme.accent()),
                Span::raw(sanitize(text)),
                Span::styled("▏", theme.accent()),
            ]),
            _ => Line::styled(
                sanitize(app.message.as_deref().unwrap_or_default()),
                theme.alert(),
            ),
        };
        frame.render_widget(Paragraph::new(line), prompt_area);
    }
    draw_status(frame, status, app, theme);
    if app.mode == Mode::Help {
        draw_help(frame, body, app, theme);
    }
}

fn draw_tabs(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let mut spans = vec![Span::styled("baynet ", theme.accent())];
    for (index, view) in TABS.iter().enumerate() {
        let text = format!(" {}:{} ", index + 1, view.title());
        if *view == app.view {
            spans.push(Span::styled(text, theme.selected().patch(theme.accent())));
        } else {
            spans.push(Span::styled(text, theme.dim()));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let mut parts: Vec<Span<'_>> = Vec::new();
    match &app.status {
        Some(status) => parts.push(Span::styled(
            format!("{} {}", sanitize(&status.label), status.phase.as_str()),
            theme.accent(),
        )),
        None => parts.push(Span::raw("starting…")),
    }
    if let Some(status) = &app.status {
        for part in &status.health {
            if part.ok {
                parts.push(Span::raw(format!(" {}✓", sanitize(&part.part))));
            } else {
                let detail: String = sanitize(&part.detail).chars().take(48).collect();
                parts.push(Span::styled(
                    format!(" {}✗ {detail}", sanitize(&part.part)),
                    theme.alert(),
                ));
            }
        }
    }
    let live = if app.paused {
        Span::styled(" │ PAUSED", theme.alert())
    } else if app
        .snapshot
        .as_ref()
        .is_some_and(crate::live::Snapshot::is_offline)
    {
        Span::raw(" │ offline")
    } else if app
        .status
        .as_ref()
        .is_some_and(|s| s.phase == crate::live::Phase::Live)
    {
        Span::raw(" │ LIVE")
    } else {
        Span::raw(format!(
            " │ LIVE {}×",
            app.status.as_ref().map_or(0.0, |s| s.speed)
        ))
    };
    parts.push(live);
    if let Some(snapshot) = &app.snapshot {
        parts.push(Span::raw(format!(
            " │ analysis {} ms",
            snapshot.latency.as_millis()
        )));
    }
    if let Some(status) = &app.status {
        parts.push(Span::raw(format!(" │ {}", status.now.format("%H:%M:%S"))));
    }
    if let Some(window) = app.snapshot.as_ref().and_then(|s| s.window) {
        parts.push(Span::raw(format!(
            " │ window {}–{}",
            window.start.format("%H:%M:%S"),
            window.end.format("%H:%M:%S"),
        )));
    }
    if let Some(filter) = &app.filter {
        parts.push(Span::raw(format!(" │ /{}", sanitize(&filter.text))));
    }
    parts.push(Span::styled(" │ ?:help", theme.dim()));
    frame.render_widget(
        Paragraph::new(Line::from(parts)).style(theme.selected()),
        area,
    );
}

fn draw_help(frame: &mut Frame<'_>, body: Rect, app: &App, theme: &Theme) {
    let view = app.view;
    let rows = help_for(view, &app.keymap);
    let width = body.width.min(96);
    #[allow(clippy::cast_possible_truncation)]
    let height = body.height.min(rows.len() as u16 + 2);
    let area = Rect {
        x: body.x + (body.width - width) / 2,
        y: body.y + (body.height - height) / 2,
        width,
        height,
    };
    let lines: Vec<Line<'_>> = rows
        .into_iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:>17}  "), theme.accent()),
                Span::raw(what),
            ])
        })
        .collect();
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" Help: {} (Esc closes) ", view.title())),
        ),
        area,
    );
}

/// A bordered block with a title.
fn titled(title: String, theme: &Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.accent()))
        .border_style(theme.dim())
}

/// Placeholder style for "nothing to show" lines.
fn empty_line(text: &str, theme: &Theme) -> Paragraph<'static> {
    Paragraph::new(Line::styled(text.to_owned(), theme.dim())).wrap(Wrap { trim: true })
}

/// Style for a text of `band`.
fn band_style(service: &ServiceView, theme: &Theme) -> Style {
    theme.band(service.band)
}

#[cfg(test)]
pub(crate) mod tests;
