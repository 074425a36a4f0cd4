//! The IDX format of MNIST: a big-endian magic number, the dimensions, then the bytes.

use std::io::Read;
use std::path::Path;

use crate::error::{DataError, Result, io};

/// The magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// The magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Images read from an IDX file.
#[derive(Debug, PartialEq)]
pub struct IdxImages {
    /// The number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count · rows · cols` bytes.
    pub pixels: Vec<u8>,
}

fn read_u32s<const N: usize>(reader: &mut impl Read, file: &Path, what: &str) -> Result<[u32; N]> {
    let mut bytes = vec![0u8; 4 * N];
    let got = read_up_to(reader, &mut bytes, file)?;
    if got < bytes.len() {
        return Err(DataError::Truncated {
            file: file.to_path_buf(),
            what: what.to_string(),
            expected: bytes.len() as u64,
            found: got as u64,
        });
    }
    Ok(std::array::from_fn(|i| {
        u32::from_be_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    }))
}

/// Reads into `buf` until it is full or the input ends; returns the bytes read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8], file: &Path) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(file)(e)),
        }
    }
    Ok(filled)
}

/// The most bytes of data one IDX file may declare: 2 GiB (MNIST's largest holds 47 MB).
/// A header declaring more is refused before anything is read, so a gzip bomb behind it
/// cannot exhaust memory either.
pub const MAX_BODY: u64 = 1 << 31;

/// Reads exactly `n` bytes of `what`, then checks the input ends there. The buffer grows
/// with the data, and `n` is at most [`MAX_BODY`].
fn read_body(reader: &mut impl Read, n: u64, file: &Path, what: &str) -> Result<Vec<u8>> {
    if n > MAX_BODY {
        return Err(DataError::Malformed {
            file: file.to_path_buf(),
            what: format!(
                "its header declares {what}, {n} bytes, more than kiln reads ({MAX_BODY})"
            ),
        });
    }
    let mut body = Vec::new();
    reader
        .take(n.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(io(file))?;
    let got = body.len() as u64;
    if got < n {
        return Err(DataError::Truncated {
            file: file.to_path_buf(),
            what: what.to_string(),
            expected: n,
            found: got,
        });
    }
    if got > n {
        return Err(DataError::Malformed {
            file: file.to_path_buf(),
            what: format!("more bytes than the {n} bytes of {what} its header announces"),
        });
    }
    Ok(body)
}

fn check_magic(found: u32, expected: u32, file: &Path, format: &'static str) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(DataError::BadMagic {
            file: file.to_path_buf(),
            format,
            expected,
            found,
        })
    }
}

/// Reads an IDX image file (`train-images-idx3-ubyte`); `file` names it in errors.
///
/// # Errors
/// A wrong magic number, a header or body shorter than announced, or trailing bytes.
pub fn read_images(mut reader: impl Read, file: &Path) -> Result<IdxImages> {
    let [magic] = read_u32s::<1>(&mut reader, file, "the IDX header")?;
    check_magic(magic, IMAGES_MAGIC, file, "an IDX image file")?;
    let [count, rows, cols] =
        read_u32s::<3>(&mut reader, file, "the IDX dimensions")?.map(u64::from);
    if rows == 0 || cols == 0 {
        return Err(DataError::Malformed {
            file: file.to_path_buf(),
            what: format!("images of {rows}×{cols} pixels"),
        });
    }
    let what = format!("{count} images of {rows}×{cols}");
    let pixels = read_body(
        &mut reader,
        count.saturating_mul(rows).saturating_mul(cols),
        file,
        &what,
    )?;
    Ok(IdxImages {
        count: count as usize,
        rows: rows as usize,
        cols: cols as usize,
        pixels,
    })
}

