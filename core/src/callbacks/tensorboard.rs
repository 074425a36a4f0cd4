//! TensorBoard: real TensorFlow event files (`events.out.tfevents.*`): TFRecord framing
//! with masked CRC-32C, `Event` and `Summary` protobufs, under `log_dir/train` and
//! `log_dir/validation`, as Keras's `TensorBoard` callback writes them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn_store::ModuleSnapshot;
use prost::Message;

use crate::callback::{BatchLogs, Callback, CallbackResult, Control};
use crate::logs::Logs;
use crate::model::Model;

/// The protobuf messages of TensorFlow's `event.proto` and `summary.proto` that
/// TensorBoard reads (only the fields kiln writes).
pub mod proto {
    /// `tensorflow.Event`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Event {
        /// Seconds since the Unix epoch.
        #[prost(double, tag = "1")]
        pub wall_time: f64,
        /// The step (epoch or batch) the values belong to.
        #[prost(int64, tag = "2")]
        pub step: i64,
        /// What the event holds.
        #[prost(oneof = "What", tags = "3, 5")]
        pub what: Option<What>,
    }

    /// `Event.what`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum What {
        /// The first event of a file: `brain.Event:2`.
        #[prost(string, tag = "3")]
        FileVersion(String),
        /// Values.
        #[prost(message, tag = "5")]
        Summary(Summary),
    }

    /// `tensorflow.Summary`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Summary {
        /// The values.
        #[prost(message, repeated, tag = "1")]
        pub value: Vec<Value>,
    }

    /// `tensorflow.Summary.Value`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Value {
        /// The series name (`epoch_loss`).
        #[prost(string, tag = "1")]
        pub tag: String,
        /// Which plugin shows it (`text` for text).
        #[prost(message, optional, tag = "9")]
        pub metadata: Option<SummaryMetadata>,
        /// The value.
        #[prost(oneof = "Kind", tags = "2, 5, 8")]
        pub value: Option<Kind>,
    }

    /// `Summary.Value.value`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// A scalar.
        #[prost(float, tag = "2")]
        SimpleValue(f32),
        /// A histogram.
        #[prost(message, tag = "5")]
        Histo(HistogramProto),
        /// A tensor (text).
        #[prost(message, tag = "8")]
        Tensor(TensorProto),
    }

    /// `tensorflow.HistogramProto`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HistogramProto {
        /// The smallest value.
        #[prost(double, tag = "1")]
        pub min: f64,
        /// The largest value.
        #[prost(double, tag = "2")]
        pub max: f64,
        /// How many values.
        #[prost(double, tag = "3")]
        pub num: f64,
        /// Their sum.
        #[prost(double, tag = "4")]
        pub sum: f64,
        /// The sum of their squares.
        #[prost(double, tag = "5")]
        pub sum_squares: f64,
        /// Each bucket's upper edge.
        #[prost(double, repeated, tag = "6")]
        pub bucket_limit: Vec<f64>,
        /// Each bucket's count.
        #[prost(double, repeated, tag = "7")]
        pub bucket: Vec<f64>,
    }

    /// `tensorflow.SummaryMetadata`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SummaryMetadata {
        /// The plugin.
        #[prost(message, optional, tag = "1")]
        pub plugin_data: Option<PluginData>,
    }

    /// `SummaryMetadata.PluginData`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PluginData {
        /// The plugin's name.
        #[prost(string, tag = "1")]
        pub plugin_name: String,
    }

    /// `tensorflow.TensorProto`, for a string tensor.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorProto {
        /// `DT_STRING` = 7.
        #[prost(int32, tag = "1")]
        pub dtype: i32,
        /// The shape (scalar: no dimension).
        #[prost(message, optional, tag = "2")]
        pub tensor_shape: Option<TensorShapeProto>,
        /// The strings.
        #[prost(bytes = "vec", repeated, tag = "8")]
        pub string_val: Vec<Vec<u8>>,
    }

    /// `tensorflow.TensorShapeProto`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorShapeProto {}
}

pub use proto::{Event, Kind, Summary, Value, What};

