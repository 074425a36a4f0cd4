//! Helpers for this crate's unit tests.

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
