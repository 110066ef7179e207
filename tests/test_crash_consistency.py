"""Crash consistency: whichever write a run dies at, the folder holds a complete, resumable state;
a full disk is one line naming the path, and the previous checkpoint stays good."""
import errno
import os

import pytest

from _runs import train
from minih2rec import checkpoint as ckpt
from minih2rec.checkpoint import load_checkpoint
from minih2rec.config import preset
from minih2rec.experiment import DataSpec, run

EPOCHS = 2


class Crash(BaseException):
    """The process dying at this instant (not an error the program could handle)."""


def _run(out, resume=None):
    spec = DataSpec(preset="tiny")
    return run("sasrec", spec, preset("tiny", epochs=EPOCHS, patience=0), {"max_len": 20, "d": 16, "blocks": 1},
               out_dir=str(out), protocols=("full",), progress=False, resume=resume, log=lambda *a: None)


def _count_writes(monkeypatch, fail_at=None, error=None):
    """Count the file renames of the run (one per write); raise ``error`` at rename number ``fail_at``."""
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise error
        return real(src, dst)
    monkeypatch.setattr(ckpt.os, "replace", replace)
    return calls


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    return _run(out)["test"]["full"]["overall"]


def test_every_write_is_a_rename_and_a_crash_at_any_of_them_is_recoverable(reference, tmp_path, monkeypatch):
    writes = _count_writes(monkeypatch)
    _run(tmp_path / "count")
    monkeypatch.undo()
    names = [os.path.basename(w) for w in writes]
    assert names.count("last.npz") == EPOCHS and names[-1] == "results.json"   # the writes being tested
    for k in range(1, len(writes) + 1):                  # die before rename k (i.e. between writes k-1 and k)
        out = tmp_path / f"crash{k}"
        _count_writes(monkeypatch, fail_at=k, error=Crash())
        with pytest.raises(Crash):
            _run(out)
        monkeypatch.undo()
        files = sorted(f for f in os.listdir(out) if not f.startswith("."))
        for f in files:
            if f.endswith(".npz"):
                load_checkpoint(str(out / f))            # every checkpoint present is complete
        assert "results.json" not in files
        resume = str(out / "last.npz") if "last.npz" in files else None
        got = _run(out, resume=resume)["test"]["full"]["overall"]
        assert got == reference, f"crash before write {k} ({names[k - 1]}): {files}"


def test_disk_full_during_training_is_one_line_and_keeps_the_last_checkpoint(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    good, meta = load_checkpoint(str(out / "last.npz"))
    capsys.readouterr()
    writes = _count_writes(monkeypatch, fail_at=1, error=OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    assert train(out, "--epochs", "1", "--resume", str(out / "last.npz"), "--override", "epochs=2") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and writes[0] in err
    monkeypatch.undo()
    again, meta_again = load_checkpoint(str(out / "last.npz"))
    assert meta_again["epoch"] == meta["epoch"] == 1
    assert all((again[k] == v).all() for k, v in good.items())


def test_out_below_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    assert train(tmp_path / "notes.txt" / "run") == 2
    err = capsys.readouterr().err
    assert "--out" in err and "is a file, not a folder" in err and err.count("\n") == 1


def test_results_of_an_earlier_run_never_sit_beside_new_checkpoints(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    _count_writes(monkeypatch, fail_at=1, error=Crash())     # the new run dies at its first write
    with pytest.raises(Crash):
        train(out, "--epochs", "1", "--lr", "0.002")
    monkeypatch.undo()
    assert not (out / "results.json").exists() and not (out / "last.npz").exists()
