//! Colours and styles: the default palette, a colour-blind-safe one (Okabe–Ito blue, orange,
//! vermillion), and no colour at all when `NO_COLOR` is set. Bands always carry a text tag
//! (`GRN`, `YEL`, `RED`) so they stay readable without colour.

use crate::rca::Band;
use ratatui::style::{Color, Modifier, Style};

/// Which colours to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Palette {
    /// Green, yellow, red.
    #[default]
    Default,
    /// Colour-blind safe: blue, orange, vermillion.
    ColorBlind,
}

impl std::str::FromStr for Palette {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "default" => Ok(Self::Default),
            "cb" | "colorblind" | "colour-blind" => Ok(Self::ColorBlind),
            other => Err(format!("unknown palette `{other}`; use `default` or `cb`")),
        }
    }
}

/// The styles the console draws with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Whether to use colour at all.
    pub color: bool,
    /// The palette when colour is on.
    pub palette: Palette,
}

impl Default for Theme {
    fn default() -> Self {
        Self {
            color: true,
            palette: Palette::Default,
        }
    }
}

impl Theme {
    /// The theme for `palette`, without colour when `no_color` (the `NO_COLOR` convention:
    /// set and non-empty).
    #[must_use]
    pub fn new(palette: Palette, no_color: bool) -> Self {
        Self {
            color: !no_color,
            palette,
        }
    }

    /// Reads `NO_COLOR` from the environment.
    #[must_use]
    pub fn from_env(palette: Palette) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self::new(palette, no_color)
    }

    /// Colour of a band.
    #[must_use]
    pub fn band_color(&self, band: Band) -> Option<Color> {
        if !self.color {
            return None;
        }
        Some(match (self.palette, band) {
            (Palette::Default, Band::Green) => Color::Green,
            (Palette::Default, Band::Yellow) => Color::Yellow,
            (Palette::Default, Band::Red) => Color::Red,
            (Palette::ColorBlind, Band::Green) => Color::Rgb(0x00, 0x72, 0xB2),
            (Palette::ColorBlind, Band::Yellow) => Color::Rgb(0xE6, 0x9F, 0x00),
            (Palette::ColorBlind, Band::Red) => Color::Rgb(0xD5, 0x5E, 0x00),
        })
    }

    /// Style of text in a band's colour (bold for red, so it stands out without colour too).
    #[must_use]
    pub fn band(&self, band: Band) -> Style {
        let style = self
            .band_color(band)
            .map_or_else(Style::default, |c| Style::default().fg(c));
        if band == Band::Red {
            style.add_modifier(Modifier::BOLD)
        } else {
            style
        }
    }

    /// The selected row.
    #[must_use]
    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// Titles and the active tab.
    #[must_use]
    pub fn accent(&self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        }
    }

    /// Secondary text.
    #[must_use]
    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }

    /// Error log lines, failed spans, values outside the baseline band.
    #[must_use]
    pub fn alert(&self) -> Style {
        self.band(Band::Red)
    }
}

/// Short text tag of a band.
#[must_use]
pub fn band_tag(band: Band) -> &'static str {
    match band {
        Band::Green => "GRN",
        Band::Yellow => "YEL",
        Band::Red => "RED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_means_no_colour_but_tags_remain() {
        let theme = Theme::new(Palette::Default, true);
        assert_eq!(theme.band_color(Band::Red), None);
        assert_eq!(theme.band(Band::Red).fg, None);
        assert_eq!(band_tag(Band::Red), "RED");
        let cb = Theme::new(Palette::ColorBlind, false);
        assert_ne!(cb.band_color(Band::Red), Some(Color::Red));
        assert_eq!("cb".parse::<Palette>(), Ok(Palette::ColorBlind));
        assert!("pink".parse::<Palette>().is_err());
    }
}
