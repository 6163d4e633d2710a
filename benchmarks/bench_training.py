"""The lesson's pipeline and the course's faster ones, timed side by side on full-size data.

    python benchmarks/bench_training.py                 # `make bench`: a table, in about two minutes on 2 cores
    python benchmarks/bench_training.py --json          # the same figures as JSON on stdout
    python benchmarks/bench_training.py --device cuda   # data resident on the GPU

Pipelines train the same network from the same seed with the same hyperparameters:
  lesson          the lesson as written: torchvision transforms + DataLoader, PyTorch's default thread count
  lesson-tuned    the same DataLoader, with the course's thread count (defaults.CPU_THREADS)
  fast            the course's fast path: TensorLoader (make_loaders(fast=True)) with the course's settings
  ddp-1, ddp-2    fast, data-parallel on 1 and 2 processes (parallel.ddp.train_data_parallel; ddp-2 on
                  CUDA needs 2 GPUs); the global batch stays the same, each process takes its share
lesson-tuned and fast see the same batches in the same order and compute the same numbers, so they end with
the same weights: the speed-up between them is the loader's. The default runs the first three; `--pipelines
all` (`make bench`) runs every one this device can.
Data: full MNIST under the data dir if present, else Fashion-MNIST (its Debian package or a download), or
--synthetic random images.
Progress goes to stderr; stdout holds only the table or the JSON.
"""

import argparse
import contextlib
import io
import json
import os
import platform
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from mnist_tutorial import defaults
from mnist_tutorial.data import Data, Split, load_data, make_loaders
from mnist_tutorial.datasets.sources import DataSource, get_spec
from mnist_tutorial.errors import TutorialError
from mnist_tutorial.evaluate import evaluate
from mnist_tutorial.model import NeuralNetwork
from mnist_tutorial.parallel.ddp import train_data_parallel
from mnist_tutorial.train import cpu_threads, fit, make_optimizer, pick_device, seed_everything


@dataclass(frozen=True)
class Pipeline:
    name: str
    fast: bool  # TensorLoader instead of transforms + DataLoader
    tuned: bool  # the course's thread count instead of PyTorch's default
    nproc: int = 0  # data-parallel processes (0: the plain loop in this process)


PIPELINES = {
    p.name: p
    for p in (
        Pipeline("lesson", fast=False, tuned=False),
        Pipeline("lesson-tuned", fast=False, tuned=True),
        Pipeline("fast", fast=True, tuned=True),
        Pipeline("ddp-1", fast=True, tuned=True, nproc=1),
        Pipeline("ddp-2", fast=True, tuned=True, nproc=2),
    )
}
DEFAULT_PIPELINES = ("lesson", "lesson-tuned", "fast")


def runs_on(pipeline: Pipeline, device: torch.device) -> bool:
    """Whether `device` can run `pipeline`: nccl needs one GPU per process."""
    if pipeline.nproc and device.type == "cuda":
        return torch.cuda.device_count() >= pipeline.nproc
    return not pipeline.nproc or device.type == "cpu"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--epochs", type=int, default=defaults.NUM_EPOCHS, help="epochs per pipeline (default: the lesson's 10)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument(
        "--threads",
        type=int,
        default=defaults.CPU_THREADS,
        help=f"CPU threads for the tuned pipelines (default: {defaults.CPU_THREADS}, defaults.CPU_THREADS)",
    )
    parser.add_argument(
        "--pipelines",
        default=",".join(DEFAULT_PIPELINES),
        help=f"comma-separated, run in this order, from {', '.join(PIPELINES)}; or all: every one this device "
        f"can run (default: {','.join(DEFAULT_PIPELINES)})",
    )
    parser.add_argument("--dataset", choices=["auto", "mnist", "fashion"], default="auto")
    parser.add_argument("--data-dir", default=None, help=f"default: {defaults.DATA_DIR}")
    parser.add_argument("--synthetic", action="store_true", help="random images instead of a dataset")
    parser.add_argument("--train-size", type=int, default=None, help="use the first N training images")
    parser.add_argument("--test-size", type=int, default=None, help="use the first N test images")
    parser.add_argument("--batch-size", type=int, default=defaults.BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=defaults.LR)
    parser.add_argument("--momentum", type=float, default=defaults.MOMENTUM)
    parser.add_argument("--seed", type=int, default=defaults.SEED)
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--json-out", default=None, metavar="PATH", help="also write the JSON to PATH")
    args = parser.parse_args(argv)
    names = list(PIPELINES) if args.pipelines.strip() == "all" else args.pipelines.split(",")
    args.pipelines = [name.strip() for name in names if name.strip()]
    unknown = [name for name in args.pipelines if name not in PIPELINES]
    if unknown or not args.pipelines:
        parser.error(f"--pipelines: choose from {', '.join(PIPELINES)}")
    if args.epochs < 1 or args.threads < 1 or args.batch_size < 1:
        parser.error("--epochs, --threads and --batch-size must be at least 1")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def synthetic_data(n_train: int, n_test: int, seed: int) -> Data:
    """Random 28x28 bytes and labels: right for timing, meaningless for accuracy (about 10%)."""
    generator = torch.Generator().manual_seed(seed)

    def split(n: int) -> Split:
        images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=generator)
        return Split(images, torch.randint(0, 10, (n,), generator=generator))

    source = DataSource("mnist", "synthetic", Path("synthetic"))
    return Data(split(n_train), split(n_test), source, get_spec("mnist").class_names)


