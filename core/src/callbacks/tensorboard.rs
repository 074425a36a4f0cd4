//! TensorBoard: real TensorFlow event files (`events.out.tfevents.*`): TFRecord framing
//! with masked CRC-32C, `Event`, `Summary` and `GraphDef` protobufs, under `log_dir/train`
//! and `log_dir/validation`, as Keras's `TensorBoard` callback writes them.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn_store::ModuleSnapshot;
use image::ImageEncoder;
use kiln_spec::{Checked, ModelSpec, Shape};
use prost::Message;

use crate::callback::{BatchLogs, Callback, CallbackResult, Control};
use crate::error::TrainError;
use crate::logs::Logs;
use crate::model::Model;

/// The protobuf messages of TensorFlow's `event.proto`, `summary.proto` and `graph.proto`
/// that TensorBoard reads (only the fields kiln writes).
pub mod proto {
    use std::collections::BTreeMap;

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
        #[prost(oneof = "What", tags = "3, 4, 5")]
        pub what: Option<What>,
    }

    /// `Event.what`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum What {
        /// The first event of a file: `brain.Event:2`.
        #[prost(string, tag = "3")]
        FileVersion(String),
        /// The model's graph. TensorFlow declares it as the bytes of an encoded
        /// `GraphDef`, which is the same on the wire as the message itself.
        #[prost(message, tag = "4")]
        GraphDef(GraphDef),
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
        #[prost(oneof = "Kind", tags = "2, 4, 5, 8")]
        pub value: Option<Kind>,
    }

    /// `Summary.Value.value`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// A scalar.
        #[prost(float, tag = "2")]
        SimpleValue(f32),
        /// An image.
        #[prost(message, tag = "4")]
        Image(Image),
        /// A histogram.
        #[prost(message, tag = "5")]
        Histo(HistogramProto),
        /// A tensor (text).
        #[prost(message, tag = "8")]
        Tensor(TensorProto),
    }

    /// `tensorflow.Summary.Image`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Image {
        /// Its height in pixels.
        #[prost(int32, tag = "1")]
        pub height: i32,
        /// Its width in pixels.
        #[prost(int32, tag = "2")]
        pub width: i32,
        /// 1: grayscale, 3: RGB, 4: RGBA.
        #[prost(int32, tag = "3")]
        pub colorspace: i32,
        /// The PNG file's bytes.
        #[prost(bytes = "vec", tag = "4")]
        pub encoded_image_string: Vec<u8>,
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
        /// What the plugin reads (the HParams plugin's `HParamsPluginData`).
        #[prost(bytes = "vec", tag = "2")]
        pub content: Vec<u8>,
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
    pub struct TensorShapeProto {
        /// The dimensions (none: a scalar).
        #[prost(message, repeated, tag = "2")]
        pub dim: Vec<Dim>,
    }

    /// `TensorShapeProto.Dim`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Dim {
        /// The size; -1 when unknown (the batch dimension).
        #[prost(int64, tag = "1")]
        pub size: i64,
    }

    /// `tensorflow.GraphDef`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GraphDef {
        /// The nodes, each after those it takes.
        #[prost(message, repeated, tag = "1")]
        pub node: Vec<NodeDef>,
    }

    /// `tensorflow.NodeDef`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NodeDef {
        /// Unique in the graph; `/` separates name scopes.
        #[prost(string, tag = "1")]
        pub name: String,
        /// What it computes (`Placeholder`, or the layer's Keras class).
        #[prost(string, tag = "2")]
        pub op: String,
        /// The nodes it takes, `name:k` for a node's output `k` after the first.
        #[prost(string, repeated, tag = "3")]
        pub input: Vec<String>,
        /// Its attributes (`_output_shapes`).
        #[prost(btree_map = "string, message", tag = "5")]
        pub attr: BTreeMap<String, AttrValue>,
    }

    /// `tensorflow.AttrValue` (only the list form).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AttrValue {
        /// A list.
        #[prost(message, optional, tag = "1")]
        pub list: Option<ListValue>,
    }

    /// `AttrValue.ListValue` (only shapes).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListValue {
        /// Shapes.
        #[prost(message, repeated, tag = "7")]
        pub shape: Vec<TensorShapeProto>,
    }
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
        Self::create_named(dir, "")
    }

    /// A new events file in `dir`, `suffix` keeping it apart from the others this process
    /// writes there in the same second.
    fn create_named(dir: &Path, suffix: &str) -> std::io::Result<Self> {
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
            "events.out.tfevents.{}.{host}.{}{suffix}.v2",
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

/// Writes `values` (summaries for any TensorBoard plugin, built from [`proto`]) at step 0
/// into a new events file in `dir`, named apart by `suffix`: what kiln's callback does not
/// write itself (the tuner's HParams sessions).
///
/// # Errors
/// When the folder or the file cannot be written.
pub fn write_summaries(dir: &Path, suffix: &str, values: Vec<proto::Value>) -> std::io::Result<()> {
    let mut writer = EventWriter::create_named(dir, suffix)?;
    writer.summary(0, values)?;
    writer.out.flush()
}

/// The seconds since 1970, as event files count time.
pub fn now() -> f64 {
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

/// The model's graph as TensorBoard's Graphs tab draws it: a `Placeholder` node for each
/// input and a node for each layer, its op the layer's Keras class (`Conv2D`), its inputs
/// the nodes it takes, and its output shapes as `_output_shapes` (-1 for the batch and
/// for sizes unknown until run time). A nested model's nodes sit under its name as a scope
/// (`extractor/conv2d`), its input an `Identity` node there; a recurrent layer's states
/// are its outputs 1 and 2 (`lstm:1`).
pub fn graph_def(model: &Checked) -> proto::GraphDef {
    let mut graph = proto::GraphDef::default();
    add_nodes(model, "", &[], &mut graph.node);
    graph
}

/// Adds `model`'s nodes to `nodes`, named under `scope` (`""` or `name/`), its inputs
/// taking `sources` (none at the top: they are placeholders). Returns the name of the node
/// that gives its first output.
fn add_nodes(
    model: &Checked,
    scope: &str,
    sources: &[String],
    nodes: &mut Vec<proto::NodeDef>,
) -> String {
    // Each tensor's name in the model (`lstm[1]`) → its node's in the graph (`lstm:1`).
    let mut names: HashMap<String, String> = HashMap::new();
    let node_of = |names: &HashMap<String, String>, tensor: &str| {
        names
            .get(tensor)
            .cloned()
            .unwrap_or_else(|| format!("{scope}{tensor}"))
    };
    for (i, input) in model.inputs.iter().enumerate() {
        let name = format!("{scope}{}", input.name);
        let (op, takes) = match sources.get(i) {
            Some(source) => ("Identity", vec![source.clone()]),
            None => ("Placeholder", Vec::new()),
        };
        nodes.push(node(&name, op, takes, std::slice::from_ref(&input.shape)));
        names.insert(input.name.clone(), name);
    }
    let mut previous = model.inputs.first().map(|i| i.name.clone());
    for layer in &model.layers {
        // A Sequential model's layer takes the one before it.
        let inbound = if model.functional {
            layer.inbound.clone()
        } else {
            previous.into_iter().collect()
        };
        let takes: Vec<String> = inbound.iter().map(|t| node_of(&names, t)).collect();
        let name = format!("{scope}{}", layer.name);
        let output = match &layer.nested {
            Some(nested) => add_nodes(nested, &format!("{name}/"), &takes, nodes),
            None => {
                let shapes: Vec<Shape> = std::iter::once(&layer.output)
                    .chain(&layer.states)
                    .cloned()
                    .collect();
                nodes.push(node(&name, layer.class_name, takes, &shapes));
                name.clone()
            }
        };
        for k in 1..=layer.states.len() {
            names.insert(format!("{}[{k}]", layer.name), format!("{name}:{k}"));
        }
        names.insert(layer.name.clone(), output);
        previous = Some(layer.name.clone());
    }
    model
        .outputs
        .first()
        .map(|o| node_of(&names, &o.name))
        .unwrap_or_default()
}

/// A node giving tensors of `shapes` (one example's each: the batch dimension is added).
fn node(name: &str, op: &str, input: Vec<String>, shapes: &[Shape]) -> proto::NodeDef {
    let shape = shapes
        .iter()
        .map(|s| proto::TensorShapeProto {
            dim: std::iter::once(-1)
                .chain(s.dims().iter().map(|d| d.known().map_or(-1, |n| n as i64)))
                .map(|size| proto::Dim { size })
                .collect(),
        })
        .collect();
    let shapes = proto::AttrValue {
        list: Some(proto::ListValue { shape }),
    };
    proto::NodeDef {
        name: name.into(),
        op: op.into(),
        input,
        attr: BTreeMap::from([("_output_shapes".to_string(), shapes)]),
    }
}

/// The model's summary, for TensorBoard's text plugin (indented: preformatted).
fn summary_text(spec: &ModelSpec) -> proto::Value {
    let summary = spec
        .summary()
        .map(|s| s.to_string())
        .unwrap_or_else(|e| e.to_string());
    let text: String = summary.lines().map(|l| format!("    {l}\n")).collect();
    proto::Value {
        tag: "model/summary/text_summary".into(),
        metadata: Some(proto::SummaryMetadata {
            plugin_data: Some(proto::PluginData {
                plugin_name: "text".into(),
                content: Vec::new(),
            }),
        }),
        value: Some(proto::Kind::Tensor(proto::TensorProto {
            dtype: 7,
            tensor_shape: Some(proto::TensorShapeProto::default()),
            string_val: vec![text.into_bytes()],
        })),
    }
}

/// Where a weight's values go in its image: a grid of `rows` × `cols` tiles of
/// `tile_h` × `tile_w` values, 1 pixel apart.
struct Grid {
    rows: usize,
    cols: usize,
    tile_h: usize,
    tile_w: usize,
    /// A matrix shown on its side: value `[y, x]` at pixel `(x, y)`.
    transposed: bool,
}

impl Grid {
    /// The grid for a weight of `shape`; `None` below rank 2 or with an empty dimension.
    fn of(shape: &[usize]) -> Option<Grid> {
        let grid = match *shape {
            [rows, cols] => Grid {
                rows: 1,
                cols: 1,
                tile_h: rows,
                tile_w: cols,
                transposed: rows > cols,
            },
            [out, inputs, ref kernel @ .., last] => Grid {
                rows: out,
                cols: inputs,
                tile_h: kernel.iter().product(),
                tile_w: last,
                transposed: false,
            },
            _ => return None,
        };
        (!shape.contains(&0)).then_some(grid)
    }

    /// A tile's (height, width) in pixels.
    fn tile(&self) -> (usize, usize) {
        if self.transposed {
            (self.tile_w, self.tile_h)
        } else {
            (self.tile_h, self.tile_w)
        }
    }

    /// The image's (height, width) in pixels.
    fn size(&self) -> (usize, usize) {
        let (h, w) = self.tile();
        (self.rows * (h + 1) - 1, self.cols * (w + 1) - 1)
    }

    /// The pixel (row, column) of the value at flat index `i`.
    fn pixel(&self, i: usize) -> (usize, usize) {
        let (x, y) = (i % self.tile_w, i / self.tile_w % self.tile_h);
        let tile = i / (self.tile_w * self.tile_h);
        let (row, col) = (tile / self.cols, tile % self.cols);
        let (h, w) = self.tile();
        let (ty, tx) = if self.transposed { (x, y) } else { (y, x) };
        (row * (h + 1) + ty, col * (w + 1) + tx)
    }
}

/// A weight as a grayscale image, `(width, height, pixels)` row by row, its values scaled
/// from their min..max to 0..255 (black: the smallest; a constant weight is all black).
///
/// A matrix `[rows, cols]` (a Dense kernel `[in, out]`) is a rows × cols image, turned on
/// its side when taller than wide, as Keras shows it. A kernel `[out, in, k...]` (a Conv2D
/// kernel `[out, in, kh, kw]`) is a grid of kh × kw tiles, a row of tiles per output
/// channel and a column per input channel, with black 1-pixel gaps between them (a Conv1D
/// kernel's tiles are 1 × k, a Conv3D kernel's (kd·kh) × kw). Keras reshapes a conv
/// kernel into a stack of images instead, of which TensorBoard shows only the first.
///
/// `None` for a weight of rank 0 or 1, with an empty dimension, or whose values do not
/// fill its shape.
///
/// ```
/// use kiln_core::callbacks::tensorboard::weight_image;
/// // A [2, 1, 2, 2] kernel: two 2 × 2 tiles, one above the other.
/// let values: Vec<f32> = (0..8).map(|v| v as f32).collect();
/// let (width, height, pixels) = weight_image(&values, &[2, 1, 2, 2]).unwrap();
/// assert_eq!((width, height), (2, 5));
/// assert_eq!(pixels, [0, 36, 73, 109, 0, 0, 146, 182, 219, 255]);
/// ```
pub fn weight_image(values: &[f32], shape: &[usize]) -> Option<(u32, u32, Vec<u8>)> {
    let grid = Grid::of(shape)?;
    if values.len() != shape.iter().product::<usize>() {
        return None;
    }
    let (height, width) = grid.size();
    let mut pixels = vec![f32::NAN; height * width];
    for (i, &v) in values.iter().enumerate() {
        let (row, col) = grid.pixel(i);
        pixels[row * width + col] = v;
    }
    Some((
        u32::try_from(width).ok()?,
        u32::try_from(height).ok()?,
        gray(&pixels),
    ))
}

/// `values` scaled from their min..max to 0..255; what is not finite (a gap) is 0.
fn gray(values: &[f32]) -> Vec<u8> {
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| {
            (lo.min(v.into()), hi.max(v.into()))
        });
    let range = hi - lo;
    values
        .iter()
        .map(|&v| {
            if range > 0.0 && v.is_finite() {
                ((f64::from(v) - lo) / range * 255.0).round() as u8
            } else {
                0
            }
        })
        .collect()
}

/// A weight as an image summary (a grayscale PNG), or `None` when it has none (see
/// [`weight_image`]).
fn image_summary(values: &[f32], shape: &[usize]) -> Result<Option<proto::Image>, String> {
    let Some((width, height, pixels)) = weight_image(values, shape) else {
        return Ok(None);
    };
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&pixels, width, height, image::ExtendedColorType::L8)
        .map_err(|e| format!("cannot encode a {width}×{height} weight image: {e}"))?;
    Ok(Some(proto::Image {
        height: i32::try_from(height).map_err(|e| e.to_string())?,
        width: i32::try_from(width).map_err(|e| e.to_string())?,
        colorspace: 1,
        encoded_image_string: png,
    }))
}

