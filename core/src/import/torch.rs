//! PyTorch's `torch.save` files (`.pt`, `.pth`: a zip of `data.pkl`, a pickle, and one
//! raw storage per tensor under `data/`) holding a state dict: its float tensors, in the
//! state dict's order.
//!
//! The pickle is read by a small machine that knows the opcodes `torch.save` writes
//! (protocol 2, and the framing of 4) and the few callables a state dict names
//! (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
//! `torch._utils._rebuild_parameter`); it runs nothing, so a file cannot make it do
//! anything but build those values. Every read is checked against the data, and every
//! tensor against its storage.

use super::Weight;
use super::zip::Zip;
use crate::error::TrainError;

/// A value on the pickle machine's stack.
#[derive(Clone, Debug)]
enum Py {
    Int(i64),
    Str(String),
    Tuple(Vec<Py>),
    List(Vec<Py>),
    Dict(Vec<(Py, Py)>),
    /// A `module name` a GLOBAL names.
    Global(String),
    /// A storage: its dtype (`FloatStorage`) and its key (`data/{key}`).
    Storage {
        dtype: String,
        key: String,
    },
    Tensor(Tensor),
    /// What this reader keeps no value of: `None`, booleans, floats, other objects.
    Opaque,
}

#[derive(Clone, Debug)]
struct Tensor {
    dtype: String,
    key: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// The float tensors of the state dict in a `torch.save` file's `bytes`, in its order,
/// under PyTorch's names (`0.weight`, `features.3.bias`); integer tensors (a batch norm's
/// `num_batches_tracked`) are left out.
///
/// # Errors
/// When the file is not a `torch.save` zip of a state dict, or is damaged.
pub fn state_dict(bytes: &[u8]) -> Result<Vec<Weight>, TrainError> {
    read_state_dict(bytes).map_err(|reason| TrainError::Unreadable {
        what: "this PyTorch file",
        reason,
    })
}

/// [`state_dict`], its failure said plainly.
pub(crate) fn read_state_dict(bytes: &[u8]) -> Result<Vec<Weight>, String> {
    let zip = Zip::new(bytes).map_err(|e| format!("not a torch.save file: {e}"))?;
    let pickle_name = zip
        .names()
        .find(|n| n.ends_with("/data.pkl") || *n == "data.pkl")
        .ok_or("not a torch.save file: it has no data.pkl (older torch.save formats are not read)")?
        .to_owned();
    let prefix = pickle_name.trim_end_matches("data.pkl").to_owned();
    let pickle = zip.read(&pickle_name)?;
    let Py::Dict(items) = Machine::new(&pickle).run()? else {
        return Err("data.pkl does not hold a state dict (a dict of tensors)".into());
    };
    let mut out = Vec::new();
    for (name, value) in items {
        let (Py::Str(name), Py::Tensor(t)) = (name, value) else {
            continue;
        };
        let width = match t.dtype.as_str() {
            "FloatStorage" => 4,
            "DoubleStorage" => 8,
            // Integer counters (a batch norm's num_batches_tracked) and other types.
            _ => continue,
        };
        let storage = zip.read(&format!("{prefix}data/{}", t.key))?;
        let values = gather(&storage, width, &t).map_err(|e| format!("tensor `{name}`: {e}"))?;
        out.push(Weight::new(name, t.shape, values));
    }
    Ok(out)
}

/// The float tensors of a safetensors file's `bytes` (integer ones, such as a batch norm's
/// `num_batches_tracked`, left out), in the file's order.
///
/// # Errors
/// When it is not a safetensors file, or holds half-precision floats.
pub(crate) fn safetensors_weights(bytes: &[u8]) -> Result<Vec<Weight>, String> {
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| format!("not a safetensors file: {e}"))?;
    let mut out = Vec::new();
    for (name, view) in file.tensors() {
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            safetensors::Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            safetensors::Dtype::F64 => data
                .chunks_exact(8)
                .map(|b| {
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
                })
                .collect(),
            safetensors::Dtype::F16 | safetensors::Dtype::BF16 => {
                return Err(format!(
                    "tensor `{name}` is half precision; save the state dict in float32"
                ));
            }
            _ => continue,
        };
        out.push(Weight::new(name, view.shape().to_vec(), values));
    }
    Ok(out)
}