/// Reads an IDX label file (`train-labels-idx1-ubyte`), each label below `classes`.
///
/// # Errors
/// A wrong magic number, a short file, trailing bytes, or a label out of range.
pub fn read_labels(mut reader: impl Read, file: &Path, classes: usize) -> Result<Vec<u16>> {
    let [magic, count] = read_u32s::<2>(&mut reader, file, "the IDX header")?;
    check_magic(magic, LABELS_MAGIC, file, "an IDX label file")?;
    let labels = read_body(&mut reader, count.into(), file, &format!("{count} labels"))?;
    if let Some((index, &label)) = labels
        .iter()
        .enumerate()
        .find(|(_, l)| usize::from(**l) >= classes)
    {
        return Err(DataError::LabelOutOfRange {
            file: file.to_path_buf(),
            index,
            label: label.into(),
            classes,
        });
    }
    Ok(labels.into_iter().map(u16::from).collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An IDX image file of `count` images of 2×3 pixels, pixel values counting up.
    pub fn images_file(count: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        for v in [IMAGES_MAGIC, count, 2, 3] {
            bytes.extend(v.to_be_bytes());
        }
        bytes.extend((0..count * 6).map(|i| i as u8));
        bytes
    }

    /// An IDX label file with these labels.
    pub fn labels_file(labels: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(LABELS_MAGIC.to_be_bytes());
        bytes.extend((labels.len() as u32).to_be_bytes());
        bytes.extend(labels);
        bytes
    }

    #[test]
    fn reads_images_and_labels() {
        let images = read_images(images_file(3).as_slice(), Path::new("x")).unwrap();
        assert_eq!((images.count, images.rows, images.cols), (3, 2, 3));
        assert_eq!(images.pixels, (0..18).collect::<Vec<u8>>());
        let labels = read_labels(labels_file(&[7, 0, 9]).as_slice(), Path::new("y"), 10).unwrap();
        assert_eq!(labels, [7, 0, 9]);
        let empty = read_images(images_file(0).as_slice(), Path::new("x")).unwrap();
        assert_eq!(empty.count, 0);
    }

    #[test]
    fn every_bad_file_is_a_clear_error() {
        let file = Path::new("train-images-idx3-ubyte");
        let mut trailing = images_file(2);
        trailing.push(0);
        let mut swapped = images_file(1);
        swapped[..4].copy_from_slice(&LABELS_MAGIC.to_be_bytes());
        let cases = [
            (
                images_file(2)[..20].to_vec(),
                "train-images-idx3-ubyte is truncated: expected 12 bytes of 2 images of 2×3, found 4",
            ),
            (
                images_file(2)[..6].to_vec(),
                "train-images-idx3-ubyte is truncated: expected 12 bytes of the IDX dimensions, found 2",
            ),
            (
                vec![],
                "train-images-idx3-ubyte is truncated: expected 4 bytes of the IDX header, found 0",
            ),
            (
                trailing,
                "train-images-idx3-ubyte: more bytes than the 12 bytes of 2 images of 2×3 its header announces",
            ),
            (
                [IMAGES_MAGIC, u32::MAX, 65_535, 65_535]
                    .iter()
                    .flat_map(|v| v.to_be_bytes())
                    .collect(),
                "train-images-idx3-ubyte: its header declares 4294967295 images of 65535×65535, 18446181123756261375 bytes, more than kiln reads (2147483648)",
            ),
            (
                swapped,
                "train-images-idx3-ubyte is not an IDX image file: its magic number is 0x00000801, expected 0x00000803",
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                read_images(bytes.as_slice(), file).unwrap_err().to_string(),
                want
            );
        }
        let labels = Path::new("train-labels-idx1-ubyte");
        assert_eq!(
            read_labels(labels_file(&[1, 10]).as_slice(), labels, 10)
                .unwrap_err()
                .to_string(),
            "train-labels-idx1-ubyte: label 10 of record 1 is outside 0..10"
        );
        assert_eq!(
            read_labels(&labels_file(&[1, 2, 3])[..10], labels, 10)
                .unwrap_err()
                .to_string(),
            "train-labels-idx1-ubyte is truncated: expected 3 bytes of 3 labels, found 2"
        );
    }
}
