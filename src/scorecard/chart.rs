//! The scorecard's trend chart: the charted metrics over the last periods as a PNG, drawn with
//! plotters into an in-memory RGB buffer and encoded with `png`, so that a chat message can
//! carry it. The font is embedded (DejaVu Sans, `assets/`), so the picture is the same on every
//! machine; empty or all-null data draws a chart saying "no data" instead of failing.

use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::compute::{ScorecardData, Trend};
use crate::metrics::Unit;
use crate::model::{Currency, Period, PeriodKind};
use crate::report::format;

/// The picture's size in pixels.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 400;

/// DejaVu Sans (its license: assets/DejaVuSans-LICENSE.txt).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// The family name the font is registered under.
const FAMILY: &str = "sans-serif";

/// Line colors, in the order of the charted metrics.
const COLORS: [RGBColor; 4] = [
    RGBColor(0x1A, 0x73, 0xE8),
    RGBColor(0xE3, 0x74, 0x00),
    RGBColor(0x18, 0x80, 0x38),
    RGBColor(0x9C, 0x27, 0xB0),
];
const TARGET_COLOR: RGBColor = RGBColor(0xD9, 0x30, 0x25);
const GRID_COLOR: RGBColor = RGBColor(0xE0, 0xE0, 0xE0);

/// One plotted line: what the PNG shows, as numbers (tests pin these).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The metric as people read it (`MRR`, `Logo churn rate`).
    pub label: String,
    /// The x labels (`W24`, `2025-03`) and the plotted values (ratios as fractions); `None`
    /// where the metric is null, drawn as a gap.
    pub points: Vec<(String, Option<f64>)>,
    /// The target line, when the metric is a KPI with a target.
    pub target: Option<f64>,
}

/// A rendered chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub series: Vec<Series>,
    /// What the picture shows, for screen readers and platforms without images.
    pub alt: String,
}

/// Why a chart could not be drawn (the message goes out without it).
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("the embedded chart font cannot be read")]
    Font,
    #[error("cannot draw the chart: {0}")]
    Draw(String),
    #[error("cannot encode the chart as PNG: {0}")]
    Encode(String),
}

fn font_ready() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok())
}

/// The plotted series of a scorecard's trends.
pub fn series(trend: &[Trend]) -> Vec<Series> {
    trend
        .iter()
        .map(|t| Series {
            label: super::message::label(t.metric),
            points: t
                .points
                .iter()
                .map(|(p, v)| (x_label(p), v.and_then(|v| v.to_f64())))
                .collect(),
            target: t.target.and_then(|t| t.value.to_f64()),
        })
        .collect()
}

/// `W24` for a week, `2025-03` for a month, the period itself otherwise.
fn x_label(p: &Period) -> String {
    let s = p.to_string();
    match p.kind() {
        PeriodKind::Week => s.split_once('-').map_or(s.clone(), |(_, w)| w.to_string()),
        _ => s,
    }
}

/// The chart of a scorecard: its trend lines with target lines, titled with its name.
pub fn render(data: &ScorecardData) -> Result<Chart, ChartError> {
    let unit = data
        .trend
        .first()
        .map_or(Unit::Number, |t| t.metric.def().unit);
    let names: Vec<String> = data
        .trend
        .iter()
        .map(|t| super::message::label(t.metric))
        .collect();
    let mut title = format!("{} — {}", data.name, names.join(", "));
    if let Some(o) = &data.owner {
        title += &format!(" · {o}");
    }
    let what = match data.period.kind() {
        PeriodKind::Month => "months",
        _ => "weeks",
    };
    let s = series(&data.trend);
    let n = s.first().map_or(0, |s| s.points.len());
    let alt = format!(
        "{title}: the last {n} {what} up to {}{}",
        data.period,
        if has_data(&s) { "" } else { " (no data)" }
    );
    let png = draw(&title, &s, unit, data.currency, what)?;
    Ok(Chart {
        png,
        width: WIDTH,
        height: HEIGHT,
        series: s,
        alt,
    })
}

fn has_data(series: &[Series]) -> bool {
    series
        .iter()
        .any(|s| s.points.iter().any(|(_, v)| v.is_some_and(f64::is_finite)))
}

/// A y axis label: money compact (`$12.3k`), ratios as percentages.
fn y_label(v: f64, unit: Unit, currency: Currency) -> String {
    match unit {
        Unit::Money => {
            let abs = v.abs();
            let (n, suffix) = if abs >= 1e6 {
                (v / 1e6, "M")
            } else if abs >= 1e3 {
                (v / 1e3, "k")
            } else {
                (v, "")
            };
            let d = Decimal::from_f64_retain(n).unwrap_or_default();
            let text = format::money(d, currency);
            let text = if suffix.is_empty() {
                text
            } else {
                // One decimal is enough on an axis: `$12.35` -> `$12.3k`.
                text.get(..text.len().saturating_sub(1))
                    .unwrap_or(&text)
                    .to_string()
            };
            format!("{text}{suffix}")
        }
        Unit::Ratio => format!("{:.1}%", v * 100.0),
        Unit::Count => format!("{v:.0}"),
        _ => format!("{v:.1}"),
    }
}

