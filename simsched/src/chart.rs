//! SVG charts for the HTML report, drawn with plotters: lines over a numeric axis and horizontal bars with
//! whiskers, each with its legend beside the plot.

use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use std::ops::Range;

use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

/// Width and height of a chart, pixels.
pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 360;
/// Width of the legend beside a line chart: room for its longest label, within bounds.
fn legend_width(lines: &[Line]) -> u32 {
    let longest = lines.iter().map(|l| l.label.chars().count()).max().unwrap_or(0) as u32;
    (40 + 7 * longest).clamp(120, 260)
}

/// Tableau's twenty colours, the ten strong ones first: distinct and readable on white.
const PALETTE: [RGBColor; 20] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0x79, 0x70, 0x6e),
    RGBColor(0xa0, 0xcb, 0xe8),
    RGBColor(0xff, 0xbe, 0x7d),
    RGBColor(0x8c, 0xd1, 0x7d),
    RGBColor(0xb6, 0x99, 0x2d),
    RGBColor(0x49, 0x98, 0x94),
    RGBColor(0x86, 0xbc, 0xb6),
    RGBColor(0xd3, 0x72, 0x95),
    RGBColor(0xfa, 0xbf, 0xd2),
    RGBColor(0xd4, 0xa6, 0xc8),
    RGBColor(0xba, 0xb0, 0xac),
];
const TEXT: RGBColor = RGBColor(0x33, 0x33, 0x33);
const GRID: RGBColor = RGBColor(0xe6, 0xe6, 0xe6);
const FONT: &str = "sans-serif";

/// The colour of the `idx`-th series (the palette repeats after twenty).
pub fn color(idx: usize) -> RGBColor {
    PALETTE[idx % PALETTE.len()]
}

/// An axis: its range, where its labels go (None: where plotters puts them) and how they read.
pub struct Axis {
    pub min: f64,
    pub max: f64,
    pub ticks: Option<Vec<f64>>,
    pub format: Box<dyn Fn(f64) -> String>,
    /// The axis title, with its unit.
    pub title: String,
}

impl Axis {
    /// A linear axis from `min` to `max` whose labels are written by `format`.
    pub fn linear(title: impl Into<String>, min: f64, max: f64, format: impl Fn(f64) -> String + 'static) -> Axis {
        let max = if max > min { max } else { min + 1.0 };
        Axis { min, max, ticks: None, format: Box::new(format), title: title.into() }
    }
}

/// A series of a line chart.
pub struct Line {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
    /// A reference line (drawn thin and grey-dashed), not a result.
    pub reference: bool,
}

/// A chart of lines.
pub struct LineChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub lines: Vec<Line>,
}

/// A bar of a bar chart: a mean with the range of the values it is the mean of.
pub struct Bar {
    pub label: String,
    pub color: RGBColor,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Written beside the bar.
    pub text: String,
}

/// Horizontal bars, one per label, top to bottom.
pub struct BarChart {
    pub title: String,
    /// The value axis (its `min`, `max` and `ticks` are derived from the bars).
    pub x_title: String,
    pub x_format: Box<dyn Fn(f64) -> String>,
    pub bars: Vec<Bar>,
}

/// Registers the embedded font with plotters, which measures text with it (the browser draws it).
fn font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, include_bytes!("../assets/DejaVuSans.ttf")).is_ok());
    if ok { Ok(()) } else { Err(anyhow!("failed to load the embedded font")) }
}

fn draw_error(title: &str) -> impl Fn(DrawingAreaErrorKind<std::io::Error>) -> anyhow::Error + '_ {
    move |e| anyhow!("failed to draw the chart {title:?}: {e}")
}

fn text_style(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().color(&TEXT)
}

