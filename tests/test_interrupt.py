"""Ctrl-C and SIGTERM: exit 128 + signal, no test metrics from unselected weights, a resume command,
and a resumed run identical to an uninterrupted one -- including the interrupted epoch's loss."""
import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from _runs import TINY, results, train
from minih2rec.__main__ import main
from minih2rec.checkpoint import load_checkpoint
from minih2rec.config import preset
from minih2rec.data import make_synthetic, split_leave_one_out
from minih2rec.models.sasrec import SASRec, SASRecConfig
from minih2rec.run_lock import LOCK_NAME
from minih2rec.train import Trainer


def _signal_at_step(monkeypatch, n, signals=(signal.SIGINT,)):
    """Make the n-th training step (counted over the whole run) send ``signals`` to this process."""
    original, calls = Trainer._step, []

    def step(self, batch, i):
        out = original(self, batch, i)
        calls.append(i)
        if len(calls) == n:
            for s in signals:
                os.kill(os.getpid(), s)
        return out
    monkeypatch.setattr(Trainer, "_step", step)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same run, never interrupted."""
    out = tmp_path_factory.mktemp("ref") / "run"
    assert train(out, "--epochs", "2") == 0
    return results(out)


def test_ctrl_c_exits_130_writes_no_test_metrics_and_resumes_identically(reference, tmp_path, monkeypatch,
                                                                          capsys):
    out = tmp_path / "run"
    _signal_at_step(monkeypatch, 3)
    assert train(out, "--epochs", "2") == 130
    err = capsys.readouterr().err.strip()
    last = str(out / "last.npz")
    assert err.startswith(f"interrupted at epoch 1, step 3; saved {last}; resume with: python -m minih2rec train")
    assert err.endswith(f"--resume {last}") and "\n" not in err
    assert not (out / "results.json").exists()          # no metrics from weights validation never chose
    assert not (out / LOCK_NAME).exists()
    _, meta = load_checkpoint(last)
    assert (meta["epoch"], meta["step_in_epoch"]) == (0, 3)

    monkeypatch.undo()
    command = shlex.split(err.split("resume with: ")[1])
    assert main(command[3:]) == 0                        # the printed command, as the user would paste it
    got = results(out)
    assert [r["loss"] for r in got["train"]["history"]] == [r["loss"] for r in reference["train"]["history"]]
    assert [r["valid_NDCG@10"] for r in got["train"]["history"]] == \
        [r["valid_NDCG@10"] for r in reference["train"]["history"]]
    assert got["test"]["full"]["overall"] == reference["test"]["full"]["overall"]


def test_second_ctrl_c_stops_at_once_keeping_the_checkpoints(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    _signal_at_step(monkeypatch, 6, signals=(signal.SIGINT, signal.SIGINT))
    assert train(out, "--epochs", "2") == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    _, meta = load_checkpoint(str(out / "last.npz"))    # the end-of-epoch-1 checkpoint, still good
    assert meta["epoch"] == 1


def test_interrupt_between_epochs_resumes_bit_identically(tmp_path):
    split = split_leave_one_out(make_synthetic("tiny", seed=0))
    cfg = preset("tiny", epochs=3, patience=0)

    def model():
        return SASRec(SASRecConfig.tiny(split.num_items))
    full = model()
    Trainer(full, split, cfg, progress=False, log=lambda *a: None).fit()

    first = model()
    t = Trainer(first, split, cfg, out_dir=str(tmp_path), progress=False, log=lambda *a: None)
    run_epoch = t._run_epoch

    def epoch_then_ctrl_c():
        loss = run_epoch()
        if t.epoch == 0:
            os.kill(os.getpid(), signal.SIGINT)          # arrives during validation, after a whole epoch
        return loss
    t._run_epoch = epoch_then_ctrl_c
    assert t.fit().stopped == "interrupted" and (t.epoch, t.step_in_epoch) == (1, 0)
    again = model()
    t2 = Trainer(again, split, cfg, out_dir=str(tmp_path), progress=False, log=lambda *a: None)
    t2.resume(str(tmp_path / "last.npz"))
    t2.fit()
    for k, v in full.state_dict().items():
        assert np.array_equal(v, again.state_dict()[k]), k


def test_sigterm_exits_143_with_a_resumable_checkpoint(tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "minih2rec", "train", "--data", "synthetic", "--preset", "tiny", *TINY,
            "--epochs", "500", "--patience", "0", "--out", str(out)]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 120
        while not (out / "last.npz").exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    assert "interrupted at epoch" in err and "resume with: python -m minih2rec train" in err
    assert "Traceback" not in err
    assert not (out / "results.json").exists()
    _, meta = load_checkpoint(str(out / "last.npz"))
    assert meta["kind"] == "last" and meta["epoch"] >= 1
