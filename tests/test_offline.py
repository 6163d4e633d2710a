"""With MNIST_TUTORIAL_OFFLINE=1 nothing so much as tries to open a network connection."""

import socket

import pytest

from mnist_tutorial import resolve_source
from mnist_tutorial.cli import main
from mnist_tutorial.errors import DataError


@pytest.fixture
def attempts(monkeypatch):
    """Every attempt to connect anywhere, recorded and refused; the test fails if the list is not empty."""
    tried = []

    def refuse(*args, **kwargs):
        tried.append(args)
        raise AssertionError(f"network connection attempted while offline: {args}")

    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield tried
    assert tried == []


def test_auto_without_data_uses_the_sample_without_trying_the_network(tmp_path, attempts):
    assert resolve_source(data_dir=tmp_path).kind == "sample"


def test_full_and_fashion_without_data_fail_without_trying_the_network(tmp_path, attempts, no_system_fashion):
    with pytest.raises(DataError):
        resolve_source(source="full", data_dir=tmp_path)
    with pytest.raises(DataError):
        resolve_source(dataset="fashion", data_dir=tmp_path)


def test_the_cli_trains_and_evaluates_without_trying_the_network(tmp_path, attempts, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--data-dir", str(tmp_path / "data"), "--out", str(out)]) == 0
    assert main(["evaluate", "--checkpoint", str(out / "model.pt"), "--data-dir", str(tmp_path / "data")]) == 0
    assert "embedded sample" in capsys.readouterr().out
