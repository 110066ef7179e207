"""Checkpoints: ``.npz`` arrays + a JSON sidecar, written atomically, validated on load.

A checkpoint ``run/best.npz`` has a sidecar ``run/best.json`` holding the model
name and config, the training state (epoch, early-stopping counters, random
generator states) and the SHA-256 of the ``.npz``. Loading never unpickles
(``allow_pickle=False``), so a checkpoint cannot execute code; a truncated or
edited file fails the checksum and is rejected with a clear error.
"""
import hashlib
import json
import os
import tempfile

import numpy as np

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, tampered with or does not fit the model."""


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` via a temporary file + rename: a crash never leaves half a file."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path, obj):
    """JSON version of :func:`atomic_write_bytes` (sorted keys, indented, trailing newline)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n").encode())


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def sidecar_path(path):
    """``run/best.npz`` -> ``run/best.json``."""
    root, _ = os.path.splitext(os.fspath(path))
    return root + ".json"


def save_checkpoint(path, arrays, meta):
    """Save ``arrays`` ({name: ndarray}) to ``path`` (.npz) and ``meta`` (dict) to its JSON sidecar.

    The ``.npz`` is written first, then the sidecar (which carries the checksum),
    so a crash in between leaves the previous sidecar pointing at a file that
    fails its checksum -- detected, never loaded silently.
    """
    import io
    buf = io.BytesIO()
    np.savez(buf, **{k: np.ascontiguousarray(v) for k, v in arrays.items()})
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    meta = dict(meta, format_version=FORMAT_VERSION, sha256=hashlib.sha256(data).hexdigest(),
                arrays={k: [list(np.shape(v)), str(np.asarray(v).dtype)] for k, v in arrays.items()})
    atomic_write_json(sidecar_path(path), meta)
    return path


def load_checkpoint(path):
    """Return ``(arrays, meta)``; raise :class:`CheckpointError` if anything does not check out."""
    path = os.fspath(path)
    side = sidecar_path(path)
    for p in (path, side):
        if not os.path.isfile(p):
            raise CheckpointError(f"checkpoint file {p} does not exist")
    try:
        with open(side, encoding="utf-8") as f:
            meta = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{side}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION or "sha256" not in meta:
        raise CheckpointError(f"{side}: not a minih2rec checkpoint (format_version {FORMAT_VERSION} expected)")
    with open(path, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta["sha256"]:
        raise CheckpointError(f"{path}: checksum mismatch (file is truncated or was modified; "
                              f"expected sha256 {meta['sha256'][:12]}..., got {digest[:12]}...)")
    import io
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # zip/format errors from numpy
        raise CheckpointError(f"{path}: cannot read arrays ({exc})") from None
    for name, (shape, dtype) in meta.get("arrays", {}).items():
        if name not in arrays or list(arrays[name].shape) != shape or str(arrays[name].dtype) != dtype:
            raise CheckpointError(f"{path}: array {name!r} missing or has the wrong shape/dtype")
    return arrays, meta


def generator_states(obj, prefix=""):
    """Collect the states of every ``np.random.Generator`` reachable through module attributes.

    Returns ``{dotted_path: bit_generator.state}``; used so a resumed run draws the
    same dropout masks and negatives as an uninterrupted one.
    """
    out = {}
    for path, gen in _walk_generators(obj, prefix):
        out[path] = gen.bit_generator.state
    return out


def set_generator_states(obj, states, prefix=""):
    """Restore states saved by :func:`generator_states` (same module structure required)."""
    found = dict(_walk_generators(obj, prefix))
    for path in set(states) - set(found):       # a generator the model creates lazily (still None)
        owner, _, name = path.rpartition(".")
        target = _resolve(obj, owner)
        if target is not None and getattr(target, name, 0) is None:
            setattr(target, name, np.random.default_rng())
            found[path] = getattr(target, name)
    missing = set(states) - set(found)
    if missing:
        raise CheckpointError(f"random generators {sorted(missing)} from the checkpoint are not in the model")
    for path, state in states.items():
        found[path].bit_generator.state = state


def _resolve(obj, dotted):
    """Follow a dotted attribute / index path from ``obj``; None if it does not exist."""
    for part in dotted.split(".") if dotted else ():
        if isinstance(obj, (list, tuple)) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif hasattr(obj, part):
            obj = getattr(obj, part)
        else:
            return None
    return obj


def _walk_generators(obj, prefix, seen=None):
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    items = vars(obj).items() if hasattr(obj, "__dict__") else ()
    if isinstance(obj, (list, tuple)):
        items = ((str(i), v) for i, v in enumerate(obj))
    elif isinstance(obj, dict):
        items = obj.items()
    for name, value in items:
        path = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, np.random.Generator):
            if id(value) not in seen:
                seen.add(id(value))
                yield path, value
        elif hasattr(value, "__dict__") and type(value).__module__.startswith("minih2rec") \
                or isinstance(value, (list, tuple, dict)):
            yield from _walk_generators(value, path, seen)