/// The suffixes of a PyTorch recurrent layer's tensors (one layer; a bidirectional one's
/// backward direction adds `_reverse`).
const RECURRENT: [&str; 4] = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];

/// The layer (`lstm`), the part (its index in [`RECURRENT`]) and whether it is of the
/// backward direction, of a recurrent layer's tensor named `name`.
fn recurrent_part(name: &str) -> Option<(String, usize, bool)> {
    let (stem, reverse) = match name.strip_suffix("_reverse") {
        Some(stem) => (stem, true),
        None => (name, false),
    };
    let k = RECURRENT
        .iter()
        .position(|suffix| stem.ends_with(&format!(".{suffix}")))?;
    Some((
        stem[..stem.len() - RECURRENT[k].len() - 1].to_owned(),
        k,
        reverse,
    ))
}

/// `weights` with each PyTorch recurrent layer's packed tensors (`lstm.weight_ih_l0`
/// `[4·hidden, input]`, gates i, f, g, o; a GRU's r, z, n; an RNN's one) cut into burn's
/// gates under the same prefix (`lstm.input_gate.input_transform.weight`), still in
/// PyTorch's `[out, in]` layout for the adapter to transpose. An LSTM's and an RNN's two
/// biases are summed into burn's one; a GRU keeps both, as `reset_after` does. A
/// bidirectional layer's two directions go to a Bidirectional's two layers
/// (`lstm.forward.input_gate...`, `lstm.backward.input_gate...` from `..._reverse`).
///
/// # Errors
/// For stacked layers (`_l1`), which kiln does not have.
pub(crate) fn recurrent(weights: Vec<Weight>) -> Result<Vec<Weight>, String> {
    if let Some(w) = weights.iter().find(|w| w.name.contains("_ih_l1")) {
        return Err(format!(
            "`{}` belongs to a stacked recurrent layer, which kiln does not have; stack kiln's layers instead",
            w.name
        ));
    }
    let mut out = Vec::new();
    let mut layers: Vec<(String, bool, [Option<Weight>; 4])> = Vec::new();
    for w in weights {
        let Some((prefix, k, reverse)) = recurrent_part(&w.name) else {
            out.push(w);
            continue;
        };
        match layers
            .iter_mut()
            .find(|(p, r, _)| *p == prefix && *r == reverse)
        {
            Some((_, _, parts)) => parts[k] = Some(w),
            None => {
                let mut parts = [None, None, None, None];
                parts[k] = Some(w);
                layers.push((prefix, reverse, parts));
            }
        }
    }
    let bidirectional: Vec<String> = layers
        .iter()
        .filter(|(_, reverse, _)| *reverse)
        .map(|(prefix, ..)| prefix.clone())
        .collect();
    for (prefix, reverse, [ih, hh, bih, bhh]) in layers {
        let layer = match (reverse, bidirectional.contains(&prefix)) {
            (true, _) => format!("{prefix}.backward"),
            (false, true) => format!("{prefix}.forward"),
            (false, false) => prefix.clone(),
        };
        let (Some(ih), Some(hh)) = (ih, hh) else {
            let suffix = if reverse { "_reverse" } else { "" };
            return Err(format!(
                "`{prefix}` lacks its weight_ih_l0{suffix} or weight_hh_l0{suffix}"
            ));
        };
        out.extend(cells(&layer, &ih, &hh, bih.as_ref(), bhh.as_ref())?);
    }
    Ok(out)
}

