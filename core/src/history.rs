//! History: every logged value of every epoch, as Keras's `History`, with charts and
//! JSON/CSV dumps.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::chart::{self, Chart, Series};
use crate::error::TrainError;
use crate::logs::Logs;

/// What `fit` returns: each epoch's logs (`loss`, each metric, and their `val_` twins).
///
/// ```
/// use kiln_core::{History, Logs};
/// let mut history = History::default();
/// let mut logs = Logs::new();
/// logs.insert("loss", 0.5);
/// history.push(0, &logs);
/// assert_eq!(history.get("loss"), Some(&[0.5][..]));
/// assert_eq!(history.to_csv(), "epoch,loss\n0,0.5\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    epochs: Vec<usize>,
    columns: Vec<(String, Vec<f64>)>,
}

/// Why a chart could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// No TrueType font to write the chart's text with.
    #[error("no TrueType font found for the chart's text; set KILN_FONT to a .ttf file")]
    NoFont,
    /// The chart could not be drawn or written.
    #[error("cannot write chart {path}: {reason}")]
    Draw {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// There is nothing to draw.
    #[error("the history holds no epoch to plot")]
    Empty,
}

impl History {
    /// Records one epoch's logs.
    pub fn push(&mut self, epoch: usize, logs: &Logs) {
        let row = self.epochs.len();
        self.epochs.push(epoch);
        for (name, value) in logs.iter() {
            match self.columns.iter_mut().find(|(n, _)| n == name) {
                Some((_, values)) => values.push(value),
                None => {
                    // A value first seen now: earlier epochs did not have it.
                    let mut values = vec![f64::NAN; row];
                    values.push(value);
                    self.columns.push((name.to_string(), values));
                }
            }
        }
        for (_, values) in &mut self.columns {
            values.resize(row + 1, f64::NAN);
        }
    }

    /// The epochs recorded (0-based, as Keras counts them).
    pub fn epochs(&self) -> &[usize] {
        &self.epochs
    }

