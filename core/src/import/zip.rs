//! A reader for the zip archives Keras saves models in (`.keras`: `config.json`,
//! `model.weights.h5`, `metadata.json`), stored or deflated entries, without zip64. Every
//! offset is checked against the archive, and an entry is inflated to at most the size
//! its directory declares, which is itself at most [`MAX_ENTRY`] and at most what deflate
//! can make of the entry's compressed bytes ([`DEFLATE_RATIO`]), so a deflate bomb is
//! refused before anything is allocated.

use std::io::Read;

/// The largest entry read: 4 GiB, zip's own limit without zip64.
const MAX_ENTRY: u64 = u32::MAX as u64;

/// The most bytes deflate makes of one compressed byte (1032, plus one for rounding).
const DEFLATE_RATIO: u64 = 1033;

/// A zip archive in memory.
pub struct Zip<'a> {
    bytes: &'a [u8],
    /// Each entry: its name, compression method, compressed and declared sizes, and the
    /// offset of its local header.
    entries: Vec<Entry>,
}

struct Entry {
    name: String,
    method: u16,
    compressed: usize,
    size: u64,
    local: usize,
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

impl<'a> Zip<'a> {
    /// The archive in `bytes`, its central directory read.
    ///
    /// # Errors
    /// When it is not a zip archive, or its directory points outside it.
    pub fn new(bytes: &'a [u8]) -> Result<Self, String> {
        let damaged =
            || "a damaged zip archive: its central directory points outside it".to_string();
        // The end of central directory record: its signature, within the last 64 KiB + 22.
        let from = bytes.len().saturating_sub(22 + usize::from(u16::MAX));
        let end = (from..=bytes.len().saturating_sub(22))
            .rev()
            .find(|&at| u32_at(bytes, at) == Some(0x0605_4b50))
            .ok_or("not a zip archive (no end of central directory record)")?;
        let count = usize::from(u16_at(bytes, end + 10).ok_or_else(damaged)?);
        let mut at = u32_at(bytes, end + 16).ok_or_else(damaged)? as usize;
        let mut entries = Vec::with_capacity(count.min(bytes.len() / 46));
        for _ in 0..count {
            if u32_at(bytes, at) != Some(0x0201_4b50) {
                return Err(damaged());
            }
            let field = |offset: usize| u32_at(bytes, at + offset).ok_or_else(damaged);
            let short = |offset: usize| {
                u16_at(bytes, at + offset)
                    .map(usize::from)
                    .ok_or_else(damaged)
            };
            let (compressed, size) = (field(20)?, field(24)?);
            if compressed == u32::MAX || size == u32::MAX {
                return Err("a zip64 archive; this reader takes plain zip".into());
            }
            let (name_len, extra, comment) = (short(28)?, short(30)?, short(32)?);
            let name = bytes.get(at + 46..at + 46 + name_len).ok_or_else(damaged)?;
            entries.push(Entry {
                name: String::from_utf8_lossy(name).into_owned(),
                method: u16_at(bytes, at + 10).ok_or_else(damaged)?,
                compressed: compressed as usize,
                size: u64::from(size),
                local: field(42)? as usize,
            });
            at += 46 + name_len + extra + comment;
        }
        Ok(Zip { bytes, entries })
    }

    /// The names of its entries, in the directory's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// The contents of the entry `name`.
    ///
    /// # Errors
    /// When there is no such entry, it is compressed other than by deflate, or its data
    /// is damaged or not the size its directory declares.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| format!("the archive has no `{name}`"))?;
        let damaged = || format!("`{name}` in the archive is damaged");
        let local = entry.local;
        if u32_at(self.bytes, local) != Some(0x0403_4b50) {
            return Err(damaged());
        }
        let skip = usize::from(u16_at(self.bytes, local + 26).ok_or_else(damaged)?)
            + usize::from(u16_at(self.bytes, local + 28).ok_or_else(damaged)?);
        let start = local + 30 + skip;
        let data = start
            .checked_add(entry.compressed)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or_else(damaged)?;
        let out = match entry.method {
            0 => data.to_vec(),
            8 if entry.size > (entry.compressed as u64 + 1) * DEFLATE_RATIO => {
                return Err(format!(
                    "`{name}` declares {} bytes from {} compressed ones, more than deflate makes: a damaged archive",
                    entry.size, entry.compressed
                ));
            }
            8 => {
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(data)
                    .take(entry.size.min(MAX_ENTRY) + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| format!("`{name}` in the archive does not inflate: {e}"))?;
                out
            }
            method => {
                return Err(format!(
                    "`{name}` is compressed with method {method}; this reader takes stored and deflated entries"
                ));
            }
        };
        if out.len() as u64 != entry.size {
            return Err(format!(
                "`{name}` holds {} bytes where the archive declares {}",
                out.len(),
                entry.size
            ));
        }
        Ok(out)
    }
}
