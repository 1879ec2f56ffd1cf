# PyTorch's ceiling at the shapes bench/ceiling.ts gives wasm: conv2d and matmul
# GFLOP/s on --threads threads (NCHW, PyTorch's own layout). Prints one JSON
# object with what this torch runs on (BLAS, oneDNN, CPU capability).
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from torch_alexnet import torch_setup


def shapes(batch):
    # torchvision's AlexNet at 224: (name, x NCHW, w OIHW, stride, pad) and (name, m, k, n).
    convs = [
        ("conv1", (batch, 3, 224, 224), (64, 3, 11, 11), 4, 2),
        ("conv2", (batch, 64, 27, 27), (192, 64, 5, 5), 1, 2),
        ("conv3", (batch, 192, 13, 13), (384, 192, 3, 3), 1, 1),
        ("conv4", (batch, 384, 13, 13), (256, 384, 3, 3), 1, 1),
        ("conv5", (batch, 256, 13, 13), (256, 256, 3, 3), 1, 1),
    ]
    mms = [("fc6", batch, 9216, 4096), ("fc7", batch, 4096, 4096), ("fc8", batch, 4096, 1000), ("square", 1024, 1024, 1024)]
    return convs, mms


def timed(reps, fn):
    fn()
    ms = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1000)
    return statistics.median(ms)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    convs, mms = shapes(a.batch)
    rates = []
    with torch.no_grad():
        for name, xs, ws, stride, pad in convs:
            x, w = torch.randn(xs), torch.randn(ws)
            oh = (xs[2] + 2 * pad - ws[2]) // stride + 1
            gflop = 2 * xs[0] * oh * oh * ws[0] * ws[1] * ws[2] * ws[3] / 1e9
            ms = timed(a.reps, lambda: F.conv2d(x, w, stride=stride, padding=pad))
            rates.append({"shape": name, "gflop": gflop, "ms": ms, "gflops": gflop / (ms / 1000), "how": "F.conv2d"})
        for name, m, k, n in mms:
            x, w = torch.randn(m, k), torch.randn(k, n)
            gflop = 2 * m * k * n / 1e9
            ms = timed(a.reps, lambda: x @ w)
            rates.append({"shape": f"{name} {m}x{k}x{n}", "gflop": gflop, "ms": ms, "gflops": gflop / (ms / 1000), "how": "matmul"})
    print(json.dumps({"engine": f"PyTorch {torch.__version__}", "threads": torch.get_num_threads(), "rates": rates, "setup": torch_setup()}))


if __name__ == "__main__":
    main()
