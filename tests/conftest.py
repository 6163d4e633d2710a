"""Shared fixtures: tiny IDX datasets written by the package itself, and local HTTP servers on 127.0.0.1."""

import dataclasses
import functools
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import write_dataset

from mnist_tutorial.datasets import download
from mnist_tutorial.datasets.sources import DATASETS
from mnist_tutorial.defaults import OFFLINE_ENV, SOURCE_ENV


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts offline, with no source forced from outside, as `make test` runs them."""
    monkeypatch.setenv(OFFLINE_ENV, "1")
    monkeypatch.delenv(SOURCE_ENV, raising=False)


@pytest.fixture(autouse=True)
def forget_failed_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads remember failed URLs for the rest of the process; each test starts with a clean memory."""
    monkeypatch.setattr(download, "FAILED", {})


@pytest.fixture
def no_system_fashion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide a system-wide Fashion-MNIST (Debian's dataset-fashion-mnist) that this machine may have."""
    monkeypatch.setitem(DATASETS, "fashion", dataclasses.replace(DATASETS["fashion"], system_dirs=()))


@pytest.fixture
def tiny_data_dir(tmp_path: Path) -> Path:
    """A data dir holding a tiny "full" MNIST in <data_dir>/MNIST/raw, as torchvision lays it out."""
    data_dir = tmp_path / "data"
    write_dataset(data_dir / "MNIST" / "raw")
    return data_dir


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An http.server in a thread on 127.0.0.1 serving a folder: yields (base URL ending in /, folder)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", folder
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts connections but never answers: yields its base URL."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # the kernel completes the handshakes; nobody ever reads or replies
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens, so connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make site`'s website, built once from the committed notebooks for every test that reads or opens it."""
    from tools.build_site import build_site

    out = tmp_path_factory.mktemp("built") / "site"
    build_site(out)
    return out


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short run of the lesson on the embedded sample, as `mnist-tutorial train` writes it (model.pt, metrics)."""
    from mnist_tutorial.run.training import train_and_save

    out = tmp_path_factory.mktemp("run")
    train_and_save(source="sample", num_epochs=2, device="cpu", out=out, progress=False)
    return out
