//! A reader for the HDF5 files Keras keeps its weights in (`model.weights.h5`, written by
//! h5py with its defaults): superblock version 0, groups as symbol tables (version 1
//! B-trees and local heaps), version 1 object headers, and datasets of little-endian
//! floats stored contiguously or compactly. What else HDF5 can hold (chunked or compressed
//! datasets, newer superblocks and headers) is refused with an error naming it.
//!
//! Every read is checked against the file's length, every count against what the file can
//! hold, and groups are walked at most [`MAX_DEPTH`] deep, each object once; so a damaged
//! or hostile file gives an error, never a panic, a hang or an allocation beyond its size.

use std::collections::HashSet;

/// How deep groups may nest.
const MAX_DEPTH: usize = 32;

/// One dataset: its shape and its values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Its dimensions.
    pub shape: Vec<usize>,
    /// Its values, converted to `f32`.
    pub values: Vec<f32>,
}

/// An HDF5 file in memory.
pub struct Hdf5<'a> {
    bytes: &'a [u8],
}

/// Where a walk of the groups goes and what it has found.
struct Walk<'w> {
    /// The group whose datasets are read.
    under: &'w str,
    /// The objects met so far.
    seen: &'w mut HashSet<u64>,
    out: &'w mut Vec<(String, Dataset)>,
}

/// The signature every HDF5 file starts with.
const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
/// An address that points nowhere.
const UNDEFINED: u64 = u64::MAX;

/// Object header message types this reader uses.
const DATASPACE: u16 = 0x0001;
const DATATYPE: u16 = 0x0003;
const LAYOUT: u16 = 0x0008;
const CONTINUATION: u16 = 0x0010;
const SYMBOL_TABLE: u16 = 0x0011;
const LINK_INFO: u16 = 0x0002;

impl<'a> Hdf5<'a> {
    /// The file in `bytes`, its superblock checked.
    ///
    /// # Errors
    /// When it is not an HDF5 file or uses a superblock other than version 0 with 8-byte
    /// offsets and lengths.
    pub fn new(bytes: &'a [u8]) -> Result<Self, String> {
        if bytes.get(..8) != Some(SIGNATURE) {
            return Err("not an HDF5 file: its first 8 bytes are not HDF5's signature".into());
        }
        let file = Hdf5 { bytes };
        let version = file.byte(8)?;
        if version != 0 {
            return Err(format!(
                "HDF5 superblock version {version}; this reader takes version 0 (h5py's default)"
            ));
        }
        let (offsets, lengths) = (file.byte(13)?, file.byte(14)?);
        if (offsets, lengths) != (8, 8) {
            return Err(format!(
                "HDF5 offsets of {offsets} and lengths of {lengths} bytes; this reader takes 8 and 8"
            ));
        }
        Ok(file)
    }

    /// Every dataset in the group `under` (`layers`), by its path (`layers/dense/vars/0`),
    /// in the order of the groups' B-trees (by name); what lies outside it is not read.
    ///
    /// # Errors
    /// When the file is damaged, or holds what this reader does not take.
    pub fn datasets(&self, under: &str) -> Result<Vec<(String, Dataset)>, String> {
        // The root group's symbol table entry ends the superblock: its object header
        // address is its second field.
        let root = self.u64(56 + 8)?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let walk = Walk {
            under,
            seen: &mut seen,
            out: &mut out,
        };
        self.walk(root, "", 0, walk)?;
        Ok(out)
    }

    fn walk(&self, header: u64, path: &str, depth: usize, walk: Walk) -> Result<(), String> {
        let Walk { under, seen, out } = walk;
        if depth > MAX_DEPTH {
            return Err(format!(
                "HDF5 groups nest deeper than {MAX_DEPTH} at `{path}`"
            ));
        }
        if !seen.insert(header) {
            return Err(format!("HDF5 object `{path}` is reached twice (a cycle)"));
        }
        let messages = self.messages(header)?;
        let find = |kind: u16| messages.iter().find(|m| m.0 == kind).map(|m| m.1);
        if let Some(table) = find(SYMBOL_TABLE) {
            let (tree, heap) = (self.u64(table)?, self.u64(table + 8)?);
            for (name, child) in self.group(tree, heap)? {
                let child_path = if path.is_empty() {
                    name
                } else {
                    format!("{path}/{name}")
                };
                let inside = |outer: &str, inner: &str| {
                    inner
                        .strip_prefix(outer)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
                };
                if inside(&child_path, under) || inside(under, &child_path) {
                    let walk = Walk {
                        under,
                        seen: &mut *seen,
                        out: &mut *out,
                    };
                    self.walk(child, &child_path, depth + 1, walk)?;
                }
            }
            Ok(())
        } else if let Some(layout) = find(LAYOUT) {
            let space =
                find(DATASPACE).ok_or_else(|| format!("HDF5 dataset `{path}` has no dataspace"))?;
            let kind =
                find(DATATYPE).ok_or_else(|| format!("HDF5 dataset `{path}` has no datatype"))?;
            let dataset = self
                .dataset(space, kind, layout)
                .map_err(|e| format!("HDF5 dataset `{path}`: {e}"))?;
            out.push((path.to_owned(), dataset));
            Ok(())
        } else if find(LINK_INFO).is_some() {
            Err(format!(
                "HDF5 group `{path}` is a new-style (link) group; this reader takes symbol-table groups (h5py's default)"
            ))
        } else {
            // Another kind of object (a named datatype): nothing to read.
            Ok(())
        }
    }

