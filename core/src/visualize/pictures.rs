//! The report's images: the input pictures, activation tiles, filters and Grad-CAM
//! overlays, as PNG bytes.

use image::{RgbImage, imageops};
use kiln_datasets::image_grid;

use crate::error::TrainError;

/// How a layer's output is laid out in its PNG, for the page to name what is under the
/// pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One tile per channel, `columns` per row, each `width × height`.
    Channels {
        columns: usize,
        width: usize,
        height: usize,
    },
    /// One tile of `width × height` units, numbered row by row.
    Units { width: usize, height: usize },
    /// One tile of a sequence: a row per step, a column per feature.
    Steps { width: usize, height: usize },
}

/// The most tiles a grid shows (a layer of more channels shows its first ones).
const MOST_TILES: usize = 256;

fn invalid(e: impl std::fmt::Display) -> TrainError {
    TrainError::Setting(format!("cannot draw the report's image: {e}"))
}

/// `image` as PNG bytes.
pub(crate) fn png(image: &RgbImage) -> Result<Vec<u8>, TrainError> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(invalid)?;
    Ok(bytes.into_inner())
}

/// A picture of `shape` (channels first: 1 or 3 channels, or one `[h, w]` plane),
/// stretched from its minimum to its maximum.
pub(crate) fn picture(values: &[f32], shape: &[usize]) -> Result<RgbImage, TrainError> {
    let [c, h, w] = match *shape {
        [c, h, w] if c == 1 || c == 3 => [c, h, w],
        [h, w] => [1, h, w],
        _ => {
            return Err(TrainError::Inputs(format!(
                "a report shows pictures of 1 or 3 channels first ([1, 28, 28]), not {shape:?}"
            )));
        }
    };
    let grid = image_grid(values, [c, h, w], 1).map_err(invalid)?;
    Ok(imageops::crop_imm(&grid, 0, 0, w as u32, h as u32).to_image())
}

/// One example's output of a layer as tiles: a channel each for `[channels, h, w]`, one
/// tile of units for a vector, one of steps × features for a sequence.
pub(crate) fn maps(values: &[f32], dims: &[usize]) -> Result<(RgbImage, Layout), TrainError> {
    match *dims {
        [channels, height, width] => {
            let shown = channels.min(MOST_TILES);
            let columns = (shown as f64).sqrt().ceil() as usize;
            let grid = image_grid(
                &values[..shown * height * width],
                [1, height, width],
                columns,
            )
            .map_err(invalid)?;
            let layout = Layout::Channels {
                columns,
                width,
                height,
            };
            Ok((grid, layout))
        }
        [units] => {
            let width = units.min(32);
            let height = units.div_ceil(width);
            let mut padded = values.to_vec();
            let low = values.iter().copied().fold(f32::MAX, f32::min);
            padded.resize(width * height, low);
            Ok((
                picture(&padded, &[height, width])?,
                Layout::Units { width, height },
            ))
        }
        [height, width] => Ok((
            picture(values, &[height, width])?,
            Layout::Steps { width, height },
        )),
        _ => Err(TrainError::Setting(format!(
            "a report shows outputs of rank 1 to 3, not {dims:?}"
        ))),
    }
}

/// A convolution's kernel `[out, in, kh, kw]`: each filter as a picture when it reads the
/// 1 or 3 channels of an image (`first`), else a grid with a row per filter and a column
/// per input channel (at most [`MOST_TILES`] of each).
pub(crate) fn filters(values: &[f32], dims: &[usize], first: bool) -> Result<RgbImage, TrainError> {
    let [out, inputs, kh, kw] = *dims else {
        return Err(TrainError::Setting(format!(
            "a 2-D convolution's kernel is [out, in, kh, kw], not {dims:?}"
        )));
    };
    if first && matches!(inputs, 1 | 3) {
        let columns = (out as f64).sqrt().ceil() as usize;
        return image_grid(values, [inputs, kh, kw], columns).map_err(invalid);
    }
    let (rows, columns) = (out.min(MOST_TILES), inputs.min(MOST_TILES));
    let plane = kh * kw;
    let shown: Vec<f32> = (0..rows)
        .flat_map(|o| &values[o * inputs * plane..(o * inputs + columns) * plane])
        .copied()
        .collect();
    image_grid(&shown, [1, kh, kw], columns).map_err(invalid)
}

/// The side the overlays are drawn at, whatever the picture's size.
const OVERLAY_SIDE: f32 = 224.0;