    /// The values of `name`, one per epoch.
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The names logged, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|(n, _)| n.as_str())
    }

    /// Whether no epoch was recorded.
    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    /// The history as a CSV table: `epoch,loss,...`, one row per epoch.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("epoch");
        for (name, _) in &self.columns {
            out.push(',');
            out.push_str(name);
        }
        out.push('\n');
        for (row, epoch) in self.epochs.iter().enumerate() {
            let _ = write!(out, "{epoch}");
            for (_, values) in &self.columns {
                let _ = write!(out, ",{}", values[row]);
            }
            out.push('\n');
        }
        out
    }

    /// The history as JSON: `{"epoch": [...], "loss": [...], ...}` as Keras's
    /// `history.history` (with the epochs added).
    pub fn to_json(&self) -> String {
        let mut map = serde_json::Map::new();
        map.insert("epoch".into(), self.epochs.clone().into());
        for (name, values) in &self.columns {
            let values: Vec<serde_json::Value> = values
                .iter()
                .map(|v| {
                    serde_json::Number::from_f64(*v)
                        .map_or(serde_json::Value::Null, serde_json::Value::Number)
                })
                .collect();
            map.insert(name.clone(), values.into());
        }
        serde_json::Value::Object(map).to_string()
    }

    /// Reads back [`History::to_json`]'s output (`null` values are missing epochs).
    ///
    /// # Errors
    /// [`TrainError::Unreadable`] when the text is not such a JSON object.
    pub fn from_json(json: &str) -> Result<History, TrainError> {
        Self::read(json).map_err(|reason| TrainError::Unreadable {
            what: "this history",
            reason,
        })
    }

    /// [`History::from_json`], its failure said plainly.
    fn read(json: &str) -> Result<History, String> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let object = value.as_object().ok_or("a history is a JSON object")?;
        let numbers = |v: &serde_json::Value| -> Result<Vec<f64>, String> {
            v.as_array()
                .ok_or("each history entry is a list")?
                .iter()
                .map(|x| {
                    if x.is_null() {
                        Ok(f64::NAN)
                    } else {
                        x.as_f64().ok_or_else(|| format!("`{x}` is not a number"))
                    }
                })
                .collect()
        };
        let epochs = numbers(object.get("epoch").ok_or("a history lists its epochs")?)?;
        let mut history = History {
            epochs: epochs.iter().map(|&e| e as usize).collect(),
            columns: Vec::new(),
        };
        for (name, values) in object.iter().filter(|(n, _)| *n != "epoch") {
            let values = numbers(values)?;
            if values.len() != history.epochs.len() {
                return Err(format!(
                    "`{name}` has {} values for {} epochs",
                    values.len(),
                    history.epochs.len()
                ));
            }
            history.columns.push((name.clone(), values));
        }
        Ok(history)
    }

    /// Writes one PNG chart per logged quantity (loss and each metric), training and
    /// validation curves together: `path` for the loss, `path` with `_<metric>` before
    /// its extension for each metric. Returns the files written.
    ///
    /// # Errors
    /// [`PlotError`] when there is no epoch, no font for the text, or a file cannot be
    /// written.
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<Vec<PathBuf>, PlotError> {
        self.plot_titled(path, "")
    }

    /// [`History::plot`], each chart's title opening with `title` (the data, say:
    /// `synthetic digits: loss, training and validation`).
    ///
    /// # Errors
    /// As [`History::plot`].
    pub fn plot_titled(
        &self,
        path: impl AsRef<Path>,
        title: &str,
    ) -> Result<Vec<PathBuf>, PlotError> {
        if self.is_empty() {
            return Err(PlotError::Empty);
        }
        font::register()?;
        let path = path.as_ref();
        let mut written = Vec::new();
        for (name, _) in self.columns.iter().filter(|(n, _)| !n.starts_with("val_")) {
            let file = if name == "loss" {
                path.to_path_buf()
            } else {
                let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                let ext = path
                    .extension()
                    .map_or_else(|| "png".to_string(), |e| e.to_string_lossy().into_owned());
                path.with_file_name(format!("{stem}_{name}.{ext}"))
            };
            self.plot_one(name, &file, title)
                .map_err(|reason| PlotError::Draw {
                    path: file.clone(),
                    reason,
                })?;
            written.push(file);
        }
        Ok(written)
    }

    fn plot_one(&self, name: &str, file: &Path, title: &str) -> Result<(), String> {
        let val_name = format!("val_{name}");
        let mut curves = vec![(name.to_string(), self, name)];
        if self.get(&val_name).is_some() {
            curves.push((val_name.clone(), self, val_name.as_str()));
        }
        draw(file, &chart_title(title, name), name, &curves)
    }
}

/// A history chart's title: `loss, training and validation`, after `title` when given.
fn chart_title(title: &str, name: &str) -> String {
    match title {
        "" => format!("{name}, training and validation"),
        title => format!("{title}: {name}, training and validation"),
    }
}

/// Draws `curves` (label, history, value name) against the epochs, 1-based as Keras
/// prints them.
fn draw(
    file: &Path,
    title: &str,
    y_label: &str,
    curves: &[(String, &History, &str)],
) -> Result<(), String> {
    let series: Vec<Series> = curves
        .iter()
        .map(|(label, h, name)| {
            let points = h
                .epochs
                .iter()
                .zip(h.get(name).unwrap_or(&[]))
                .map(|(&e, &v)| (e as f64 + 1.0, v))
                .collect();
            Series::new(label, points)
        })
        .collect();
    let chart = Chart::new(title, "epoch", y_label).whole_x();
    chart::draw(file, &chart, &series)
}

/// Writes one chart comparing `metric` (`val_accuracy`, say) across several runs, one
/// curve per run labelled with its name: an experiment's summary chart.
///
/// # Errors
/// [`PlotError`] when no run has the metric, there is no font, or the file cannot be
/// written.
pub fn plot_runs(
    path: impl AsRef<Path>,
    title: &str,
    metric: &str,
    runs: &[(String, &History)],
) -> Result<(), PlotError> {
    let path = path.as_ref();
    if runs.iter().all(|(_, h)| h.get(metric).is_none()) {
        return Err(PlotError::Empty);
    }
    font::register()?;
    let curves: Vec<(String, &History, &str)> = runs
        .iter()
        .map(|(label, h)| (label.clone(), *h, metric))
        .collect();
    draw(path, title, metric, &curves).map_err(|reason| PlotError::Draw {
        path: path.to_path_buf(),
        reason,
    })
}

