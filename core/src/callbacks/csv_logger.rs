//! CSVLogger: one row of logs per epoch in a CSV file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use burn::tensor::backend::AutodiffBackend;

use crate::callback::{Callback, CallbackResult, Control};
use crate::logs::Logs;

/// Writes each epoch's logs as a CSV row (`epoch` then the logged names, sorted as Keras
/// sorts them; `NA` for a value an epoch lacks, as Keras's), flushed at once so a crash
/// loses no finished epoch.
///
/// ```
/// use kiln_core::callbacks::CsvLogger;
/// let log = CsvLogger::new("training.csv").separator(';').append(true);
/// ```
#[derive(Debug)]
pub struct CsvLogger {
    path: PathBuf,
    separator: char,
    append: bool,
    file: Option<File>,
    columns: Vec<String>,
}

impl CsvLogger {
    /// Logs to `path`, comma-separated, replacing what is there.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CsvLogger {
            path: path.into(),
            separator: ',',
            append: false,
            file: None,
            columns: Vec::new(),
        }
    }

    /// The column separator.
    pub fn separator(mut self, separator: char) -> Self {
        self.separator = separator;
        self
    }

    /// Adds to an existing file (to continue a resumed run) instead of replacing it.
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }
}

impl<B: AutodiffBackend, M> Callback<B, M> for CsvLogger {
    fn on_train_begin(&mut self, _control: &mut Control<M>) -> CallbackResult {
        let had_rows = self.append && std::fs::metadata(&self.path).is_ok_and(|m| m.len() > 0);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&self.path)?;
        self.file = Some(file);
        // An appended file keeps its header; its columns are read back from it.
        self.columns = if had_rows {
            let text = std::fs::read_to_string(&self.path)?;
            let header = text.lines().next().unwrap_or_default();
            header
                .split(self.separator)
                .skip(1)
                .map(String::from)
                .collect()
        } else {
            Vec::new()
        };
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let sep = self.separator.to_string();
        if self.columns.is_empty() {
            let mut names: Vec<String> = logs.iter().map(|(n, _)| n.to_string()).collect();
            names.sort();
            // A first epoch without validation (Keras's `validation_freq`): the later
            // epochs' `val_` columns, `NA` until then, as Keras's.
            if control.skipped_validation {
                let validated = names.iter().map(|n| format!("val_{n}")).collect::<Vec<_>>();
                names.extend(validated);
            }
            writeln!(file, "epoch{sep}{}", names.join(&sep))?;
            self.columns = names;
        }
        let values: Vec<String> = self
            .columns
            .iter()
            .map(|c| logs.get(c).map_or_else(|| "NA".into(), |v| v.to_string()))
            .collect();
        writeln!(file, "{epoch}{sep}{}", values.join(&sep))?;
        file.flush()?;
        Ok(())
    }

    fn on_train_end(&mut self, _logs: &Logs, _control: &mut Control<M>) -> CallbackResult {
        self.file = None;
        Ok(())
    }
}

crate::callbacks::into_box!(CsvLogger where M: 'a);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::testing::{logs, script};

    #[test]
    fn writes_sorted_columns_and_appends() {
        let path = std::env::temp_dir().join(format!("kiln-csv-{}.csv", std::process::id()));
        let epochs: Vec<Logs> = [0.5, 0.25]
            .iter()
            .map(|&v| {
                let mut l = logs("val_loss", v * 2.0);
                l.insert("loss", v);
                l
            })
            .collect();
        script(&mut CsvLogger::new(&path), &epochs, 0.1);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "epoch,loss,val_loss\n0,0.5,1\n1,0.25,0.5\n"
        );
        script(
            &mut CsvLogger::new(&path).append(true).separator(','),
            &epochs[..1],
            0.1,
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "epoch,loss,val_loss\n0,0.5,1\n1,0.25,0.5\n0,0.5,1\n"
        );
        script(&mut CsvLogger::new(&path).separator(';'), &epochs[..1], 0.1);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "epoch;loss;val_loss\n0;0.5;1\n"
        );
    }
}