    /// The `(name, object header address)` of each member of a symbol-table group.
    fn group(&self, tree: u64, heap: u64) -> Result<Vec<(String, u64)>, String> {
        let heap = self.at(heap)?;
        self.expect(heap, b"HEAP", "local heap")?;
        let data = self.at(self.u64(heap + 24)?)?;
        let size = usize::try_from(self.u64(heap + 8)?).map_err(|_| "local heap too large")?;
        let mut members = Vec::new();
        let mut nodes = vec![(self.at(tree)?, 0usize)];
        let mut visited = HashSet::new();
        while let Some((node, depth)) = nodes.pop() {
            if depth > MAX_DEPTH || !visited.insert(node) {
                return Err("an HDF5 group's B-tree loops or nests too deep".into());
            }
            self.expect(node, b"TREE", "B-tree node")?;
            if self.byte(node + 4)? != 0 {
                return Err("an HDF5 B-tree node that is not a group's".into());
            }
            let level = self.byte(node + 5)?;
            let entries = usize::from(self.u16(node + 6)?);
            // Keys (8 bytes) and children (8 bytes) alternate after the two sibling addresses.
            let children = (0..entries)
                .map(|i| self.u64(node + 24 + 16 * i + 8))
                .collect::<Result<Vec<_>, _>>()?;
            if level > 0 {
                for child in children.into_iter().rev() {
                    nodes.push((self.at(child)?, depth + 1));
                }
                continue;
            }
            for child in children {
                let symbols = self.at(child)?;
                if !visited.insert(symbols) {
                    return Err("an HDF5 group's symbol table node is listed twice".into());
                }
                self.expect(symbols, b"SNOD", "symbol table node")?;
                let count = usize::from(self.u16(symbols + 6)?);
                for i in 0..count {
                    let entry = symbols + 8 + 40 * i;
                    let name_at =
                        usize::try_from(self.u64(entry)?).map_err(|_| "name offset too large")?;
                    if name_at >= size {
                        return Err("an HDF5 member's name lies outside its local heap".into());
                    }
                    members.push((
                        self.name(data + name_at, data + size)?,
                        self.u64(entry + 8)?,
                    ));
                }
            }
        }
        Ok(members)
    }

    /// A dataset from its dataspace, datatype and layout messages (their data's offsets).
    fn dataset(&self, space: usize, kind: usize, layout: usize) -> Result<Dataset, String> {
        let shape = self.dataspace(space)?;
        let number = self.number(kind)?;
        let width = number.width();
        let count = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or("its dimensions overflow")?;
        let bytes = count.checked_mul(width).ok_or("its size overflows")?;
        let data = match (self.byte(layout)?, self.byte(layout + 1)?) {
            (3, 0) => {
                let size = usize::from(self.u16(layout + 2)?);
                self.slice(layout + 4, size)?
            }
            (3, 1) => {
                let address = self.u64(layout + 2)?;
                let size = self.u64(layout + 10)?;
                if address == UNDEFINED {
                    &[]
                } else {
                    let size = usize::try_from(size).map_err(|_| "its data is too large")?;
                    self.slice(self.at(address)?, size)?
                }
            }
            (3, 2) => return Err("chunked storage is not read; save it contiguously".into()),
            (version, _) => return Err(format!("data layout version {version} is not read")),
        };
        if data.len() != bytes {
            return Err(format!(
                "holds {} bytes of data for a shape {shape:?} of {width}-byte numbers ({bytes} bytes)",
                data.len()
            ));
        }
        let values = data.chunks_exact(width).map(|b| number.read(b)).collect();
        Ok(Dataset { shape, values })
    }

    fn dataspace(&self, at: usize) -> Result<Vec<usize>, String> {
        let version = self.byte(at)?;
        let rank = usize::from(self.byte(at + 1)?);
        let dims = match version {
            1 => at + 8,
            2 => at + 4,
            v => return Err(format!("dataspace version {v} is not read")),
        };
        (0..rank)
            .map(|i| {
                usize::try_from(self.u64(dims + 8 * i)?)
                    .map_err(|_| "a dimension too large".to_string())
            })
            .collect()
    }

