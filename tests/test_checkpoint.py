"""Checkpoints: one self-contained file, atomic writes, rejection of truncated or tampered files,
a full disk reported by path, and a consistent snapshot for a reader polling while a run writes."""
import errno
import hashlib
import io
import json
import os
import threading

import numpy as np
import pytest

from minih2rec import checkpoint as ckpt
from minih2rec.checkpoint import (META_KEY, CheckpointError, WriteError, atomic_write_bytes, generator_states,
                                  load_checkpoint, save_checkpoint, set_generator_states, sidecar_path)

pytestmark = pytest.mark.numpy_backend


def _save(tmp_path):
    arrays = {"model/w": np.arange(6, dtype=np.float32).reshape(2, 3), "optim/t": np.array([3])}
    return save_checkpoint(str(tmp_path / "c.npz"), arrays, {"epoch": 2}), arrays


def _rewrite(path, arrays, meta):
    """Write an .npz with these arrays and this metadata, bypassing save_checkpoint's digest."""
    buf = io.BytesIO()
    text = json.dumps(meta).encode()
    np.savez(buf, **arrays, **{META_KEY: np.frombuffer(text, dtype=np.uint8)})
    open(path, "wb").write(buf.getvalue())


def test_round_trip_in_one_file(tmp_path):
    path, arrays = _save(tmp_path)
    got, meta = load_checkpoint(path)
    assert meta["epoch"] == 2
    assert got.keys() == arrays.keys()
    for k, v in arrays.items():
        assert np.array_equal(got[k], v) and got[k].dtype == v.dtype
    assert os.listdir(tmp_path) == ["c.npz"]          # no sidecar: nothing can disagree with the arrays


def test_truncated_file_is_rejected(tmp_path):
    path, _ = _save(tmp_path)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)


def test_edited_arrays_fail_the_checksum(tmp_path):
    path, arrays = _save(tmp_path)
    _, meta = load_checkpoint(path)
    _rewrite(path, dict(arrays, **{"model/w": arrays["model/w"] + 1}), meta)   # same shapes, other values
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint(path)


def test_edited_metadata_is_rejected(tmp_path):
    path, arrays = _save(tmp_path)
    _, meta = load_checkpoint(path)
    meta["arrays"]["model/w"][0] = [3, 2]
    _rewrite(path, arrays, meta)
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_checkpoint(path)
    buf = io.BytesIO()
    np.savez(buf, **arrays, **{META_KEY: np.frombuffer(b"{not json", dtype=np.uint8)})
    open(path, "wb").write(buf.getvalue())
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(path)


