//! A PNG grid of images, so a user sees what the model sees (before and after
//! augmentation, say).

use std::path::Path;

use crate::error::{DataError, Result};

/// Writes `images` (channels-first `shape` each, one after the other, 1 or 3 channels) as
/// one PNG of `columns` per row, each image stretched from its own minimum to maximum.
///
/// # Errors
/// A shape that is not 1 or 3 channels, values that are not whole images, or a file that
/// cannot be written.
pub fn save_image_grid(
    path: impl AsRef<Path>,
    images: &[f32],
    shape: [usize; 3],
    columns: usize,
) -> Result<()> {
    let path = path.as_ref();
    image_grid(images, shape, columns)?
        .save(path)
        .map_err(|e| DataError::Image {
            file: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// The pixels between two images of a grid.
pub const GRID_GAP: usize = 2;

/// `images` as one picture of `columns` per row, [`GRID_GAP`] white pixels apart, each
/// image stretched from its own minimum to maximum (a constant one is mid-grey).
///
/// # Errors
/// A shape that is not 1 or 3 channels, or values that are not whole images.
pub fn image_grid(images: &[f32], shape: [usize; 3], columns: usize) -> Result<image::RgbImage> {
    let [c, h, w] = shape;
    let per = c * h * w;
    if !matches!(c, 1 | 3) || per == 0 || !images.len().is_multiple_of(per) || images.is_empty() {
        return Err(DataError::Invalid(format!(
            "a grid takes whole images of 1 or 3 channels; got {} values of {shape:?}",
            images.len()
        )));
    }
    let count = images.len() / per;
    let columns = columns.clamp(1, count);
    let rows = count.div_ceil(columns);
    let (gap, width, height) = (GRID_GAP, columns * (w + GRID_GAP), rows * (h + GRID_GAP));
    let mut canvas =
        image::RgbImage::from_pixel(width as u32, height as u32, image::Rgb([255, 255, 255]));
    for (i, img) in images.chunks_exact(per).enumerate() {
        let (lo, hi) = img
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let (lo, scale) = if hi > lo {
            (lo, 255.0 / (hi - lo))
        } else {
            (lo - 0.5, 255.0)
        };
        let (ox, oy) = ((i % columns) * (w + gap), (i / columns) * (h + gap));
        for y in 0..h {
            for x in 0..w {
                let px = |ch: usize| {
                    ((img[ch * h * w + y * w + x] - lo) * scale)
                        .round()
                        .clamp(0.0, 255.0) as u8
                };
                let rgb = if c == 1 {
                    [px(0); 3]
                } else {
                    [px(0), px(1), px(2)]
                };
                canvas.put_pixel((ox + x) as u32, (oy + y) as u32, image::Rgb(rgb));
            }
        }
    }
    Ok(canvas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png_of_the_grid() {
        let path = std::env::temp_dir().join(format!("kiln-grid-{}.png", std::process::id()));
        let images: Vec<f32> = (0..5 * 3 * 4 * 4).map(|i| (i % 7) as f32).collect();
        save_image_grid(&path, &images, [3, 4, 4], 2).unwrap();
        let read = image::open(&path).unwrap();
        assert_eq!((read.width(), read.height()), (2 * 6, 3 * 6));
        assert_eq!(
            save_image_grid(&path, &images[..10], [3, 4, 4], 2)
                .unwrap_err()
                .to_string(),
            "a grid takes whole images of 1 or 3 channels; got 10 values of [3, 4, 4]"
        );
    }
}
