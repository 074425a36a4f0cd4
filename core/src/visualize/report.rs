//! The report: `index.html` (the graph inline, the data as inline JSON, the view in plain
//! JavaScript) and its PNGs under `img/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use image::RgbImage;
use kiln_spec::{Checked, Layer};
use serde_json::{Value, json};

use super::Visualize;
use super::analysis::{Analysis, Picture, argmax};
use super::graph::{escape, svg};
use super::pictures::{Layout, filters as filter_image, maps, overlay, picture, png};
use crate::error::TrainError;
use crate::model::Model;
use crate::save::file_error;

/// The page; `{{TITLE}}`, `{{GRAPH}}`, `{{DATA}}` are filled in.
const PAGE: &str = include_str!("report.html");

/// A written-out report: its files by path (`index.html`, `img/…png`).
#[derive(Debug, Clone)]
pub struct Report {
    files: BTreeMap<String, Vec<u8>>,
}

impl Report {
    /// Writes the report into folder `dir` (made when missing) and gives the path of its
    /// `index.html`, to open in a browser straight from disk.
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<PathBuf, TrainError> {
        let dir = dir.as_ref();
        for (name, bytes) in &self.files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| file_error(parent, e))?;
            }
            std::fs::write(&path, bytes).map_err(|e| file_error(&path, e))?;
        }
        Ok(dir.join("index.html"))
    }

    /// The file `name` of the report (`index.html`, `img/input-0.png`).
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }

    /// The page, which holds everything but the images.
    pub fn index_html(&self) -> &str {
        self.file("index.html")
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

/// A name fit for a file: letters, digits, `-` and `_` kept, the rest `_`.
fn file_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The filters of every 2-D convolution: `(layer, kernel picture)`.
pub(crate) fn filters<B: Backend, M: Model<B>>(
    model: &M,
    checked: &Checked,
) -> Result<Vec<(String, RgbImage)>, TrainError> {
    let weights = crate::freeze::tensors(model, &model.stored_names());
    let spec_layers = model.spec().map(|s| s.layers).unwrap_or_default();
    let mut out = Vec::new();
    for (i, named) in spec_layers.iter().enumerate() {
        if !matches!(named.layer, Layer::Conv2D(_)) {
            continue;
        }
        let path = format!("{}.weight", named.name);
        let Some(kernel) = weights.iter().find(|w| w.path == path) else {
            continue;
        };
        let values = kernel
            .flat
            .clone()
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| TrainError::Setting(format!("cannot read `{path}`: {e:?}")))?;
        let first = checked.layers[..i]
            .iter()
            .all(|l| !matches!(l.class_name, "Conv2D" | "Conv1D" | "Dense"));
        out.push((
            named.name.clone(),
            filter_image(&values, &kernel.dims, first)?,
        ));
    }
    Ok(out)
}

fn layout_json(layout: Layout) -> Value {
    match layout {
        Layout::Channels {
            columns,
            width,
            height,
        } => json!({"kind": "channels", "columns": columns, "width": width, "height": height}),
        Layout::Units { width, height } => {
            json!({"kind": "units", "columns": 1, "width": width, "height": height})
        }
        Layout::Steps { width, height } => {
            json!({"kind": "steps", "columns": 1, "width": width, "height": height})
        }
    }
}

/// The files of a report as they are made, and each layer's tile layout.
#[derive(Default)]
struct Files {
    files: BTreeMap<String, Vec<u8>>,
    layouts: BTreeMap<String, Value>,
}

impl Files {
    /// Adds `image` as PNG file `name`, and gives the name.
    fn png(&mut self, name: String, image: &RgbImage) -> Result<String, TrainError> {
        self.files.insert(name.clone(), png(image)?);
        Ok(name)
    }

