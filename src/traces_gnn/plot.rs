//! Plots of an evaluation: ROC curves and score distributions, as PNG bytes (a small RGB
//! raster with a 5×7 bitmap font, encoded with zlib + CRC-32 — no image crate) and as ASCII
//! charts for the terminal. Pure: bytes and strings out, the caller writes them.

use std::io::Write;

/// An RGB colour.
pub type Rgb = [u8; 3];

/// Colours of the series, in order.
pub const PALETTE: [Rgb; 10] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [255, 127, 14],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

const GLYPHS: &[(char, [u8; 7])] = &[
    (
        'A',
        [
            0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
        ],
    ),
    (
        'B',
        [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110,
        ],
    ),
    (
        'C',
        [
            0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110,
        ],
    ),
    (
        'D',
        [
            0b11110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11110,
        ],
    ),
    (
        'E',
        [
            0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111,
        ],
    ),
    (
        'F',
        [
            0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000,
        ],
    ),
    (
        'G',
        [
            0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111,
        ],
    ),
    (
        'H',
        [
            0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
        ],
    ),
    (
        'I',
        [
            0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
        ],
    ),
    (
        'J',
        [
            0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100,
        ],
    ),
    (
        'K',
        [
            0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001,
        ],
    ),
    (
        'L',
        [
            0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111,
        ],
    ),
    (
        'M',
        [
            0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001,
        ],
    ),
    (
        'N',
        [
            0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001,
        ],
    ),
    (
        'O',
        [
            0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
        ],
    ),
    (
        'P',
        [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000,
        ],
    ),
    (
        'Q',
        [
            0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101,
        ],
    ),
    (
        'R',
        [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001,
        ],
    ),
    (
        'S',
        [
            0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110,
        ],
    ),
    (
        'T',
        [
            0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100,
        ],
    ),
    (
        'U',
        [
            0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
        ],
    ),
    (
        'V',
        [
            0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100,
        ],
    ),
    (
        'W',
        [
            0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010,
        ],
    ),
    (
        'X',
        [
            0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001,
        ],
    ),
    (
        'Y',
        [
            0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100,
        ],
    ),
    (
        'Z',
        [
            0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111,
        ],
    ),
    (
        '0',
        [
            0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110,
        ],
    ),
    (
        '1',
        [
            0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
        ],
    ),
    (
        '2',
        [
            0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111,
        ],
    ),
    (
        '3',
        [
            0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110,
        ],
    ),
    (
        '4',
        [
            0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010,
        ],
    ),
    (
        '5',
        [
            0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110,
        ],
    ),
    (
        '6',
        [
            0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110,
        ],
    ),
    (
        '7',
        [
            0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000,
        ],
    ),
    (
        '8',
        [
            0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110,
        ],
    ),
    (
        '9',
        [
            0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100,
        ],
    ),
    ('.', [0, 0, 0, 0, 0, 0b01100, 0b01100]),
    (',', [0, 0, 0, 0, 0b01100, 0b00100, 0b01000]),
    ('-', [0, 0, 0, 0b11111, 0, 0, 0]),
    ('_', [0, 0, 0, 0, 0, 0, 0b11111]),
    ('=', [0, 0, 0b11111, 0, 0b11111, 0, 0]),
    (':', [0, 0b01100, 0b01100, 0, 0b01100, 0b01100, 0]),
    (
        '(',
        [
            0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010,
        ],
    ),
    (
        ')',
        [
            0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000,
        ],
    ),
    ('/', [0, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0]),
    (
        '%',
        [
            0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011,
        ],
    ),
    ('+', [0, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0]),
    (
        '?',
        [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0, 0b00100],
    ),
];

