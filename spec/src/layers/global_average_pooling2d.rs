//! `GlobalAveragePooling2D`

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call};
use crate::rule::{Input, Rule};
use crate::shape::Shape;
use crate::window::spatial;

/// The mean of each channel over height and width.
///
/// # Shapes
/// `[channels, height, width]` → `[channels]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GlobalAveragePooling2D {}

impl GlobalAveragePooling2D {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        Args::new("GlobalAveragePooling2D", call, &[]).finish(|| Some(GlobalAveragePooling2D {}))
    }
}

impl Rule for GlobalAveragePooling2D {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        spatial::<2>(layer, input)?;
        Ok(Shape::new([input.shape.dims()[0]]))
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;

    #[test]
    fn keeps_the_channels() {
        let l = layer("GlobalAveragePooling2D", &[], &[]);
        assert_eq!(
            out(&l, &s(&[Some(32), Some(8), None]), "Conv2D"),
            Ok(s(&[Some(32)]))
        );
        assert_eq!(
            out(&l, &s(&[Some(32)]), "Dense"),
            Err("GlobalAveragePooling2D expects a 3-D input [channels, height, width], got [32] from Dense; reshape it to [channels, height, width] first".to_string())
        );
    }
}
