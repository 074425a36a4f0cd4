//! See inside a model, as Quiver showed Keras users: a self-contained report folder with
//! the model as a graph, every layer's activation maps for a few images, the first
//! convolution's filters as pictures and deeper ones as weight grids, Grad-CAM heat maps
//! and the top predictions; or the same views live, on a local server, for images
//! dropped on the page ([`serve`]).
//!
//! ```no_run
//! # use kiln_core::visualize::{Visualize, pictures};
//! # fn show<B: burn::tensor::backend::AutodiffBackend, M>(model: &M, test: &kiln_datasets::ArrayDataset)
//! # -> Result<(), kiln_core::TrainError>
//! # where M: kiln_core::Model<B, Output = burn::tensor::Tensor<B, 2>> {
//! let chosen = pictures(test, &[0, 7, 42])?;
//! Visualize::new().class(3).render(model, &chosen)?.write("viz")?;
//! // open viz/index.html: #layer=conv2d_1&image=2&view=gradcam names a view
//! # Ok(()) }
//! ```

mod analysis;
mod graph;
mod pictures;
mod report;
mod serve;

pub use analysis::{Analysis, Cam, Maps, Picture};
pub use report::Report;
pub use serve::Server;

use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use kiln_datasets::{Dataset, TargetKind, Targets};

use crate::error::TrainError;
use crate::model::Model;

/// What a report shows: the class names, a class to explain beside each image's
/// prediction, and how many predictions to list.
#[derive(Debug, Clone)]
pub struct Visualize {
    classes: Vec<String>,
    class: Option<usize>,
    top: usize,
    /// Served by [`Server`], whose page takes uploads.
    live: bool,
}

impl Default for Visualize {
    fn default() -> Self {
        Visualize {
            classes: Vec::new(),
            class: None,
            top: 5,
            live: false,
        }
    }
}

impl Visualize {
    /// Every layer, the top 5 predictions, classes named by their numbers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The classes' names, in the order of the model's outputs.
    #[must_use]
    pub fn classes<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.classes = names.into_iter().map(Into::into).collect();
        self
    }

    /// A class whose Grad-CAM every image shows beside its predicted class's.
    #[must_use]
    pub fn class(mut self, class: usize) -> Self {
        self.class = Some(class);
        self
    }

    /// How many predictions each image lists (5 by default).
    #[must_use]
    pub fn top(mut self, k: usize) -> Self {
        self.top = k.max(1);
        self
    }

    /// The report of `model` (with a declaration: `model!`'s or a JSON model, on an
    /// autodiff backend for Grad-CAM) on `pictures`, in memory.
    ///
    /// # Errors
    /// When the model has no declaration or more than one input, a picture does not fit
    /// it, or the chosen class is not one of its outputs.
    pub fn render<B, M>(&self, model: &M, pictures: &[Picture]) -> Result<Report, TrainError>
    where
        B: AutodiffBackend,
        M: Model<B, Output = Tensor<B, 2>>,
    {
        let spec = model.spec().ok_or_else(|| {
            TrainError::Setting(
                "a report draws a model with a declaration (model! or JSON); this one has none"
                    .into(),
            )
        })?;
        let checked = spec
            .check()
            .map_err(|e| TrainError::Setting(e.to_string()))?;
        let analysis = self.analyse(model, pictures)?;
        let filters = report::filters(model, &checked)?;
        report::build(self, &checked, pictures, &analysis, filters)
    }

    /// The numbers a report shows: every layer's output for `pictures` (its activation
    /// applied, in inference: no dropout, moving statistics), the model's outputs, and
    /// Grad-CAM for every layer with channels and a position, for each picture's predicted
    /// class and the chosen [`class`](Self::class).
    ///
    /// # Errors
    /// As [`render`](Self::render).
    pub fn analyse<B, M>(&self, model: &M, pictures: &[Picture]) -> Result<Analysis, TrainError>
    where
        B: AutodiffBackend,
        M: Model<B, Output = Tensor<B, 2>>,
    {
        analysis::analyse(model, pictures, self.class)
    }

    fn class_name(&self, class: usize) -> String {
        self.classes
            .get(class)
            .cloned()
            .unwrap_or_else(|| class.to_string())
    }
}

/// Examples `indices` of `data` as pictures (named `#7`, with their class).
///
/// # Errors
/// When an index is past the end of `data`.
pub fn pictures<D: Dataset + ?Sized>(
    data: &D,
    indices: &[usize],
) -> Result<Vec<Picture>, TrainError> {
    if let Some(i) = indices.iter().find(|&&i| i >= data.len()) {
        return Err(TrainError::Setting(format!(
            "example {i} of a dataset of {}",
            data.len()
        )));
    }
    let per: usize = data.example_shape().iter().product();
    let mut x = Vec::new();
    let mut targets = match data.target_kind() {
        TargetKind::Classes(_) => Targets::Classes(Vec::new()),
        TargetKind::Values(_) => Targets::Values(Vec::new()),
    };
    data.gather(indices, &mut x, &mut targets);
    let labels: Vec<Option<usize>> = match targets {
        Targets::Classes(c) => c.into_iter().map(|c| Some(c as usize)).collect(),
        Targets::Values(_) => vec![None; indices.len()],
    };
    Ok(indices
        .iter()
        .zip(x.chunks(per.max(1)))
        .zip(labels)
        .map(|((i, values), label)| Picture {
            name: format!("#{i}"),
            values: values.to_vec(),
            label,
        })
        .collect())
}