    /// The little-endian float or integer datatype at `at` (Keras keeps weights as
    /// floats, and a few counters, Normalization's `count`, as integers).
    fn number(&self, at: usize) -> Result<Number, String> {
        let class = self.byte(at)? & 0x0f;
        let flags = self.byte(at + 1)?;
        let little_endian = flags & 1 == 0;
        let size = self.u32(at + 4)?;
        match (class, little_endian, size) {
            (1, true, 4) => Ok(Number::F32),
            (1, true, 8) => Ok(Number::F64),
            (1, _, _) => Err(format!(
                "a {size}-byte float that is not little-endian f32 or f64"
            )),
            (0, true, 1 | 2 | 4 | 8) => Ok(Number::Int {
                width: size as usize,
                signed: flags & 0x08 != 0,
            }),
            (0, _, _) => Err(format!(
                "a {size}-byte integer that is not little-endian of 1, 2, 4 or 8 bytes"
            )),
            _ => Err(format!("datatype class {class} is not a number")),
        }
    }

    /// The messages of the version 1 object header at `address`: `(type, data offset)`.
    fn messages(&self, address: u64) -> Result<Vec<(u16, usize)>, String> {
        let header = self.at(address)?;
        if self.byte(header)? != 1 {
            return Err(format!(
                "HDF5 object header version {} at byte {header}; this reader takes version 1",
                self.byte(header)?
            ));
        }
        let total = usize::from(self.u16(header + 2)?);
        let size = self.u32(header + 8)? as usize;
        let mut blocks = vec![(header + 16, size)];
        let mut messages = Vec::new();
        let mut block = 0;
        while let Some(&(start, len)) = blocks.get(block) {
            block += 1;
            if block > total + 1 {
                return Err(
                    "an HDF5 object header continues more often than it has messages".into(),
                );
            }
            let end = start
                .checked_add(len)
                .ok_or("an HDF5 object header overflows")?;
            self.slice(start, len)?;
            let mut pos = start;
            while pos + 8 <= end && messages.len() < total {
                let kind = self.u16(pos)?;
                let size = usize::from(self.u16(pos + 2)?);
                let data = pos + 8;
                if kind == CONTINUATION {
                    let (next, len) = (self.at(self.u64(data)?)?, self.u64(data + 8)?);
                    let len = usize::try_from(len).map_err(|_| "a continuation too large")?;
                    blocks.push((next, len));
                }
                messages.push((kind, data));
                pos = data + size;
            }
        }
        Ok(messages)
    }

    /// A null-terminated name starting at `at`, ending before `end`.
    fn name(&self, at: usize, end: usize) -> Result<String, String> {
        let bytes = self
            .bytes
            .get(at..end.min(self.bytes.len()))
            .ok_or("a name outside the file")?;
        let len = bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or("a name without its end")?;
        String::from_utf8(bytes[..len].to_vec()).map_err(|_| "a name that is not UTF-8".into())
    }

    fn expect(&self, at: usize, signature: &[u8; 4], what: &str) -> Result<(), String> {
        if self.slice(at, 4)? == signature {
            Ok(())
        } else {
            Err(format!("no HDF5 {what} at byte {at}"))
        }
    }

    /// An address in the file as an index, checked to lie inside it.
    fn at(&self, address: u64) -> Result<usize, String> {
        usize::try_from(address)
            .ok()
            .filter(|&a| a < self.bytes.len())
            .ok_or_else(|| {
                format!(
                    "an HDF5 address ({address}) beyond the file's {} bytes",
                    self.bytes.len()
                )
            })
    }

    fn slice(&self, at: usize, len: usize) -> Result<&'a [u8], String> {
        at.checked_add(len)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or_else(|| {
                format!(
                    "the HDF5 file ends within bytes {at}..{}",
                    at.saturating_add(len)
                )
            })
    }

    fn byte(&self, at: usize) -> Result<u8, String> {
        Ok(self.slice(at, 1)?[0])
    }

    fn u16(&self, at: usize) -> Result<u16, String> {
        let b = self.slice(at, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&self, at: usize) -> Result<u32, String> {
        let b = self.slice(at, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&self, at: usize) -> Result<u64, String> {
        let b = self.slice(at, 8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
}

/// How a dataset's numbers are stored, each read as an `f32`.
#[derive(Clone, Copy)]
enum Number {
    F32,
    F64,
    Int { width: usize, signed: bool },
}

impl Number {
    /// Bytes per number.
    fn width(self) -> usize {
        match self {
            Number::F32 => 4,
            Number::F64 => 8,
            Number::Int { width, .. } => width,
        }
    }

    /// The number in `bytes`, [`Number::width`] of them, little-endian.
    fn read(self, bytes: &[u8]) -> f32 {
        let mut wide = [0u8; 8];
        wide[..bytes.len()].copy_from_slice(bytes);
        match self {
            Number::F32 => f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            Number::F64 => f64::from_le_bytes(wide) as f32,
            Number::Int { signed: false, .. } => u64::from_le_bytes(wide) as f32,
            Number::Int { width, .. } => {
                // Sign-extended from its top bit.
                let shift = 64 - 8 * width as u32;
                ((i64::from_le_bytes(wide) << shift) >> shift) as f32
            }
        }
    }
}
