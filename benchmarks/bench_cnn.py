"""The lesson's MLP and notebook 09's small CNN, trained side by side on full-size data: accuracy and seconds.

    python benchmarks/bench_cnn.py                  # full Fashion-MNIST (Debian's package, data/, or a download)
    python benchmarks/bench_cnn.py --record         # also write benchmarks/results/cnn_<dataset>.json (see README.md)

Both networks train with the package's `fit`, as 09 trains them (the lesson's step, each network flattening
where it needs to), from the same seed, on the same batches (the course's fast loader), with the lesson's
settings: batch 64, SGD(lr=0.001, momentum=0.9), 10 epochs, one CPU thread. Printed per network: parameters,
multiply-adds per image, median seconds per epoch, and the test accuracy after the last epoch. Progress goes to
stderr.
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from mnist_tutorial import History, NeuralNetwork, defaults, fit, load_data, make_loaders, make_optimizer
from mnist_tutorial.data import Data, Split

RESULTS = Path(__file__).resolve().parent / "results"


class SmallCNN(nn.Module):
    """09's network: two blocks of a 3×3 convolution, ReLU and 2×2 max pooling, then one linear layer."""

    def __init__(self, channels1: int = 8, channels2: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels1, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels1, channels2, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(channels2 * 7 * 7, 10)
        self.relu = nn.ReLU()

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The feature maps after the second pooling: (N, 1, 28, 28) -> (N, channels2, 7, 7)."""
        x = self.pool(self.relu(self.conv1(x)))
        return self.pool(self.relu(self.conv2(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pooled(x).flatten(1))


NETWORKS = {"MLP": NeuralNetwork, "CNN": SmallCNN}


def multiply_adds(model: nn.Module) -> int:
    """Multiply-adds of one image's forward pass through the model's Linear and Conv2d layers."""
    counts: list[int] = []

    def count(layer: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        per_position = layer.weight.numel()
        counts.append(per_position * (output.shape[-2] * output.shape[-1] if isinstance(layer, nn.Conv2d) else 1))

    layers = [layer for layer in model.modules() if isinstance(layer, nn.Linear | nn.Conv2d)]
    hooks = [layer.register_forward_hook(count) for layer in layers]
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    for hook in hooks:
        hook.remove()
    return sum(counts)


def train(model: nn.Module, data: Data, args: argparse.Namespace) -> History:
    """The package's fit, as 09 trains both networks: the lesson's step, the images not flattened in the loop."""
    train_loader, test_loader = make_loaders(data, batch_size=args.batch_size, seed=args.seed)
    optimizer = make_optimizer(model, lr=args.lr, momentum=args.momentum)
    with contextlib.redirect_stdout(sys.stderr):  # the running losses are progress: stdout holds the result
        return fit(model, train_loader, test_loader, num_epochs=args.epochs, optimizer=optimizer, progress=False,
                   threads=args.threads)  # fmt: skip


def first(split: Split, count: int | None) -> Split:
    return split if count is None else Split(split.images[:count], split.labels[:count])


def measure(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    with contextlib.redirect_stdout(sys.stderr):  # its "Data: ..." line is progress: stdout holds the result
        data = load_data(dataset=args.dataset, source=args.source, data_dir=args.data_dir)
    data = Data(first(data.train, args.train_size), first(data.test, args.test_size), data.source, data.class_names)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    started = time.perf_counter()
    networks = {}
    for name, network in NETWORKS.items():
        log(f"{name}: {args.epochs} epochs on {len(data.train):,} images")
        torch.manual_seed(args.seed)
        model = network()
        history = train(model, data, args)
        seconds = history.seconds
        networks[name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "multiply_adds": multiply_adds(model),
            "epoch_s": [round(s, 3) for s in seconds],
            "s_per_epoch": round(statistics.median(seconds), 3),
            "test_accuracy": history.test_accuracy[-1],
        }
    return {
        "dataset": args.dataset,
        "data": data.source.description,
        "train_images": len(data.train),
        "test_images": len(data.test),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "momentum": args.momentum,
        "seed": args.seed,
        "threads": args.threads,
        "networks": networks,
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(),
            "torch": torch.__version__,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "note": args.note,
        },
        "total_s": round(time.perf_counter() - started, 1),
        "date": datetime.date.today().isoformat(),
    }


def cpu_name() -> str:
    """The processor's model name where Linux tells it (/proc/cpuinfo), else what platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def table(result: dict) -> str:
    lines = [
        f"{result['data']}: {result['train_images']:,} / {result['test_images']:,} images, {result['epochs']} epochs",
        "| network | parameters | multiply-adds per image | s/epoch | test accuracy |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, figures in result["networks"].items():
        lines.append(
            f"| {name} | {figures['parameters']:,} | {figures['multiply_adds']:,} | {figures['s_per_epoch']:.3f} "
            f"| {100 * figures['test_accuracy']:.2f}% |"
        )
    return "\n".join(lines)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["mnist", "fashion"], default="fashion")
    parser.add_argument("--source", choices=["auto", "full", "sample"], default="full")
    parser.add_argument("--data-dir", default=None, help=f"default: {defaults.DATA_DIR}")
    parser.add_argument("--epochs", type=int, default=defaults.NUM_EPOCHS)
    parser.add_argument("--batch-size", type=int, default=defaults.BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=defaults.LR)
    parser.add_argument("--momentum", type=float, default=defaults.MOMENTUM)
    parser.add_argument("--seed", type=int, default=defaults.SEED)
    parser.add_argument("--threads", type=int, default=defaults.CPU_THREADS or 1)
    parser.add_argument("--train-size", type=int, default=None, help="use the first N training images")
    parser.add_argument("--test-size", type=int, default=None, help="use the first N test images")
    parser.add_argument("--note", default="", help="recorded with the figures, e.g. how busy the machine was")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--record", action="store_true", help="write benchmarks/results/cnn_<dataset>.json")
    parser.add_argument("--json-out", default=None, metavar="PATH", help="write the JSON to PATH")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.threads < 1 or args.batch_size < 1:
        parser.error("--epochs, --threads and --batch-size must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = measure(args)
    text = json.dumps(result, indent=2) + "\n"
    out = Path(args.json_out) if args.json_out else RESULTS / f"cnn_{args.dataset}.json" if args.record else None
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        log(f"wrote {out}")
    print(text if args.json else table(result), end="" if args.json else "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