/// One recurrent layer's burn tensors from its PyTorch ones.
fn cells(
    prefix: &str,
    ih: &Weight,
    hh: &Weight,
    bih: Option<&Weight>,
    bhh: Option<&Weight>,
) -> Result<Vec<Weight>, String> {
    let (&[rows, input], &[_, hidden]) = (&ih.shape[..], &hh.shape[..]) else {
        return Err(format!("`{prefix}`'s weights are not matrices"));
    };
    let (gates, both_biases) = gate_layout(prefix, rows, input, hidden)?;
    let fits = hh.shape == [rows, hidden]
        && [bih, bhh].iter().flatten().all(|b| b.shape == [rows])
        && ih.values.len() == rows * input;
    if !fits {
        return Err(format!(
            "`{prefix}`'s weights do not have the shapes of one recurrent layer"
        ));
    }
    // Rows `[k·hidden, (k+1)·hidden)` of a PyTorch tensor.
    let rows_of = |w: &Weight, k: usize| -> Result<Vec<f32>, String> {
        let width = w.values.len() / rows.max(1);
        w.values
            .get(k * hidden * width..(k + 1) * hidden * width)
            .map(<[f32]>::to_vec)
            .ok_or_else(|| format!("`{}` is smaller than its layer", w.name))
    };
    let mut out = Vec::new();
    for (k, gate) in gates.iter().enumerate() {
        let at = |part: &str| format!("{prefix}.{gate}.{part}");
        out.push(Weight::new(
            at("input_transform.weight"),
            vec![hidden, input],
            rows_of(ih, k)?,
        ));
        out.push(Weight::new(
            at("hidden_transform.weight"),
            vec![hidden, hidden],
            rows_of(hh, k)?,
        ));
        let (input_bias, hidden_bias) = (
            bih.map(|b| rows_of(b, k)).transpose()?,
            bhh.map(|b| rows_of(b, k)).transpose()?,
        );
        match (input_bias, hidden_bias, both_biases) {
            (Some(i), Some(h), true) => {
                out.push(Weight::new(at("input_transform.bias"), vec![hidden], i));
                out.push(Weight::new(at("hidden_transform.bias"), vec![hidden], h));
            }
            (Some(i), Some(h), false) => {
                let sum = i.iter().zip(&h).map(|(a, b)| a + b).collect();
                out.push(Weight::new(at("input_transform.bias"), vec![hidden], sum));
            }
            (None, None, _) => {}
            _ => return Err(format!("`{prefix}` has one of its two biases only")),
        }
    }
    Ok(out)
}

/// The gates, in PyTorch's order, of the recurrent layer `prefix` whose packed input
/// weight is `rows`×`input` with `hidden` units, and whether burn keeps both its biases
/// (a GRU's) rather than their sum.
fn gate_layout(
    prefix: &str,
    rows: usize,
    input: usize,
    hidden: usize,
) -> Result<(&'static [&'static str], bool), String> {
    let blocks = (hidden > 0 && rows.is_multiple_of(hidden)).then(|| rows / hidden);
    match blocks {
        Some(4) => Ok((
            &["input_gate", "forget_gate", "cell_gate", "output_gate"],
            false,
        )),
        Some(3) => Ok((&["reset_gate", "update_gate", "new_gate"], true)),
        Some(1) => Ok((&["gate"], false)),
        _ => Err(format!(
            "`{prefix}` is {rows}×{input} with {hidden} hidden units: not an RNN, GRU or LSTM"
        )),
    }
}

/// The tensor's values from its storage, following its offset and strides.
fn gather(storage: &[u8], width: usize, t: &Tensor) -> Result<Vec<f32>, String> {
    let numel = storage.len() / width;
    let count = t
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or("its shape overflows")?;
    if count > numel {
        return Err(format!("{count} values from a storage of {numel}"));
    }
    let value = |at: usize| -> Result<f32, String> {
        let b = storage
            .get(at * width..(at + 1) * width)
            .ok_or_else(|| format!("reads value {at} of a storage of {numel}"))?;
        Ok(if width == 4 {
            f32::from_le_bytes([b[0], b[1], b[2], b[3]])
        } else {
            f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
        })
    };
    let mut out = Vec::with_capacity(count);
    let mut index = vec![0usize; t.shape.len()];
    for _ in 0..count {
        let at = index
            .iter()
            .zip(&t.stride)
            .try_fold(t.offset, |a, (&i, &s)| a.checked_add(i.checked_mul(s)?))
            .ok_or("its strides overflow")?;
        out.push(value(at)?);
        // The next index, the last dimension fastest.
        for (i, &d) in index.iter_mut().zip(&t.shape).rev() {
            *i += 1;
            if *i < d {
                break;
            }
            *i = 0;
        }
    }
    Ok(out)
}