/// TFRecord's masked CRC-32C.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One events file, written record by record.
struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        let host = if host.is_empty() {
            "localhost".to_string()
        } else {
            host
        };
        let path = dir.join(format!(
            "events.out.tfevents.{}.{host}.{}.v2",
            now() as u64,
            std::process::id()
        ));
        let mut writer = EventWriter {
            out: BufWriter::new(File::create(&path)?),
            path,
        };
        writer.write(&proto::Event {
            wall_time: now(),
            step: 0,
            what: Some(proto::What::FileVersion("brain.Event:2".into())),
        })?;
        Ok(writer)
    }

    fn write(&mut self, event: &proto::Event) -> std::io::Result<()> {
        let data = event.encode_to_vec();
        let length = (data.len() as u64).to_le_bytes();
        self.out.write_all(&length)?;
        self.out.write_all(&masked_crc32c(&length).to_le_bytes())?;
        self.out.write_all(&data)?;
        self.out.write_all(&masked_crc32c(&data).to_le_bytes())?;
        Ok(())
    }

    fn summary(&mut self, step: i64, value: Vec<proto::Value>) -> std::io::Result<()> {
        self.write(&proto::Event {
            wall_time: now(),
            step,
            what: Some(proto::What::Summary(proto::Summary { value })),
        })
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn scalar(tag: String, value: f64) -> proto::Value {
    proto::Value {
        tag,
        metadata: None,
        value: Some(proto::Kind::SimpleValue(value as f32)),
    }
}

/// A histogram of `values` in 30 equal buckets, as TensorBoard shows weights.
pub fn histogram(values: &[f32]) -> proto::HistogramProto {
    let (min, max) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &v| {
        (lo.min(v.into()), hi.max(v.into()))
    });
    let (min, max) = if values.is_empty() {
        (0.0, 0.0)
    } else {
        (min, max)
    };
    const BUCKETS: usize = 30;
    let width = ((max - min) / BUCKETS as f64).max(f64::EPSILON);
    let mut bucket = vec![0.0; BUCKETS];
    for &v in values {
        let i = (((f64::from(v) - min) / width) as usize).min(BUCKETS - 1);
        bucket[i] += 1.0;
    }
    proto::HistogramProto {
        min,
        max,
        num: values.len() as f64,
        sum: values.iter().map(|&v| f64::from(v)).sum(),
        sum_squares: values.iter().map(|&v| f64::from(v) * f64::from(v)).sum(),
        bucket_limit: (1..=BUCKETS).map(|i| min + width * i as f64).collect(),
        bucket,
    }
}

/// Writes TensorBoard logs: each epoch's values (`epoch_loss`, `epoch_accuracy`, the
/// learning rate), per batch with `update_freq`, weight histograms every
/// `histogram_freq` epochs, and the model's summary as text. Open them with
/// `tensorboard --logdir <log_dir>`.
///
/// ```
/// use kiln_core::callbacks::TensorBoard;
/// let board = TensorBoard::new("logs").histogram_freq(1).update_freq(100);
/// ```
pub struct TensorBoard {
    log_dir: PathBuf,
    histogram_freq: usize,
    update_freq: Option<usize>,
    train: Option<EventWriter>,
    validation: Option<EventWriter>,
    global_batch: usize,
}

impl TensorBoard {
    /// Logs under `log_dir`, once per epoch, without histograms (Keras's defaults).
    pub fn new(log_dir: impl Into<PathBuf>) -> Self {
        TensorBoard {
            log_dir: log_dir.into(),
            histogram_freq: 0,
            update_freq: None,
            train: None,
            validation: None,
            global_batch: 0,
        }
    }

    /// Writes weight histograms every `epochs` epochs (0: never).
    pub fn histogram_freq(mut self, epochs: usize) -> Self {
        self.histogram_freq = epochs;
        self
    }

    /// Also writes the running training values every `batches` batches.
    pub fn update_freq(mut self, batches: usize) -> Self {
        self.update_freq = (batches > 0).then_some(batches);
        self
    }

    /// The event files written, training then validation.
    pub fn files(&self) -> Vec<PathBuf> {
        self.train
            .iter()
            .chain(&self.validation)
            .map(|w| w.path.clone())
            .collect()
    }
}

impl<B: AutodiffBackend, M: AutodiffModule<B> + Model<B>> Callback<B, M> for TensorBoard {
    fn on_train_begin(&mut self, control: &mut Control<M>) -> CallbackResult {
        let mut train = EventWriter::create(&self.log_dir.join("train"))?;
        if let Some(spec) = control.model().spec() {
            // The model's summary, shown by TensorBoard's text plugin (indented: preformatted).
            let summary = spec
                .summary()
                .map(|s| s.to_string())
                .unwrap_or_else(|e| e.to_string());
            let text: String = summary.lines().map(|l| format!("    {l}\n")).collect();
            let value = proto::Value {
                tag: "model/summary/text_summary".into(),
                metadata: Some(proto::SummaryMetadata {
                    plugin_data: Some(proto::PluginData {
                        plugin_name: "text".into(),
                    }),
                }),
                value: Some(proto::Kind::Tensor(proto::TensorProto {
                    dtype: 7,
                    tensor_shape: Some(proto::TensorShapeProto {}),
                    string_val: vec![text.into_bytes()],
                })),
            };
            train.summary(0, vec![value])?;
        }
        self.train = Some(train);
        self.validation = Some(EventWriter::create(&self.log_dir.join("validation"))?);
        self.global_batch = 0;
        Ok(())
    }

