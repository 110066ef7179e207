"""``evaluate CHECKPOINT``: works for every model, reproduces the run's metrics, and never uses other data."""
import json
import os
import re
import shutil

import pytest

from _runs import results, train, write_csv
from minih2rec.__main__ import main
from minih2rec.data import make_synthetic


def _registry(capsys):
    """Every model name the CLI knows, read from its own error message for an unknown one."""
    assert main(["train", "--model", "no-such-model", "--data", "synthetic", "--no-progress"]) == 2
    names = re.search(r"choose one of (.*)", capsys.readouterr().err).group(1)
    return sorted(n.strip() for n in names.split(","))


def test_the_registry_is_what_the_next_test_covers(capsys):
    assert _registry(capsys) == sorted(MODELS)


MODELS = ["fusion", "h2rec", "mostpop", "sasrec", "sid"]


@pytest.mark.parametrize("model", MODELS)
def test_evaluate_reproduces_the_training_metrics_for_every_model(model, tmp_path, capsys):
    out = tmp_path / "run"
    if model == "mostpop":                            # nothing to size or train
        assert main(["train", "--model", model, "--preset", "tiny", "--protocols", "full", "--out", str(out)]) == 0
    else:
        extra = ["--hot-start"] if model in ("fusion", "h2rec") else []   # start-up inputs a rebuild must not need
        assert train(out, "--model", model, "--epochs", "2", *extra) == 0
    reported = results(out)["test"]["full"]
    capsys.readouterr()
    evaluated = tmp_path / "eval.json"
    assert main(["evaluate", str(out / "best.npz"), "--protocols", "full", "--out", str(evaluated)]) == 0, \
        capsys.readouterr().err
    again = json.load(open(evaluated))["full"]
    assert again["overall"] == reported["overall"]
    assert again["groups"] == reported["groups"]


@pytest.fixture
def csv_run(tmp_path, monkeypatch):
    """A SASRec run trained on ``data/d.csv`` given by a *relative* path."""
    (tmp_path / "data").mkdir()
    write_csv(tmp_path / "data" / "d.csv", make_synthetic("tiny", seed=0))
    monkeypatch.chdir(tmp_path)
    assert train("run", "--epochs", "2", data=os.path.join("data", "d.csv")) == 0
    return tmp_path, results(tmp_path / "run")["test"]["full"]["overall"]


def test_evaluate_from_another_folder_uses_the_training_data(csv_run, monkeypatch, capsys):
    root, reported = csv_run
    other = root / "elsewhere"
    (other / "data").mkdir(parents=True)
    write_csv(other / "data" / "d.csv", make_synthetic("tiny", seed=1))   # a different d.csv, same relative path
    monkeypatch.chdir(other)
    assert main(["evaluate", str(root / "run" / "best.npz"), "--protocols", "full", "--out", "e.json"]) == 0
    assert json.load(open("e.json"))["full"]["overall"] == reported


def test_evaluate_refuses_changed_data_and_accepts_it_moved(csv_run, capsys):
    root, reported = csv_run
    ckpt = str(root / "run" / "best.npz")
    moved = root / "moved" / "d.csv"
    moved.parent.mkdir()
    shutil.move(root / "data" / "d.csv", moved)
    capsys.readouterr()
    assert main(["evaluate", ckpt, "--protocols", "full"]) == 2          # not where it was
    err = capsys.readouterr().err
    assert "d.csv" in err and "--data" in err and err.count("\n") == 1

    assert main(["evaluate", ckpt, "--protocols", "full", "--data", str(moved), "--out", "m.json"]) == 0
    assert json.load(open("m.json"))["full"]["overall"] == reported

    write_csv(root / "data" / "d.csv", make_synthetic("tiny", seed=1))   # other data at the original path
    capsys.readouterr()
    assert main(["evaluate", ckpt, "--protocols", "full"]) == 2
    err = capsys.readouterr().err
    assert "is not the data" in err and "fingerprint" in err
    assert main(["evaluate", ckpt, "--protocols", "full", "--data", str(root / "data" / "d.csv")]) == 2


def test_evaluate_out_must_be_a_file(tmp_path, capsys):
    assert train(tmp_path / "run", "--epochs", "1") == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run" / "best.npz"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "is a folder" in err and err.count("\n") == 1


def test_evaluate_of_a_run_folder_names_the_file_to_give(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "best.npz" in capsys.readouterr().err
