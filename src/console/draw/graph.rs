//! The Graph view: services layered by call depth (longest path from the entry points, cycles
//! cut), drawn on a ratatui Canvas with edges and band-coloured labels, and the selected
//! service's explanation and evidence beside it.

use super::{band_style, empty_line, percent_with_band, sanitize, titled};
use crate::console::state::App;
use crate::console::theme::Theme;
use crate::live::ServiceView;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as CanvasLine};
use ratatui::widgets::{Paragraph, Wrap};
use std::collections::BTreeMap;

/// Layers of `names` by call depth over `edges` (`caller → callee`): a node sits one layer
/// right of its deepest caller. Back edges of cycles are ignored (a node is never pushed
/// deeper than the number of nodes). Each layer is sorted by name.
#[must_use]
pub fn layers(names: &[String], edges: &[(String, String)]) -> Vec<Vec<String>> {
    let mut depth: BTreeMap<&str, usize> = names.iter().map(|n| (n.as_str(), 0)).collect();
    for (caller, callee) in edges {
        depth.entry(caller.as_str()).or_insert(0);
        depth.entry(callee.as_str()).or_insert(0);
    }
    let limit = depth.len();
    // Bellman-Ford style relaxation, bounded: a cycle stops growing at `limit`.
    for _ in 0..limit {
        let mut changed = false;
        for (caller, callee) in edges {
            if caller == callee {
                continue;
            }
            let from = depth.get(caller.as_str()).copied().unwrap_or(0);
            let to = depth.get(callee.as_str()).copied().unwrap_or(0);
            if from + 1 > to && from < limit {
                depth.insert(callee.as_str(), from + 1);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut out: Vec<Vec<String>> = Vec::new();
    // Compact: remove empty layers.
    let mut by_depth: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (name, d) in depth {
        by_depth.entry(d).or_default().push(name.to_owned());
    }
    for (_, layer) in by_depth {
        out.push(layer);
    }
    out
}

/// Draws the Graph view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let Some(snapshot) = &app.snapshot else {
        frame.render_widget(
            empty_line("waiting for the first analysis…", theme)
                .block(titled(" Graph ".to_owned(), theme)),
            area,
        );
        return;
    };
    if snapshot.services.is_empty() {
        let text = snapshot
            .problem
            .clone()
            .unwrap_or_else(|| "no services".to_owned());
        frame.render_widget(
            empty_line(&sanitize(&text), theme).block(titled(" Graph ".to_owned(), theme)),
            area,
        );
        return;
    }
    let detail_height = (area.height / 3).clamp(3, 12);
    let [graph_area, detail_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(detail_height)]).areas(area);
    canvas(
        frame,
        graph_area,
        app,
        snapshot.services.as_slice(),
        &snapshot.edges,
        theme,
    );
    details(frame, detail_area, app, theme);
}