fn err(e: impl std::fmt::Display) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// Draws the series into an RGB buffer and encodes it.
fn draw(
    title: &str,
    series: &[Series],
    unit: Unit,
    currency: Currency,
    what: &str,
) -> Result<Vec<u8>, ChartError> {
    if !font_ready() {
        return Err(ChartError::Font);
    }
    let mut buf = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let values: Vec<f64> = series
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|(_, v)| *v).chain(s.target))
            .filter(|v| v.is_finite())
            .collect();
        let n = series.first().map_or(0, |s| s.points.len());
        if values.is_empty() || n == 0 || !has_data(series) {
            let root = root.titled(title, (FAMILY, 22).into_font()).map_err(err)?;
            let (w, h) = root.dim_in_pixel();
            let style = TextStyle::from((FAMILY, 28).into_font())
                .color(&RGBColor(0x5F, 0x63, 0x68))
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ));
            root.draw_text("no data", &style, (w as i32 / 2, h as i32 / 2))
                .map_err(err)?;
            root.present().map_err(err)?;
        } else {
            let (mut lo, mut hi) = values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(*v), hi.max(*v))
                });
            let pad = if hi > lo {
                (hi - lo) * 0.1
            } else {
                (hi.abs() * 0.1).max(1e-3)
            };
            lo -= pad;
            hi += pad;
            let labels: Vec<String> = series
                .first()
                .map(|s| s.points.iter().map(|(l, _)| l.clone()).collect())
                .unwrap_or_default();
            let x_max = (n.max(2) - 1) as f64;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, (FAMILY, 22))
                .margin(16)
                .x_label_area_size(36)
                .y_label_area_size(72)
                .build_cartesian_2d(-0.3f64..x_max + 0.3, lo..hi)
                .map_err(err)?;
            let x_fmt = |x: &f64| {
                let r = x.round();
                if (x - r).abs() > 1e-6 || r < 0.0 {
                    return String::new();
                }
                labels.get(r as usize).cloned().unwrap_or_default()
            };
            let y_fmt = |y: &f64| y_label(*y, unit, currency);
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .bold_line_style(GRID_COLOR)
                .x_labels(n)
                .y_labels(6)
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&y_fmt)
                .x_desc(what)
                .label_style((FAMILY, 13))
                .axis_desc_style((FAMILY, 14))
                .draw()
                .map_err(err)?;
            for (i, s) in series.iter().enumerate() {
                let color = COLORS[i % COLORS.len()];
                // Nulls are gaps: one line per run of consecutive values.
                let mut runs: Vec<Vec<(f64, f64)>> = vec![vec![]];
                for (x, (_, v)) in s.points.iter().enumerate() {
                    match v {
                        Some(v) if v.is_finite() => {
                            if let Some(run) = runs.last_mut() {
                                run.push((x as f64, *v));
                            }
                        }
                        _ => runs.push(vec![]),
                    }
                }
                let mut first = true;
                for run in runs.into_iter().filter(|r| !r.is_empty()) {
                    let line = chart
                        .draw_series(LineSeries::new(run.clone(), color.stroke_width(3)))
                        .map_err(err)?;
                    if first {
                        line.label(s.label.clone()).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
                        });
                        first = false;
                    }
                    chart
                        .draw_series(run.iter().map(|p| Circle::new(*p, 4, color.filled())))
                        .map_err(err)?;
                }
                if let Some(t) = s.target.filter(|t| t.is_finite()) {
                    // One line: a red target; several: each target in its line's color.
                    let tc = if series.len() == 1 {
                        TARGET_COLOR
                    } else {
                        color
                    };
                    chart
                        .draw_series(DashedLineSeries::new(
                            vec![(-0.3, t), (x_max + 0.3, t)],
                            8,
                            6,
                            tc.stroke_width(2),
                        ))
                        .map_err(err)?
                        .label(format!("{} target", s.label))
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], tc.stroke_width(2))
                        });
                }
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(GRID_COLOR)
                .label_font((FAMILY, 13))
                .draw()
                .map_err(err)?;
            root.present().map_err(err)?;
        }
    }
    encode(&buf)
}

/// RGB bytes of a [`WIDTH`]×[`HEIGHT`] picture as PNG.
fn encode(rgb: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Best);
        let mut w = enc
            .write_header()
            .map_err(|e| ChartError::Encode(e.to_string()))?;
        w.write_image_data(rgb)
            .map_err(|e| ChartError::Encode(e.to_string()))?;
        w.finish().map_err(|e| ChartError::Encode(e.to_string()))?;
    }
    Ok(out)
}

/// The width and height written in a PNG's header, if it is one.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if png.len() < 24 || !png.starts_with(SIGNATURE) || png.get(12..16)? != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(png.get(16..20)?.try_into().ok()?);
    let h = u32::from_be_bytes(png.get(20..24)?.try_into().ok()?);
    Some((w, h))
}