/// The pickle machine: its input, stack, marks and memo.
struct Machine<'a> {
    data: &'a [u8],
    at: usize,
    stack: Vec<Py>,
    marks: Vec<usize>,
    memo: std::collections::HashMap<u32, Py>,
}

impl<'a> Machine<'a> {
    fn new(data: &'a [u8]) -> Self {
        Machine {
            data,
            at: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: std::collections::HashMap::new(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let bytes = self
            .at
            .checked_add(n)
            .and_then(|end| self.data.get(self.at..end))
            .ok_or("data.pkl ends in the middle of an instruction")?;
        self.at += n;
        Ok(bytes)
    }

    fn uint(&mut self, n: usize) -> Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .rev()
            .fold(0u64, |v, &b| (v << 8) | u64::from(b)))
    }

    fn line(&mut self) -> Result<String, String> {
        let rest = self.data.get(self.at..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("a name without its end")?;
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.at += end + 1;
        Ok(text)
    }

    fn text(&mut self, n: usize) -> Result<Py, String> {
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec())
            .map(Py::Str)
            .map_err(|_| "a string that is not UTF-8".into())
    }

    fn pop(&mut self) -> Result<Py, String> {
        self.stack
            .pop()
            .ok_or_else(|| "data.pkl pops an empty stack".into())
    }

    /// The values since the last mark, which is removed.
    fn since_mark(&mut self) -> Result<Vec<Py>, String> {
        let mark = self
            .marks
            .pop()
            .ok_or("data.pkl closes a mark it never set")?;
        if mark > self.stack.len() {
            return Err("data.pkl's stack lost its mark".into());
        }
        Ok(self.stack.split_off(mark))
    }

    fn top(&mut self) -> Result<&mut Py, String> {
        self.stack
            .last_mut()
            .ok_or_else(|| "data.pkl's stack is empty".into())
    }

    /// Runs the pickle to its STOP and gives the value it leaves.
    fn run(mut self) -> Result<Py, String> {
        loop {
            let op = self.take(1)?[0];
            if op == b'.' {
                return self.pop(); // STOP
            }
            // Each group runs `op` if it is one of its opcodes, and says whether it was.
            let known = self.framing(op)?
                || self.constant(op)?
                || self.string_or_global(op)?
                || self.memo_op(op)?
                || self.collection(op)?
                || self.object(op)?;
            if !known {
                return Err(format!(
                    "data.pkl uses pickle opcode {op:#04x}, which a state dict does not need"
                ));
            }
            if self.stack.len() > self.data.len() {
                return Err("data.pkl grows its stack beyond its size".into());
            }
        }
    }

