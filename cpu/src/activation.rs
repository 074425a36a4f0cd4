//! ReLU and its gradient on every core. Flex runs element-wise ops on one thread, and a
//! CNN's activations are its largest tensors (the MNIST CNN's second convolution gives
//! 4.7 million floats for a batch of 128): there the other cores waited.

use burn_backend::ops::ActivationOps;
use burn_backend::tensor::FloatTensor;
use burn_backend::{Bytes, DType, TensorMetadata};
use burn_flex::{Flex, FlexTensor, Layout};
use rayon::prelude::*;

/// Elements per parallel task.
const GRAIN: usize = 1 << 14;

/// The whole buffer of an f32 tensor that is exactly its row-major elements.
fn whole(tensor: &FlexTensor) -> Option<&[f32]> {
    let n = tensor.layout().num_elements();
    let exact = tensor.layout().contiguous_offsets() == Some((0, n));
    (tensor.dtype() == DType::F32 && exact).then(|| &tensor.storage::<f32>()[..n])
}

/// `x` where it is positive, else +0 (NaN and -0 included).
fn positive(x: f32) -> f32 {
    if x > 0.0 { x } else { 0.0 }
}

pub(crate) fn relu(tensor: FloatTensor<Flex>) -> FloatTensor<Flex> {
    let Some(values) = whole(&tensor) else {
        return Flex::relu(tensor);
    };
    let mut tensor = match tensor.is_unique() {
        true => tensor,
        false => {
            let out: Vec<f32> = values.par_iter().map(|&x| positive(x)).collect();
            let layout = Layout::contiguous(tensor.shape());
            return FlexTensor::new(Bytes::from_elems(out), layout, DType::F32);
        }
    };
    tensor
        .storage_mut::<f32>()
        .par_chunks_mut(GRAIN)
        .for_each(|chunk| chunk.iter_mut().for_each(|x| *x = positive(*x)));
    tensor
}

/// `grad` where `output` (ReLU's) is positive, else 0, written into `grad` when it is
/// its buffer's only owner (as a fresh gradient is).
pub(crate) fn relu_backward(
    output: FloatTensor<Flex>,
    grad: FloatTensor<Flex>,
) -> FloatTensor<Flex> {
    let fits = output.shape() == grad.shape() && grad.is_unique() && whole(&grad).is_some();
    let Some(out) = whole(&output).filter(|_| fits) else {
        return Flex::relu_backward(output, grad);
    };
    let mut grad = grad;
    let n = out.len();
    grad.storage_mut::<f32>()[..n]
        .par_chunks_mut(GRAIN)
        .zip(out.par_chunks(GRAIN))
        .for_each(|(grad, out)| {
            for (g, &o) in grad.iter_mut().zip(out) {
                *g = if o > 0.0 { *g } else { 0.0 };
            }
        });
    grad
}
