//! Line and point charts as PNG files: the history charts, and any chart of numbered
//! points (a search's trials, say) drawn the same way.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::history::{PlotError, font};

/// A chart's text and how its x axis is labelled.
///
/// ```
/// use kiln_core::{Chart, Series};
/// let chart = Chart::new("val_accuracy per trial", "trial", "val_accuracy").whole_x();
/// let series = [Series::new("val_accuracy", vec![(1.0, 0.95), (2.0, 0.97)])];
/// # let _ = (chart, series);
/// ```
#[derive(Clone, Debug)]
pub struct Chart {
    title: String,
    x_label: String,
    y_label: String,
    whole_x: bool,
}

impl Chart {
    /// A chart titled `title`, its axes described by `x_label` and `y_label`.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Chart {
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            whole_x: false,
        }
    }

    /// Labels only whole numbers on the x axis (epochs, trial numbers).
    pub fn whole_x(mut self) -> Self {
        self.whole_x = true;
        self
    }
}

/// One curve or set of points of a [`Chart`].
#[derive(Clone, Debug)]
pub struct Series {
    label: String,
    points: Vec<(f64, f64)>,
    lines: bool,
    muted: bool,
}

impl Series {
    /// Points joined by lines, in a colour of their own, labelled in the legend.
    pub fn new(label: &str, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.to_string(),
            points,
            lines: true,
            muted: false,
        }
    }

    /// Points only, not joined (a scatter plot).
    pub fn points_only(mut self) -> Self {
        self.lines = false;
        self
    }

    /// In grey and out of the legend: the background the coloured series stand out from.
    pub fn muted(mut self) -> Self {
        self.muted = true;
        self
    }
}

/// Writes `series` on one chart to the PNG file `path`; points that are not finite are
/// left out.
///
/// # Errors
/// [`PlotError`] when no series has a point, there is no font, or the file cannot be
/// written.
pub fn plot_lines(
    path: impl AsRef<Path>,
    chart: &Chart,
    series: &[Series],
) -> Result<(), PlotError> {
    let path = path.as_ref();
    if series.iter().all(|s| s.points.is_empty()) {
        return Err(PlotError::Empty);
    }
    font::register()?;
    draw(path, chart, series).map_err(|reason| PlotError::Draw {
        path: path.to_path_buf(),
        reason,
    })
}

/// The label of an x-axis tick on a whole-number axis: the number where the tick falls
/// on one, none between (plotters places ticks at halves on short runs, which rounding
/// labelled `1 2 2 2 3`).
fn whole_label(x: f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

/// The series' colours, in order.
const COLORS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];

/// The span the chart shows, `(x from, x to, y from, y to)`: never empty.
fn bounds(series: &[Series], whole_x: bool) -> (f64, f64, f64, f64) {
    let points = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (lo, hi, first, last) = points.fold(
        (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
        |(lo, hi, f, l), &(x, y)| (lo.min(y), hi.max(y), f.min(x), l.max(x)),
    );
    let (lo, hi) = if lo > hi {
        (0.0, 1.0)
    } else if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let (first, last) = if first > last {
        (0.0, 1.0)
    } else if whole_x {
        (first, last.max(first + 1.0))
    } else if first == last {
        (first - 0.5, last + 0.5)
    } else {
        let pad = (last - first) * 0.03;
        (first - pad, last + pad)
    };
    (first, last, lo, hi)
}

/// Draws `series` on `chart` into `file`.
pub(crate) fn draw(file: &Path, chart: &Chart, series: &[Series]) -> Result<(), String> {
    let (first, last, lo, hi) = bounds(series, chart.whole_x);
    let margin = (hi - lo) * 0.05;
    let root = BitMapBackend::new(file, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut plot = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(first..last, (lo - margin)..(hi + margin))
        .map_err(|e| e.to_string())?;
    // Four decimals at most: a tick at 0.30000000000000004 reads 0.3.
    let plain = |x: &f64| {
        let text = format!("{x:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    let x_format: &dyn Fn(&f64) -> String = if chart.whole_x {
        &|&x| whole_label(x)
    } else {
        &plain
    };
    plot.configure_mesh()
        .x_desc(&chart.x_label)
        .x_label_formatter(x_format)
        .y_desc(&chart.y_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    let mut colors = COLORS.iter().cycle();
    // The muted series first, so the coloured ones are drawn over them.
    for s in series
        .iter()
        .filter(|s| s.muted)
        .chain(series.iter().filter(|s| !s.muted))
    {
        let color = if s.muted {
            RGBColor(190, 190, 190)
        } else {
            *colors.next().unwrap_or(&BLACK)
        };
        draw_series(&mut plot, s, color)?;
    }
    plot.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// The plotting area of a chart.
type Plot<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws one series in `color`, with its legend entry unless muted.
fn draw_series(plot: &mut Plot<'_, '_>, s: &Series, color: RGBColor) -> Result<(), String> {
    let points: Vec<(f64, f64)> = s
        .points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if s.lines {
        let drawn = plot
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?;
        if !s.muted {
            drawn.label(s.label.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        }
    }
    let dots = plot
        .draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, color.filled())),
        )
        .map_err(|e| e.to_string())?;
    if !s.lines && !s.muted {
        dots.label(s.label.as_str())
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_x_axis_labels_whole_numbers_only() {
        let labels: Vec<String> = [1.0, 1.5, 2.0, 2.5, 3.0, 12.0, 11.999_999_9]
            .into_iter()
            .map(whole_label)
            .collect();
        assert_eq!(labels, ["1", "", "2", "", "3", "12", "12"]);
    }

    #[test]
    fn points_on_a_continuous_axis_keep_a_margin() {
        let series = [Series::new(
            "a",
            vec![(0.001, 1.0), (0.01, 2.0), (f64::NAN, 9.0)],
        )];
        let (first, last, lo, hi) = bounds(&series, false);
        assert!(first < 0.001 && last > 0.01, "{first} {last}");
        assert_eq!(
            (lo, hi),
            (1.0, 2.0),
            "a point that is not finite is left out"
        );
        assert_eq!(bounds(&[], true), (0.0, 1.0, 0.0, 1.0));
    }
}
