"""The training benchmark's PyTorch reference: the reference models in PyTorch eager,
Adam, f32, on this machine's CPU or GPU. Prints `model images_per_second` lines, and
`matmul GFLOP/s` for one 2048x2048 f32 product (the machine's matmul rate as PyTorch
reaches it).

Usage: python3 benches/pytorch_reference.py [seconds per model] [cpu|cuda]
       [models, comma-separated] [batch size] [eager|compile]

With `compile`, each model goes through `torch.compile` first; a model it fails on is
left out, with the reason on stderr.
"""
import sys
import time

import torch
from measure import seconds_per_step
from torch import nn


def mlp():
    return nn.Sequential(
        nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 10),
    ), (784,)


def mnist_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10),
    ), (1, 28, 28)


def cifar_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding="same"), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding="same"), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * 6 * 6, 512), nn.ReLU(), nn.Linear(512, 10),
    ), (3, 32, 32)


class Block(nn.Module):
    """A residual block of examples/resnet_cifar.rs: two 3x3 convolutions with batch
    normalization (Keras's momentum 0.9 is PyTorch's 0.1), a strided 1x1 projection
    where the block halves the resolution."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.branch = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, padding=1), nn.BatchNorm2d(c_out, momentum=0.1),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out, momentum=0.1),
        )
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride) if stride != 1 else nn.Identity()

    def forward(self, x):
        return torch.relu(self.shortcut(x) + self.branch(x))


def resnet14():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16, momentum=0.1), nn.ReLU(),
        Block(16, 16, 1), Block(16, 16, 1),
        Block(16, 32, 2), Block(32, 32, 1),
        Block(32, 64, 2), Block(64, 64, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    ), (3, 32, 32)


MODELS = {"mlp": mlp, "mnist_cnn": mnist_cnn, "cifar_cnn": cifar_cnn, "resnet14": resnet14}


def images_per_second(build, seconds, device, batch, compiled=False):
    model, shape = build()
    model = model.to(device)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    if compiled:
        model = torch.compile(model)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand((batch,) + shape, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step():
        optim.zero_grad()
        loss_fn(model(x), y).backward()
        optim.step()
        if device == "cuda":
            torch.cuda.synchronize()

    def run(steps):
        stamps = [time.perf_counter()]
        for _ in range(steps):
            step()
            stamps.append(time.perf_counter())
        return stamps

    for _ in range(3):
        step()
    return batch / seconds_per_step(run, seconds)


def matmul_gflops(device, n=2048, repeat=10):
    a = torch.rand(n, n, device=device)
    b = torch.rand(n, n, device=device)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeat):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * repeat / (time.perf_counter() - start) / 1e9


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 6.0
    device = sys.argv[2] if len(sys.argv) > 2 else "cpu"
    wanted = sys.argv[3].split(",") if len(sys.argv) > 3 else list(MODELS)
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 128
    compiled = len(sys.argv) > 5 and sys.argv[5] == "compile"
    print("version", torch.__version__, flush=True)
    print("matmul", round(matmul_gflops(device), 1), flush=True)
    for name in wanted:
        if name not in MODELS:
            continue
        try:
            rate = images_per_second(MODELS[name], seconds, device, batch, compiled)
        except Exception as error:  # torch.compile's failures are many and varied
            if not compiled:
                raise
            print(f"torch.compile failed on {name}: {error}", file=sys.stderr, flush=True)
            continue
        print(name, round(rate, 1), flush=True)
