"""IDX files: what we write reads back, and any damaged file gives a DataError naming it, nothing else."""

import gzip

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_tutorial.datasets.idx import read_idx, write_idx
from mnist_tutorial.errors import DataError

IMAGES = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28).astype(np.uint8)
VALID = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (3, 28, 28)) + IMAGES.tobytes()
REDOWNLOAD = 'delete it so it is downloaded again, or use `source="sample"`'


@pytest.mark.parametrize("name", ["x", "x.gz"])
def test_written_bytes_are_the_idx_format_by_hand_and_read_back(tmp_path, name):
    write_idx(tmp_path / name, IMAGES)
    data = (tmp_path / name).read_bytes()
    assert (gzip.decompress(data) if name.endswith(".gz") else data) == VALID
    result = read_idx(tmp_path / name)
    assert result.dtype == torch.uint8 and torch.equal(result, torch.from_numpy(IMAGES))
    write_idx(tmp_path / name, np.array([3, 1, 4, 1, 5], dtype=np.uint8))
    assert read_idx(tmp_path / name).tolist() == [3, 1, 4, 1, 5]  # labels: one dimension


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a", b"", f"a is empty: {REDOWNLOAD}"),
        ("a.gz", gzip.compress(b""), f"a.gz is empty: {REDOWNLOAD}"),
        ("a", VALID[:9], "a is truncated inside its header"),
        ("a", VALID + b"\0", "a is longer than its header says: its header promises 2352 bytes"),
    ],
    ids=["empty", "empty-gzip", "short-header", "trailing-bytes"],  # stable: a gzip stream carries the time
)
def test_a_damaged_file_is_named_with_what_is_wrong(tmp_path, name, data, message):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(DataError) as caught:
        read_idx(tmp_path / name)
    # A bad gzip, magic number or body, named in the same way: test_cli.py::test_bad_data_files.
    assert f"{tmp_path}/{message}" in str(caught.value)


def test_missing_file_folder_and_the_callers_fix(tmp_path):
    with pytest.raises(DataError, match="does not exist: check the path"):
        read_idx(tmp_path / "missing")
    with pytest.raises(DataError, match="is a folder, not an IDX file"):
        read_idx(tmp_path)
    (tmp_path / "a").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"magic number 0x6a756e6b.*: restore it$"):
        read_idx(tmp_path / "a", fix="restore it")


def check_read(path, data: bytes) -> None:
    """The property: a uint8 tensor whose size matches its own header, or a DataError; nothing else."""
    path.write_bytes(data)
    try:
        result = read_idx(path)
    except DataError:
        return
    raw = gzip.decompress(data) if path.suffix == ".gz" else data
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(raw[3])]
    assert result.dtype == torch.uint8
    assert list(result.shape) == shape
    assert result.numel() == len(raw) - 4 - 4 * len(shape)


places = st.one_of(st.integers(0, 19), st.integers(0, len(VALID) - 1))  # the header, often; anywhere
mutations = st.lists(st.tuples(places, st.integers(0, 255)), max_size=6)
fuzz = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@fuzz
@given(data=st.binary(max_size=64))
def test_random_bytes(tmp_path, data):
    check_read(tmp_path / "random", data)
    check_read(tmp_path / "random.gz", data)


@fuzz
@given(changes=mutations, cut=st.integers(0, len(VALID)), gzipped=st.booleans())
def test_mutated_valid_file(tmp_path, changes, cut, gzipped):
    data = bytearray(VALID[:cut] if cut > 16 else VALID)
    for index, value in changes:
        if index < len(data):
            data[index] = value
    if gzipped:
        packed = bytearray(gzip.compress(bytes(data), mtime=0))
        for index, value in changes:  # damage the compressed stream too, at the same relative places
            packed[index * len(packed) // len(VALID)] = value
        check_read(tmp_path / "mutated.gz", bytes(packed))
    else:
        check_read(tmp_path / "mutated", bytes(data))


@fuzz
@given(
    dims=st.lists(st.integers(0, 6), min_size=0, max_size=5),
    type_code=st.sampled_from([8, 8, 8, 9, 0x0D]),
    extra=st.integers(-3, 3),
    gzipped=st.booleans(),
)
def test_headers_of_any_shape(tmp_path, dims, type_code, extra, gzipped):
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(n.to_bytes(4, "big") for n in dims)
    body = bytes(range(256)) * 6
    data = header + body[: max(0, int(np.prod(dims)) + extra)]
    check_read(tmp_path / ("shaped.gz" if gzipped else "shaped"), gzip.compress(data) if gzipped else data)