/// An RGB raster.
#[derive(Debug, Clone)]
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    /// A white canvas.
    #[must_use]
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            pixels: vec![255; width * height * 3],
        }
    }

    /// Sets one pixel (outside the canvas: nothing).
    pub fn set(&mut self, x: i64, y: i64, colour: Rgb) {
        if x < 0 || y < 0 {
            return;
        }
        let (x, y) = (x as usize, y as usize);
        if x < self.width && y < self.height {
            let at = (y * self.width + x) * 3;
            self.pixels[at..at + 3].copy_from_slice(&colour);
        }
    }

    /// The colour of a pixel.
    #[must_use]
    pub fn get(&self, x: usize, y: usize) -> Option<Rgb> {
        (x < self.width && y < self.height).then(|| {
            let at = (y * self.width + x) * 3;
            [self.pixels[at], self.pixels[at + 1], self.pixels[at + 2]]
        })
    }

    /// A line (Bresenham), `thickness` pixels wide.
    pub fn line(&mut self, from: (i64, i64), to: (i64, i64), colour: Rgb, thickness: i64) {
        let (mut x, mut y) = from;
        let (dx, dy) = ((to.0 - x).abs(), -(to.1 - y).abs());
        let (sx, sy) = (if x < to.0 { 1 } else { -1 }, if y < to.1 { 1 } else { -1 });
        let mut err = dx + dy;
        let half = thickness / 2;
        for _ in 0..=(dx - dy + 1) {
            for ox in -half..=half {
                for oy in -half..=half {
                    self.set(x + ox, y + oy, colour);
                }
            }
            if (x, y) == to {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// A filled rectangle.
    pub fn fill(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, colour: Rgb) {
        for y in y0.min(y1)..=y0.max(y1) {
            for x in x0.min(x1)..=x0.max(x1) {
                self.set(x, y, colour);
            }
        }
    }

    /// Text in the 5×7 font at `scale` (lowercase drawn as uppercase, unknown characters as `?`).
    pub fn text(&mut self, x: i64, y: i64, text: &str, colour: Rgb, scale: i64) {
        for (i, c) in text.chars().enumerate() {
            let c = c.to_ascii_uppercase();
            if c == ' ' {
                continue;
            }
            let rows = GLYPHS
                .iter()
                .find(|(g, _)| *g == c)
                .or_else(|| GLYPHS.iter().find(|(g, _)| *g == '?'))
                .map_or([0; 7], |(_, rows)| *rows);
            let left = x + i as i64 * 6 * scale;
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits & (1 << (4 - col)) != 0 {
                        self.fill(
                            left + col * scale,
                            y + r as i64 * scale,
                            left + col * scale + scale - 1,
                            y + r as i64 * scale + scale - 1,
                            colour,
                        );
                    }
                }
            }
        }
    }

    /// The canvas as a PNG file (8-bit RGB, no filtering, zlib-compressed).
    #[must_use]
    pub fn to_png(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity((self.width * 3 + 1) * self.height);
        for row in self.pixels.chunks(self.width * 3) {
            raw.push(0);
            raw.extend_from_slice(row);
        }
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing into a Vec cannot fail.
        let compressed = encoder
            .write_all(&raw)
            .and_then(|()| encoder.finish())
            .unwrap_or_default();
        let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
        let mut header = Vec::new();
        header.extend_from_slice(&u32::try_from(self.width).unwrap_or(0).to_be_bytes());
        header.extend_from_slice(&u32::try_from(self.height).unwrap_or(0).to_be_bytes());
        header.extend_from_slice(&[8, 2, 0, 0, 0]);
        for (kind, data) in [
            (*b"IHDR", header),
            (*b"IDAT", compressed),
            (*b"IEND", Vec::new()),
        ] {
            png.extend_from_slice(&u32::try_from(data.len()).unwrap_or(0).to_be_bytes());
            let mut crc = crc32fast::Hasher::new();
            crc.update(&kind);
            crc.update(&data);
            png.extend_from_slice(&kind);
            png.extend_from_slice(&data);
            png.extend_from_slice(&crc.finalize().to_be_bytes());
        }
        png
    }
}

const GREY: Rgb = [190, 190, 190];
const BLACK: Rgb = [0, 0, 0];

/// A plot area: pixel box and data ranges.
struct Frame {
    left: i64,
    top: i64,
    right: i64,
    bottom: i64,
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    #[allow(clippy::cast_possible_truncation)]
    fn px(&self, x: f64, y: f64) -> (i64, i64) {
        let fx = (x - self.x.0) / (self.x.1 - self.x.0).max(f64::MIN_POSITIVE);
        let fy = (y - self.y.0) / (self.y.1 - self.y.0).max(f64::MIN_POSITIVE);
        (
            self.left + (fx.clamp(0.0, 1.0) * (self.right - self.left) as f64).round() as i64,
            self.bottom - (fy.clamp(0.0, 1.0) * (self.bottom - self.top) as f64).round() as i64,
        )
    }

