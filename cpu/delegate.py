#!/usr/bin/env python3
"""Writes src/delegate.rs: KilnCpu's implementation of every op trait of burn-backend,
each method handing its arguments to burn-flex's `Flex`, except the methods named in
REPLACED, which call the function of the same name in kiln's own module for them.

Run after a burn upgrade, then `cargo fmt`:
    python3 cpu/delegate.py ~/.cargo/registry/src/*/burn-backend-<version>/src/backend/ops

Every method is written out, the traits' default methods included, so that no op of
KilnCpu silently falls back to a burn default that Flex replaces with a faster one.
"""
import re
import sys
from pathlib import Path

# The ops kiln implements itself, by trait: each method and the module that holds it.
REPLACED = {
    "FloatTensorOps": {
        "float_random": "crate::float",
        "float_matmul": "crate::float",
        "float_slice_assign": "crate::strided",
        "float_reshape": "crate::strided",
        **{f"float_{op}": "crate::strided" for op in ["add", "sub", "mul", "div"]},
        **{
            f"float_{op}": "crate::elementwise"
            for op in ["add_scalar", "sub_scalar", "mul_scalar", "div_scalar", "sqrt", "powi_scalar"]
        },
    },
    "ActivationOps": {"relu": "crate::elementwise", "relu_backward": "crate::elementwise"},
    "ModuleOps": {
        name: "crate::module"
        for name in [
            "conv1d", "conv1d_x_backward", "conv1d_weight_backward", "conv1d_bias_backward",
            "conv2d", "conv2d_x_backward", "conv2d_weight_backward", "conv2d_bias_backward",
            "max_pool2d", "max_pool2d_with_indices", "max_pool2d_with_indices_backward",
            "avg_pool2d", "avg_pool2d_backward",
            "linear", "linear_x_backward", "linear_weight_backward",
        ]
    },
}

TRAITS = [
    ("tensor.rs", "FloatTensorOps"),
    ("int_tensor.rs", "IntTensorOps"),
    ("bool_tensor.rs", "BoolTensorOps"),
    ("modules/base.rs", "ModuleOps"),
    ("activation.rs", "ActivationOps"),
    ("qtensor.rs", "QTensorOps"),
    ("transaction.rs", "TransactionOps"),
]

# Types generic over the backend that are not plain tensor primitives: a value of one of
# them changes its backend parameter through the conversion named here (src/convert.rs).
CONVERTED = {
    "TensorPrimitive<B>",
    "QuantizationParametersPrimitive<B>",
    "TransactionPrimitive<B>",
    "MaxPool1dWithIndices<B>",
    "MaxPool1dBackward<B>",
    "MaxPool2dWithIndices<B>",
    "MaxPool2dBackward<B>",
    "DeformConv2dBackward<B>",
}


def strip(text):
    """Source without comments, string and char literals (so braces can be counted)."""
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(\\.|[^'\\])'", "' '", text)
    return re.sub(r"//[^\n]*", "", text)


def split_top(text, sep=","):
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "<([":
            depth += 1
        elif ch in ">)]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def methods(source, trait):
    text = strip(source)
    start = text.index(f"pub trait {trait}<B: Backend>")
    i = text.index("{", start) + 1
    depth = 1
    out = []
    while depth > 0:
        m = re.compile(r"\bfn\s+(\w+)").search(text, i)
        nxt = min((text.find(c, i) for c in "{}" if text.find(c, i) >= 0), default=len(text))
        if m and depth == 1 and m.start() < nxt:
            name = m.group(1)
            j = m.end()
            parens = 0
            while True:
                c = text[j]
                if c == "(":
                    parens += 1
                elif c == ")":
                    parens -= 1
                elif parens == 0 and c in "{;":
                    break
                j += 1
            sig = " ".join(text[m.end():j].split())
            out.append((name, sig))
            i = j
            continue
        c = text[nxt]
        depth += 1 if c == "{" else -1
        i = nxt + 1
    return out


def parse(sig):
    """`(a: T, b: U) -> R` -> ([(a, T), (b, U)], R or None)."""
    assert sig.startswith("("), sig
    depth = 0
    for k, c in enumerate(sig):
        depth += c == "("
        depth -= c == ")"
        if depth == 0:
            break
    params = []
    for p in split_top(sig[1:k]):
        name, ty = p.split(":", 1)
        params.append((name.replace("mut ", "").strip(), ty.strip()))
    rest = sig[k + 1:].strip()
    ret = rest[2:].strip() if rest.startswith("->") else None
    return params, ret


def selfy(ty):
    """A type of the trait's signature as written in KilnCpu's impl."""
    return re.sub(r"\bB\b", "Self", ty.replace("crate::", "burn_backend::"))


def emit(trait, name, sig):
    params, ret = parse(sig)
    args = []
    for pname, ty in params:
        arg = pname.lstrip("_") if pname.startswith("_") else pname
        args.append(f"{arg}.convert()" if ty in CONVERTED else arg)
    decl = ", ".join(f"{p.lstrip('_') if p.startswith('_') else p}: {selfy(t)}" for p, t in params)
    target = REPLACED.get(trait, {}).get(name, "Flex")
    call = f"{target}::{name}({', '.join(args)})"
    if ret in CONVERTED:
        call += ".convert()"
    arrow = f" -> {selfy(ret)}" if ret else ""
    return f"    fn {name}({decl}){arrow} {{\n        {call}\n    }}\n"


def main():
    ops = Path(sys.argv[1])
    out = [
        "//! KilnCpu's op traits: every method hands its arguments to burn-flex's `Flex`, except",
        "//! the ops kiln implements itself (`crate::float`, `crate::module`, `crate::strided`).",
        "//!",
        "//! Written by `cpu/delegate.py` from burn-backend 0.21.0's traits; do not edit by hand.",
        "",
        "use burn_backend::ops::*;",
        "use burn_backend::quantization::{QuantScheme, QuantizationParametersPrimitive};",
        "use burn_backend::tensor::{BoolTensor, Device, FloatTensor, IntTensor, QuantizedTensor};",
        "use burn_backend::{",
        "    BoolDType, Distribution, ExecutionError, FloatDType, IntDType, Scalar, Shape, Slice,",
        "    TensorData, TensorPrimitive,",
        "};",
        "use core::ops::Range;",
        "use burn_flex::Flex;",
        "use core::future::Future;",
        "",
        "use crate::KilnCpu;",
        "use crate::convert::Convert;",
        "",
    ]
    for file, trait in TRAITS:
        found = methods((ops / file).read_text(), trait)
        names = {n for n, _ in found}
        missing = set(REPLACED.get(trait, {})) - names
        assert not missing, f"{trait} has no {missing}"
        out.append(f"impl {trait}<Self> for KilnCpu {{")
        out.extend(emit(trait, n, s) for n, s in found)
        out.append("}\n")
    dest = Path(__file__).parent / "src" / "delegate.rs"
    dest.write_text("\n".join(out))
    print(f"{dest}: {sum(1 for l in out for _ in re.finditer(r'    fn ', l))} methods")


if __name__ == "__main__":
    main()
