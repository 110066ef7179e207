"""The from-scratch safetensors reader: exact round trips, a file written byte by byte, and one
clear error per kind of corruption (never a crash, never a read past the file)."""
import json
import struct

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minih2rec.semantic.safetensors import load_safetensors, read_header, save_safetensors

pytestmark = pytest.mark.numpy_backend


def _raw_file(path, header, data=b"", pad=0):
    """Write a safetensors file by hand: 8-byte little-endian length, JSON, bytes."""
    text = json.dumps(header).encode() + b" " * pad
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def test_reads_a_file_written_byte_by_byte(tmp_path):
    a = np.arange(6, dtype="<f4").reshape(2, 3)
    b = np.array([-1, 7], dtype="<i8")
    header = {"__metadata__": {"format": "pt"},
              "b": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]},
              "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}
    path = _raw_file(tmp_path / "hand.safetensors", header, a.tobytes() + b.tobytes(), pad=3)
    got = load_safetensors(path)
    np.testing.assert_array_equal(got["a"], a)
    np.testing.assert_array_equal(got["b"], b)
    assert got["a"].dtype == np.float32 and got["b"].dtype == np.int64
    assert not got["a"].flags.writeable                      # a read-only view of the mapped file
    entries, meta = read_header(path)
    assert meta == {"format": "pt"} and entries["a"][1] == (2, 3)


def test_bf16_widens_to_float32(tmp_path):
    x = np.array([1.0, -2.5, 3.140625], dtype=np.float32)    # exactly representable in bf16
    bits = (x.view(np.uint32) >> 16).astype("<u2")
    path = _raw_file(tmp_path / "bf.safetensors", {"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}},
                     bits.tobytes())
    np.testing.assert_array_equal(load_safetensors(path)["x"], x)


@given(st.lists(st.tuples(st.sampled_from(["<f4", "<f8", "<i8", "<i4", "u1", "<f2", "?"]),
                          st.lists(st.integers(0, 3), min_size=0, max_size=3)), min_size=0, max_size=4))
def test_save_then_load_is_exact(tmp_path_factory, specs):
    rng = np.random.default_rng(0)
    tensors = {f"t{k}": (rng.standard_normal(shape) * 9).astype(dt) for k, (dt, shape) in enumerate(specs)}
    path = tmp_path_factory.mktemp("st") / "x.safetensors"
    save_safetensors(path, tensors, metadata={"k": "v"})
    got = load_safetensors(path)
    assert sorted(got) == sorted(tensors)
    for name, arr in tensors.items():
        assert got[name].dtype == arr.dtype and got[name].shape == arr.shape
        np.testing.assert_array_equal(got[name], arr)


def test_load_selected_names_and_unknown_name(tmp_path):
    path = tmp_path / "s.safetensors"
    save_safetensors(path, {"a": np.zeros(2, np.float32), "b": np.ones(3, np.int32)})
    assert list(load_safetensors(path, names=["b"])) == ["b"]
    with pytest.raises(ValueError, match="no tensor named 'c'"):
        load_safetensors(path, names=["c"])


GOOD = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


@pytest.mark.parametrize("header, data, message", [
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8), r"needs 12 bytes but data_offsets"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(4), r"past the end .* truncated"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, bytes(8), r"0 <= begin <= end"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12), r"gap of 4 bytes"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8), r"overlaps"),
    (GOOD, bytes(12), r"4 bytes after the last tensor"),
    ({"a": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, bytes(2), r"dtype 'F8_E4M3' is not supported"),
    ({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, bytes(8), r"shape \[-2\]"),
    ({"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, bytes(8), r"not a list of non-negative"),
    ({"a": {"dtype": "F32", "shape": [2]}}, bytes(8), r"expected keys dtype, shape, data_offsets"),
    ({"__metadata__": {"x": 1}, **GOOD}, bytes(8), r"__metadata__ must map strings to strings"),
    ([1, 2], b"", r"JSON list, expected an object"),
])
def test_corrupt_headers_are_named_errors(tmp_path, header, data, message):
    path = _raw_file(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(ValueError, match=message) as info:
        load_safetensors(path)
    assert "bad.safetensors" in str(info.value) and "\n" not in str(info.value)


def test_header_length_and_json_corruption(tmp_path):
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"\x01\x02")
    with pytest.raises(ValueError, match="too short for the 8-byte header length"):
        read_header(short)
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 10 ** 12) + b"{}")
    with pytest.raises(ValueError, match=r"header length 1000000000000 does not fit in the file \(10 bytes\)"):
        read_header(huge)
    notjson = tmp_path / "notjson.safetensors"
    notjson.write_bytes(struct.pack("<Q", 5) + b"{abc}")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_header(notjson)
    dup = tmp_path / "dup.safetensors"
    text = b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'
    dup.write_bytes(struct.pack("<Q", len(text)) + text + b"\x00")
    with pytest.raises(ValueError, match="names 'a' twice"):
        read_header(dup)
    binary = tmp_path / "binary.safetensors"
    binary.write_bytes(struct.pack("<Q", 2) + b"\xff\xfe")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_header(binary)


@given(st.binary(min_size=0, max_size=64))
def test_arbitrary_bytes_never_crash(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "f.safetensors"
    path.write_bytes(blob)
    try:
        load_safetensors(path)
    except ValueError as exc:
        assert "f.safetensors" in str(exc)
