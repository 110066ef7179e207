"""The command line: train on tiny synthetic data, evaluate the checkpoint, same metrics."""
import json
import subprocess
import sys

import pytest

from minih2rec.__main__ import main


def test_train_then_evaluate_reproduces_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--model", "sasrec", "--data", "synthetic", "--preset", "tiny",
               "--train-preset", "tiny", "--max-len", "20", "--d", "16", "--blocks", "1",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "full ranking over 150 items" in text and "sampled: 100 negatives" in text
    results = json.load(open(out / "results.json"))
    evaluated = tmp_path / "eval.json"
    assert main(["evaluate", str(out / "best.npz"), "--out", str(evaluated)]) == 0
    again = json.load(open(evaluated))
    for protocol in ("full", "sampled"):
        assert again[protocol]["overall"] == results["test"][protocol]["overall"]


def test_bad_data_path_is_one_clear_line(tmp_path, capsys):
    rc = main(["train", "--data", str(tmp_path / "missing.csv"), "--no-progress"])
    assert rc == 2
    assert "missing.csv" in capsys.readouterr().err


def test_unknown_model_is_rejected(capsys):
    assert main(["train", "--model", "nope", "--preset", "tiny", "--data", "synthetic", "--no-progress"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


@pytest.mark.numpy_backend
def test_info_prints_backends():
    out = subprocess.run([sys.executable, "-m", "minih2rec", "info"], capture_output=True, text=True, check=True)
    assert "scatter_add" in out.stdout and "in use" in out.stdout
