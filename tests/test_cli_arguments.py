"""Flags that used to be silently ignored or checked too late (issue 15), and the compare printout."""
import importlib
import json
import os
import re

import pytest

from minih2rec.__main__ import main
from minih2rec.compare import format_table

compare_module = importlib.import_module("minih2rec.compare")   # the package exports a function of that name

TINY = ["--data", "synthetic", "--preset", "tiny", "--train-preset", "tiny", "--epochs", "1",
        "--max-len", "10", "--d", "8", "--blocks", "1"]


def one_error_line(capsys):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("flags, named", [
    (["--data", "synthetic", "--format", "csv"], "--format csv applies to files (--data PATH) only"),
    (["--data", "synthetic", "--k-core", "3"], "--k-core 3 applies to files (--data PATH) only"),
    (["--data", "NEVER_READ.csv", "--preset", "tiny"], "--preset tiny applies to --data synthetic only"),
    (["--data", "NEVER_READ.csv", "--data-seed", "4"], "--data-seed 4 applies to --data synthetic only"),
    (["--data", "NEVER_READ.csv", "--k-core", "-1"], "--k-core -1: must be >= 0"),
])
@pytest.mark.parametrize("command", ["train", "sids"])
def test_flags_that_would_do_nothing_are_errors(tmp_path, capsys, monkeypatch, command, flags, named):
    monkeypatch.chdir(tmp_path)                  # NEVER_READ.csv does not exist: checked before loading
    extra = ["--no-progress", "--out", str(tmp_path / "o")] if command == "train" else ["--out", "c.npz"]
    assert main([command] + flags + extra) == 2
    assert named in one_error_line(capsys)


def _no_training(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("compare trained a model before rejecting its arguments")
    monkeypatch.setattr(compare_module, "run", fail)


@pytest.mark.parametrize("flags, named", [
    (["--models", "sasrec", "h2rek"], "compare --models h2rek: unknown model 'h2rek'"),
    (["--models", "sasrec", "sasrec"], "compare --models names 'sasrec' twice"),
    (["--models", "h2rec", "--dropout", "1.5"], "compare --models h2rec:"),
    (["--seeds", "0", "0"], "compare --seeds names 0 twice"),
    (["--seeds", "-1"], "compare --seeds -1: a seed is an integer >= 0"),
])
def test_compare_validates_every_argument_before_any_work(tmp_path, capsys, monkeypatch, flags, named):
    _no_training(monkeypatch)
    assert main(["compare"] + TINY + ["--out", str(tmp_path / "c"), "--no-progress"] + flags) == 2
    assert named in one_error_line(capsys)
    assert not (tmp_path / "c").exists()


def test_compare_has_one_protocol_flag(capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", "--protocols", "sampled"])
    assert info.value.code == 2
    assert "unrecognized arguments: --protocols" in capsys.readouterr().err


def test_compare_table_columns_follow_the_readme_and_end_with_the_ratio_line():
    row = {"overall NDCG@10": 0.1, "head NDCG@10": 0.2, "tail NDCG@10": 0.05, "overall HR@10": 0.3,
           "head HR@10": 0.4, "tail HR@10": 0.1, "parameters": 1000, "epochs": 12.0, "seconds_per_epoch": 1.5}
    h2 = dict(row, **{"overall NDCG@10": 0.125, "head NDCG@10": 0.19, "tail NDCG@10": 0.08})
    summary = {"description": "d", "seeds": [0], "models": {"sasrec": row, "h2rec": h2},
               "h2rec_over_sasrec": compare_module._ratios(h2, row)}
    lines = format_table(summary).splitlines()
    assert lines[1].split() == ["model", "NDCG@10", "all", "NDCG@10", "head", "NDCG@10", "tail", "HR@10",
                                "all", "HR@10", "head", "HR@10", "tail", "params", "epochs", "s/epoch"]
    assert lines[2].split()[:7] == ["sasrec", "0.1000", "0.2000", "0.0500", "0.3000", "0.4000", "0.1000"]
    assert lines[-1] == "H2Rec / SASRec: overall 1.250x, head 0.950x, tail 1.600x (NDCG@10)"
    zero = dict(row, **{"tail NDCG@10": 0.0})
    assert compare_module._ratios(h2, zero)["tail"] is None


def test_compare_json_table_progress_and_default_folder_of_a_tiny_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    old = os.umask(0o022)
    try:
        assert main(["compare", "--models", "sasrec", "h2rec", "--seeds", "3", "--json"] + TINY) == 0
    finally:
        os.umask(old)
    captured = capsys.readouterr()
    out = tmp_path / "runs" / "compare-synthetic-tiny"          # not the full-size run's folder
    assert (out / "compare.json").is_file() and not (tmp_path / "runs" / "compare-synthetic").exists()
    assert (out / "compare.json").stat().st_mode & 0o777 == 0o644
    printed = json.loads(captured.out[captured.out.index("\n{") + 1:])    # --json: the summary
    stored = json.load(open(out / "compare.json"))
    assert printed["models"] == stored["models"] and printed["seeds"] == [3]
    ratios = stored["h2rec_over_sasrec"]
    assert re.search(rf"H2Rec / SASRec: overall {ratios['overall']:.3f}x, head .*x, tail .*x",
                     captured.out)
    assert "sasrec seed 3 epoch 1" in captured.err and "h2rec seed 3 epoch 1" in captured.err  # the bars


def test_train_tiny_preset_default_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "sasrec", "--protocols", "full", "--no-progress"] + TINY) == 0
    assert (tmp_path / "runs" / "sasrec-synthetic-tiny" / "results.json").is_file()


@pytest.mark.parametrize("flags, stride", [([], 0.5), (["--window-stride", "0"], 0.0)])
def test_window_stride_flag_reaches_the_training_config(tmp_path, capsys, monkeypatch, flags, stride):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "sasrec", "--protocols", "full", "--no-progress"] + TINY + flags) == 0
    stored = json.loads((tmp_path / "runs" / "sasrec-synthetic-tiny" / "results.json").read_text())
    assert stored["train_config"]["window_stride"] == stride


def test_window_stride_out_of_range_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "sasrec", "--no-progress", "--window-stride", "1.5"] + TINY) == 2
    assert "--window-stride" in one_error_line(capsys)
