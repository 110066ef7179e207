"""Read (and write) the ``safetensors`` weight format, from scratch, memory-mapped.

A ``.safetensors`` file is three parts, nothing else::

    [ 8 bytes: N, unsigned little-endian ][ N bytes: JSON header ][ raw tensor bytes ]

The header maps each tensor name to ``{"dtype": "F32", "shape": [30522, 384],
"data_offsets": [begin, end]}``, offsets counted from the start of the raw bytes; an
optional ``"__metadata__"`` entry maps strings to strings. Tensors are stored
little-endian, C order. Reading one is a slice of the file viewed as the right dtype:
no code from the file is ever run (unlike a pickled PyTorch ``.bin``), so a file from
anywhere is safe to open.

Everything a malformed file could get wrong is checked before any tensor is touched, and
each problem is one ``ValueError`` naming the file and the tensor: header length past the
end of the file, invalid JSON or duplicate names, unknown dtype, a shape whose byte size
differs from its offsets, offsets past the data or overlapping, and gaps between tensors
(the format requires the tensors to tile the data exactly, so a file cannot hide a second
payload).
"""
import json
import os

import numpy as np

# safetensors dtype name -> NumPy dtype (little-endian). BF16 has no NumPy type: it is read
# as uint16 and widened to float32 (bf16 is the top half of a float32).
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
          "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
_NAMES = {np.dtype(v).str: k for k, v in DTYPES.items() if k not in ("BF16",)}
MAX_HEADER = 100 * 1024 * 1024          # a header above 100 MB is corrupt, not large


def _fail(path, what):
    raise ValueError(f"safetensors file {path!r}: {what}")


def _no_duplicates(pairs):
    """JSON object hook: a name given twice would make the header ambiguous."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the header names {key!r} twice")
        out[key] = value
    return out


def read_header(path):
    """Parse and validate the header of a ``.safetensors`` file without reading any tensor.

    Parameters
    ----------
    path : str or Path.

    Returns
    -------
    entries : dict name -> (dtype name, shape tuple, begin, end), ``begin``/``end`` absolute
        byte positions in the file, in file order.
    metadata : dict str -> str (empty if the file has none).

    Raises
    ------
    ValueError naming the file (and the tensor) for every malformed header.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            _fail(path, f"{size} bytes is too short for the 8-byte header length")
        n = int.from_bytes(head, "little")
        if n > min(MAX_HEADER, size - 8):
            _fail(path, f"header length {n} does not fit in the file ({size} bytes)")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        _fail(path, f"the header is not valid JSON: {exc}")
    if not isinstance(header, dict):
        _fail(path, f"the header is a JSON {type(header).__name__}, expected an object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        _fail(path, "__metadata__ must map strings to strings")
    start = 8 + n                                            # first byte of the tensor data
    entries = {}
    for name, info in header.items():
        entries[name] = _entry(path, name, info, start, size)
    _check_tiling(path, entries, start, size)
    return entries, metadata


def _entry(path, name, info, start, size):
    """(dtype, shape, begin, end) of one header entry, checked against the file size."""
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        _fail(path, f"tensor {name!r}: expected keys dtype, shape, data_offsets, got {info!r:.80}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in DTYPES:
        _fail(path, f"tensor {name!r}: dtype {dtype!r} is not supported ({', '.join(DTYPES)})")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        _fail(path, f"tensor {name!r}: shape {shape!r} is not a list of non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(o) is int for o in offsets) or not 0 <= offsets[0] <= offsets[1]):
        _fail(path, f"tensor {name!r}: data_offsets {offsets!r} must be two integers 0 <= begin <= end")
    nbytes = int(np.prod(shape, dtype=object)) * np.dtype(DTYPES[dtype]).itemsize
    if offsets[1] - offsets[0] != nbytes:
        _fail(path, f"tensor {name!r}: {dtype} {tuple(shape)} needs {nbytes} bytes but data_offsets "
                    f"{offsets} span {offsets[1] - offsets[0]}")
    if start + offsets[1] > size:
        _fail(path, f"tensor {name!r}: data_offsets end {offsets[1]} is past the end of the data "
                    f"({size - start} bytes); the file is truncated")
    return dtype, tuple(shape), start + offsets[0], start + offsets[1]


def _check_tiling(path, entries, start, size):
    """Tensors must cover the data exactly: no overlap, no gap, nothing after the last one."""
    pos = start
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: (kv[1][2], kv[1][3])):
        if begin != pos:
            what = "overlaps the previous tensor" if begin < pos else f"leaves a gap of {begin - pos} bytes"
            _fail(path, f"tensor {name!r} at data offset {begin - start} {what}")
        pos = end
    if pos != size:
        _fail(path, f"{size - pos} bytes after the last tensor are not described by the header")


def load_safetensors(path, names=None):
    """Memory-map the tensors of a ``.safetensors`` file as read-only NumPy arrays.

    Parameters
    ----------
    path : str or Path.
    names : iterable of str or None -- load only these tensors (all if None).

    Returns
    -------
    dict name -> ndarray (read-only views of the mapped file; BF16 tensors are float32 copies).

    Raises
    ------
    ValueError for a malformed file (see :func:`read_header`) or a requested name it lacks.
    """
    path = os.fspath(path)
    entries, _ = read_header(path)
    wanted = list(entries) if names is None else list(names)
    missing = [n for n in wanted if n not in entries]
    if missing:
        _fail(path, f"no tensor named {missing[0]!r} ({len(entries)} tensors in the file)")
    size = os.path.getsize(path)
    data = np.memmap(path, dtype=np.uint8, mode="r", shape=(size,))      # (size,) bytes, read-only
    out = {}
    for name in wanted:
        dtype, shape, begin, end = entries[name]
        arr = data[begin:end].view(DTYPES[dtype]).reshape(shape)       # no copy: pages load on use
        if dtype == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)       # bf16 = top 16 bits of a float32
        out[name] = arr
    return out


def save_safetensors(path, tensors, metadata=None):
    """Write ``{name: ndarray}`` as a ``.safetensors`` file (tensors in name order).

    Parameters
    ----------
    path : str or Path.
    tensors : dict str -> ndarray of a dtype in :data:`DTYPES` (any byte order; stored little-endian).
    metadata : dict str -> str or None.
    """
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        key = arr.dtype.newbyteorder("<").str if arr.dtype.itemsize > 1 else arr.dtype.str
        if key not in _NAMES:
            raise ValueError(f"save_safetensors: tensor {name!r} has dtype {arr.dtype}, which safetensors "
                             f"cannot store")
        blob = np.ascontiguousarray(arr, dtype=key).tobytes()
        header[name] = {"dtype": _NAMES[key], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)                  # pad so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for blob in blobs:
            f.write(blob)