    fn axes(&self, canvas: &mut Canvas) {
        canvas.line((self.left, self.top), (self.left, self.bottom), BLACK, 1);
        canvas.line(
            (self.left, self.bottom),
            (self.right, self.bottom),
            BLACK,
            1,
        );
    }
}

/// A named ROC curve with its AUC.
pub type RocSeries = (String, f64, Vec<(f64, f64)>);

/// ROC curves (one per named series with its AUC) over the diagonal, as a PNG.
#[must_use]
pub fn roc_png(title: &str, series: &[RocSeries]) -> Vec<u8> {
    let mut canvas = Canvas::new(800, 560);
    let frame = Frame {
        left: 70,
        top: 50,
        right: 470,
        bottom: 450,
        x: (0.0, 1.0),
        y: (0.0, 1.0),
    };
    for step in 1..=4 {
        let v = f64::from(step) / 4.0;
        canvas.line(frame.px(v, 0.0), frame.px(v, 1.0), [235, 235, 235], 1);
        canvas.line(frame.px(0.0, v), frame.px(1.0, v), [235, 235, 235], 1);
    }
    let mut t = 0.0;
    while t < 1.0 {
        canvas.line(
            frame.px(t, t),
            frame.px((t + 0.02).min(1.0), (t + 0.02).min(1.0)),
            GREY,
            1,
        );
        t += 0.04;
    }
    frame.axes(&mut canvas);
    for (i, (name, auc, points)) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        for pair in points.windows(2) {
            canvas.line(
                frame.px(pair[0].0, pair[0].1),
                frame.px(pair[1].0, pair[1].1),
                colour,
                if i == 0 { 3 } else { 1 },
            );
        }
        let y = 60 + i as i64 * 22;
        canvas.fill(490, y, 505, y + 12, colour);
        canvas.text(
            512,
            y,
            &format!("{} {auc:.3}", truncate(name, 17)),
            BLACK,
            2,
        );
    }
    canvas.text(70, 15, title, BLACK, 2);
    for (v, label) in [(0.0, "0"), (0.5, "0.5"), (1.0, "1")] {
        let (x, _) = frame.px(v, 0.0);
        canvas.text(x - 6, 460, label, BLACK, 2);
        let (_, y) = frame.px(0.0, v);
        canvas.text(20, y - 7, label, BLACK, 2);
    }
    canvas.text(190, 500, "FALSE POSITIVE RATE", BLACK, 2);
    canvas.text(70, 530, "Y: TRUE POSITIVE RATE", BLACK, 2);
    canvas.to_png()
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Histogram of `log10(score)` over shared bins: (bin edges, fraction per bin for each set).
#[must_use]
pub fn log_histogram(sets: &[&[f64]], bins: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let logs: Vec<Vec<f64>> = sets
        .iter()
        .map(|s| {
            s.iter()
                .map(|v| v.max(1e-12).log10())
                .filter(|v| v.is_finite())
                .collect()
        })
        .collect();
    let low = logs.iter().flatten().copied().fold(f64::INFINITY, f64::min);
    let high = logs
        .iter()
        .flatten()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let bins = bins.max(1);
    let (low, high) = if low.is_finite() && high > low {
        (low, high)
    } else if low.is_finite() {
        (low - 0.5, low + 0.5)
    } else {
        (0.0, 1.0)
    };
    #[allow(clippy::cast_precision_loss)]
    let width = (high - low) / bins as f64;
    #[allow(clippy::cast_precision_loss)]
    let edges: Vec<f64> = (0..=bins).map(|i| low + width * i as f64).collect();
    let fractions = logs
        .iter()
        .map(|values| {
            let mut counts = vec![0.0; bins];
            for v in values {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let at = (((v - low) / width) as usize).min(bins - 1);
                counts[at] += 1.0;
            }
            #[allow(clippy::cast_precision_loss)]
            let n = values.len().max(1) as f64;
            counts.iter().map(|c| c / n).collect()
        })
        .collect();
    (edges, fractions)
}

