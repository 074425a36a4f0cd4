//! Users' own images: `root/<class>/*.png|jpg`, classes sorted by name, each image resized
//! to one declared size.

use std::fs;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView};

use crate::dataset::ImageDataset;
use crate::error::{DataError, Result, io};

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io(dir))?
        .map(|e| e.map(|e| e.path()).map_err(io(dir)))
        .collect::<Result<_>>()?;
    entries.sort();
    Ok(entries)
}

/// The images under `root`, one subfolder per class (sorted by name, as Keras's
/// `image_dataset_from_directory`), each resized to `[channels, height, width]`
/// (`channels` 1 for grayscale, 3 for RGB).
///
/// # Errors
/// No class subfolder, a class with no image, an unreadable image, or `channels` not 1 or 3.
pub fn image_folder(root: impl AsRef<Path>, shape: [usize; 3]) -> Result<ImageDataset> {
    let root = root.as_ref();
    let [channels, height, width] = shape;
    if !matches!(channels, 1 | 3) || height == 0 || width == 0 {
        return Err(DataError::Invalid(format!(
            "image_folder takes [1 or 3 channels, height, width], got {shape:?}"
        )));
    }
    let classes: Vec<PathBuf> = sorted_entries(root)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    if classes.is_empty() {
        return Err(DataError::NoClasses {
            dir: root.to_path_buf(),
        });
    }
    let mut names = Vec::new();
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (label, class_dir) in classes.iter().enumerate() {
        let class = class_dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let files: Vec<PathBuf> = sorted_entries(class_dir)?
            .into_iter()
            .filter(|p| is_image(p))
            .collect();
        if files.is_empty() {
            return Err(DataError::EmptyClass {
                dir: root.to_path_buf(),
                class,
            });
        }
        for file in files {
            let decoded = image::open(&file).map_err(|e| DataError::Image {
                file: file.clone(),
                reason: e.to_string(),
            })?;
            let resized = shrunk(&decoded, width as u32, height as u32);
            if channels == 1 {
                images.extend_from_slice(resized.to_luma8().as_raw());
            } else {
                // Interleaved RGB to channels-first planes.
                let rgb = resized.to_rgb8();
                for c in 0..3 {
                    images.extend(rgb.as_raw().iter().skip(c).step_by(3));
                }
            }
            labels.push(label as u16);
        }
        names.push(class);
    }
    ImageDataset::new(root.display().to_string(), shape, images, labels, names)
}

/// `image` resized to `width`×`height` by the triangle (bilinear, antialiased) filter. An
/// image more than twice as large is first averaged down to twice the size, each pixel
/// read once: the filter alone reads a window as wide as the scale for every output pixel,
/// seconds for a 12000-pixel photo.
fn shrunk(image: &DynamicImage, width: u32, height: u32) -> DynamicImage {
    let (w, h) = image.dimensions();
    let (w2, h2) = (w.min(2 * width), h.min(2 * height));
    let image = if (w2, h2) == (w, h) {
        image
    } else {
        &image.thumbnail_exact(w2, h2)
    };
    image.resize_exact(width, height, FilterType::Triangle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kiln-folder-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn png(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(w, h, image::Rgb(rgb))
            .save(path)
            .unwrap();
    }

    #[test]
    fn reads_sorted_classes_resized_channels_first() {
        let dir = root("ok");
        png(&dir.join("dogs/a.png"), 8, 4, [10, 20, 30]);
        png(&dir.join("cats/b.png"), 2, 2, [200, 100, 0]);
        png(&dir.join("cats/c.jpg"), 5, 5, [0, 0, 0]);
        fs::write(dir.join("cats/notes.txt"), "not an image").unwrap();
        let data = image_folder(&dir, [3, 3, 3]).unwrap();
        assert_eq!(data.classes(), ["cats", "dogs"]);
        assert_eq!(data.labels(), [0, 0, 1]);
        let first = data.image(0);
        assert_eq!(&first[..9], &[200; 9]);
        assert_eq!(&first[9..18], &[100; 9]);
        assert_eq!(&first[18..], &[0; 9]);
        let gray = image_folder(&dir, [1, 2, 2]).unwrap();
        assert_eq!(gray.shape(), [1, 2, 2]);
    }

    #[test]
    fn large_images_shrink_like_the_filter_alone() {
        // A smooth picture 50 times the target in width, 20 times in height.
        let big = DynamicImage::ImageRgb8(image::RgbImage::from_fn(800, 320, |x, y| {
            image::Rgb([(x / 4) as u8, (y * 3 / 4) as u8, ((x + y) / 5) as u8])
        }));
        let direct = big.resize_exact(16, 16, FilterType::Triangle).to_rgb8();
        let two_stage = shrunk(&big, 16, 16).to_rgb8();
        assert_eq!(two_stage.dimensions(), (16, 16));
        let worst = direct
            .as_raw()
            .iter()
            .zip(two_stage.as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max();
        assert!(worst <= Some(3), "largest difference {worst:?} of 255");
        // Smaller than twice the target: the filter alone, unchanged.
        let small = big.crop_imm(0, 0, 30, 20);
        assert_eq!(
            shrunk(&small, 16, 16),
            small.resize_exact(16, 16, FilterType::Triangle)
        );
    }

    #[test]
    fn bad_folders_are_clear_errors() {
        let empty = root("empty");
        assert!(matches!(
            image_folder(&empty, [3, 8, 8]),
            Err(DataError::NoClasses { .. })
        ));
        let no_images = root("no-images");
        fs::create_dir_all(no_images.join("cats")).unwrap();
        let err = image_folder(&no_images, [3, 8, 8]).unwrap_err();
        assert!(err.to_string().starts_with("class `cats` in"), "{err}");
        let broken = root("broken");
        fs::create_dir_all(broken.join("cats")).unwrap();
        fs::write(broken.join("cats/x.png"), b"not a png").unwrap();
        let err = image_folder(&broken, [3, 8, 8]).unwrap_err();
        assert!(err.to_string().starts_with("cannot decode image"), "{err}");
        assert!(
            image_folder(&broken, [2, 8, 8])
                .unwrap_err()
                .to_string()
                .contains("1 or 3 channels")
        );
        // A picture that is a symlink to itself, and a zero-byte picture.
        #[cfg(unix)]
        for (name, why) in [("loop.png", "symbolic links"), ("empty.png", "")] {
            let odd = root(&format!("odd-{name}"));
            fs::create_dir_all(odd.join("cats")).unwrap();
            let picture = odd.join("cats").join(name);
            if name == "loop.png" {
                std::os::unix::fs::symlink(&picture, &picture).unwrap();
            } else {
                fs::write(&picture, b"").unwrap();
            }
            let err = image_folder(&odd, [3, 8, 8]).unwrap_err().to_string();
            assert!(
                err.contains(&picture.display().to_string()) && err.contains(why),
                "{name}: {err}"
            );
        }
    }
}
