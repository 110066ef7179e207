"""Checkpoints: round trip, atomic writes, and rejection of truncated or tampered files."""
import json
import os

import numpy as np
import pytest

from minih2rec.checkpoint import (CheckpointError, atomic_write_bytes, generator_states, load_checkpoint,
                                  save_checkpoint, set_generator_states, sidecar_path)

pytestmark = pytest.mark.numpy_backend


def _save(tmp_path):
    arrays = {"model/w": np.arange(6, dtype=np.float32).reshape(2, 3), "optim/t": np.array([3])}
    return save_checkpoint(str(tmp_path / "c.npz"), arrays, {"epoch": 2}), arrays


def test_round_trip(tmp_path):
    path, arrays = _save(tmp_path)
    got, meta = load_checkpoint(path)
    assert meta["epoch"] == 2
    for k, v in arrays.items():
        assert np.array_equal(got[k], v) and got[k].dtype == v.dtype


def test_truncated_file_is_rejected(tmp_path):
    path, _ = _save(tmp_path)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint(path)


def test_tampered_sidecar_is_rejected(tmp_path):
    path, _ = _save(tmp_path)
    meta = json.load(open(sidecar_path(path)))
    meta["arrays"]["model/w"][0] = [3, 2]
    meta["sha256"] = meta["sha256"]
    json.dump(meta, open(sidecar_path(path), "w"))
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_checkpoint(path)
    open(sidecar_path(path), "w").write("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(path)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(str(tmp_path / "nope.npz"))


def test_pickled_object_arrays_are_never_loaded(tmp_path):
    path = str(tmp_path / "evil.npz")
    save_checkpoint(path, {"x": np.zeros(2)}, {})
    import hashlib
    import io
    buf = io.BytesIO()
    np.savez(buf, x=np.array([object()], dtype=object))
    data = buf.getvalue()
    open(path, "wb").write(data)
    meta = json.load(open(sidecar_path(path)))
    meta["sha256"] = hashlib.sha256(data).hexdigest()     # even with a matching checksum
    meta["arrays"] = {}
    json.dump(meta, open(sidecar_path(path), "w"))
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
