//! ModelCheckpoint: saves the model after each epoch, or when it improves.

use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use crate::callback::{Callback, CallbackResult, Control, Mode, Monitor};
use crate::error::TrainError;
use crate::logs::Logs;
use crate::model::Model;
use crate::save::{model_file, save_model, save_weights};

/// Saves the model to `filepath` after each epoch, as Keras's `ModelCheckpoint`. The path
/// may hold the epoch (1-based, as Keras counts in file names) and any logged value:
/// `"ckpt-{epoch:02}-{val_loss:.4}.safetensors"`. Every write goes to a temporary file
/// renamed into place, so a crash mid-write never corrupts the previous checkpoint.
///
/// ```
/// use kiln_core::callbacks::ModelCheckpoint;
/// let best = ModelCheckpoint::new("best.safetensors").save_best_only(true);
/// assert_eq!(
///     ModelCheckpoint::file_name("w-{epoch:02}-{val_loss:.3}.bpk", 4, &[("val_loss", 0.12345)].into_iter().collect()).unwrap(),
///     "w-05-0.123.bpk"
/// );
/// ```
#[derive(Debug)]
pub struct ModelCheckpoint {
    filepath: String,
    monitor: Monitor,
    mode: Mode,
    save_best_only: bool,
    save_weights_only: bool,
    save_freq: usize,
    saved: Vec<PathBuf>,
}

impl ModelCheckpoint {
    /// Saves to `filepath` (a template) every epoch, architecture and weights together
    /// (a `.safetensors` path, checked when training begins); Keras's defaults: monitor
    /// `val_loss`, save every epoch.
    pub fn new(filepath: impl Into<String>) -> Self {
        ModelCheckpoint {
            filepath: filepath.into(),
            monitor: Monitor::new("val_loss", Mode::Auto, 0.0),
            mode: Mode::Auto,
            save_best_only: false,
            save_weights_only: false,
            save_freq: 1,
            saved: Vec::new(),
        }
    }

    /// The quantity that decides what is best.
    pub fn monitor(mut self, name: &str) -> Self {
        self.monitor = Monitor::new(name, self.mode, 0.0);
        self
    }

    /// Whether lower or higher values are better.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self.monitor = Monitor::new(&self.monitor.name, mode, 0.0);
        self
    }

    /// Saves only when the monitored quantity improves.
    pub fn save_best_only(mut self, best_only: bool) -> Self {
        self.save_best_only = best_only;
        self
    }

    /// Saves the weights alone (burnpack, or safetensors by extension) instead of the
    /// architecture and weights together (safetensors).
    pub fn save_weights_only(mut self, weights_only: bool) -> Self {
        self.save_weights_only = weights_only;
        self
    }

    /// Saves every `epochs` epochs.
    pub fn save_freq(mut self, epochs: usize) -> Self {
        self.save_freq = epochs.max(1);
        self
    }

    /// The files written so far, in order.
    pub fn saved(&self) -> &[PathBuf] {
        &self.saved
    }

    /// The file name for `epoch` (0-based) and `logs`: `{epoch}` and `{name}` fields with
    /// an optional spec, `{epoch:02}` (zero-padded) or `{val_loss:.4}` (decimals).
    ///
    /// # Errors
    /// A field that is neither `epoch` nor logged, or an unclosed brace.
    pub fn file_name(template: &str, epoch: usize, logs: &Logs) -> Result<String, TrainError> {
        Self::fill(template, epoch, logs).map_err(TrainError::Setting)
    }

    /// [`ModelCheckpoint::file_name`], its failure said plainly.
    fn fill(template: &str, epoch: usize, logs: &Logs) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in the checkpoint path `{template}`"))?
                + open;
            let field = &rest[open + 1..close];
            let (name, spec) = field.split_once(':').unwrap_or((field, ""));
            let spec = spec.trim_end_matches(['d', 'f']);
            let value = if name == "epoch" {
                (epoch + 1) as f64
            } else {
                logs.get(name).ok_or_else(|| {
                    format!("the checkpoint path names `{name}`, which is not logged")
                })?
            };
            let text = match (spec.strip_prefix('.'), spec.strip_prefix('0')) {
                (Some(decimals), _) => format!("{value:.*}", decimals.parse().unwrap_or(4)),
                (None, Some(width)) => format!(
                    "{:0width$}",
                    value as i64,
                    width = width.parse().unwrap_or(0)
                ),
                _ if name == "epoch" => format!("{}", value as i64),
                _ => format!("{value}"),
            };
            out.push_str(&text);
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

