#!/usr/bin/python3
"""The model of `cltool train`, trained with PyTorch on the CPU, for comparison.

Same data (the idx files, read here without torchvision), same model, same
initialisation (PyTorch's defaults), optimiser, batch, learning rate,
momentum, shuffling every epoch, last batch partial, pixels scaled to [0, 1];
prints the same per-epoch line as `cltool train`. Run it by hand (not in CI):

    apt-get install -y python3-torch python3-numpy    # Debian 12
    /usr/bin/python3 tools/train_pytorch.py            # 2 threads by default
"""
import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path, rank):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic != (0x08 << 8 | rank):
        sys.exit(f"{path}: magic 0x{magic:08x} is not an unsigned-byte idx file of rank {rank}")
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)
    if body.size != int(np.prod(dims)):
        sys.exit(f"{path}: {body.size} data bytes, the header declares {int(np.prod(dims))}")
    return body.reshape(dims)


def find(directory, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    sys.exit(f"{directory}: no {stem}[.gz] (install dataset-fashion-mnist or give --data)")


def load(directory, prefix):
    images = read_idx(find(directory, f"{prefix}-images-idx3-ubyte"), 3)
    labels = read_idx(find(directory, f"{prefix}-labels-idx1-ubyte"), 1)
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


class Net(nn.Module):
    def __init__(self, h, w):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * (h // 4) * (w // 4), 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


def run_epoch(model, x, y, batch, opt=None, generator=None):
    """One pass: training (shuffled, a step per batch) when opt is given."""
    model.train(opt is not None)
    order = torch.randperm(len(x), generator=generator) if opt else torch.arange(len(x))
    total_loss, correct, start = 0.0, 0, time.perf_counter()
    with torch.set_grad_enabled(opt is not None):
        for first in range(0, len(x), batch):
            idx = order[first:first + batch]
            xb, yb = x[idx], y[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            if opt:
                opt.zero_grad()
                loss.backward()
                opt.step()
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
    return total_loss / len(x), 100.0 * correct / len(x), time.perf_counter() - start


def profile(model, x, y, batch, opt, steps):
    """Per-operator times of `steps` training steps, like `cltool train --profile`."""
    run_epoch(model, x[:batch * 5], y[:batch * 5], batch, opt)  # warm-up
    with torch.autograd.profiler.profile() as prof:
        run_epoch(model, x[:batch * steps], y[:batch * steps], batch, opt)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--limit", type=int, default=0, help="first N training images only")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--profile", type=int, default=0, metavar="STEPS",
                   help="time STEPS training steps per operator (forward and backward), then stop")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x, y = load(a.data, "train")
    tx, ty = load(a.data, "t10k")
    if a.limit:
        x, y = x[:a.limit], y[:a.limit]
    model = Net(x.shape[2], x.shape[3])
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)
    shuffle = torch.Generator().manual_seed(a.seed)
    print(f"device=\"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads\" "
          f"params={sum(t.numel() for t in model.parameters())} train={len(x)} test={len(tx)} "
          f"batch={a.batch} lr={a.lr:g} momentum={a.momentum:g} seed={a.seed}", flush=True)
    if a.profile:
        profile(model, x, y, a.batch, opt, a.profile)
        return
    for epoch in range(1, a.epochs + 1):
        loss, acc, secs = run_epoch(model, x, y, a.batch, opt, shuffle)
        test_loss, test_acc, test_secs = run_epoch(model, tx, ty, a.batch)
        print(f"epoch={epoch} loss={loss:.4f} train_acc={acc:.2f}% test_acc={test_acc:.2f}% "
              f"test_loss={test_loss:.4f} images_per_s={len(x) / secs:.1f} time_s={secs:.2f} "
              f"test_s={test_secs:.2f}", flush=True)


if __name__ == "__main__":
    main()
