//! `GlobalAveragePooling1D`, `GlobalMaxPooling1D`, `GlobalAveragePooling2D` and
//! `GlobalMaxPooling2D`: one rule in 1 or 2 spatial dimensions.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call};
use crate::rule::{Input, Rule};
use crate::shape::Shape;
use crate::window::{channels_axis, spatial};

/// The mean or the maximum of each channel over every position of `N` spatial dimensions.
///
/// # Shapes
/// `[steps, channels]` → `[channels]` (1-D), `[channels, height, width]` → `[channels]`
/// (2-D).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GlobalPooling<const N: usize> {}

/// The configuration of GlobalAveragePooling1D and GlobalMaxPooling1D.
pub type GlobalPooling1D = GlobalPooling<1>;
/// The configuration of GlobalAveragePooling2D and GlobalMaxPooling2D.
pub type GlobalPooling2D = GlobalPooling<2>;

impl<const N: usize> GlobalPooling<N> {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        Args::new(&call.name, call, &[]).finish(|| Some(GlobalPooling {}))
    }
}

impl<const N: usize> Rule for GlobalPooling<N> {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        spatial::<N>(layer, input)?;
        Ok(Shape::new([input.shape.dims()[channels_axis(N)]]))
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;

    #[test]
    fn keeps_the_channels() {
        for kind in ["GlobalAveragePooling2D", "GlobalMaxPooling2D"] {
            let l = layer(kind, &[], &[]);
            assert_eq!(
                out(&l, &s(&[Some(32), Some(8), None]), "Conv2D"),
                Ok(s(&[Some(32)]))
            );
            assert_eq!(
                out(&l, &s(&[Some(32)]), "Dense"),
                Err(format!(
                    "{kind} expects a 3-D input [channels, height, width], got [32] from Dense; reshape it to [channels, height, width] first"
                ))
            );
        }
        // Sequences keep their channels last, as Keras.
        for kind in ["GlobalAveragePooling1D", "GlobalMaxPooling1D"] {
            let l = layer(kind, &[], &[]);
            assert_eq!(
                out(&l, &s(&[None, Some(16)]), "Embedding"),
                Ok(s(&[Some(16)]))
            );
            assert_eq!(
                out(&l, &s(&[Some(4), Some(5), Some(6)]), "Conv2D"),
                Err(format!(
                    "{kind} expects a 2-D input [steps, channels], got [4, 5, 6] from Conv2D; reshape it to [steps, channels] first"
                ))
            );
        }
    }

    #[test]
    fn takes_no_arguments() {
        let err = crate::Layer::from_call(&call("GlobalMaxPooling2D", &[i(2)], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "GlobalMaxPooling2D takes no positional arguments"
        );
    }
}
