"""The benchmark runs end to end on tiny settings and reports every figure it promises (never a timing)."""

import json
import math
from pathlib import Path

import nbformat
import pytest

from benchmarks import bench_training as bench

ROOT = Path(__file__).resolve().parent.parent
FIGURES = {"loader", "threads", "setup_s", "epoch_s", "s_per_epoch", "images_per_s", "train_loss", "test_loss",
           "test_accuracy", "eval_s", "eval_images", "peak_rss_mb", "peak_gpu_mb"}  # fmt: skip


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    assert bench.main([*argv, "--json", "--device", "cpu"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_every_figure_for_every_pipeline_and_the_table_names_them(capsys: pytest.CaptureFixture):
    report = run_json(capsys, "--synthetic", "--train-size", "200", "--test-size", "50", "--epochs", "2")
    assert report["n_train"] == 200 and report["n_test"] == 50 and report["epochs"] == 2
    assert report["source"] == "synthetic" and report["device"] == "cpu"
    assert list(report["pipelines"]) == ["lesson", "lesson-tuned", "fast"]
    for name, figures in report["pipelines"].items():
        assert set(figures) == FIGURES, name
        assert len(figures["epoch_s"]) == 2 and all(s > 0 for s in figures["epoch_s"])
        assert figures["s_per_epoch"] > 0
        assert math.isclose(figures["images_per_s"], 200 / figures["s_per_epoch"])
        assert 0 <= figures["test_accuracy"] <= 1 and math.isfinite(figures["test_loss"])
        assert figures["eval_s"] > 0 and figures["eval_images"] == 50
        assert figures["peak_rss_mb"] > 10 and figures["peak_gpu_mb"] is None
    lesson, tuned, fast = report["pipelines"].values()
    assert lesson["loader"] == tuned["loader"] == "DataLoader" and fast["loader"] == "TensorLoader"
    assert tuned["threads"] == fast["threads"] == 1
    assert report["speedup"] > 0 and report["speedup_same_settings"] > 0
    # The fast path computes what the lesson's DataLoader computes under the same settings.
    assert report["same_weights"] is True
    assert report["accuracy_gap_points_same_settings"] == 0
    assert tuned["train_loss"] == fast["train_loss"]
    table = bench.format_table(report)
    for word in ("s/epoch", "images/s", "speed-up", "test acc", "peak RSS", "lesson-tuned", "fast", "same weights"):
        assert word in table


def test_reads_full_size_files_from_the_data_dir(capsys: pytest.CaptureFixture, tiny_data_dir: Path) -> None:
    report = run_json(capsys, "--data-dir", str(tiny_data_dir), "--pipelines", "fast", "--epochs", "1")
    assert report["dataset"] == "mnist" and report["source"] == "full"
    assert report["n_train"] == 320 and report["n_test"] == 80  # conftest's tiny "full" MNIST
    assert list(report["pipelines"]) == ["fast"] and "speedup" not in report


def test_bad_arguments_exit_with_status_2(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--pipelines", "nope"])
    assert exit_info.value.code == 2
    assert "--pipelines" in capsys.readouterr().err


def test_06s_gpu_figures_are_the_recorded_benchmarks_own():
    cells = nbformat.read(ROOT / "notebooks" / "06_speed.ipynb", as_version=4).cells
    namespace = {"math": math}
    exec(next(cell.source for cell in cells if cell.source.startswith("recorded = {")), namespace)
    results = ROOT / "benchmarks" / "results"
    cuda, cpu = (json.loads((results / f"h200_{name}.json").read_text()) for name in ("cuda", "cpu"))
    recorded, seconds = namespace["recorded"], namespace["seconds"]
    assert (recorded["GPU"], recorded["torch"]) == (cuda["device_name"], cuda["torch"])
    assert (recorded["images per epoch"], recorded["batch size"]) == (cuda["n_train"], cuda["batch_size"])
    gpu_epoch, cpu_epoch, gpu_evaluation = seconds.values()
    assert gpu_epoch == round(cuda["pipelines"]["fast"]["s_per_epoch"], 3)
    assert cpu_epoch == round(cpu["pipelines"]["fast"]["s_per_epoch"], 3) and cpu["device"] == "cpu"
    assert gpu_evaluation == round(cuda["pipelines"]["fast"]["eval_s"], 4) and cuda["n_test"] == 10_000
