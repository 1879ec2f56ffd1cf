# PyTorch's torchvision AlexNet, timed the way bench/train-step.ts times the
# TensorFlow.js one: one SGD-momentum training step (forward, backward, update)
# at --batch, and inference at --infer-batch, 224x224, on --threads CPU threads.
# Prints one JSON object. Run by bench/train-step.ts; usable alone:
#   python3 bench/torch_alexnet.py --threads 2 --batch 32 --infer-batch 8
import argparse
import json
import os
import statistics
import time

import torch
from torch import nn


def alexnet_torchvision() -> nn.Module:
    try:
        from torchvision.models import alexnet

        return alexnet()
    except ImportError:
        # torchvision/models/alexnet.py, written out: the same layers and shapes.
        class AlexNet(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.features = nn.Sequential(
                    nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                    nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                    nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
                    nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
                    nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                )
                self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
                self.classifier = nn.Sequential(
                    nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
                    nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, 1000),
                )

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

        return AlexNet()


def torch_setup() -> dict:
    """What this PyTorch runs on: build config, oneDNN, CPU capability, the BLAS library actually loaded."""
    torch.ones(64, 64) @ torch.ones(64, 64)  # loads the BLAS
    with open("/proc/self/maps") as f:
        blas = sorted({line.split()[-1] for line in f if "blas" in line.lower() and "/" in line})
    cap = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    show = torch.__config__.show()
    capability = cap() if cap else next((l.split(":", 1)[1].strip() for l in show.splitlines() if "CPU capability usage" in l), None)
    return {
        "config": show,
        "mkldnnAvailable": torch.backends.mkldnn.is_available(),
        "cpuCapability": capability,
        "blasLoaded": blas,
        "openblasEnv": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--infer-batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = alexnet_torchvision()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(a.batch, 3, 224, 224)
    y = torch.randint(0, 1000, (a.batch,))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    model.train()
    step()  # warm-up
    train = []
    for _ in range(a.steps):
        t = time.perf_counter()
        step()
        train.append(time.perf_counter() - t)

    model.eval()
    xi = torch.randn(a.infer_batch, 3, 224, 224)
    with torch.no_grad():
        model(xi)
        infer = []
        for _ in range(max(a.steps, 5)):
            t = time.perf_counter()
            model(xi)
            infer.append(time.perf_counter() - t)

    print(json.dumps({
        "framework": f"PyTorch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "trainStepSeconds": train,
        "trainImagesPerSecond": a.batch / statistics.median(train),
        "inferSeconds": infer,
        "inferImagesPerSecond": a.infer_batch / statistics.median(infer),
        "setup": torch_setup(),
    }))


if __name__ == "__main__":
    main()