/// Writes TensorBoard logs: each epoch's values (`epoch_loss`, `epoch_accuracy`, the
/// learning rate), per batch with `update_freq`, weight histograms every
/// `histogram_freq` epochs, weight images with `write_images`, the model's summary as
/// text and its graph. Open them with `tensorboard --logdir <log_dir>`.
///
/// ```
/// use kiln_core::callbacks::TensorBoard;
/// let board = TensorBoard::new("logs")
///     .histogram_freq(1)
///     .update_freq(100)
///     .write_images(true);
/// ```
pub struct TensorBoard {
    log_dir: PathBuf,
    histogram_freq: usize,
    update_freq: Option<usize>,
    write_graph: bool,
    write_images: bool,
    train: Option<EventWriter>,
    validation: Option<EventWriter>,
    global_batch: usize,
}

impl TensorBoard {
    /// Logs under `log_dir`, once per epoch, with the graph but without histograms or
    /// images (Keras's defaults).
    pub fn new(log_dir: impl Into<PathBuf>) -> Self {
        TensorBoard {
            log_dir: log_dir.into(),
            histogram_freq: 0,
            update_freq: None,
            write_graph: true,
            write_images: false,
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

    /// Whether to write the model's graph when training starts, for TensorBoard's Graphs
    /// tab (default: true, as in Keras). It comes from the model's declaration (see
    /// [`graph_def`]); a model without one (a hand-written burn module) has no graph.
    pub fn write_graph(mut self, write: bool) -> Self {
        self.write_graph = write;
        self
    }

    /// Whether to write each weight of rank 2 or more as a grayscale image every epoch,
    /// tagged `<weight>/image`, for TensorBoard's Images tab (default: false, as in Keras;
    /// Keras writes them only in the epochs it writes histograms). [`weight_image`] says
    /// how a weight is laid out.
    pub fn write_images(mut self, write: bool) -> Self {
        self.write_images = write;
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

    /// This epoch's weight summaries: each weight's histogram every `histogram_freq`
    /// epochs, and with `write_images` each weight of rank 2 or more as an image.
    fn weight_values<B: Backend, M: Module<B>>(
        &self,
        epoch: usize,
        model: &M,
    ) -> Result<Vec<proto::Value>, String> {
        let histograms = self.histogram_freq > 0 && (epoch + 1).is_multiple_of(self.histogram_freq);
        if !histograms && !self.write_images {
            return Ok(Vec::new());
        }
        let mut values = Vec::new();
        for snapshot in model.collect(None, None, false) {
            let path = snapshot.full_path();
            let unreadable = |e: &dyn std::fmt::Debug| format!("cannot read weight {path}: {e:?}");
            let data = snapshot.to_data().map_err(|e| unreadable(&e))?;
            let shape = data.shape.to_vec();
            let weights = data
                .convert::<f32>()
                .to_vec::<f32>()
                .map_err(|e| unreadable(&e))?;
            if histograms {
                values.push(proto::Value {
                    tag: format!("{path}/histogram"),
                    metadata: None,
                    value: Some(proto::Kind::Histo(histogram(&weights))),
                });
            }
            if self.write_images
                && let Some(image) = image_summary(&weights, &shape)?
            {
                values.push(proto::Value {
                    tag: format!("{path}/image"),
                    metadata: None,
                    value: Some(proto::Kind::Image(image)),
                });
            }
        }
        Ok(values)
    }
}

impl<B: AutodiffBackend, M: AutodiffModule<B> + Model<B>> Callback<B, M> for TensorBoard {
    fn on_train_begin(&mut self, control: &mut Control<M>) -> CallbackResult {
        let mut train = EventWriter::create(&self.log_dir.join("train"))?;
        if let Some(spec) = control.model().spec() {
            train.summary(0, vec![summary_text(&spec)])?;
            // A model that does not check has no shapes to draw; its summary says why.
            if self.write_graph
                && let Ok(checked) = spec.check()
            {
                train.write(&proto::Event {
                    wall_time: now(),
                    step: 0,
                    what: Some(proto::What::GraphDef(graph_def(&checked))),
                })?;
            }
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
        let weights = self.weight_values(epoch, control.model())?;
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
            control.next_learning_rate(),
        ));
        train_values.extend(weights);
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
pub fn read_events(path: &Path) -> Result<Vec<proto::Event>, TrainError> {
    let file = |reason: String| TrainError::File {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| file(e.to_string()))?;
    events(&bytes).map_err(file)
}

/// The events of a file's `bytes`.
fn events(bytes: &[u8]) -> Result<Vec<proto::Event>, String> {
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
        // TensorBoard's own `masked_crc32c` (tensorboard.compat.tensorflow_stub) of the
        // same bytes, of none, and of a record header's eight zero bytes.
        assert_eq!(masked_crc32c(b"123456789"), 0xc78a_b0e5);
        assert_eq!(masked_crc32c(b""), 0xa282_ead8);
        assert_eq!(masked_crc32c(&[0; 8]), 0x0798_0329);
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

    #[test]
    fn the_graph_has_a_node_per_input_and_layer() {
        // An LSTM whose state feeds an Add, and a nested model drawn under its scope.
        use kiln_spec::{Call, Layer, NamedLayer, NamedShape, layers::Nested};
        let layer = |name: &str, call: Call, inbound: &[&str]| NamedLayer {
            name: name.into(),
            layer: Layer::from_call(&call).unwrap(),
            inbound: inbound.iter().map(|s| s.to_string()).collect(),
            trainable: true,
            training: true,
        };
        let dense = Layer::from_call(&Call::bare("Dense").arg(6)).unwrap();
        let inner = ModelSpec::sequential("Inner", Shape::known([6]), vec![dense]);
        let spec = ModelSpec {
            name: "Outer".into(),
            inputs: vec![NamedShape {
                name: "x".into(),
                shape: Shape::known([5, 4]),
            }],
            layers: vec![
                layer(
                    "lstm",
                    Call::bare("LSTM").arg(6).kw("return_state", true),
                    &["x"],
                ),
                NamedLayer {
                    layer: Layer::Model(Nested(Box::new(inner))),
                    ..layer("inner", Call::bare("Flatten"), &["lstm"])
                },
                layer("add", Call::bare("Add"), &["inner", "lstm[2]"]),
            ],
            outputs: vec!["add".into()],
        };
        let graph = graph_def(&spec.check().unwrap());
        let nodes: Vec<(&str, &str, Vec<&str>)> = graph
            .node
            .iter()
            .map(|n| {
                let input = n.input.iter().map(String::as_str).collect();
                (n.name.as_str(), n.op.as_str(), input)
            })
            .collect();
        assert_eq!(
            nodes,
            [
                ("x", "Placeholder", vec![]),
                ("lstm", "LSTM", vec!["x"]),
                ("inner/input", "Identity", vec!["lstm"]),
                ("inner/dense", "Dense", vec!["inner/input"]),
                ("add", "Add", vec!["inner/dense", "lstm:2"]),
            ]
        );
        let shapes = |node: &proto::NodeDef| -> Vec<Vec<i64>> {
            let list = node.attr["_output_shapes"].list.clone().unwrap_or_default();
            let dims = |s: &proto::TensorShapeProto| s.dim.iter().map(|d| d.size).collect();
            list.shape.iter().map(dims).collect()
        };
        assert_eq!(shapes(&graph.node[0]), [vec![-1, 5, 4]]);
        assert_eq!(shapes(&graph.node[1]), [[-1, 6]; 3]);
    }

    #[test]
    fn weight_images_lay_out_matrices_and_kernels() {
        let ramp = |n: usize| (0..n).map(|v| v as f32).collect::<Vec<_>>();
        // A wide matrix as it is; a tall one on its side: [3, 2] shows as 2 × 3.
        let (w, h, pixels) = weight_image(&ramp(6), &[2, 3]).unwrap();
        assert_eq!((w, h, pixels), (3, 2, vec![0, 51, 102, 153, 204, 255]));
        let (w, h, pixels) = weight_image(&ramp(6), &[3, 2]).unwrap();
        assert_eq!((w, h, pixels), (3, 2, vec![0, 102, 204, 51, 153, 255]));
        // Conv2D [out 2, in 3, 2, 2]: 2 rows of 3 tiles of 2 × 2, 1 pixel apart.
        let (w, h, pixels) = weight_image(&ramp(24), &[2, 3, 2, 2]).unwrap();
        assert_eq!((w, h), (3 * 3 - 1, 2 * 3 - 1));
        let at = |row: usize, col: usize| pixels[row * w as usize + col];
        // Value 5 is [out 0, in 1, y 0, x 1]; value 23 the last: [1, 2, 1, 1].
        assert_eq!((at(0, 4), at(4, 7), at(2, 0), at(0, 2)), (55, 255, 0, 0));
        // Conv1D [out 2, in 1, k 3]: two 1 × 3 tiles, one above the other.
        assert_eq!(weight_image(&ramp(6), &[2, 1, 3]).unwrap().0, 3);
        assert_eq!(weight_image(&ramp(6), &[2, 1, 3]).unwrap().1, 3);
        // A constant weight is black; no image below rank 2, for an empty one or a bad length.
        assert_eq!(weight_image(&[2.0; 4], &[2, 2]).unwrap().2, [0; 4]);
        for (values, shape) in [(6, &[6][..]), (0, &[0, 3]), (5, &[2, 3]), (1, &[])] {
            assert_eq!(weight_image(&ramp(values), shape), None, "{shape:?}");
        }
    }

    #[test]
    fn image_summaries_are_pngs_of_the_stated_size() {
        let image = image_summary(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[2, 3])
            .unwrap()
            .unwrap();
        assert_eq!((image.width, image.height, image.colorspace), (3, 2, 1));
        let decoded = image::load_from_memory(&image.encoded_image_string).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (3, 2));
        assert_eq!(decoded.to_luma8().into_raw(), [0, 51, 102, 153, 204, 255]);
    }
}
