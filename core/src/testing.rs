//! Helpers for this crate's unit tests.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Tensor, backend::Backend};

/// The CPU backend the tests run on.
pub type TestBackend = crate::backend::CpuBackend;
/// The same with autodiff, for training-mode behaviour.
pub type TestAutodiff = burn::backend::Autodiff<TestBackend>;

/// A tensor's values, flattened.
pub fn floats<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("f32 data")
}

/// One image of one channel, the `rows × cols` grid 1, 2, ..., row by row.
pub fn grid(rows: usize, cols: usize) -> Tensor<TestBackend, 4> {
    Tensor::<TestBackend, 1, burn::tensor::Int>::arange(
        1..(rows * cols + 1) as i64,
        &Default::default(),
    )
    .float()
    .reshape([1, 1, rows, cols])
}

/// Asserts `got` and `want` agree within `tol` everywhere.
pub fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{i}]: got {g}, want {w}");
    }
}

/// Says a test is skipped because `what` is missing on this machine; under `CI=true`,
/// where everything a test needs must be present, fails instead.
pub fn skip_without(what: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} is missing, and CI=true needs it"
    );
    eprintln!("skipped: {what} is missing");
}

/// Two Dense layers, `dense` then `head`, 2 → 2 → 2.
#[derive(Module, Debug)]
pub struct Two<B: Backend> {
    pub dense: Linear<B>,
    pub head: Linear<B>,
}

impl<B: Backend> Two<B> {
    pub fn new(device: &B::Device) -> Self {
        Two {
            dense: LinearConfig::new(2, 2).init(device),
            head: LinearConfig::new(2, 2).init(device),
        }
    }
}

impl<B: Backend> crate::Model<B> for Two<B> {
    type Input = Tensor<B, 2>;
    type Output = Tensor<B, 2>;

    fn input_shape(&self) -> kiln_spec::Shape {
        kiln_spec::Shape::known([2])
    }

    fn output_shape(&self) -> kiln_spec::Shape {
        kiln_spec::Shape::known([2])
    }

    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.head.forward(self.dense.forward(x))
    }
}