/// Score distributions of normal and abnormal traces (log10 axis) with the threshold, as a PNG.
#[must_use]
pub fn distribution_png(title: &str, normal: &[f64], abnormal: &[f64], threshold: f64) -> Vec<u8> {
    let mut canvas = Canvas::new(720, 520);
    let (edges, fractions) = log_histogram(&[normal, abnormal], 60);
    let top = fractions
        .iter()
        .flatten()
        .copied()
        .fold(0.0, f64::max)
        .max(1e-9);
    let (low, high) = (edges[0], edges[edges.len() - 1]);
    let frame = Frame {
        left: 70,
        top: 50,
        right: 690,
        bottom: 440,
        x: (low, high),
        y: (0.0, top * 1.05),
    };
    for (s, set) in fractions.iter().enumerate() {
        let colour = PALETTE[s];
        for (b, &f) in set.iter().enumerate() {
            if f <= 0.0 {
                continue;
            }
            let (x0, y0) = frame.px(edges[b], f);
            let (x1, y1) = frame.px(edges[b + 1], 0.0);
            // Outlined bars so that the two sets stay visible where they overlap.
            canvas.line((x0, y0), (x1, y0), colour, 2);
            canvas.line((x0, y0), (x0, y1), colour, 2);
            canvas.line((x1, y0), (x1, y1), colour, 2);
        }
    }
    let t = threshold.max(1e-12).log10();
    if t.is_finite() && t >= low && t <= high {
        canvas.line(frame.px(t, 0.0), frame.px(t, top * 1.05), BLACK, 1);
        let (x, _) = frame.px(t, 0.0);
        canvas.text(x + 4, 55, "THRESHOLD", BLACK, 2);
    }
    frame.axes(&mut canvas);
    canvas.text(70, 15, title, BLACK, 2);
    canvas.fill(470, 80, 485, 92, PALETTE[0]);
    canvas.text(492, 80, &format!("NORMAL ({})", normal.len()), BLACK, 2);
    canvas.fill(470, 102, 485, 114, PALETTE[1]);
    canvas.text(
        492,
        102,
        &format!("ABNORMAL ({})", abnormal.len()),
        BLACK,
        2,
    );
    for v in [low, (low + high) / 2.0, high] {
        let (x, _) = frame.px(v, 0.0);
        canvas.text(x - 20, 450, &format!("{v:.1}"), BLACK, 2);
    }
    canvas.text(200, 480, "LOG10(ANOMALY SCORE)", BLACK, 2);
    canvas.to_png()
}

/// An ASCII ROC chart: `*` the curve, `.` the diagonal.
#[must_use]
pub fn roc_text(points: &[(f64, f64)], auc: Option<f64>, width: usize, height: usize) -> String {
    let (width, height) = (width.max(10), height.max(5));
    let mut grid = vec![vec![' '; width]; height];
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let cell = |x: f64, y: f64| -> (usize, usize) {
        let col = ((x.clamp(0.0, 1.0) * (width - 1) as f64).round() as usize).min(width - 1);
        let row = ((1.0 - y.clamp(0.0, 1.0)) * (height - 1) as f64).round() as usize;
        (col, row.min(height - 1))
    };
    for i in 0..width {
        #[allow(clippy::cast_precision_loss)]
        let v = i as f64 / (width - 1) as f64;
        let (c, r) = cell(v, v);
        grid[r][c] = '.';
    }
    for pair in points.windows(2) {
        for k in 0..=20 {
            let t = f64::from(k) / 20.0;
            let (c, r) = cell(
                pair[0].0 + (pair[1].0 - pair[0].0) * t,
                pair[0].1 + (pair[1].1 - pair[0].1) * t,
            );
            grid[r][c] = '*';
        }
    }
    let mut out = format!(
        "ROC (AUC {})\n",
        auc.map_or("n/a".to_owned(), |a| format!("{a:.3}"))
    );
    for (r, row) in grid.iter().enumerate() {
        let label = match r {
            0 => "1.0",
            _ if r == height - 1 => "0.0",
            _ => "   ",
        };
        out.push_str(&format!("{label} |{}\n", row.iter().collect::<String>()));
    }
    out.push_str(&format!("    +{}\n", "-".repeat(width)));
    out.push_str(&format!(
        "    0{:>width$}\n     false positive rate → (true positive rate ↑)\n",
        "1",
        width = width - 1
    ));
    out
}

