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
        ("a", b"junk", "a is not an IDX file of unsigned bytes (magic number 0x6a756e6b, expected 0x000008"),
        ("a.gz", b"junk", f"a.gz is not a valid gzip file (truncated or corrupt): {REDOWNLOAD}"),
        ("missing", None, "missing does not exist: check the path"),
        ("d/", None, "d is a folder, not an IDX file: check the path"),
    ],
    ids=["empty", "empty-gzip", "short-header", "trailing-bytes", "magic", "not-gzip", "missing", "folder"],
)
def test_a_damaged_file_is_named_with_what_is_wrong(tmp_path, name, data, message):
    if data is not None:
        (tmp_path / name).write_bytes(data)
    elif name.endswith("/"):
        (tmp_path / name).mkdir()
    with pytest.raises(DataError) as caught:
        read_idx(tmp_path / name)
    # A bad body, shape or count, named in the same way: test_data.py, test_cli.py::test_bad_data_files.
    assert f"{tmp_path}/{message}" in str(caught.value)
    with pytest.raises(DataError, match=r": restore it$" if data is not None else "check the path$"):
        read_idx(tmp_path / name, fix="restore it")  # the caller's fix, where the file is there but wrong


def mutated(data: bytes, changes: list[tuple[int, int]], gzipped: bool) -> tuple[str, bytes]:
    """`data` with bytes changed (and, gzipped, its compressed stream damaged at the same relative places)."""
    changed = bytearray(data)
    for index, value in changes:
        if index < len(changed):
            changed[index] = value
    if not gzipped:
        return "mutated", bytes(changed)
    packed = bytearray(gzip.compress(bytes(changed), mtime=0))
    for index, value in changes:
        packed[index * len(packed) // len(VALID)] = value
    return "mutated.gz", bytes(packed)


def shaped(dims: list[int], type_code: int, extra: int, gzipped: bool) -> tuple[str, bytes]:
    """A header of any shape, followed by as many bytes as it promises, give or take `extra`."""
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(n.to_bytes(4, "big") for n in dims)
    data = header + (bytes(range(256)) * 6)[: max(0, int(np.prod(dims)) + extra)]
    return ("shaped.gz", gzip.compress(data)) if gzipped else ("shaped", data)


places = st.one_of(st.integers(0, 19), st.integers(0, len(VALID) - 1))  # the header, often; anywhere
FILES = st.one_of(
    st.tuples(st.sampled_from(["random", "random.gz"]), st.binary(max_size=64)),
    st.builds(
        mutated,
        st.integers(0, len(VALID)).map(lambda cut: VALID[:cut] if cut > 16 else VALID),
        st.lists(st.tuples(places, st.integers(0, 255)), max_size=6),
        st.booleans(),
    ),
    st.builds(shaped, st.lists(st.integers(0, 6), max_size=5), st.sampled_from([8, 8, 8, 9, 0x0D]),
              st.integers(-3, 3), st.booleans()),
)  # fmt: skip


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=FILES)
def test_any_file_reads_as_its_header_says_or_is_a_data_error(tmp_path, file):
    name, data = file
    (tmp_path / name).write_bytes(data)
    try:
        result = read_idx(tmp_path / name)
    except DataError:
        return
    raw = gzip.decompress(data) if name.endswith(".gz") else data
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(raw[3])]
    assert result.dtype == torch.uint8
    assert list(result.shape) == shape
    assert result.numel() == len(raw) - 4 - 4 * len(shape)
