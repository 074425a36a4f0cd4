//! A labelled image dataset held in memory as bytes.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::data::{Dataset, TargetKind, Targets};
use crate::error::{DataError, Result};

/// Labelled images kept as `u8` (60,000 MNIST images take 47 MB, not 188 MB of `f32`),
/// each channels-first `[channels, height, width]` as kiln's models take them.
///
/// ```
/// use kiln_datasets::ImageDataset;
/// let images = vec![0u8; 4 * 2 * 2];
/// let data = ImageDataset::new("tiny", [1, 2, 2], images, vec![0, 1, 1, 0], vec!["a".into(), "b".into()]).unwrap();
/// let (train, val) = data.validation_split(0.25);
/// assert_eq!((train.len(), val.len()), (3, 1));
/// assert_eq!(data.class_counts(), [2, 2]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ImageDataset {
    name: String,
    shape: [usize; 3],
    images: Vec<u8>,
    labels: Vec<u16>,
    classes: Vec<String>,
    normalization: Normalization,
}

impl ImageDataset {
    /// A dataset of `labels.len()` images of `shape`, stored one after the other in
    /// `images`.
    ///
    /// # Errors
    /// When `images` does not hold exactly one image per label, or a label is not a class.
    pub fn new(
        name: impl Into<String>,
        shape: [usize; 3],
        images: Vec<u8>,
        labels: Vec<u16>,
        classes: Vec<String>,
    ) -> Result<Self> {
        let name = name.into();
        let per_image: usize = shape.iter().product();
        if per_image == 0 {
            return Err(DataError::Invalid(format!(
                "{name}: an image shape {shape:?} holds no pixels"
            )));
        }
        if images.len() != per_image * labels.len() {
            return Err(DataError::Invalid(format!(
                "{name}: {} labels need {} bytes of {shape:?} images, got {}",
                labels.len(),
                per_image * labels.len(),
                images.len()
            )));
        }
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|(_, l)| usize::from(**l) >= classes.len())
        {
            return Err(DataError::Invalid(format!(
                "{name}: label {l} of image {i} is outside the {} classes",
                classes.len()
            )));
        }
        Ok(ImageDataset {
            name,
            shape,
            images,
            labels,
            classes,
            normalization: Normalization::Scale,
        })
    }

    /// The dataset's name, e.g. `MNIST train`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The shape of one image, `[channels, height, width]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// The bytes of one image.
    pub fn example_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Image `i`'s bytes, channels-first.
    ///
    /// # Panics
    /// When `i` is not below [`ImageDataset::len`].
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.example_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// Every image's bytes, one after the other.
    pub fn images(&self) -> &[u8] {
        &self.images
    }

    /// Each image's class index.
    pub fn labels(&self) -> &[u16] {
        &self.labels
    }

    /// The class names, by index.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// How many images each class has.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// The images at `indices`, in that order.
    ///
    /// # Panics
    /// When an index is not below [`ImageDataset::len`].
    pub fn select(&self, indices: &[usize]) -> ImageDataset {
        let mut images = Vec::with_capacity(indices.len() * self.example_len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        ImageDataset {
            name: self.name.clone(),
            shape: self.shape,
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes.clone(),
            normalization: self.normalization.clone(),
        }
    }

    /// The images of `classes` only, relabelled by their place in `classes`: with
    /// `&[5, 6, 7, 8, 9]` the digits 5 to 9 become classes 0 to 4, as Keras's
    /// `mnist_transfer_cnn` does with `y_train[y_train >= 5] - 5`.
    ///
    /// ```
    /// let digits = kiln_datasets::synthetic_digits(50, 1);
    /// let high = digits.only_classes(&[5, 6, 7, 8, 9]).unwrap();
    /// assert_eq!(high.classes(), ["5", "6", "7", "8", "9"]);
    /// assert!(high.labels().iter().all(|&l| l < 5));
    /// ```
    ///
    /// # Errors
    /// When a class is not one of the dataset's, or is given twice.
    pub fn only_classes(&self, classes: &[usize]) -> Result<ImageDataset> {
        let mut place = vec![None; self.classes.len()];
        for (i, &class) in classes.iter().enumerate() {
            match place.get_mut(class) {
                Some(slot @ None) => *slot = u16::try_from(i).ok(),
                Some(Some(_)) => {
                    return Err(DataError::Invalid(format!(
                        "class {class} is given twice; name each class once"
                    )));
                }
                None => {
                    return Err(DataError::Invalid(format!(
                        "{} has classes 0 to {}, not {class}",
                        self.name,
                        self.classes.len().saturating_sub(1)
                    )));
                }
            }
        }
        let kept: Vec<usize> = (0..self.len())
            .filter(|&i| place[usize::from(self.labels[i])].is_some())
            .collect();
        let mut subset = self.select(&kept);
        for label in &mut subset.labels {
            *label = place[usize::from(*label)].unwrap_or_default();
        }
        subset.classes = classes.iter().map(|&c| self.classes[c].clone()).collect();
        Ok(subset)
    }

    /// The first `n` images (all of them when there are fewer).
    pub fn take(&self, n: usize) -> ImageDataset {
        let indices: Vec<usize> = (0..n.min(self.len())).collect();
        self.select(&indices)
    }

    /// Splits off the last `fraction` of the images for validation, as Keras's
    /// `validation_split` does: `(first 1 - fraction, last fraction)`.
    ///
    /// # Panics
    /// When `fraction` is not in `[0, 1)`.
    pub fn validation_split(&self, fraction: f64) -> (ImageDataset, ImageDataset) {
        assert!(
            (0.0..1.0).contains(&fraction),
            "validation_split must be in [0, 1), got {fraction}"
        );
        let train = ((self.len() as f64) * (1.0 - fraction)) as usize;
        let all: Vec<usize> = (0..self.len()).collect();
        (self.select(&all[..train]), self.select(&all[train..]))
    }

    /// Like [`ImageDataset::validation_split`], but the validation images are drawn at
    /// random (seeded).
    ///
    /// # Panics
    /// When `fraction` is not in `[0, 1)`.
    pub fn shuffled_split(&self, fraction: f64, seed: u64) -> (ImageDataset, ImageDataset) {
        assert!(
            (0.0..1.0).contains(&fraction),
            "the split fraction must be in [0, 1), got {fraction}"
        );
        let mut all: Vec<usize> = (0..self.len()).collect();
        all.shuffle(&mut StdRng::seed_from_u64(seed));
        let train = ((self.len() as f64) * (1.0 - fraction)) as usize;
        (self.select(&all[..train]), self.select(&all[train..]))
    }

    /// The same images, turned into `f32` with `normalization` when batched.
    pub fn with_normalization(mut self, normalization: Normalization) -> Self {
        self.normalization = normalization;
        self
    }

    /// How the images are turned into `f32` when batched.
    pub fn normalization(&self) -> &Normalization {
        &self.normalization
    }

    /// The per-channel mean and standard deviation of the pixels scaled to `[0, 1]`.
    pub fn channel_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let [c, h, w] = self.shape;
        let mut sum = vec![0f64; c];
        let mut sq = vec![0f64; c];
        for image in self.images.chunks_exact(c * h * w) {
            for (ch, plane) in image.chunks_exact(h * w).enumerate() {
                for &p in plane {
                    let v = f64::from(p) / 255.0;
                    sum[ch] += v;
                    sq[ch] += v * v;
                }
            }
        }
        let n = (self.len() * h * w).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| ((q / n - m * m).max(0.0)).sqrt() as f32)
            .collect();
        (mean.into_iter().map(|m| m as f32).collect(), std)
    }
}

