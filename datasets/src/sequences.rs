//! Synthetic sequences for recurrent models: a learnable task drawn in code.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::array::ArrayDataset;

/// The tokens of [`motif_sequences`]: one-hot over this many.
pub const MOTIF_TOKENS: usize = 8;
/// The length of every sequence of [`motif_sequences`].
pub const MOTIF_STEPS: usize = 20;
/// The motif [`motif_sequences`] asks about.
pub const MOTIF: [usize; 3] = [1, 2, 3];

/// `n` sequences of [`MOTIF_STEPS`] random tokens out of [`MOTIF_TOKENS`], one-hot (each
/// example `[20, 8]`), labelled 1 when the tokens 1 2 3 occur in a row somewhere, else 0.
/// Every other sequence has the motif planted at a random place, so the classes are about
/// even; the label is read from the tokens, wherever the motif came from. Seeded.
///
/// ```
/// use kiln_datasets::{Dataset, motif_sequences};
/// let data = motif_sequences(100, 1);
/// assert_eq!((data.len(), data.example_shape()), (100, vec![20, 8]));
/// ```
#[allow(
    clippy::expect_used,
    reason = "whole examples and binary labels by construction"
)]
pub fn motif_sequences(n: usize, seed: u64) -> ArrayDataset {
    let (tokens, labels) = draw(n, seed);
    let x = tokens
        .iter()
        .flat_map(|&token| (0..MOTIF_TOKENS).map(move |t| f32::from(u8::from(t == token))))
        .collect();
    ArrayDataset::classification(x, vec![MOTIF_STEPS, MOTIF_TOKENS], labels, 2)
        .expect("whole examples and binary labels by construction")
}

/// The sequences of [`motif_sequences`] (same seed, same sequences and labels) as token
/// ids, each example `[20]`, for a model that starts with an `Embedding`.
///
/// ```
/// use kiln_datasets::{Dataset, motif_token_ids};
/// assert_eq!(motif_token_ids(10, 1).example_shape(), vec![20]);
/// ```
#[allow(
    clippy::expect_used,
    reason = "whole examples and binary labels by construction"
)]
pub fn motif_token_ids(n: usize, seed: u64) -> ArrayDataset {
    let (tokens, labels) = draw(n, seed);
    let x = tokens.iter().map(|&t| t as f32).collect();
    ArrayDataset::classification(x, vec![MOTIF_STEPS], labels, 2)
        .expect("whole examples and binary labels by construction")
}

/// The tokens of `n` sequences, one after the other, and their labels.
fn draw(n: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut all, mut labels) = (Vec::with_capacity(n * MOTIF_STEPS), Vec::with_capacity(n));
    for i in 0..n {
        let mut tokens: Vec<usize> = (0..MOTIF_STEPS)
            .map(|_| rng.random_range(0..MOTIF_TOKENS))
            .collect();
        if i % 2 == 0 {
            let at = rng.random_range(0..=MOTIF_STEPS - MOTIF.len());
            tokens[at..at + MOTIF.len()].copy_from_slice(&MOTIF);
        }
        labels.push(usize::from(tokens.windows(MOTIF.len()).any(|w| w == MOTIF)));
        all.extend(tokens);
    }
    (all, labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, Targets};

    #[test]
    fn labels_say_whether_the_motif_occurs() {
        let data = motif_sequences(200, 4);
        let mut x = Vec::new();
        let mut targets = Targets::Classes(Vec::new());
        data.gather(&(0..200).collect::<Vec<_>>(), &mut x, &mut targets);
        let Targets::Classes(labels) = targets else {
            panic!("class targets")
        };
        let per = MOTIF_STEPS * MOTIF_TOKENS;
        for (example, label) in x.chunks(per).zip(&labels) {
            let tokens: Vec<usize> = example
                .chunks(MOTIF_TOKENS)
                .map(|one_hot| one_hot.iter().position(|&v| v == 1.0).unwrap())
                .collect();
            let found = tokens.windows(3).any(|w| w == MOTIF);
            assert_eq!(*label, i64::from(found));
        }
        let positives = labels.iter().filter(|&&l| l == 1).count();
        assert!((100..=120).contains(&positives), "{positives} of 200");
        assert_eq!(motif_sequences(200, 4), data);
        // The id form holds the same tokens.
        let ids = motif_token_ids(200, 4);
        let mut id_values = Vec::new();
        ids.gather(&[0], &mut id_values, &mut Targets::Classes(Vec::new()));
        let first: Vec<f32> = x[..per]
            .chunks(MOTIF_TOKENS)
            .map(|one_hot| one_hot.iter().position(|&v| v == 1.0).unwrap() as f32)
            .collect();
        assert_eq!(id_values, first);
    }
}
