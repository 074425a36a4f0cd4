//! Synthetic digits: a small 10-class 28×28 dataset kiln draws in code, so the examples
//! run on a machine with no network and no data. Each digit is a handful of pen strokes,
//! drawn with random rotation, scale, shear, shift, thickness and noise (seeded).

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::dataset::ImageDataset;

const SIZE: usize = 28;

/// A stroke: points in a unit box (x right, y down), joined by straight segments.
type Stroke = Vec<(f32, f32)>;

/// An ellipse around `(cx, cy)` as a closed stroke.
fn ellipse(cx: f32, cy: f32, rx: f32, ry: f32) -> Stroke {
    (0..=20)
        .map(|i| {
            let t = i as f32 / 20.0 * std::f32::consts::TAU;
            (cx + rx * t.cos(), cy + ry * t.sin())
        })
        .collect()
}

/// The strokes of each digit, written like a careful hand.
fn strokes(digit: usize) -> Vec<Stroke> {
    match digit {
        0 => vec![ellipse(0.5, 0.5, 0.22, 0.36)],
        1 => vec![vec![(0.38, 0.26), (0.52, 0.12), (0.52, 0.88)]],
        2 => vec![vec![
            (0.3, 0.3),
            (0.38, 0.16),
            (0.55, 0.12),
            (0.68, 0.22),
            (0.68, 0.38),
            (0.3, 0.88),
            (0.72, 0.88),
        ]],
        3 => vec![vec![
            (0.3, 0.18),
            (0.5, 0.12),
            (0.68, 0.22),
            (0.66, 0.38),
            (0.48, 0.48),
            (0.68, 0.58),
            (0.7, 0.76),
            (0.52, 0.88),
            (0.3, 0.82),
        ]],
        4 => vec![vec![(0.62, 0.88), (0.62, 0.12), (0.26, 0.62), (0.76, 0.62)]],
        5 => vec![vec![
            (0.7, 0.12),
            (0.36, 0.12),
            (0.33, 0.45),
            (0.55, 0.42),
            (0.7, 0.55),
            (0.7, 0.75),
            (0.52, 0.88),
            (0.3, 0.82),
        ]],
        6 => vec![
            vec![(0.66, 0.14), (0.46, 0.28), (0.34, 0.5), (0.33, 0.7)],
            ellipse(0.5, 0.7, 0.17, 0.17),
        ],
        7 => vec![vec![(0.28, 0.12), (0.72, 0.12), (0.42, 0.88)]],
        8 => vec![ellipse(0.5, 0.3, 0.16, 0.17), ellipse(0.5, 0.69, 0.2, 0.19)],
        _ => vec![
            ellipse(0.5, 0.32, 0.18, 0.18),
            vec![(0.68, 0.32), (0.64, 0.6), (0.58, 0.88)],
        ],
    }
}

/// The distance from `p` to the segment `a`–`b`.
fn distance(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    };
    let (qx, qy) = (a.0 + t * dx - p.0, a.1 + t * dy - p.1);
    (qx * qx + qy * qy).sqrt()
}

/// One digit drawn with a random pen and pose.
fn draw(digit: usize, rng: &mut StdRng) -> Vec<u8> {
    let angle = rng.random_range(-0.25f32..0.25);
    let scale = rng.random_range(0.75f32..1.05) * SIZE as f32 * 0.8;
    let shear = rng.random_range(-0.25f32..0.25);
    let shift = (
        rng.random_range(-2.0f32..2.0),
        rng.random_range(-2.0f32..2.0),
    );
    let thickness = rng.random_range(1.2f32..2.6);
    let (sin, cos) = angle.sin_cos();
    let centre = SIZE as f32 / 2.0;
    let place = |(x, y): (f32, f32)| {
        let (x, y) = (x - 0.5 + shear * (y - 0.5), y - 0.5);
        (
            centre + shift.0 + scale * (cos * x - sin * y),
            centre + shift.1 + scale * (sin * x + cos * y),
        )
    };
    let segments: Vec<((f32, f32), (f32, f32))> = strokes(digit)
        .iter()
        .flat_map(|s| {
            let points: Vec<(f32, f32)> = s.iter().copied().map(place).collect();
            points.windows(2).map(|w| (w[0], w[1])).collect::<Vec<_>>()
        })
        .collect();
    let noise = rng.random_range(0.0f32..0.15);
    (0..SIZE * SIZE)
        .map(|i| {
            let p = ((i % SIZE) as f32 + 0.5, (i / SIZE) as f32 + 0.5);
            let d = segments
                .iter()
                .map(|&(a, b)| distance(p, a, b))
                .fold(f32::MAX, f32::min);
            let ink = (thickness / 2.0 + 0.5 - d).clamp(0.0, 1.0);
            let speckle = if rng.random::<f32>() < 0.03 {
                rng.random_range(0.0..noise)
            } else {
                0.0
            };
            ((ink + speckle).min(1.0) * 255.0).round() as u8
        })
        .collect()
}

/// The name of [`synthetic_digits`]'s datasets, which examples print on every output of a
/// run on them.
pub const SYNTHETIC_DIGITS: &str = "synthetic digits";

/// `n` synthetic digits `[1, 28, 28]`, classes `"0"` to `"9"` in turn, drawn with `seed`.
/// Not MNIST: a stand-in that kiln's examples use, and say so, when MNIST is neither on
/// disk nor downloadable; the loaders never substitute it.
///
/// ```
/// let digits = kiln_datasets::synthetic_digits(20, 7);
/// assert_eq!(digits.len(), 20);
/// assert_eq!(digits.shape(), [1, 28, 28]);
/// assert_eq!(digits.class_counts(), [2; 10]);
/// ```
pub fn synthetic_digits(n: usize, seed: u64) -> ImageDataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut images = Vec::with_capacity(n * SIZE * SIZE);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let digit = i % 10;
        images.extend(draw(digit, &mut rng));
        labels.push(digit as u16);
    }
    let classes = (0..10).map(|d| d.to_string()).collect();
    // Sizes and labels agree by construction.
    ImageDataset::new(SYNTHETIC_DIGITS, [1, SIZE, SIZE], images, labels, classes)
        .unwrap_or_else(|e| unreachable!("synthetic digits: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_distinct() {
        let a = synthetic_digits(30, 1);
        assert_eq!(a, synthetic_digits(30, 1));
        assert_ne!(a, synthetic_digits(30, 2));
        // Every digit has ink, within the frame's bounds.
        for i in 0..30 {
            let ink: u32 = a.image(i).iter().map(|&p| u32::from(p)).sum();
            assert!(ink > 255 * 15, "digit {i} has too little ink: {ink}");
            assert!(ink < 255 * 400, "digit {i} is a blot: {ink}");
        }
    }
}
