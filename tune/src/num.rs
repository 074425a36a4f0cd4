//! The number conversions the search needs: hyperparameter integers, counts and slot
//! numbers are far below 2^52, so these are exact where they are used.

/// An integer (or a count) as a float; `f64::MAX` for one beyond `i64`.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn as_f64<T: TryInto<i64>>(x: T) -> f64 {
    x.try_into().map_or(f64::MAX, |x| x as f64)
}

/// Python's `int(x)`: towards zero (the cast saturates; NaN is 0).
#[allow(clippy::cast_possible_truncation)]
pub(crate) fn truncate(x: f64) -> i64 {
    x as i64
}

/// A non-negative whole float as an index (negative and NaN are 0).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(crate) fn to_index(x: f64) -> usize {
    x.max(0.0) as usize
}