    fn on_train_batch_end(
        &mut self,
        _batch: usize,
        logs: &BatchLogs,
        _control: &mut Control<M>,
    ) -> CallbackResult {
        self.global_batch += 1;
        if let (Some(every), Some(train)) = (self.update_freq, self.train.as_mut())
            && self.global_batch.is_multiple_of(every)
        {
            let values = logs
                .get()
                .iter()
                .map(|(name, v)| scalar(format!("batch_{name}"), v))
                .collect();
            train.summary(self.global_batch as i64, values)?;
        }
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        let (Some(train), Some(validation)) = (self.train.as_mut(), self.validation.as_mut())
        else {
            return Ok(());
        };
        let step = epoch as i64;
        let mut train_values: Vec<proto::Value> = logs
            .iter()
            .filter(|(name, _)| !name.starts_with("val_"))
            .map(|(name, v)| scalar(format!("epoch_{name}"), v))
            .collect();
        train_values.push(scalar(
            "epoch_learning_rate".into(),
            control.learning_rate(),
        ));
        if self.histogram_freq > 0 && (epoch + 1).is_multiple_of(self.histogram_freq) {
            for snapshot in control.model().collect(None, None, false) {
                let data = snapshot
                    .to_data()
                    .map_err(|e| format!("cannot read weight {}: {e:?}", snapshot.full_path()))?;
                let values = data
                    .convert::<f32>()
                    .to_vec::<f32>()
                    .map_err(|e| format!("{e:?}"))?;
                train_values.push(proto::Value {
                    tag: format!("{}/histogram", snapshot.full_path()),
                    metadata: None,
                    value: Some(proto::Kind::Histo(histogram(&values))),
                });
            }
        }
        train.summary(step, train_values)?;
        let val_values: Vec<proto::Value> = logs
            .iter()
            .filter_map(|(name, v)| {
                name.strip_prefix("val_")
                    .map(|n| scalar(format!("epoch_{n}"), v))
            })
            .collect();
        if !val_values.is_empty() {
            validation.summary(step, val_values)?;
        }
        train.out.flush()?;
        validation.out.flush()?;
        Ok(())
    }

    fn on_train_end(&mut self, _logs: &Logs, _control: &mut Control<M>) -> CallbackResult {
        for writer in self.train.iter_mut().chain(self.validation.iter_mut()) {
            writer.out.flush()?;
        }
        Ok(())
    }
}

crate::callbacks::into_box!(TensorBoard where M: AutodiffModule<B> + Model<B>);

/// Reads the events of a file back, checking every record's length and CRCs (for tests
/// and for users checking their logs).
///
/// # Errors
/// A truncated record, a CRC that does not match, or a record that is not an `Event`.
pub fn read_events(path: &Path) -> Result<Vec<proto::Event>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut events = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let take = |from: usize, n: usize| {
            bytes
                .get(from..from + n)
                .ok_or_else(|| format!("record at byte {from} is truncated"))
        };
        let length_bytes = take(at, 8)?;
        let length =
            u64::from_le_bytes(length_bytes.try_into().map_err(|_| "bad length")?) as usize;
        let length_crc = u32::from_le_bytes(take(at + 8, 4)?.try_into().map_err(|_| "bad crc")?);
        if length_crc != masked_crc32c(length_bytes) {
            return Err(format!(
                "record at byte {at}: the length's CRC does not match"
            ));
        }
        let data = take(at + 12, length)?;
        let data_crc = u32::from_le_bytes(
            take(at + 12 + length, 4)?
                .try_into()
                .map_err(|_| "bad crc")?,
        );
        if data_crc != masked_crc32c(data) {
            return Err(format!(
                "record at byte {at}: the data's CRC does not match"
            ));
        }
        events.push(proto::Event::decode(data).map_err(|e| format!("record at byte {at}: {e}"))?);
        at += 16 + length;
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_crc_matches_tensorflow() {
        // TensorFlow's crc32c::Mask of the CRC-32C of "123456789" (0xe3069283).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(
            masked_crc32c(b"123456789"),
            0xe306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }

    #[test]
    fn histograms_count_every_value() {
        let h = histogram(&[0.0, 1.0, 2.0, 3.0]);
        assert_eq!(
            (h.min, h.max, h.num, h.sum, h.sum_squares),
            (0.0, 3.0, 4.0, 6.0, 14.0)
        );
        assert_eq!(h.bucket.iter().sum::<f64>(), 4.0);
        assert_eq!(h.bucket_limit.len(), 30);
        assert_eq!(*h.bucket.last().unwrap(), 1.0);
    }
}
