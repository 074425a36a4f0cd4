//! Flatten and Reshape: the batch dimension kept, the rest given a new shape.

use burn::tensor::{Tensor, backend::Backend};

/// Flattens each example.
///
/// # Shapes
/// - input: `[batch, ...]`
/// - output: `[batch, elements]`
pub fn flatten<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, 2> {
    x.reshape([0, -1])
}

/// Gives each example the shape `target` (`-1` once at most, inferred).
///
/// # Shapes
/// - input: `[batch, ...]`
/// - output: `[batch, ...target]`; `D2` is `target`'s length plus one
pub fn reshape<B: Backend, const D: usize, const D2: usize>(
    x: Tensor<B, D>,
    target: &[i32],
) -> Tensor<B, D2> {
    let mut shape = [0i32; D2];
    shape[1..].copy_from_slice(target);
    x.reshape(shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestBackend;

    #[test]
    fn keeps_the_batch() {
        let x = Tensor::<TestBackend, 4>::zeros([2, 3, 4, 5], &Default::default());
        assert_eq!(flatten(x.clone()).dims(), [2, 60]);
        assert_eq!(reshape::<_, 4, 3>(x.clone(), &[12, -1]).dims(), [2, 12, 5]);
        assert_eq!(reshape::<_, 4, 2>(x, &[60]).dims(), [2, 60]);
    }
}
