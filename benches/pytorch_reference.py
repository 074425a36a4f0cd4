"""The training benchmark's reference: the same three models in PyTorch eager, batch 128,
Adam, f32, on this machine's CPU or GPU. Prints `model images_per_second` lines.

Usage: python3 benches/pytorch_reference.py [seconds per model] [cpu|cuda] [models, comma-separated]
"""
import sys
import time

import torch
from torch import nn

BATCH = 128


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


def images_per_second(build, seconds, device):
    model, shape = build()
    model = model.to(device)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand((BATCH,) + shape, device=device)
    y = torch.randint(0, 10, (BATCH,), device=device)

    def step():
        optim.zero_grad()
        loss_fn(model(x), y).backward()
        optim.step()
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(2):
        step()
    start = time.perf_counter()
    step()
    probe = max(time.perf_counter() - start, 1e-4)
    steps = max(2, min(1000, int(seconds / probe)))
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return BATCH * steps / (time.perf_counter() - start)


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 6.0
    device = sys.argv[2] if len(sys.argv) > 2 else "cpu"
    wanted = sys.argv[3].split(",") if len(sys.argv) > 3 else ["mlp", "mnist_cnn", "cifar_cnn"]
    for name, build in [("mlp", mlp), ("mnist_cnn", mnist_cnn), ("cifar_cnn", cifar_cnn)]:
        if name in wanted:
            print(name, round(images_per_second(build, seconds, device), 1), flush=True)
