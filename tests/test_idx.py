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


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_round_trip_raw_and_gzipped(tmp_path, name):
    write_idx(tmp_path / name, IMAGES)
    result = read_idx(tmp_path / name)
    assert result.dtype == torch.uint8
    assert torch.equal(result, torch.from_numpy(IMAGES))


def test_written_bytes_are_the_idx_format_by_hand(tmp_path):
    write_idx(tmp_path / "x", IMAGES)
    write_idx(tmp_path / "x.gz", IMAGES)
    assert (tmp_path / "x").read_bytes() == VALID
    assert gzip.decompress((tmp_path / "x.gz").read_bytes()) == VALID


def test_labels_are_one_dimensional(tmp_path):
    write_idx(tmp_path / "labels", np.array([3, 1, 4, 1, 5], dtype=np.uint8))
    assert read_idx(tmp_path / "labels").tolist() == [3, 1, 4, 1, 5]


def error_for(path, data: bytes) -> str:
    path.write_bytes(data)
    with pytest.raises(DataError) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)
    return str(caught.value)


def test_truncated_gzip(tmp_path):
    message = error_for(tmp_path / "a.gz", gzip.compress(VALID)[:-100])
    assert "not a valid gzip file" in message and 'use `source="sample"`' in message


def test_corrupt_gzip(tmp_path):
    data = bytearray(gzip.compress(VALID))
    data[len(data) // 2] ^= 0xFF
    assert "not a valid gzip file" in error_for(tmp_path / "a.gz", bytes(data))


def test_wrong_magic_number(tmp_path):
    message = error_for(tmp_path / "a", bytes([0, 0, 9, 3]) + VALID[4:])
    assert "magic number 0x00000903" in message and "delete it so it is downloaded again" in message


def test_empty_file(tmp_path):
    fix = 'delete it so it is downloaded again, or use `source="sample"`'
    assert error_for(tmp_path / "a", b"") == f"{tmp_path}/a is empty: {fix}"
    assert "/a.gz is empty" in error_for(tmp_path / "a.gz", gzip.compress(b""))


def test_truncated_header(tmp_path):
    assert "truncated inside its header" in error_for(tmp_path / "a", VALID[:9])


def test_truncated_body(tmp_path):
    message = error_for(tmp_path / "a", VALID[:-10])
    assert "is truncated: its header promises 2352 bytes" in message and "holds 2342" in message


def test_trailing_bytes(tmp_path):
    assert "longer than its header says" in error_for(tmp_path / "a", VALID + b"\0")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist: check the path"):
        read_idx(tmp_path / "missing")
    with pytest.raises(DataError, match="is a folder, not an IDX file"):
        read_idx(tmp_path)


def test_fix_is_chosen_by_the_caller(tmp_path):
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
