//! Dropout: burn-nn's `Dropout`.

use burn::nn::{Dropout, DropoutConfig};

/// A Dropout layer dropping `rate` of its inputs while training (on an autodiff backend)
/// and passing them through unchanged at inference.
///
/// # Panics
/// When `rate` is outside `[0, 1]`; kiln-spec refuses such a rate first.
pub fn dropout(rate: f64) -> Dropout {
    DropoutConfig::new(rate).init()
}