/// How image bytes become `f32`.
#[derive(Clone, Debug, PartialEq)]
pub enum Normalization {
    /// `byte / 255`, in `[0, 1]` (the default).
    Scale,
    /// `(byte / 255 - mean[c]) / std[c]` per channel.
    Standardize {
        /// Each channel's mean of the scaled pixels.
        mean: Vec<f32>,
        /// Each channel's standard deviation of the scaled pixels.
        std: Vec<f32>,
    },
    /// The bytes as they are, `0..=255`.
    Raw,
}

impl ImageDataset {
    /// Gathers images as `f32` with `normalization`.
    pub(crate) fn gather_images(
        &self,
        indices: &[usize],
        normalization: &Normalization,
        x: &mut Vec<f32>,
    ) {
        let [c, h, w] = self.shape();
        let plane = h * w;
        // One multiply-add per pixel: scale and shift per channel.
        let (scale, shift): (Vec<f32>, Vec<f32>) = match normalization {
            Normalization::Scale => (vec![1.0 / 255.0; c], vec![0.0; c]),
            Normalization::Raw => (vec![1.0; c], vec![0.0; c]),
            Normalization::Standardize { mean, std } => (0..c)
                .map(|ch| {
                    let s = std.get(ch).copied().unwrap_or(1.0).max(1e-12);
                    (1.0 / (255.0 * s), -mean.get(ch).copied().unwrap_or(0.0) / s)
                })
                .unzip(),
        };
        x.reserve(indices.len() * c * plane);
        for &i in indices {
            for (ch, pixels) in self.image(i).chunks_exact(plane).enumerate() {
                let (a, b) = (scale[ch], shift[ch]);
                x.extend(pixels.iter().map(|&p| f32::from(p) * a + b));
            }
        }
    }
}