    /// Picture `p`'s files (the picture, every layer's maps, its Grad-CAM overlays) and
    /// its entry in the page's data.
    fn picture(
        &mut self,
        settings: &Visualize,
        analysis: &Analysis,
        (p, shown): (usize, &Picture),
        example: &[usize],
    ) -> Result<Value, TrainError> {
        let base = picture(&shown.values, example)?;
        let src = self.png(format!("img/input-{p}.png"), &base)?;
        let mut layer_maps = serde_json::Map::new();
        for m in &analysis.maps {
            let (grid, layout) = maps(&m.values[p], &m.dims)?;
            let name = self.png(format!("img/maps-{p}-{}.png", file_name(&m.layer)), &grid)?;
            layer_maps.insert(m.layer.clone(), json!(name));
            self.layouts.insert(m.layer.clone(), layout_json(layout));
        }
        let mut cams = serde_json::Map::new();
        let predicted = argmax(&analysis.outputs[p]);
        for cam in analysis.cams.iter().filter(|c| c.picture == p) {
            let name = format!("img/cam-{p}-{}-{}.png", file_name(&cam.layer), cam.class);
            if self.files.contains_key(&name) {
                continue;
            }
            let name = self.png(name, &overlay(&base, &cam.values, cam.dims))?;
            let what = if cam.class == predicted {
                "predicted"
            } else {
                "chosen"
            };
            let entry = json!({"class": settings.class_name(cam.class), "what": what, "src": name});
            if let Value::Array(list) = cams.entry(cam.layer.clone()).or_insert_with(|| json!([])) {
                list.push(entry);
            }
        }
        Ok(json!({
            "name": shown.name,
            "src": src,
            "label": shown.label.map(|l| settings.class_name(l)),
            "top": top(settings, &analysis.outputs[p]),
            "maps": layer_maps,
            "cams": cams,
        }))
    }
}

/// Everything the report shows, as files.
pub(crate) fn build(
    settings: &Visualize,
    checked: &Checked,
    pictures: &[Picture],
    analysis: &Analysis,
    filters: Vec<(String, RgbImage)>,
) -> Result<Report, TrainError> {
    let mut files = Files::default();
    let example: Vec<usize> = checked.inputs[0]
        .shape
        .dims()
        .iter()
        .filter_map(|d| d.known())
        .collect();
    let images = pictures
        .iter()
        .enumerate()
        .map(|shown| files.picture(settings, analysis, shown, &example))
        .collect::<Result<Vec<_>, _>>()?;
    let mut filter_files = BTreeMap::new();
    for (layer, image) in filters {
        let name = files.png(format!("img/filters-{}.png", file_name(&layer)), &image)?;
        filter_files.insert(layer, name);
    }
    let layers: Vec<Value> = checked
        .layers
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "class": l.class_name,
                "shape": l.output.to_string(),
                "params": l.counted().total(),
                "layout": files.layouts.get(&l.name),
                "filters": filter_files.get(&l.name),
            })
        })
        .collect();
    let data = json!({
        "model": checked.name,
        "live": settings.live,
        "gap": kiln_datasets::GRID_GAP,
        "layers": layers,
        "images": images,
    });
    let mut files = files.files;
    files.insert("index.html".into(), page(checked, &data)?.into_bytes());
    Ok(Report { files })
}

/// The page of `checked` with `data` inline.
fn page(checked: &Checked, data: &Value) -> Result<String, TrainError> {
    // `</` inside a script block would end it.
    let data = serde_json::to_string(data)
        .map_err(|e| TrainError::Setting(e.to_string()))?
        .replace("</", "<\\/");
    Ok(PAGE
        .replace("{{TITLE}}", &escape(&checked.name))
        .replace("{{GRAPH}}", &svg(checked))
        .replace("{{DATA}}", &data))
}

/// The `k` largest outputs, with their class names.
fn top(settings: &Visualize, output: &[f32]) -> Value {
    let mut order: Vec<usize> = (0..output.len()).collect();
    order.sort_by(|&a, &b| output[b].total_cmp(&output[a]));
    order
        .into_iter()
        .take(settings.top)
        .map(|c| json!({"class": settings.class_name(c), "p": output[c]}))
        .collect()
}