def test_missing_file_or_folder_names_it(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(str(tmp_path / "nope.npz"))
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(str(tmp_path))


def test_pickled_object_arrays_are_never_loaded(tmp_path):
    path = str(tmp_path / "evil.npz")
    buf = io.BytesIO()
    np.savez(buf, x=np.array([object()], dtype=object),
             **{META_KEY: np.frombuffer(json.dumps({"format_version": 2}).encode(), dtype=np.uint8)})
    open(path, "wb").write(buf.getvalue())
    with pytest.raises(CheckpointError, match="cannot read arrays"):
        load_checkpoint(path)


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = str(tmp_path / "f.bin")
    atomic_write_bytes(path, b"good")

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(path, b"bad")
    assert open(path, "rb").read() == b"good"
    assert os.listdir(tmp_path) == ["f.bin"]          # no temporary file left behind


def test_disk_full_names_the_path_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path, arrays = _save(tmp_path)
    real_fdopen = os.fdopen

    class FullDisk(io.RawIOBase):
        def __init__(self, fd):
            self.f = real_fdopen(fd, "wb")

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def fileno(self):
            return self.f.fileno()

        def close(self):
            self.f.close()
    monkeypatch.setattr(ckpt.os, "fdopen", lambda fd, mode: FullDisk(fd))
    with pytest.raises(WriteError) as info:
        save_checkpoint(path, {"model/w": np.zeros(3)}, {"epoch": 3})
    message = str(info.value)
    assert path in message and "No space left on device" in message and "\n" not in message
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    got, meta = load_checkpoint(path)                 # the previous checkpoint, intact
    assert meta["epoch"] == 2 and np.array_equal(got["model/w"], arrays["model/w"])
    assert os.listdir(tmp_path) == ["c.npz"]


def test_written_files_follow_the_umask_not_0600(tmp_path):
    path = str(tmp_path / "r.json")
    ckpt.atomic_write_json(path, {"a": 1})
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~ckpt._UMASK


def test_reader_polling_a_writer_always_sees_one_consistent_version(tmp_path):
    path = str(tmp_path / "last.npz")
    save_checkpoint(path, {"x": np.zeros(20000)}, {"version": 0})
    stop, errors = threading.Event(), []

    def writer():
        v = 0
        while not stop.is_set():
            v += 1
            save_checkpoint(path, {"x": np.full(20000, float(v))}, {"version": v})
    t = threading.Thread(target=writer)
    t.start()
    try:
        seen = set()
        for _ in range(150):
            try:
                arrays, meta = load_checkpoint(path)
            except CheckpointError as exc:            # a false "checksum mismatch" would land here
                errors.append(str(exc))
                continue
            assert (arrays["x"] == meta["version"]).all()   # arrays and metadata of the same save
            seen.add(meta["version"])
    finally:
        stop.set()
        t.join()
    assert not errors, errors[:3]
    assert len(seen) > 1                              # the reader really raced the writer


def _format1(tmp_path, arrays, meta):
    """A checkpoint as minih2rec 0.x wrote it: arrays .npz + JSON sidecar with the file's sha256."""
    path = str(tmp_path / "old.npz")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    open(path, "wb").write(data)
    side = dict(meta, format_version=1, sha256=hashlib.sha256(data).hexdigest(),
                arrays={k: [list(v.shape), str(v.dtype)] for k, v in arrays.items()})
    json.dump(side, open(sidecar_path(path), "w"))
    return path, data


def test_format1_checkpoints_still_load(tmp_path):
    path, _ = _format1(tmp_path, {"model/w": np.ones(3)}, {"epoch": 4})
    arrays, meta = load_checkpoint(path)
    assert meta["epoch"] == 4 and np.array_equal(arrays["model/w"], np.ones(3))
    open(path, "ab").write(b"x")                      # really modified: a true mismatch
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint(path)


def test_format1_mid_write_is_waited_for_or_reported_as_being_written(tmp_path, monkeypatch):
    # a format-1 writer replaced the .npz and has not yet replaced the sidecar
    path, _ = _format1(tmp_path, {"model/w": np.ones(3)}, {"epoch": 4})
    buf = io.BytesIO()
    np.savez(buf, **{"model/w": np.full(3, 2.0)})
    new = buf.getvalue()
    open(path, "wb").write(new)

    def sidecar_lands(seconds):                       # ... and finishes while the reader waits
        side = json.load(open(sidecar_path(path)))
        side.update(epoch=5, sha256=hashlib.sha256(new).hexdigest())
        json.dump(side, open(sidecar_path(path), "w"))
    monkeypatch.setattr(ckpt.time, "sleep", sidecar_lands)
    arrays, meta = load_checkpoint(path)
    assert meta["epoch"] == 5 and np.array_equal(arrays["model/w"], np.full(3, 2.0))

    versions = iter(range(10, 100))

    def still_writing(seconds):                       # the .npz keeps changing under the reader
        b = io.BytesIO()
        np.savez(b, **{"model/w": np.full(3, float(next(versions)))})
        open(path, "wb").write(b.getvalue())
    still_writing(0)                                  # the sidecar is behind again
    monkeypatch.setattr(ckpt.time, "sleep", still_writing)
    with pytest.raises(CheckpointError, match="being written by a running training; retry"):
        load_checkpoint(path)


def test_generator_states_round_trip():
    class Holder:
        __module__ = "minih2rec.fake"

        def __init__(self):
            self.rng = np.random.default_rng(1)
            self.child = [np.random.default_rng(2)]
    h = Holder()
    states = generator_states(h)
    a = (h.rng.random(), h.child[0].random())
    set_generator_states(h, states)
    assert (h.rng.random(), h.child[0].random()) == a