/// A linear coordinate labelled at given values (plotters' `WithKeyPoints` over `f64` cannot take a label
/// formatter).
struct Ticked {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let fraction = (value - self.range.start) / (self.range.end - self.range.start);
        limit.0 + (f64::from(limit.1 - limit.0) * fraction).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { Vec::new() } else { self.ticks.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// The coordinate of an axis, labelled at its ticks or at round values.
fn coord(axis: &Axis) -> Ticked {
    let ticks = axis.ticks.clone().unwrap_or_else(|| nice_ticks(axis.min, axis.max, 8));
    Ticked { range: axis.min..axis.max, ticks }
}

/// About `n` round values (1, 2 or 5 × 10^k apart) between `min` and `max`.
pub fn nice_ticks(min: f64, max: f64, n: usize) -> Vec<f64> {
    let span = max - min;
    if span.is_nan() || span <= 0.0 || !span.is_finite() {
        return vec![min];
    }
    let raw = span / n as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    let first = (min / step).ceil() as i64;
    let last = (max / step + 1e-9).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// The axes and grid of every chart: light grid lines at the labels only, dark axes.
fn house_style<'m, 'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.label_style(text_style(13.0))
        .axis_desc_style(text_style(14.0))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(TEXT)
}

/// Draws a line chart as an SVG document.
pub fn line_chart(chart: &LineChart) -> Result<String> {
    font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let err = draw_error(&chart.title);
        root.fill(&WHITE).map_err(&err)?;
        let (plot_area, legend_area) = root.split_horizontally(WIDTH - legend_width(&chart.lines));
        let mut plot = ChartBuilder::on(&plot_area)
            .caption(&chart.title, text_style(18.0))
            .margin(8)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(coord(&chart.x), coord(&chart.y))
            .map_err(&err)?;
        let (x_format, y_format) = (&chart.x.format, &chart.y.format);
        let x_labels = |v: &f64| x_format(*v);
        let y_labels = |v: &f64| y_format(*v);
        house_style(plot.configure_mesh().x_desc(chart.x.title.as_str()).y_desc(chart.y.title.as_str()))
            .x_label_formatter(&x_labels)
            .y_label_formatter(&y_labels)
            .draw()
            .map_err(&err)?;
        let clamp = |(x, y): (f64, f64)| (x.clamp(chart.x.min, chart.x.max), y.clamp(chart.y.min, chart.y.max));
        // Results over references.
        for line in chart.lines.iter().filter(|l| l.reference).chain(chart.lines.iter().filter(|l| !l.reference)) {
            let style = if line.reference { line.color.stroke_width(1) } else { line.color.stroke_width(2) };
            let points = line.points.iter().copied().map(clamp);
            if line.reference {
                plot.draw_series(DashedLineSeries::new(points, 6, 4, style)).map_err(&err)?;
            } else {
                plot.draw_series(LineSeries::new(points, style)).map_err(&err)?;
            }
        }
        legend(&legend_area, chart.lines.iter().map(|l| (l.label.as_str(), l.color, l.reference))).map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

/// The legend: a line and a name per series, top down.
fn legend<'a>(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    entries: impl Iterator<Item = (&'a str, RGBColor, bool)>,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let style = text_style(13.0);
    let entries: Vec<_> = entries.collect();
    // 20 pixels apart, closer when that would run off the bottom.
    let spacing = (20.0f64).min(f64::from(HEIGHT - 70) / entries.len().max(1) as f64);
    for (idx, (label, color, reference)) in entries.into_iter().enumerate() {
        let y = 48 + (idx as f64 * spacing).round() as i32;
        let line = if reference { color.stroke_width(1) } else { color.stroke_width(3) };
        area.draw(&PathElement::new(vec![(4, y), (24, y)], line))?;
        area.draw(&Text::new(label.to_string(), (30, y), style.pos(Pos::new(HPos::Left, VPos::Center))))?;
    }
    Ok(())
}

/// Draws horizontal bars with whiskers from the smallest to the largest value as an SVG document.
pub fn bar_chart(chart: &BarChart) -> Result<String> {
    font()?;
    let n = chart.bars.len();
    let height = (70 + 30 * n.max(1) + 44) as u32;
    let top = chart.bars.iter().map(|b| b.max.max(b.mean)).fold(0.0f64, f64::max);
    let x_max = if top > 0.0 { top * 1.35 } else { 1.0 };
    let label_width = chart.bars.iter().map(|b| b.label.chars().count()).max().unwrap_or(0) as u32 * 8 + 16;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let err = draw_error(&chart.title);
        root.fill(&WHITE).map_err(&err)?;
        // Bar `i` at height n - 1 - i: the first at the top.
        let rows: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let mut plot = ChartBuilder::on(&root)
            .caption(&chart.title, text_style(16.0))
            .margin(8)
            .margin_right(16)
            .x_label_area_size(44)
            .y_label_area_size(label_width.min(WIDTH * 2 / 5))
            .build_cartesian_2d(
                Ticked { range: 0.0..x_max, ticks: nice_ticks(0.0, top.max(f64::MIN_POSITIVE), 5) },
                Ticked { range: -0.6..n as f64 - 0.4, ticks: rows },
            )
            .map_err(&err)?;
        let x_format = &chart.x_format;
        let x_labels = |v: &f64| x_format(*v);
        let y_labels = |v: &f64| {
            let row = v.round() as i64;
            if (0..n as i64).contains(&row) { chart.bars[n - 1 - row as usize].label.clone() } else { String::new() }
        };
        house_style(plot.configure_mesh().x_desc(chart.x_title.as_str()))
            .x_label_formatter(&x_labels)
            .y_label_formatter(&y_labels)
            .disable_y_mesh()
            .draw()
            .map_err(&err)?;
        for (idx, bar) in chart.bars.iter().enumerate() {
            let y = (n - 1 - idx) as f64;
            plot.draw_series(std::iter::once(Rectangle::new([(0.0, y - 0.32), (bar.mean, y + 0.32)], bar.color.mix(0.85).filled())))
                .map_err(&err)?;
            if bar.max > bar.min {
                let whisker = TEXT.stroke_width(1);
                for path in [
                    vec![(bar.min, y), (bar.max, y)],
                    vec![(bar.min, y - 0.15), (bar.min, y + 0.15)],
                    vec![(bar.max, y - 0.15), (bar.max, y + 0.15)],
                ] {
                    plot.draw_series(std::iter::once(PathElement::new(path, whisker))).map_err(&err)?;
                }
            }
            let at = (bar.max.max(bar.mean), y);
            let label = EmptyElement::at(at) + Text::new(bar.text.clone(), (6, -7), text_style(12.5));
            plot.draw_series(std::iter::once(label)).map_err(&err)?;
        }
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_round() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(nice_ticks(0.0, 130.0, 6), vec![0.0, 50.0, 100.0]);
        assert_eq!(nice_ticks(3.0, 3.0, 5), vec![3.0]);
    }
}