/// Grad-CAM's `heat` (`[h, w]`, any scale) over `base`: bilinear up to the picture's size
/// (enlarged to about 224 pixels), normalised to `[0, 1]`, coloured from blue to red and
/// laid over the picture at 40%.
pub(crate) fn overlay(base: &RgbImage, heat: &[f32], dims: [usize; 2]) -> RgbImage {
    let scale = (OVERLAY_SIDE / base.width().max(base.height()) as f32)
        .floor()
        .max(1.0);
    let (w, h) = (
        (base.width() as f32 * scale) as u32,
        (base.height() as f32 * scale) as u32,
    );
    let base = imageops::resize(base, w, h, imageops::FilterType::Nearest);
    let top = heat.iter().copied().fold(0.0f32, f32::max);
    let [hh, hw] = dims;
    RgbImage::from_fn(w, h, |x, y| {
        // The heat map's cell centres sit at the picture's cell centres.
        let fx = ((x as f32 + 0.5) / w as f32 * hw as f32 - 0.5).clamp(0.0, hw as f32 - 1.0);
        let fy = ((y as f32 + 0.5) / h as f32 * hh as f32 - 0.5).clamp(0.0, hh as f32 - 1.0);
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(hw - 1), (y0 + 1).min(hh - 1));
        let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
        let at = |x: usize, y: usize| heat[y * hw + x];
        let v = (at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx) * (1.0 - ty)
            + (at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx) * ty;
        let v = if top > 0.0 { v / top } else { 0.0 };
        let colour = jet(v);
        let under = base.get_pixel(x, y).0;
        image::Rgb(std::array::from_fn(|k| {
            (0.6 * f32::from(under[k]) + 0.4 * colour[k]).round() as u8
        }))
    })
}

/// The "jet" colour map: blue (0) through green to red (1).
fn jet(v: f32) -> [f32; 3] {
    let channel = |centre: f32| (1.5 - (4.0 * v - centre).abs()).clamp(0.0, 1.0) * 255.0;
    [channel(3.0), channel(2.0), channel(1.0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_tile_in_a_square_grid_each_stretched() {
        // 5 channels of 2×3: three columns, two rows, tiles 2 pixels apart.
        let values: Vec<f32> = (0..30).map(|i| (i % 6) as f32).collect();
        let (grid, layout) = maps(&values, &[5, 2, 3]).unwrap();
        assert_eq!((grid.width(), grid.height()), (3 * 5, 2 * 4));
        assert_eq!(
            layout,
            Layout::Channels {
                columns: 3,
                width: 3,
                height: 2
            }
        );
        assert_eq!(grid.get_pixel(0, 0).0, [0; 3]);
        assert_eq!(grid.get_pixel(2, 1).0, [255; 3]);
    }

    #[test]
    fn a_dead_channel_is_grey_and_units_fill_rows_of_32() {
        let (grid, _) = maps(&[0.0; 8], &[2, 2, 2]).unwrap();
        assert_eq!(grid.get_pixel(0, 0).0, [128; 3]);
        let (strip, layout) = maps(&(0..40).map(|i| i as f32).collect::<Vec<_>>(), &[40]).unwrap();
        assert_eq!(
            layout,
            Layout::Units {
                width: 32,
                height: 2
            }
        );
        assert_eq!((strip.width(), strip.height()), (32, 2));
    }

    #[test]
    fn the_overlay_is_red_where_the_heat_is() {
        let base = RgbImage::from_pixel(8, 8, image::Rgb([0, 0, 0]));
        let heat = [0.0, 0.0, 0.0, 2.0];
        let shown = overlay(&base, &heat, [2, 2]);
        assert_eq!(shown.width(), 224);
        let hot = shown.get_pixel(223, 223).0;
        let cold = shown.get_pixel(0, 0).0;
        assert!(hot[0] > 40 && hot[2] == 0, "{hot:?}");
        assert!(cold[2] > 40 && cold[0] == 0, "{cold:?}");
    }

    #[test]
    fn first_filters_are_pictures_and_deeper_ones_a_grid() {
        let rgb: Vec<f32> = (0..4 * 3 * 3 * 3).map(|i| i as f32).collect();
        let first = filters(&rgb, &[4, 3, 3, 3], true).unwrap();
        assert_eq!((first.width(), first.height()), (2 * 5, 2 * 5));
        let deeper = filters(&rgb, &[4, 3, 3, 3], false).unwrap();
        assert_eq!((deeper.width(), deeper.height()), (3 * 5, 4 * 5));
        assert_eq!(
            filters(&rgb, &[4, 27], true).unwrap_err().to_string(),
            "a 2-D convolution's kernel is [out, in, kh, kw], not [4, 27]"
        );
    }
}