impl<B: AutodiffBackend, M: AutodiffModule<B> + Model<B>> Callback<B, M> for ModelCheckpoint {
    fn on_train_begin(&mut self, _control: &mut Control<M>) -> CallbackResult {
        if !self.save_weights_only {
            model_file(Path::new(&self.filepath))?;
        }
        self.monitor.reset();
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        if !(epoch + 1).is_multiple_of(self.save_freq) {
            return Ok(());
        }
        if control.skipped_validation && self.filepath.contains("{val_") {
            return Ok(()); // no validation this epoch to name the file by
        }
        if self.save_best_only {
            let current = self.monitor.value(logs, control)?;
            let Some(current) = current.filter(|c| self.monitor.improves(*c, self.monitor.best))
            else {
                return Ok(());
            };
            self.monitor.best = current;
        }
        let path = PathBuf::from(Self::file_name(&self.filepath, epoch, logs)?);
        if self.save_weights_only {
            save_weights(control.model(), &path)?;
        } else {
            save_model(control.model(), &path)?;
        }
        self.saved.push(path);
        Ok(())
    }
}

crate::callbacks::into_box!(ModelCheckpoint where M: AutodiffModule<B> + Model<B>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::testing::{control, logs};
    use crate::testing::{TestAutodiff, Two};

    #[test]
    fn save_best_only_skips_the_epochs_that_do_not_improve() {
        let dir = std::env::temp_dir().join(format!("kiln-best-only-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let template = dir.join("best-{epoch}.bpk").to_string_lossy().into_owned();
        let mut best = ModelCheckpoint::new(template)
            .monitor("loss")
            .save_best_only(true)
            .save_weights_only(true);
        let mut model = Two::<TestAutodiff>::new(&Default::default());
        let mut control = control(&mut model, 0.1, 4);
        best.on_train_begin(&mut control).unwrap();
        // The loss falls, rises, falls below its best, rises again: epochs 1 and 3 save.
        for (epoch, loss) in [1.0, 2.0, 0.5, 0.7].into_iter().enumerate() {
            best.on_epoch_end(epoch, &logs("loss", loss), &mut control)
                .unwrap();
        }
        let names = |paths: Vec<PathBuf>| -> Vec<String> {
            let mut names: Vec<String> = paths
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(best.saved().to_vec()), ["best-1.bpk", "best-3.bpk"]);
        let on_disk = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(names(on_disk), ["best-1.bpk", "best-3.bpk"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_model_checkpoint_not_named_safetensors_stops_before_training() {
        let mut model = Two::<TestAutodiff>::new(&Default::default());
        let mut control = control(&mut model, 0.1, 1);
        let mut whole = ModelCheckpoint::new("best-{epoch}.bpk");
        let err = Callback::<TestAutodiff, _>::on_train_begin(&mut whole, &mut control)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot save a model as best-{epoch}.bpk: a model file"),
            "{err}"
        );
        // The weights alone may be burnpack.
        let mut weights = ModelCheckpoint::new("best-{epoch}.bpk").save_weights_only(true);
        Callback::<TestAutodiff, _>::on_train_begin(&mut weights, &mut control).unwrap();
    }

    #[test]
    fn file_names_follow_the_template() {
        let mut l = logs("val_loss", 0.123_456);
        l.insert("accuracy", 0.9);
        let cases = [
            ("ckpt.bpk", "ckpt.bpk"),
            ("w-{epoch:02d}.bpk", "w-03.bpk"),
            ("w-{epoch}-{val_loss:.2f}.bpk", "w-3-0.12.bpk"),
            ("{accuracy:.3}", "0.900"),
        ];
        for (template, want) in cases {
            assert_eq!(ModelCheckpoint::file_name(template, 2, &l).unwrap(), want);
        }
        assert_eq!(
            ModelCheckpoint::file_name("w-{val_acc}.bpk", 0, &l)
                .unwrap_err()
                .to_string(),
            "the checkpoint path names `val_acc`, which is not logged"
        );
        assert!(
            ModelCheckpoint::file_name("w-{epoch.bpk", 0, &l)
                .unwrap_err()
                .to_string()
                .starts_with("unclosed")
        );
    }
}