impl Dataset for ImageDataset {
    fn len(&self) -> usize {
        ImageDataset::len(self)
    }

    fn example_shape(&self) -> Vec<usize> {
        self.shape().to_vec()
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Classes(self.classes().len())
    }

    fn gather(&self, indices: &[usize], x: &mut Vec<f32>, targets: &mut Targets) {
        self.gather_images(indices, self.normalization(), x);
        self.gather_targets(indices, targets);
    }

    fn gather_targets(&self, indices: &[usize], targets: &mut Targets) {
        if let Targets::Classes(labels) = targets {
            labels.extend(indices.iter().map(|&i| i64::from(self.labels()[i])));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> ImageDataset {
        let images: Vec<u8> = (0..n as u8).flat_map(|i| [i, i]).collect();
        let labels: Vec<u16> = (0..n as u16).map(|i| i % 3).collect();
        ImageDataset::new(
            "numbered",
            [1, 1, 2],
            images,
            labels,
            vec!["a".into(), "b".into(), "c".into()],
        )
        .unwrap()
    }

    #[test]
    fn only_classes_keeps_and_relabels_in_the_order_given() {
        // Labels 0,1,2,0,1,2,0: keep classes 2 and 0, which become 0 and 1.
        let data = numbered(7);
        let two = data.only_classes(&[2, 0]).unwrap();
        assert_eq!(two.labels(), [1, 0, 1, 0, 1]);
        assert_eq!(two.classes(), ["c", "a"]);
        let firsts: Vec<u8> = (0..two.len()).map(|i| two.image(i)[0]).collect();
        assert_eq!(firsts, [0, 2, 3, 5, 6]);
        assert_eq!(
            data.only_classes(&[3]).unwrap_err().to_string(),
            "numbered has classes 0 to 2, not 3"
        );
        assert_eq!(
            data.only_classes(&[1, 1]).unwrap_err().to_string(),
            "class 1 is given twice; name each class once"
        );
    }

    #[test]
    fn validation_split_takes_the_end_as_keras() {
        // Keras: split_at = int(n * (1 - validation_split)).
        let data = numbered(10);
        for (fraction, train_len) in [(0.1, 9), (0.25, 7), (0.0, 10), (0.33, 6)] {
            let (train, val) = data.validation_split(fraction);
            assert_eq!(
                (train.len(), val.len()),
                (train_len, 10 - train_len),
                "{fraction}"
            );
            if train_len < 10 {
                assert_eq!(val.image(0), data.image(train_len));
            }
        }
    }

    #[test]
    fn shuffled_split_is_seeded_and_complete() {
        let data = numbered(20);
        let (a_train, a_val) = data.shuffled_split(0.25, 7);
        let (b_train, b_val) = data.shuffled_split(0.25, 7);
        assert_eq!((&a_train, &a_val), (&b_train, &b_val));
        assert_eq!(a_val.len(), 5);
        let mut seen: Vec<u8> = a_train
            .images()
            .iter()
            .chain(a_val.images())
            .step_by(2)
            .copied()
            .collect();
        seen.sort();
        assert_eq!(seen, (0..20).collect::<Vec<u8>>());
        assert_ne!(a_val, data.validation_split(0.25).1);
    }

    #[test]
    fn refuses_inconsistent_data() {
        let classes = vec!["a".to_string()];
        let cases = [
            (
                vec![0u8; 3],
                vec![0u16, 0],
                "short: 2 labels need 4 bytes of [1, 1, 2] images, got 3",
            ),
            (
                vec![0u8; 2],
                vec![1u16],
                "short: label 1 of image 0 is outside the 1 classes",
            ),
        ];
        for (images, labels, want) in cases {
            let err =
                ImageDataset::new("short", [1, 1, 2], images, labels, classes.clone()).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn channel_stats_are_per_channel() {
        let images = vec![0, 255, 255, 255, 0, 0, 255, 255];
        let data =
            ImageDataset::new("rgb", [2, 1, 2], images, vec![0, 0], vec!["x".into()]).unwrap();
        let (mean, std) = data.channel_stats();
        // Channel 0 holds 0, 255, 0, 0; channel 1 holds 255 four times.
        assert_eq!(mean, [0.25, 1.0]);
        assert!(
            (std[0] - 0.433_012_7).abs() < 1e-6 && std[1] == 0.0,
            "{std:?}"
        );
    }
}