/// An ASCII histogram of both score sets on a log10 axis, one row per bin.
#[must_use]
pub fn distribution_text(
    normal: &[f64],
    abnormal: &[f64],
    threshold: f64,
    bins: usize,
    bar: usize,
) -> String {
    let (edges, fractions) = log_histogram(&[normal, abnormal], bins);
    let top = fractions
        .iter()
        .flatten()
        .copied()
        .fold(0.0, f64::max)
        .max(1e-9);
    let t = threshold.max(1e-12).log10();
    let mut out = format!(
        "{:>17}  {:<bar$}  {:<bar$}\n",
        "log10(score)", "normal #", "abnormal +"
    );
    for b in 0..edges.len() - 1 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let length = |f: f64| ((f / top) * bar as f64).round() as usize;
        let marker = if t >= edges[b] && t < edges[b + 1] {
            " <- threshold"
        } else {
            ""
        };
        out.push_str(&format!(
            "{:>7.2} .. {:>6.2}  {:<bar$}  {:<bar$}{marker}\n",
            edges[b],
            edges[b + 1],
            "#".repeat(length(fractions[0][b])),
            "+".repeat(length(fractions[1][b])),
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn png_has_valid_chunks_and_decompresses_to_the_raster() {
        let mut canvas = Canvas::new(4, 3);
        canvas.set(1, 2, [10, 20, 30]);
        canvas.set(-1, 99, [0, 0, 0]);
        let png = canvas.to_png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 4);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 3);
        // The IHDR CRC covers type and data.
        let crc = crc32fast::hash(&png[12..29]);
        assert_eq!(u32::from_be_bytes(png[29..33].try_into().unwrap()), crc);
        let idat_len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::ZlibDecoder::new(&png[41..41 + idat_len]),
            &mut raw,
        )
        .unwrap();
        assert_eq!(raw.len(), 3 * (1 + 4 * 3));
        assert_eq!(&raw[2 * 13 + 1 + 3..2 * 13 + 1 + 6], &[10, 20, 30]);
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
    }

    #[test]
    fn lines_and_text_touch_the_expected_pixels() {
        let mut canvas = Canvas::new(20, 20);
        canvas.line((0, 0), (10, 10), [1, 2, 3], 1);
        assert_eq!(canvas.get(5, 5), Some([1, 2, 3]));
        assert_eq!(canvas.get(5, 6), Some([255, 255, 255]));
        canvas.text(0, 12, "1", [9, 9, 9], 1);
        // The top row of "1" is 00100: only its middle column is set.
        assert_eq!(canvas.get(2, 12), Some([9, 9, 9]));
        assert_eq!(canvas.get(0, 12), Some([255, 255, 255]));
    }

    #[test]
    fn histograms_and_text_charts() {
        let (edges, f) = log_histogram(&[&[1.0, 10.0], &[100.0]], 2);
        assert_eq!(edges, vec![0.0, 1.0, 2.0]);
        assert_eq!(f, vec![vec![0.5, 0.5], vec![0.0, 1.0]]);
        let chart = roc_text(&[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)], Some(1.0), 20, 8);
        assert!(chart.starts_with("ROC (AUC 1.000)"));
        let first_row = chart.lines().nth(1).unwrap();
        assert_eq!(first_row.matches('*').count(), 20, "{chart}");
        let text = distribution_text(&[1.0, 10.0], &[100.0], 50.0, 2, 10);
        assert_eq!(text.lines().count(), 3);
        assert!(
            text.lines()
                .nth(2)
                .unwrap()
                .contains("++++++++++  <- threshold")
                || text.lines().nth(2).unwrap().contains("<- threshold")
        );
        assert!(
            roc_png("t", &[("all".into(), 0.9, vec![(0.0, 0.0), (1.0, 1.0)])])
                .starts_with(b"\x89PNG")
        );
        assert!(distribution_png("t", &[1.0], &[2.0], 1.5).len() > 100);
    }
}
