//! A tiny SVG plotter, the one every plot of the report is drawn with.
//!
//! In: axes (range, ticks, label) and marks in data coordinates (lines, segments,
//! spans, dots, text). Out: one `<svg>` element as a string, with a title, a legend,
//! grid lines, tick labels, axis labels and an optional right-hand axis.
//!
//! Lines break wherever a coordinate is not finite: a NaN is a gap in the data, and
//! nothing is drawn through it. All text is escaped here, so callers pass raw strings.

use std::fmt::Write;

mod axis;

pub(super) use axis::Axis;

use super::format::escape;

const FONT_SIZE: f64 = 11.0;
/// An estimate of the advance of a character at [`FONT_SIZE`] in a sans-serif font,
/// enough to leave room for tick labels and lay the legend out.
const CHAR_WIDTH: f64 = 6.4;
/// The same for the bold 13 px title.
const TITLE_CHAR_WIDTH: f64 = 8.0;
const LEGEND_ROW: f64 = 16.0;
const GRID_COLOR: &str = "#e6e6e6";
const FRAME_COLOR: &str = "#999999";
const TEXT_COLOR: &str = "#333333";

/// Which vertical axis a mark is measured against.
#[derive(Debug, Clone, Copy)]
pub(super) enum Side {
    Left,
    Right,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Stroke {
    color: &'static str,
    width: f64,
    /// An SVG `stroke-dasharray`, e.g. `"6 4"`; None for a solid line.
    dash: Option<&'static str>,
}

impl Stroke {
    pub(super) const fn solid(color: &'static str, width: f64) -> Self {
        Self {
            color,
            width,
            dash: None,
        }
    }

    pub(super) const fn dashed(color: &'static str, width: f64, dash: &'static str) -> Self {
        Self {
            color,
            width,
            dash: Some(dash),
        }
    }

