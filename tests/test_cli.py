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


def test_sids_command_writes_codes_report_and_figure(tmp_path, capsys):
    from minih2rec.semantic.ids import SemanticIDs
    out = tmp_path / "sub" / "codes.npz"
    assert main(["sids", "--data", "synthetic", "--preset", "tiny", "--levels", "2",
                 "--codebook-size", "8", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "collision rate" in text and "codes used" in text
    sids = SemanticIDs.load(str(out), num_items=150)
    assert sids.codes.shape == (151, 2) and sids.codes.max() < 8
    assert (tmp_path / "sub" / "codes.png").stat().st_size > 1000


def test_sids_file_feeds_train_and_is_refused_for_other_data(tmp_path, capsys):
    codes = tmp_path / "codes.npz"
    assert main(["sids", "--data", "synthetic", "--preset", "tiny", "--levels", "2", "--codebook-size", "8",
                 "--out", str(codes)]) == 0
    out = tmp_path / "run"
    assert main(["train", "--model", "h2rec", "--data", "synthetic", "--preset", "tiny", "--sids", str(codes),
                 "--train-preset", "tiny", "--epochs", "1", "--max-len", "10", "--d", "8", "--blocks", "1",
                 "--protocols", "full", "--out", str(out), "--no-progress"]) == 0
    config = json.load(open(out / "results.json"))["model_config"]
    assert (config["num_levels"], config["codebook_size"]) == (2, 8)
    assert main(["compare", "--models", "sasrec", "sid", "--data", "synthetic", "--preset", "tiny",
                 "--sids", str(codes), "--train-preset", "tiny", "--epochs", "1", "--max-len", "10", "--d", "8",
                 "--blocks", "1", "--out", str(tmp_path / "cmp"), "--no-progress"]) == 0
    runs = json.load(open(tmp_path / "cmp" / "compare.json"))["runs"]
    assert runs["sid"][0]["model_config"]["codebook_size"] == 8
    capsys.readouterr()
    assert main(["train", "--model", "sid", "--data", "synthetic", "--preset", "tiny", "--data-seed", "1",
                 "--sids", str(codes), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: semantic-ID file") and "codes.npz" in err and "rebuild" in err
    assert len(err.splitlines()) == 1
    assert main(["train", "--model", "sasrec", "--sids", str(codes), "--no-progress"]) == 2
    assert "'sasrec' uses no semantic IDs" in capsys.readouterr().err


def test_sids_rejects_codebook_larger_than_catalogue(tmp_path, capsys):
    assert main(["sids", "--data", "synthetic", "--preset", "tiny", "--codebook-size", "500",
                 "--out", str(tmp_path / "c.npz")]) == 2
    assert "codebook_size=500 is larger than the number of items (150)" in capsys.readouterr().err


@pytest.mark.parametrize("args, field", [
    (["--max-len", "0"], "max_len"), (["--dropout", "1.0"], "dropout"),
    (["--d", "30", "--heads", "4"], "heads"), (["--model", "h2rec", "--codebook-size", "0"], "codebook_size"),
    (["--num-negatives", "0"], "num_negatives")])
def test_impossible_settings_fail_before_loading_data(tmp_path, capsys, args, field):
    missing = str(tmp_path / "never-read.csv")          # would raise FileNotFoundError if loaded first
    assert main(["train", "--data", missing, "--no-progress"] + args) == 2
    assert field in capsys.readouterr().err


def test_codebook_larger_than_catalogue_names_the_field(capsys):
    assert main(["train", "--model", "h2rec", "--data", "synthetic", "--preset", "tiny", "--codebook-size", "151",
                 "--no-progress"]) == 2
    assert "codebook_size" in capsys.readouterr().err


def test_compare_writes_table_figure_and_json_with_h2rec_flags(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)                        # no --out: the default runs/compare-synthetic-tiny
    out = tmp_path / "runs" / "compare-synthetic-tiny"
    rc = main(["compare", "--data", "synthetic", "--preset", "tiny", "--models", "sasrec", "h2rec",
               "--seeds", "0", "--train-preset", "tiny", "--max-len", "20", "--d", "16",
               "--blocks", "1", "--hot-start", "--hid-dropout", "0.1", "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "sasrec" in text and "h2rec" in text and "tail" in text
    result = json.load(open(out / "compare.json"))
    config = {m: runs[0]["model_config"] for m, runs in result["runs"].items()}
    assert config["h2rec"]["hot_start"] is True and config["h2rec"]["hid_dropout"] == 0.1
    assert "hot_start" not in config["sasrec"] and "hid_dropout" not in config["sasrec"]
    assert (out / "compare_buckets.png").stat().st_size > 0
    other = result["other_protocol"]                   # both protocols: the table's and the paper's
    assert other["protocol"] == "sampled" and set(other["models"]) == {"sasrec", "h2rec"}
    assert "100 sampled negatives" in other["description"] or "sampled" in other["description"]
    assert text.count("H2Rec / SASRec") == 2


@pytest.mark.parametrize("flags, named", [(["--lr", "inf"], "--lr"), (["--lr", "nan"], "--lr"),
                                          (["--seed", "-1"], "--seed"),
                                          (["--max-batch-tokens", "-1"], "--max-batch-tokens")])
def test_bad_training_numbers_name_the_flag_before_any_work(tmp_path, capsys, flags, named):
    missing = str(tmp_path / "never-read.csv")          # would raise FileNotFoundError if loaded first
    assert main(["train", "--data", missing, "--out", str(tmp_path / "run"), "--no-progress"] + flags) == 2
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1


def test_sids_out_at_an_existing_folder_is_one_line(tmp_path, capsys):
    assert main(["sids", "--data", "synthetic", "--preset", "tiny", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "is a folder" in err and err.count("\n") == 1


def test_num_negatives_and_max_batch_tokens_reach_the_run(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--model", "h2rec", "--data", "synthetic", "--preset", "tiny", "--train-preset", "tiny",
               "--epochs", "1", "--max-len", "20", "--d", "8", "--blocks", "1", "--loss", "sampled_softmax",
               "--num-negatives", "7", "--max-batch-tokens", "64", "--out", str(out), "--no-progress",
               "--protocols", "full"])
    assert rc == 0, capsys.readouterr().err
    results = json.load(open(out / "results.json"))
    assert results["model_config"]["num_negatives"] == 7
    assert results["train_config"]["max_batch_tokens"] == 64

