//! Models from other frameworks: Keras's `.keras` files (architecture and weights), and
//! the reading of PyTorch's `torch.save` files for [`Load::from_pytorch`](crate::Load::from_pytorch).

mod hdf5;
mod keras;
mod torch;
mod zip;

pub use keras::{KerasModel, keras, keras_weights};
pub use torch::state_dict as torch_state_dict;
pub(crate) use torch::{read_state_dict, recurrent as torch_recurrent, safetensors_weights};

use crate::error::TrainError;

/// One imported weight.
#[derive(Clone, Debug, PartialEq)]
pub struct Weight {
    /// Its name (`conv2d.weight` in kiln, `features.0.weight` in a PyTorch file).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub values: Vec<f32>,
}

impl Weight {
    pub(crate) fn new(name: String, shape: Vec<usize>, values: Vec<f32>) -> Self {
        Weight {
            name,
            shape,
            values,
        }
    }
}

/// `weights` as the bytes of a safetensors file.
pub(crate) fn safetensors_bytes(weights: &[Weight]) -> Result<Vec<u8>, TrainError> {
    let bytes: Vec<Vec<u8>> = weights
        .iter()
        .map(|w| w.values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views = weights
        .iter()
        .zip(&bytes)
        .map(|(w, bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, w.shape.clone(), bytes)
                .map(|view| (w.name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TrainError::Setting(format!("the imported weights do not fit: {e}")))?;
    safetensors::serialize(views, None)
        .map_err(|e| TrainError::Setting(format!("the imported weights do not serialize: {e}")))
}