    fn attributes(&self) -> String {
        let dash = self
            .dash
            .map(|d| format!(r#" stroke-dasharray="{d}""#))
            .unwrap_or_default();
        format!(
            r#"fill="none" stroke="{}" stroke-width="{}"{dash}"#,
            self.color, self.width
        )
    }
}

/// What a legend entry shows next to its text.
#[derive(Debug, Clone, Copy)]
pub(super) enum Swatch {
    Line(Stroke),
    Fill(&'static str),
    Dot(&'static str),
}

/// Something drawn in data coordinates.
#[derive(Debug, Clone)]
enum Mark {
    Line(Vec<(f64, f64)>, Side, Stroke),
    /// A band over the whole height between two x values.
    Span(f64, f64, &'static str),
    Dot((f64, f64), f64, &'static str),
    Text((f64, f64), String),
}

/// A plot being put together: axes, marks and legend; [`Plot::finish`] renders it.
#[derive(Debug)]
pub(super) struct Plot {
    title: String,
    width: f64,
    height: f64,
    x: Axis,
    y: Axis,
    right: Option<Axis>,
    marks: Vec<Mark>,
    legend: Vec<(String, Swatch)>,
}

/// Where the plot area lies inside the SVG, in pixels.
struct Area {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Plot {
    pub(super) fn new(title: impl Into<String>, width: f64, height: f64, x: Axis, y: Axis) -> Self {
        Self {
            title: title.into(),
            width,
            height,
            x,
            y,
            right: None,
            marks: Vec::new(),
            legend: Vec::new(),
        }
    }

    /// Adds a second vertical axis on the right, for marks on [`Side::Right`].
    pub(super) fn with_right_axis(mut self, axis: Axis) -> Self {
        self.right = Some(axis);
        self
    }

    /// A line through `points`, broken wherever a coordinate is not finite.
    pub(super) fn line(
        &mut self,
        points: impl IntoIterator<Item = (f64, f64)>,
        side: Side,
        stroke: Stroke,
    ) {
        self.marks
            .push(Mark::Line(points.into_iter().collect(), side, stroke));
    }

    /// A straight line from `from` to `to`, on the left axis.
    pub(super) fn segment(&mut self, from: (f64, f64), to: (f64, f64), stroke: Stroke) {
        self.line([from, to], Side::Left, stroke);
    }

    /// A horizontal line across the plot at `y` on the left axis.
    pub(super) fn hline(&mut self, y: f64, stroke: Stroke) {
        self.segment((self.x.min, y), (self.x.max, y), stroke);
    }

    /// A vertical line over the whole height at `x`; none if `x` is outside the x range.
    pub(super) fn vline(&mut self, x: f64, stroke: Stroke) {
        if (self.x.min..=self.x.max).contains(&x) {
            self.segment((x, self.y.min), (x, self.y.max), stroke);
        }
    }

    /// A band over the whole height from `from` to `to`, cut to the x range.
    pub(super) fn span(&mut self, from: f64, to: f64, fill: &'static str) {
        self.marks.push(Mark::Span(from, to, fill));
    }

    /// A dot at `at` on the left axis.
    pub(super) fn dot(&mut self, at: (f64, f64), radius: f64, fill: &'static str) {
        self.marks.push(Mark::Dot(at, radius, fill));
    }

    /// Text just above and beside `at` on the left axis.
    pub(super) fn text(&mut self, at: (f64, f64), text: impl Into<String>) {
        self.marks.push(Mark::Text(at, text.into()));
    }

    pub(super) fn legend(&mut self, label: impl Into<String>, swatch: Swatch) {
        self.legend.push((label.into(), swatch));
    }

    /// The `<svg>` element.
    pub(super) fn finish(self) -> String {
        let y_label = if self.y.label.is_empty() { 0.0 } else { 18.0 };
        let left = self.y.widest_tick() as f64 * CHAR_WIDTH + y_label + 14.0;
        let legend_rows = self.legend_layout(self.width - left - 8.0);
        let rows = legend_rows.last().map_or(0.0, |(_, row, _)| row + 1.0);
        let right = self
            .right
            .as_ref()
            .map_or(16.0, |a| a.widest_tick() as f64 * CHAR_WIDTH + 30.0);
        let area = Area {
            left,
            right: self.width - right,
            top: 30.0 + rows * LEGEND_ROW,
            bottom: self.height - 40.0,
        };
        let mut svg = format!(
            r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="{FONT_SIZE}" fill="{TEXT_COLOR}">"#,
            w = self.width,
            h = self.height,
        );
        // The whole title is the SVG's <title> (a tooltip); the heading is cut to fit.
        let room = ((self.width - area.left - 8.0) / TITLE_CHAR_WIDTH) as usize;
        let heading = if self.title.chars().count() > room {
            let cut: String = self.title.chars().take(room.saturating_sub(1)).collect();
            format!("{cut}…")
        } else {
            self.title.clone()
        };
        let _ = write!(
            svg,
            r#"<title>{}</title><text x="{}" y="18" font-size="13" font-weight="600">{}</text>"#,
            escape(&self.title),
            area.left,
            escape(&heading)
        );
        self.draw_legend(&mut svg, &area, &legend_rows);
        self.draw_grid(&mut svg, &area);
        for mark in &self.marks {
            self.draw_mark(&mut svg, &area, mark);
        }
        self.draw_axes(&mut svg, &area);
        svg.push_str("</svg>");
        svg
    }

    /// Each legend entry's x offset and row, flowing left to right and wrapping within
    /// `room` pixels.
    fn legend_layout(&self, room: f64) -> Vec<(f64, f64, &(String, Swatch))> {
        let (mut x, mut row) = (0.0, 0.0);
        self.legend
            .iter()
            .map(|entry| {
                let width = 26.0 + entry.0.chars().count() as f64 * CHAR_WIDTH + 14.0;
                if x > 0.0 && x + width > room {
                    (x, row) = (0.0, row + 1.0);
                }
                let placed = (x, row, entry);
                x += width;
                placed
            })
            .collect()
    }

    fn draw_legend(&self, svg: &mut String, area: &Area, rows: &[(f64, f64, &(String, Swatch))]) {
        for (dx, row, (label, swatch)) in rows {
            let (x, y) = (area.left + dx, 32.0 + row * LEGEND_ROW);
            let _ = match swatch {
                Swatch::Line(stroke) => write!(
                    svg,
                    r#"<line x1="{x}" y1="{y0}" x2="{x1}" y2="{y0}" {}/>"#,
                    stroke.attributes(),
                    y0 = y - 4.0,
                    x1 = x + 20.0
                ),
                Swatch::Fill(color) => write!(
                    svg,
                    r#"<rect x="{x}" y="{y0}" width="20" height="10" fill="{color}"/>"#,
                    y0 = y - 9.0
                ),
                Swatch::Dot(color) => write!(
                    svg,
                    r#"<circle cx="{cx}" cy="{cy}" r="4" fill="{color}"/>"#,
                    cx = x + 10.0,
                    cy = y - 4.0
                ),
            };
            let _ = write!(
                svg,
                r#"<text x="{}" y="{y}">{}</text>"#,
                x + 26.0,
                escape(label)
            );
        }
    }

    fn draw_grid(&self, svg: &mut String, area: &Area) {
        let _ = write!(svg, r#"<g stroke="{GRID_COLOR}" stroke-width="1">"#);
        for (value, _) in &self.x.ticks {
            let x = px_x(area, &self.x, *value);
            let _ = write!(
                svg,
                r#"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}"/>"#,
                area.top, area.bottom
            );
        }
        for (value, _) in &self.y.ticks {
            let y = px_y(area, &self.y, *value);
            let _ = write!(
                svg,
                r#"<line x1="{}" y1="{y:.1}" x2="{}" y2="{y:.1}"/>"#,
                area.left, area.right
            );
        }
        svg.push_str("</g>");
    }

    fn draw_mark(&self, svg: &mut String, area: &Area, mark: &Mark) {
        let _ = match mark {
            Mark::Line(points, side, stroke) => {
                let y_axis = match (side, &self.right) {
                    (Side::Right, Some(right)) => right,
                    _ => &self.y,
                };
                let to_px = |&(x, y): &(f64, f64)| (px_x(area, &self.x, x), px_y(area, y_axis, y));
                for run in runs(points) {
                    let _ = if let [point] = run {
                        let (cx, cy) = to_px(point);
                        write!(
                            svg,
                            r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="{}" fill="{}"/>"#,
                            stroke.width, stroke.color
                        )
                    } else {
                        let coords: Vec<String> = run
                            .iter()
                            .map(to_px)
                            .map(|(x, y)| format!("{x:.1},{y:.1}"))
                            .collect();
                        write!(
                            svg,
                            r#"<polyline points="{}" stroke-linejoin="round" {}/>"#,
                            coords.join(" "),
                            stroke.attributes()
                        )
                    };
                }
                Ok(())
            }
            Mark::Span(from, to, fill) => {
                let clamp = |v: f64| v.clamp(self.x.min, self.x.max);
                let (x0, x1) = (
                    px_x(area, &self.x, clamp(*from)),
                    px_x(area, &self.x, clamp(*to)),
                );
                write!(
                    svg,
                    r#"<rect x="{x0:.1}" y="{}" width="{:.1}" height="{}" fill="{fill}"/>"#,
                    area.top,
                    (x1 - x0).max(0.0),
                    area.bottom - area.top
                )
            }
            Mark::Dot((x, y), radius, fill) => write!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="{radius}" fill="{fill}" fill-opacity="0.8" stroke="#ffffff" stroke-width="1"/>"##,
                px_x(area, &self.x, *x),
                px_y(area, &self.y, *y)
            ),
            Mark::Text((x, y), text) => {
                // Near the right edge the text goes to the left of its point instead.
                let x = px_x(area, &self.x, *x);
                let (x, anchor) = if x > area.right - 40.0 {
                    (x - 4.0, "end")
                } else {
                    (x + 4.0, "start")
                };
                write!(
                    svg,
                    r#"<text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="{anchor}">{}</text>"#,
                    px_y(area, &self.y, *y) - 4.0,
                    escape(text)
                )
            }
        };
    }

    fn draw_axes(&self, svg: &mut String, area: &Area) {
        let _ = write!(
            svg,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="{FRAME_COLOR}"/>"#,
            area.left,
            area.top,
            area.right - area.left,
            area.bottom - area.top
        );
        for (value, label) in &self.x.ticks {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                px_x(area, &self.x, *value),
                area.bottom + 14.0,
                escape(label)
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            (area.left + area.right) / 2.0,
            area.bottom + 32.0,
            escape(&self.x.label)
        );
        let vertical = [(&self.y, area.left - 5.0, "end", -90.0, 12.0)]
            .into_iter()
            .chain(
                self.right
                    .iter()
                    .map(|axis| (axis, area.right + 5.0, "start", 90.0, self.width - 10.0)),
            );
        for (axis, x, anchor, rotation, label_x) in vertical {
            for (value, label) in &axis.ticks {
                let _ = write!(
                    svg,
                    r#"<text x="{x}" y="{:.1}" text-anchor="{anchor}" dominant-baseline="middle">{}</text>"#,
                    px_y(area, axis, *value),
                    escape(label)
                );
            }
            if !axis.label.is_empty() {
                let middle = (area.top + area.bottom) / 2.0;
                let _ = write!(
                    svg,
                    r#"<text transform="translate({label_x} {middle}) rotate({rotation})" text-anchor="middle">{}</text>"#,
                    escape(&axis.label)
                );
            }
        }
    }
}

fn px_x(area: &Area, axis: &Axis, value: f64) -> f64 {
    area.left + axis.share(value) * (area.right - area.left)
}

fn px_y(area: &Area, axis: &Axis, value: f64) -> f64 {
    area.bottom - axis.share(value) * (area.bottom - area.top)
}

/// The runs of consecutive points whose coordinates are all finite.
fn runs(points: &[(f64, f64)]) -> impl Iterator<Item = &[(f64, f64)]> {
    points
        .split(|(x, y)| !(x.is_finite() && y.is_finite()))
        .filter(|run| !run.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plot() -> Plot {
        Plot::new(
            "t",
            400.0,
            300.0,
            Axis::exact(0.0, 10.0, "x"),
            Axis::exact(0.0, 1.0, "y"),
        )
    }

    #[test]
    fn a_line_breaks_at_every_gap_and_a_lone_point_becomes_a_dot() {
        let mut plot = plot();
        let ys = [
            0.1,
            0.2,
            f64::NAN,
            0.3,
            0.4,
            0.5,
            f64::NAN,
            f64::NAN,
            0.6,
            f64::NAN,
        ];
        plot.line(
            ys.iter().enumerate().map(|(i, y)| (i as f64, *y)),
            Side::Left,
            Stroke::solid("#000", 1.0),
        );
        let svg = plot.finish();
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 1, "the lone 0.6");
        assert!(!svg.contains("NaN"));
    }
}
