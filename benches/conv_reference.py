"""The convolution benchmark's PyTorch reference: each convolution's forward pass, input
gradient and weight gradient alone, in PyTorch eager on this machine's CPU or GPU, timed
as `benches/conv_layers.rs` times kiln's (`measure.py`, a wait for the device after each
call). Prints `<layer>/<op> <milliseconds>` lines, op being forward, input or weight.

Usage: python3 benches/conv_reference.py <seconds per op> <cpu|cuda> <batch>
       <layer> [<layer> ...]

where a layer is `c_in,height,width,c_out,kernel,stride,padding`.
"""
import sys
import time

import torch
from measure import seconds_per_step


def milliseconds(op, seconds, device):
    def run(calls):
        stamps = [time.perf_counter()]
        for _ in range(calls):
            op()
            if device == "cuda":
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())
        return stamps

    return 1e3 * seconds_per_step(run, seconds)


def layer_ops(layer, batch, device):
    c_in, h, w, c_out, k, stride, padding = (int(v) for v in layer.split(","))
    x = torch.rand(batch, c_in, h, w, device=device)
    weight = torch.rand(c_out, c_in, k, k, device=device)
    bias = torch.rand(c_out, device=device)
    args = dict(stride=stride, padding=padding)
    dy = torch.rand_like(torch.nn.functional.conv2d(x, weight, bias, **args))
    # The backward kernels autograd runs, each gradient alone.
    backward = torch.ops.aten.convolution_backward

    def grad(mask):
        return lambda: backward(
            dy, x, weight, [c_out], [stride] * 2, [padding] * 2, [1, 1], False, [0, 0], 1, mask
        )

    return {
        "forward": lambda: torch.nn.functional.conv2d(x, weight, bias, **args),
        "input": grad([True, False, False]),
        "weight": grad([False, True, False]),
    }


if __name__ == "__main__":
    seconds, device, batch = float(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    print("version", torch.__version__, flush=True)
    with torch.no_grad():
        for layer in sys.argv[4:]:
            for name, op in layer_ops(layer, batch, device).items():
                print(f"{layer}/{name}", round(milliseconds(op, seconds, device), 4), flush=True)