/// The font charts write their text with: `KILN_FONT`, else a common system font.
pub(crate) mod font {
    use std::sync::OnceLock;

    use super::PlotError;

    const CANDIDATES: [&str; 8] = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/noto/NotoSans-Regular.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        "/Library/Fonts/Arial.ttf",
        "C:\\Windows\\Fonts\\arial.ttf",
    ];

    /// Registers the font once for plotters' `sans-serif`.
    pub fn register() -> Result<(), PlotError> {
        static REGISTERED: OnceLock<bool> = OnceLock::new();
        let ok = *REGISTERED.get_or_init(|| {
            let env = std::env::var_os("KILN_FONT").map(std::path::PathBuf::from);
            let bytes = env
                .into_iter()
                .chain(CANDIDATES.iter().map(std::path::PathBuf::from))
                .find_map(|p| std::fs::read(p).ok());
            match bytes {
                // The font lives as long as the program: plotters keeps a 'static slice.
                Some(b) => plotters::style::register_font(
                    "sans-serif",
                    plotters::style::FontStyle::Normal,
                    Box::leak(b.into_boxed_slice()),
                )
                .is_ok(),
                None => false,
            }
        });
        if ok { Ok(()) } else { Err(PlotError::NoFont) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> History {
        let mut h = History::default();
        for (e, (loss, val)) in [(1.0, 1.1), (0.5, 0.7), (0.25, 0.6)]
            .into_iter()
            .enumerate()
        {
            let mut logs = Logs::new();
            logs.insert("loss", loss);
            logs.insert("accuracy", 1.0 - loss / 2.0);
            logs.insert("val_loss", val);
            logs.insert("val_accuracy", 1.0 - val / 2.0);
            h.push(e, &logs);
        }
        h
    }

    #[test]
    fn dumps_every_value() {
        let h = history();
        assert_eq!(
            h.names().collect::<Vec<_>>(),
            ["loss", "accuracy", "val_loss", "val_accuracy"]
        );
        assert_eq!(h.get("val_loss"), Some(&[1.1, 0.7, 0.6][..]));
        assert!(
            h.to_csv()
                .starts_with("epoch,loss,accuracy,val_loss,val_accuracy\n0,1,0.5,1.1,")
        );
        assert_eq!(History::from_json(&h.to_json()).unwrap(), h);
        let json: serde_json::Value = serde_json::from_str(&h.to_json()).unwrap();
        assert_eq!(json["loss"], serde_json::json!([1.0, 0.5, 0.25]));
        assert_eq!(json["epoch"], serde_json::json!([0, 1, 2]));
    }

    #[test]
    fn a_value_seen_late_is_missing_before() {
        let mut h = History::default();
        let mut a = Logs::new();
        a.insert("loss", 1.0);
        h.push(0, &a);
        a.insert("lr", 0.1);
        h.push(1, &a);
        let lr = h.get("lr").unwrap();
        assert!(lr[0].is_nan() && lr[1] == 0.1);
    }

    #[test]
    fn chart_titles_name_the_data_when_asked() {
        assert_eq!(chart_title("", "loss"), "loss, training and validation");
        assert_eq!(
            chart_title("synthetic digits", "accuracy"),
            "synthetic digits: accuracy, training and validation"
        );
    }

    #[test]
    fn plots_one_png_per_quantity() {
        if font::register().is_err() {
            crate::testing::skip_without("a system font");
            return;
        }
        let dir = std::env::temp_dir().join(format!("kiln-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = history().plot(dir.join("history.png")).unwrap();
        assert_eq!(
            files,
            [dir.join("history.png"), dir.join("history_accuracy.png")]
        );
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            assert_eq!(&bytes[1..4], b"PNG", "{}", f.display());
        }
        assert!(matches!(
            History::default().plot(dir.join("x.png")),
            Err(PlotError::Empty)
        ));
    }
}
