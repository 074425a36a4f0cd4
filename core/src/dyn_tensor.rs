//! [`DynTensor`]: a batch tensor of rank 2, 3 or 4, what runtime models pass between
//! their layers and what a forward pass offers its tap.

use burn::tensor::{Tensor, backend::Backend};

use crate::error::TrainError;

/// A batch tensor of rank 2, 3 or 4 (examples of 1 to 3 dimensions): what a runtime
/// model passes between its layers, and what a [`JsonGraph`](crate::JsonGraph) takes and
/// gives.
#[derive(Clone, Debug)]
pub enum DynTensor<B: Backend> {
    /// `[batch, features]`.
    R2(Tensor<B, 2>),
    /// `[batch, channels or timesteps, length or features]`.
    R3(Tensor<B, 3>),
    /// `[batch, channels, height, width]`.
    R4(Tensor<B, 4>),
}

/// `t` as a tensor of rank `D`, its own rank (kiln-spec's check guarantees it): the same
/// tensor retyped, no operation recorded.
fn rank<B: Backend, const S: usize, const D: usize>(t: Tensor<B, S>) -> Tensor<B, D> {
    debug_assert_eq!(S, D, "a tensor of rank {S} taken as rank {D}");
    Tensor::from_primitive(t.into_primitive())
}

impl<B: Backend> DynTensor<B> {
    /// `t` as a dynamic tensor.
    ///
    /// # Errors
    /// When its rank is not 2, 3 or 4.
    pub fn new<const D: usize>(t: Tensor<B, D>) -> Result<Self, TrainError> {
        match D {
            2..=4 => Ok(Self::of(t)),
            _ => Err(TrainError::Setting(format!(
                "runtime models take tensors of rank 2 to 4 (the batch first), not {D}"
            ))),
        }
    }

    /// The tensor as rank `D`.
    ///
    /// # Errors
    /// When it has another rank.
    pub fn tensor<const D: usize>(self) -> Result<Tensor<B, D>, TrainError> {
        match self.dims().len() {
            r if r == D => Ok(self.get()),
            r => Err(TrainError::Setting(format!(
                "this tensor has rank {r}, not {D}"
            ))),
        }
    }

    /// Its dimensions, the batch first.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            DynTensor::R2(t) => t.dims().to_vec(),
            DynTensor::R3(t) => t.dims().to_vec(),
            DynTensor::R4(t) => t.dims().to_vec(),
        }
    }

    /// Its first `n` examples (all of them when there are fewer).
    pub fn head(self, n: usize) -> Self {
        use crate::model::Batch;
        match self {
            DynTensor::R2(t) => DynTensor::R2(t.head(n)),
            DynTensor::R3(t) => DynTensor::R3(t.head(n)),
            DynTensor::R4(t) => DynTensor::R4(t.head(n)),
        }
    }

    /// The tensors joined along the batch.
    ///
    /// # Errors
    /// When there are none, or their ranks differ.
    pub fn cat(parts: Vec<Self>) -> Result<Self, TrainError> {
        fn join<B: Backend, const D: usize>(
            parts: Vec<DynTensor<B>>,
        ) -> Result<Tensor<B, D>, TrainError> {
            let tensors = parts
                .into_iter()
                .map(DynTensor::tensor)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Tensor::cat(tensors, 0))
        }
        match parts.first() {
            None => Err(TrainError::Empty("feature")),
            Some(DynTensor::R2(_)) => join(parts).map(DynTensor::R2),
            Some(DynTensor::R3(_)) => join(parts).map(DynTensor::R3),
            Some(DynTensor::R4(_)) => join(parts).map(DynTensor::R4),
        }
    }

    /// Its values, row-major, as `f32`.
    ///
    /// # Errors
    /// When the backend's data cannot be read as `f32`.
    pub fn into_values(self) -> Result<Vec<f32>, TrainError> {
        let data = match self {
            DynTensor::R2(t) => t.into_data(),
            DynTensor::R3(t) => t.into_data(),
            DynTensor::R4(t) => t.into_data(),
        };
        data.convert::<f32>()
            .to_vec()
            .map_err(|e| TrainError::Setting(format!("the tensor cannot be read back: {e:?}")))
    }

    pub(crate) fn of<const D: usize>(t: Tensor<B, D>) -> Self {
        match D {
            2 => DynTensor::R2(rank(t)),
            3 => DynTensor::R3(rank(t)),
            _ => DynTensor::R4(rank(t)),
        }
    }

    /// The same elements as a batch tensor of `shape`, of its rank (2 to 4), in burn's
    /// terms: `0` keeps a dimension, `-1` (once at most) is inferred.
    pub(crate) fn reshape(self, shape: &[i32]) -> Self {
        fn to<B: Backend, const D: usize>(t: DynTensor<B>, shape: &[i32]) -> Tensor<B, D> {
            let mut dims = [0i32; D];
            dims.copy_from_slice(shape);
            match t {
                DynTensor::R2(x) => x.reshape(dims),
                DynTensor::R3(x) => x.reshape(dims),
                DynTensor::R4(x) => x.reshape(dims),
            }
        }
        match shape.len() {
            2 => DynTensor::R2(to(self, shape)),
            3 => DynTensor::R3(to(self, shape)),
            _ => DynTensor::R4(to(self, shape)),
        }
    }

    pub(crate) fn get<const D: usize>(self) -> Tensor<B, D> {
        match self {
            DynTensor::R2(t) => rank(t),
            DynTensor::R3(t) => rank(t),
            DynTensor::R4(t) => rank(t),
        }
    }
}

/// Applies a rank-preserving expression to whatever rank `$t` has.
macro_rules! each_rank {
    ($t:expr, |$x:ident| $e:expr) => {
        match $t {
            DynTensor::R2($x) => DynTensor::R2($e),
            DynTensor::R3($x) => DynTensor::R3($e),
            DynTensor::R4($x) => DynTensor::R4($e),
        }
    };
}
pub(crate) use each_rank;