def get_data(args: argparse.Namespace) -> tuple[Data, str]:
    """The data to train on and a one-line description of it."""
    if args.synthetic:
        data = synthetic_data(args.train_size or 60_000, args.test_size or 10_000, args.seed)
        return data, "synthetic random images"
    with contextlib.redirect_stdout(sys.stderr):
        if args.dataset == "auto":
            try:
                data = load_data(dataset="mnist", source="full", data_dir=args.data_dir, download=False)
            except TutorialError:
                data = load_data(dataset="fashion", source="full", data_dir=args.data_dir)
        else:
            data = load_data(dataset=args.dataset, source="full", data_dir=args.data_dir)
    if args.train_size or args.test_size:
        train, test = data.train, data.test
        data = Data(
            Split(train.images[: args.train_size], train.labels[: args.train_size]),
            Split(test.images[: args.test_size], test.labels[: args.test_size]),
            data.source,
            data.class_names,
        )
    return data, data.source.description


def synchronize(device: torch.device) -> None:
    """Wait for the GPU to finish queued work, so a timer read after it counts that work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (a high-water mark: it never goes down)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def time_evaluation(model: torch.nn.Module, loader, device: torch.device, repeats: int) -> tuple[float, float]:
    """Median seconds of `repeats` full passes of evaluate() over the test set, and the accuracy."""
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        _, accuracy = evaluate(model, loader, device=device)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), accuracy


def run_pipeline(pipeline: Pipeline, data: Data, args: argparse.Namespace, device: torch.device) -> dict:
    """Train one pipeline from the seed for args.epochs epochs; its figures, and the trained model."""
    if pipeline.nproc:
        return run_data_parallel(pipeline, data, args, device)
    threads = args.threads if pipeline.tuned else None  # None: PyTorch's own default
    with cpu_threads(threads, device):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        seed_everything(args.seed)
        synchronize(device)
        start = time.perf_counter()
        train_loader, test_loader = make_loaders(
            data, batch_size=args.batch_size, fast=pipeline.fast, device=device, seed=args.seed
        )
        synchronize(device)
        setup_s = time.perf_counter() - start
        model = NeuralNetwork().to(device)
        optimizer = make_optimizer(model, lr=args.lr, momentum=args.momentum)

        def report(history) -> None:
            log(f"  {pipeline.name}: epoch {history.epochs}/{args.epochs} in {history.seconds[-1]:.2f} s")

        with contextlib.redirect_stdout(io.StringIO()):  # the lesson's running-loss lines
            history = fit(model, train_loader, test_loader, num_epochs=args.epochs, optimizer=optimizer,
                          device=device, progress=False, callbacks=[report], threads=threads)  # fmt: skip
        # The lesson's DataLoader redoes the transforms on every pass: one timed pass is plenty.
        eval_s, accuracy = time_evaluation(model, test_loader, device, repeats=5 if pipeline.fast else 1)
        used_threads = torch.get_num_threads()
    s_per_epoch = statistics.median(history.seconds)
    result = {
        "loader": "TensorLoader" if pipeline.fast else "DataLoader",
        "threads": used_threads,
        "setup_s": setup_s,
        "epoch_s": history.seconds,
        "s_per_epoch": s_per_epoch,
        "images_per_s": len(data.train) / s_per_epoch,
        "train_loss": history.train_loss,
        "test_loss": history.test_loss[-1],
        "test_accuracy": accuracy,
        "eval_s": eval_s,
        "eval_images": len(data.test),
        "peak_rss_mb": peak_rss_mb(),
        "peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
    }
    return {"figures": result, "model": model}


def run_data_parallel(pipeline: Pipeline, data: Data, args: argparse.Namespace, device: torch.device) -> dict:
    """A data-parallel pipeline: `pipeline.nproc` fresh processes; figures from rank 0 (no model comes back)."""
    start = time.perf_counter()
    ranks = train_data_parallel(data, nproc=pipeline.nproc, num_epochs=args.epochs, batch_size=args.batch_size,
                                lr=args.lr, momentum=args.momentum, seed=args.seed, device=device.type)  # fmt: skip
    rank0 = ranks[0]
    log(f"  {pipeline.name}: {args.epochs} epochs in {time.perf_counter() - start:.1f} s, processes started")
    s_per_epoch = statistics.median(rank0["seconds"])
    figures = {
        "loader": "ShardedLoader",
        "threads": args.threads,  # per process
        "setup_s": time.perf_counter() - start - sum(rank0["seconds"]),  # starting, importing, testing
        "epoch_s": rank0["seconds"],
        "s_per_epoch": s_per_epoch,
        "images_per_s": len(data.train) / s_per_epoch,
        "train_loss": rank0["train_loss"],
        "test_loss": rank0["test_loss"][-1],
        "test_accuracy": rank0["test_accuracy"][-1],
        "eval_s": None,
        "eval_images": len(data.test),
        "peak_rss_mb": None,
        "peak_gpu_mb": None,
    }
    return {"figures": figures, "model": None}


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def compare(results: dict[str, dict], models: dict[str, torch.nn.Module]) -> dict:
    """Speed-ups and accuracy gaps of the fast path against each lesson pipeline that ran."""
    summary = {}
    if "fast" not in results:
        return summary
    fast = results["fast"]
    for name, key in (("lesson", ""), ("lesson-tuned", "_same_settings")):
        if name in results:
            summary[f"speedup{key}"] = results[name]["s_per_epoch"] / fast["s_per_epoch"]
            summary[f"accuracy_gap_points{key}"] = 100 * (fast["test_accuracy"] - results[name]["test_accuracy"])
    if "lesson-tuned" in models:
        summary["same_weights"] = same_weights(models["lesson-tuned"], models["fast"])
    return summary


def environment(device: torch.device) -> dict:
    info = {
        "device": str(device),
        "device_name": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
    return info


def run(args: argparse.Namespace) -> dict:
    device = pick_device(args.device)
    data, description = get_data(args)
    log(f"Benchmark on {description}: {len(data.train):,} training and {len(data.test):,} test images, {device}")
    results, models = {}, {}
    skipped = [name for name in args.pipelines if not runs_on(PIPELINES[name], device)]
    if skipped:
        log(f"Skipped on {device}: {', '.join(skipped)} (nccl needs one GPU per process)")
    for name in (name for name in args.pipelines if name not in skipped):
        log(f"{name}:")
        outcome = run_pipeline(PIPELINES[name], data, args, device)
        results[name], models[name] = outcome["figures"], outcome["model"]
    return {
        "data": description,
        "dataset": data.source.dataset,
        "source": data.source.kind,
        "n_train": len(data.train),
        "n_test": len(data.test),
        **environment(device),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "momentum": args.momentum,
        "seed": args.seed,
        "pipelines": results,
        **compare(results, models),
    }


def format_table(report: dict) -> str:
    lines = [
        f"{report['data']}: {report['n_train']:,} training / {report['n_test']:,} test images",
        f"{report['device']} ({report['device_name']}, {report['cpu_count']} CPUs), torch {report['torch']}; "
        f"{report['epochs']} epoch(s) each, batch {report['batch_size']}, lr {report['lr']:g}, "
        f"momentum {report['momentum']:g}, seed {report['seed']}",
        "",
        f"{'pipeline':<14} {'loader':<13} {'threads':>7} {'s/epoch':>8} {'images/s':>9} "
        f"{'speed-up':>8} {'test acc':>8} {'eval':>9} {'peak RSS':>9}",
    ]
    base = report["pipelines"].get("lesson", next(iter(report["pipelines"].values())))
    for name, r in report["pipelines"].items():
        memory = f"{r['peak_rss_mb']:,.0f} MB" if r["peak_rss_mb"] is not None else "-"
        evaluation = f"{1000 * r['eval_s']:>6.1f} ms" if r["eval_s"] is not None else f"{'-':>9}"
        lines.append(
            f"{name:<14} {r['loader']:<13} {r['threads']:>7} "
            f"{r['s_per_epoch']:>8.3f} {r['images_per_s']:>9,.0f} {base['s_per_epoch'] / r['s_per_epoch']:>7.1f}x "
            f"{r['test_accuracy']:>8.2%} {evaluation} {memory:>9}"
        )
    lines.append("")
    lines.append(
        f"s/epoch: median over the epochs; eval: evaluate() over the {base['eval_images']:,} test images; "
        "peak RSS: the process's high-water mark after each pipeline (they run in this order)."
    )
    if "same_weights" in report:
        same = "the same" if report["same_weights"] else "DIFFERENT"
        lines.append(f"lesson-tuned and fast end with {same} weights (same batches, same order, same arithmetic).")
    if any(name.startswith("ddp") for name in report["pipelines"]):
        lines.append("ddp rows: rank 0's epochs after its processes started (one thread each); eval and memory: -.")
    peaks = {name: r["peak_gpu_mb"] for name, r in report["pipelines"].items() if r["peak_gpu_mb"] is not None}
    if peaks:
        lines.append("peak GPU memory: " + ", ".join(f"{name} {mb:,.0f} MB" for name, mb in peaks.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run(args)
    except TutorialError as error:
        print(f"bench_training: error: {error}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    print(text if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
