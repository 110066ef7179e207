"""Checkpoints: one ``.npz`` holding the arrays *and* the metadata, written atomically, validated on load.

A checkpoint ``run/last.npz`` holds the weights (``model/...``), the optimiser
buffers, the best weights so far, and -- as a JSON text in the array ``__meta__`` --
the model name and config, the training configuration, the data spec and
fingerprint, the position in training and every random generator state, plus a
SHA-256 of all the other arrays. Because it is a single file replaced by one
``rename``, the folder holds a complete, consistent checkpoint at every instant
(a crash leaves the previous one), and a reader polling while a run writes sees
either the old or the new file, never a mix.

Loading never unpickles (``allow_pickle=False``), so a checkpoint cannot execute
code; a truncated or edited file is rejected with a clear error. Checkpoints of
format 1 (``.npz`` + ``.json`` sidecar) still load.
"""
import hashlib
import io
import json
import os
import tempfile
import time
import zipfile

import numpy as np

FORMAT_VERSION = 2
META_KEY = "__meta__"     # the uint8 array holding the metadata JSON


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, tampered with or does not fit the model."""


class WriteError(OSError):
    """A file could not be written (disk full, permissions); the previous version is intact.

    ``WriteError(errno, message)``: ``str()`` is the message alone, one line naming the path.
    """

    def __str__(self):
        return str(self.strerror)


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` via a temporary file + rename: a crash never leaves half a file.

    Raises
    ------
    WriteError naming ``path`` if the disk is full or the folder is not writable; the
    previous content of ``path`` (if any) is left untouched.
    """
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
        os.chmod(tmp, _mode_for(path))         # mkstemp makes 0600; a result file is as readable as any
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            kept = " (the previous version is kept)" if os.path.isfile(path) else ""
            raise WriteError(exc.errno, f"cannot write {path}: {exc.strerror or exc}{kept}") from exc
        raise


def _mode_for(path):
    """The mode of the file being replaced, else what ``open()`` would give (0666 minus the umask)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return 0o666 & ~_UMASK


def _current_umask():
    mask = os.umask(0)      # reading the umask means setting it: done once, at import
    os.umask(mask)
    return mask


_UMASK = _current_umask()


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
    """``run/best.npz`` -> ``run/best.json`` (the metadata file of format-1 checkpoints)."""
    root, _ = os.path.splitext(os.fspath(path))
    return root + ".json"


def arrays_digest(arrays):
    """SHA-256 over every array's name, dtype, shape and bytes (in name order)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_checkpoint(path, arrays, meta):
    """Save ``arrays`` ({name: ndarray}) and ``meta`` (a JSON-able dict) as one ``.npz`` at ``path``.

    The metadata travels inside the file, with the digest of the arrays, so there
    is never a moment at which arrays and metadata disagree.
    """
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    if META_KEY in arrays:
        raise ValueError(f"save_checkpoint: {META_KEY!r} is reserved for the metadata")
    meta = dict(meta, format_version=FORMAT_VERSION, arrays_sha256=arrays_digest(arrays),
                arrays={k: [list(v.shape), str(v.dtype)] for k, v in arrays.items()})
    text = json.dumps(meta, sort_keys=True, default=_json_default).encode()
    buf = io.BytesIO()
    np.savez(buf, **arrays, **{META_KEY: np.frombuffer(text, dtype=np.uint8)})
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_checkpoint(path):
    """Return ``(arrays, meta)``; raise :class:`CheckpointError` if anything does not check out.

    The file is read once, through one open handle: a run replacing it meanwhile
    cannot make this reader see half of two versions.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"{path} is a folder; give the checkpoint file, e.g. {os.path.join(path, 'best.npz')}")
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint file {path} does not exist")
    with open(path, "rb") as f:
        data = f.read()
    arrays = _read_arrays(path, data)
    if META_KEY not in arrays:
        return _load_format1(path, data, arrays)
    try:
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: the metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: not a minih2rec checkpoint (format_version {FORMAT_VERSION} expected)")
    _check_arrays(path, arrays, meta)
    if arrays_digest(arrays) != meta.get("arrays_sha256"):
        raise CheckpointError(f"{path}: checksum mismatch (the arrays were modified after saving)")
    return arrays, meta


def _read_arrays(path, data):
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:   # zip/format errors from numpy
        raise CheckpointError(f"{path}: cannot read arrays -- the file is truncated, corrupted or "
                              f"not a checkpoint ({exc})") from None


def _check_arrays(path, arrays, meta):
    for name, (shape, dtype) in meta.get("arrays", {}).items():
        if name not in arrays or list(arrays[name].shape) != shape or str(arrays[name].dtype) != dtype:
            raise CheckpointError(f"{path}: array {name!r} missing or has the wrong shape/dtype")


def _load_format1(path, data, arrays, retries=3):
    """A format-1 checkpoint: metadata and checksum in the ``.json`` sidecar.

    The writer replaced the ``.npz`` first and the sidecar second, so a reader in
    between sees a checksum mismatch that is not corruption: re-read a few times and,
    if the files keep changing, say so instead of reporting a false mismatch.
    """
    side = sidecar_path(path)
    changed = False
    for attempt in range(retries + 1):
        if not os.path.isfile(side):
            raise CheckpointError(f"{path}: not a minih2rec checkpoint (no metadata inside, no {side})")
        try:
            with open(side, encoding="utf-8") as f:
                meta = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{side}: not valid JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format_version") != 1 or "sha256" not in meta:
            raise CheckpointError(f"{side}: not a minih2rec checkpoint (format_version 1 or 2 expected)")
        if hashlib.sha256(data).hexdigest() == meta["sha256"]:
            _check_arrays(path, arrays, meta)
            return arrays, meta
        if attempt < retries:
            time.sleep(0.2)
            with open(path, "rb") as f:
                fresh = f.read()
            if fresh != data:                   # a run is writing right now
                changed, data, arrays = True, fresh, _read_arrays(path, fresh)
    if changed:
        raise CheckpointError(f"{path} is being written by a running training; retry in a moment")
    raise CheckpointError(f"{path}: checksum mismatch (file is truncated or was modified; "
                                  f"expected sha256 {meta['sha256'][:12]}...)")


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