fn canvas(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    services: &[ServiceView],
    edges: &[(String, String)],
    theme: &Theme,
) {
    let ranked = app.snapshot.as_ref().is_some_and(|s| s.problem.is_none());
    let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    let layered = layers(&names, edges);
    let inner_width = f64::from(area.width.saturating_sub(2).max(1));
    let inner_height = f64::from(area.height.saturating_sub(2).max(1));
    #[allow(clippy::cast_precision_loss)]
    let column = inner_width / layered.len().max(1) as f64;
    let label_chars = (column as usize).saturating_sub(1).max(4);
    let mut position: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (layer_index, layer) in layered.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let row = inner_height / layer.len().max(1) as f64;
        for (node_index, name) in layer.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let (x, y) = (
                layer_index as f64 * column + 0.5,
                inner_height - (node_index as f64 + 0.5) * row,
            );
            position.insert(name.as_str(), (x, y));
        }
    }
    let by_name: BTreeMap<&str, &ServiceView> =
        services.iter().map(|s| (s.name.as_str(), s)).collect();
    let title = format!(
        " Graph ({} services, {} calls; layered by call depth) ",
        services.len(),
        edges.len()
    );
    let edge_color = if theme.color {
        ratatui::style::Color::DarkGray
    } else {
        ratatui::style::Color::Reset
    };
    let widget = Canvas::default()
        .block(titled(title, theme))
        .marker(Marker::Braille)
        .x_bounds([0.0, inner_width])
        .y_bounds([0.0, inner_height])
        .paint(|ctx| {
            for (caller, callee) in edges {
                if let (Some(&(x1, y1)), Some(&(x2, y2))) =
                    (position.get(caller.as_str()), position.get(callee.as_str()))
                {
                    #[allow(clippy::cast_precision_loss)]
                    let start_x = x1 + (label_chars.min(caller.len() + 5) as f64);
                    ctx.draw(&CanvasLine {
                        x1: start_x.min(x2),
                        y1,
                        x2,
                        y2,
                        color: edge_color,
                    });
                }
            }
            ctx.layer();
            for (name, &(x, y)) in &position {
                let Some(service) = by_name.get(name) else {
                    continue;
                };
                let selected = app.selected.as_deref() == Some(*name);
                let short: String = sanitize(name)
                    .chars()
                    .take(label_chars.saturating_sub(5).max(3))
                    .collect();
                let text = if ranked {
                    format!("{short} {:.0}%", service.p_outage * 100.0)
                } else {
                    short
                };
                let style = if selected {
                    band_style(service, theme).patch(theme.selected())
                } else {
                    band_style(service, theme)
                };
                ctx.print(x, y, Line::from(Span::styled(text, style)));
            }
        });
    frame.render_widget(widget, area);
}

fn details(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let Some(service) = app.selected_service() else {
        frame.render_widget(
            empty_line("no service selected", theme).block(titled(" Selected ".to_owned(), theme)),
            area,
        );
        return;
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("selected: {} ", sanitize(&service.name)),
            theme.accent(),
        ),
        Span::styled(percent_with_band(service), band_style(service, theme)),
        Span::raw(format!(
            "  P(root cause) {:.1}%  health {}",
            service.p_root_cause * 100.0,
            service
                .health
                .map_or_else(|| "–".to_owned(), |h| format!("{h:.2}"))
        )),
    ])];
    for path in service.explains.iter().take(3) {
        let path: Vec<String> = path.iter().map(|s| sanitize(s)).collect();
        lines.push(Line::raw(format!("explains: {}", path.join(" ← "))));
    }
    if service.evidence.is_empty() {
        lines.push(Line::styled(
            "no evidence against this service in the focus window",
            theme.dim(),
        ));
    }
    for item in &service.evidence {
        lines.push(Line::raw(format!(
            "{:>4.2} {:<6} {}",
            item.score,
            sanitize(&item.kind),
            sanitize(&item.description)
        )));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(titled(" Explanation and evidence ".to_owned(), theme)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::layers;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn layers_follow_the_longest_call_path_and_survive_cycles() {
        let names = strings(&[
            "front-end",
            "orders",
            "payment",
            "shipping",
            "rabbitmq",
            "lonely",
        ]);
        let edges = vec![
            ("front-end".to_owned(), "orders".to_owned()),
            ("orders".to_owned(), "payment".to_owned()),
            ("orders".to_owned(), "shipping".to_owned()),
            ("shipping".to_owned(), "rabbitmq".to_owned()),
            ("front-end".to_owned(), "rabbitmq".to_owned()),
        ];
        let layered = layers(&names, &edges);
        assert_eq!(
            layered,
            vec![
                strings(&["front-end", "lonely"]),
                strings(&["orders"]),
                strings(&["payment", "shipping"]),
                strings(&["rabbitmq"]),
            ]
        );
        let cyclic = vec![
            ("a".to_owned(), "b".to_owned()),
            ("b".to_owned(), "a".to_owned()),
        ];
        let layered = layers(&strings(&["a", "b"]), &cyclic);
        assert_eq!(
            layered.iter().map(Vec::len).sum::<usize>(),
            2,
            "{layered:?}"
        );
    }
}