    /// Runs `op` if it is PROTO, FRAME or MARK; whether it was.
    fn framing(&mut self, op: u8) -> Result<bool, String> {
        match op {
            0x80 => drop(self.take(1)?),               // PROTO
            0x95 => drop(self.take(8)?),               // FRAME
            b'(' => self.marks.push(self.stack.len()), // MARK
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Runs `op` if it pushes a constant (`None`, a boolean, an integer or a float);
    /// whether it did.
    fn constant(&mut self, op: u8) -> Result<bool, String> {
        let value = match op {
            // NONE, NEWTRUE, NEWFALSE
            b'N' | 0x88 | 0x89 => Py::Opaque,
            b'K' => Py::Int(self.uint(1)? as i64),
            b'M' => Py::Int(self.uint(2)? as i64),
            b'J' => Py::Int(i64::from(self.uint(4)? as u32 as i32)),
            0x8a => Py::Int(self.long1()?),
            b'G' => {
                // BINFLOAT
                self.take(8)?;
                Py::Opaque
            }
            _ => return Ok(false),
        };
        self.stack.push(value);
        Ok(true)
    }

    /// LONG1's operand: a little-endian two's-complement integer of n bytes.
    fn long1(&mut self) -> Result<i64, String> {
        let n = self.uint(1)? as usize;
        let bytes = self.take(n)?;
        if n > 8 {
            return Err("an integer wider than 64 bits".into());
        }
        let mut v = bytes
            .iter()
            .rev()
            .fold(0i64, |v, &b| (v << 8) | i64::from(b));
        if n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 {
            v -= 1i64 << (8 * n);
        }
        Ok(v)
    }

    /// Runs `op` if it pushes a string or a global; whether it did.
    fn string_or_global(&mut self, op: u8) -> Result<bool, String> {
        let value = match op {
            b'X' => {
                let n = self.uint(4)? as usize;
                self.text(n)?
            }
            0x8c => {
                let n = self.uint(1)? as usize;
                self.text(n)?
            }
            0x8d => {
                let n = usize::try_from(self.uint(8)?).map_err(|_| "a string too long")?;
                self.text(n)?
            }
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                Py::Global(format!("{module} {name}"))
            }
            0x93 => {
                // STACK_GLOBAL
                let name = self.pop()?;
                let module = self.pop()?;
                let (Py::Str(module), Py::Str(name)) = (module, name) else {
                    return Err("a global named by values that are not strings".into());
                };
                Py::Global(format!("{module} {name}"))
            }
            _ => return Ok(false),
        };
        self.stack.push(value);
        Ok(true)
    }

    /// Runs `op` if it keeps the top of the stack in the memo or recalls a value from it;
    /// whether it did.
    fn memo_op(&mut self, op: u8) -> Result<bool, String> {
        match op {
            b'q' => {
                let i = self.uint(1)? as u32;
                self.memoize(i)?;
            }
            b'r' => {
                let i = self.uint(4)? as u32;
                self.memoize(i)?;
            }
            0x94 => {
                let i = u32::try_from(self.memo.len()).map_err(|_| "a memo too large")?;
                self.memoize(i)?;
            }
            b'h' | b'j' => {
                let i = self.uint(if op == b'h' { 1 } else { 4 })? as u32;
                let v = self
                    .memo
                    .get(&i)
                    .cloned()
                    .ok_or("data.pkl recalls what it never kept")?;
                self.stack.push(v);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Runs `op` if it builds a tuple, list or dict or adds to one; whether it did.
    fn collection(&mut self, op: u8) -> Result<bool, String> {
        match op {
            b')' => self.stack.push(Py::Tuple(Vec::new())),
            b't' => {
                let items = self.since_mark()?;
                self.stack.push(Py::Tuple(items));
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.stack.len() < n {
                    return Err("data.pkl builds a tuple from too few values".into());
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.stack.push(Py::Tuple(items));
            }
            b']' => self.stack.push(Py::List(Vec::new())),
            b'}' => self.stack.push(Py::Dict(Vec::new())),
            b'a' => {
                let v = self.pop()?;
                if let Py::List(items) = self.top()? {
                    items.push(v);
                }
            }
            b'e' => {
                let items = self.since_mark()?;
                if let Py::List(list) = self.top()? {
                    list.extend(items);
                }
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                if let Py::Dict(items) = self.top()? {
                    items.push((k, v));
                }
            }
            b'u' => self.set_items()?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// SETITEMS: the key-value pairs since the mark, added to the dict beneath them.
    fn set_items(&mut self) -> Result<(), String> {
        let items = self.since_mark()?;
        if items.len() % 2 != 0 {
            return Err("data.pkl sets a key without its value".into());
        }
        let mut pairs = items.into_iter();
        if let Py::Dict(dict) = self.top()? {
            while let (Some(k), Some(v)) = (pairs.next(), pairs.next()) {
                dict.push((k, v));
            }
        }
        Ok(())
    }

    /// Runs `op` if it loads a storage, calls a callable or sets an object's state;
    /// whether it did.
    fn object(&mut self, op: u8) -> Result<bool, String> {
        match op {
            b'Q' => {
                let pid = self.pop()?;
                self.stack.push(storage(pid)?);
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                self.stack.push(reduce(callable, args)?);
            }
            b'b' => {
                // BUILD: the state of an object this reader keeps as it is.
                self.pop()?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn memoize(&mut self, i: u32) -> Result<(), String> {
        let top = self.top()?.clone();
        self.memo.insert(i, top);
        Ok(())
    }
}

/// A persistent id `('storage', torch.FloatStorage, key, location, numel)`.
fn storage(pid: Py) -> Result<Py, String> {
    match pid {
        Py::Tuple(items) => match items.as_slice() {
            [Py::Str(kind), Py::Global(dtype), Py::Str(key), ..] if kind == "storage" => {
                Ok(Py::Storage {
                    dtype: dtype.rsplit(' ').next().unwrap_or_default().to_owned(),
                    key: key.clone(),
                })
            }
            _ => Err("a persistent id that is not a tensor storage".into()),
        },
        _ => Err("a persistent id that is not a tuple".into()),
    }
}

/// What calling `callable` with `args` builds, for the callables a state dict names.
fn reduce(callable: Py, args: Py) -> Result<Py, String> {
    let Py::Global(name) = callable else {
        return Ok(Py::Opaque);
    };
    let Py::Tuple(args) = args else {
        return Err(format!("{name} called without a tuple of arguments"));
    };
    let count = |v: &Py| match v {
        Py::Int(n) => usize::try_from(*n).map_err(|_| format!("a negative size {n}")),
        _ => Err("a size that is not an integer".to_string()),
    };
    let sizes = |v: &Py| match v {
        Py::Tuple(items) => items.iter().map(count).collect::<Result<Vec<_>, _>>(),
        _ => Err("a shape that is not a tuple".to_string()),
    };
    Ok(match name.as_str() {
        "collections OrderedDict" => Py::Dict(Vec::new()),
        "torch._utils _rebuild_tensor_v2" => match args.as_slice() {
            [Py::Storage { dtype, key }, offset, shape, stride, ..] => {
                let (shape, stride) = (sizes(shape)?, sizes(stride)?);
                if shape.len() != stride.len() {
                    return Err("a tensor whose shape and strides differ in rank".into());
                }
                Py::Tensor(Tensor {
                    dtype: dtype.clone(),
                    key: key.clone(),
                    offset: count(offset)?,
                    shape,
                    stride,
                })
            }
            _ => return Err("a tensor rebuilt from arguments it does not take".into()),
        },
        "torch._utils _rebuild_parameter" => args.into_iter().next().unwrap_or(Py::Opaque),
        _ => Py::Opaque,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacked_layers_are_refused() {
        let w = |name: &str| Weight::new(name.into(), vec![4, 1], vec![0.0; 4]);
        assert_eq!(
            recurrent(vec![w("lstm.weight_ih_l0"), w("lstm.weight_ih_l1")]).unwrap_err(),
            "`lstm.weight_ih_l1` belongs to a stacked recurrent layer, which kiln does not have; stack kiln's layers instead"
        );
        assert_eq!(
            recurrent(vec![
                w("gru.weight_ih_l0"),
                w("gru.weight_hh_l0"),
                w("gru.weight_ih_l0_reverse")
            ])
            .unwrap_err(),
            "`gru` lacks its weight_ih_l0_reverse or weight_hh_l0_reverse"
        );
        let odd = vec![
            w("rnn.weight_ih_l0"),
            Weight::new("rnn.weight_hh_l0".into(), vec![3, 3], vec![0.0; 9]),
        ];
        assert_eq!(
            recurrent(odd).unwrap_err(),
            "`rnn` is 4×1 with 3 hidden units: not an RNN, GRU or LSTM"
        );
        let short = Weight::new("rnn.weight_hh_l0".into(), vec![1, 4], vec![0.0; 4]);
        assert_eq!(
            recurrent(vec![w("rnn.weight_ih_l0"), short]).unwrap_err(),
            "`rnn`'s weights do not have the shapes of one recurrent layer"
        );
    }

    #[test]
    fn strides_and_offsets_are_followed() {
        // A 2×3 storage 0..6 read transposed (shape 3×2, strides 1, 3) from offset 0.
        let storage: Vec<u8> = (0..6).flat_map(|v| (v as f32).to_le_bytes()).collect();
        let t = Tensor {
            dtype: "FloatStorage".into(),
            key: "0".into(),
            offset: 0,
            shape: vec![3, 2],
            stride: vec![1, 3],
        };
        assert_eq!(
            gather(&storage, 4, &t).unwrap(),
            [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
        );
        let beyond = Tensor { offset: 1, ..t };
        assert_eq!(
            gather(&storage, 4, &beyond).unwrap_err(),
            "reads value 6 of a storage of 6"
        );
    }
}
