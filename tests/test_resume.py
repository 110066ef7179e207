"""``--resume`` continues a run only on its own data and settings; ``--override`` allows sound changes."""
import numpy as np
import pytest

from _runs import results, train
from minih2rec.checkpoint import load_checkpoint
from minih2rec.config import TrainConfig
from minih2rec.data import make_synthetic
from minih2rec.fingerprint import data_fingerprint
from minih2rec.resume import parse_overrides


@pytest.fixture(scope="module")
def first_epoch(tmp_path_factory):
    """A run stopped after 1 of 3 epochs: its folder holds a resumable last.npz."""
    out = tmp_path_factory.mktemp("resume") / "run"
    assert train(out, "--epochs", "1") == 0
    return out


def _resume(first_epoch, tmp_path, *extra):
    import shutil
    out = tmp_path / "run"
    shutil.copytree(first_epoch, out)
    return out, train(out, "--epochs", "1", "--resume", str(out / "last.npz"), *extra)


def test_fingerprint_follows_the_data_not_the_object():
    a, b = make_synthetic("tiny", seed=0), make_synthetic("tiny", seed=0)
    assert data_fingerprint(a) == data_fingerprint(b)
    assert data_fingerprint(a) != data_fingerprint(make_synthetic("tiny", seed=1))
    b.sequences[3] = b.sequences[3][::-1].copy()         # same items, another order
    assert data_fingerprint(a) != data_fingerprint(b)


def test_checkpoint_stores_fingerprint_config_and_command(first_epoch):
    _, meta = load_checkpoint(str(first_epoch / "last.npz"))
    assert meta["data_fingerprint"] == data_fingerprint(make_synthetic("tiny", seed=0))
    assert meta["train_config"]["epochs"] == 1 and meta["model_config"]["d"] == 16
    assert "--epochs 1" in meta["command"]


def test_other_data_is_refused(first_epoch, tmp_path, capsys):
    out, rc = _resume(first_epoch, tmp_path, "--data-seed", "1")
    assert rc == 2
    err = capsys.readouterr().err
    assert "data differs" in err and "--data-seed" in err and err.count("\n") == 1


@pytest.mark.parametrize("flags, expected", [
    (["--lr", "0.5"], "lr (--lr) 0.001 -> 0.5"),
    (["--batch-size", "32"], "batch_size (--batch-size) 64 -> 32"),
    (["--dropout", "0.3"], "dropout (--dropout)"),
    (["--window-stride", "0"], "window_stride (--window-stride) 0.5 -> 0.0"),
    (["--model", "sid"], "model (--model) sasrec -> sid")])
def test_every_changed_setting_is_listed(first_epoch, tmp_path, capsys, flags, expected):
    out, rc = _resume(first_epoch, tmp_path, *flags)
    assert rc == 2
    err = capsys.readouterr().err
    assert expected in err and "--override" in err and err.count("\n") == 1
    _, meta = load_checkpoint(str(out / "last.npz"))
    assert meta["epoch"] == 1                            # nothing was trained or overwritten


def test_a_checkpoint_from_before_training_windows_resumes_only_on_its_own_rows(first_epoch, tmp_path,
                                                                              capsys):
    import shutil
    from minih2rec.checkpoint import save_checkpoint
    old = tmp_path / "old"
    shutil.copytree(first_epoch, old)
    arrays, meta = load_checkpoint(str(old / "last.npz"))
    del meta["train_config"]["window_stride"]            # older checkpoints did not record it
    save_checkpoint(str(old / "last.npz"), arrays, meta)
    assert train(old, "--epochs", "1", "--resume", str(old / "last.npz")) == 2
    err = capsys.readouterr().err
    assert "window_stride (--window-stride) 0.0 -> 0.5" in err and err.count("\n") == 1
    assert train(old, "--epochs", "1", "--resume", str(old / "last.npz"), "--window-stride", "0") == 0


def test_two_differences_are_both_listed(first_epoch, tmp_path, capsys):
    _, rc = _resume(first_epoch, tmp_path, "--lr", "0.5", "--patience", "7")
    err = capsys.readouterr().err
    assert rc == 2 and "--lr" in err and "--patience" in err


def test_override_allows_a_sound_change_and_records_it(first_epoch, tmp_path, capsys):
    out, rc = _resume(first_epoch, tmp_path, "--override", "lr=0.01", "--override", "epochs=2")
    assert rc == 0, capsys.readouterr().err
    res = results(out)
    assert res["train_config"]["lr"] == 0.01 and res["train"]["epochs_run"] == 2
    assert {(o["key"], o["from"], o["to"], o["epoch"]) for o in res["overrides"]} == \
        {("lr", 0.001, 0.01, 1), ("epochs", 1, 2, 1)}
    _, meta = load_checkpoint(str(out / "last.npz"))
    assert [o["key"] for o in meta["overrides"]] == [o["key"] for o in res["overrides"]]


def test_override_really_changes_the_step_size(first_epoch, tmp_path):
    """lr=0.01 after resume must train differently from the checkpoint's lr (not be ignored)."""
    a, rc_a = _resume(first_epoch, tmp_path / "a", "--override", "epochs=2")
    b, rc_b = _resume(first_epoch, tmp_path / "b", "--override", "epochs=2", "--override", "lr=0.01")
    assert rc_a == rc_b == 0
    wa, _ = load_checkpoint(str(a / "last.npz"))
    wb, _ = load_checkpoint(str(b / "last.npz"))
    assert not np.array_equal(wa["model/item_emb.weight"], wb["model/item_emb.weight"])


@pytest.mark.parametrize("item, message", [
    ("batch_size=32", "cannot change on resume"), ("lr", "expected KEY=VALUE"),
    ("epochs=two", "not a valid int"), ("lr=inf", "--lr")])
def test_unsound_or_malformed_overrides_are_refused(first_epoch, tmp_path, capsys, item, message):
    _, rc = _resume(first_epoch, tmp_path, "--override", item)
    assert rc == 2 and message in capsys.readouterr().err


def test_override_without_resume_is_refused(tmp_path, capsys):
    assert train(tmp_path / "run", "--override", "lr=0.1") == 2
    assert "needs --resume" in capsys.readouterr().err


def test_parse_overrides_types_values_as_the_config():
    got = parse_overrides(["epochs=5", "lr=1e-2", "eval-batch-size=64"])
    assert got == {"epochs": 5, "lr": 0.01, "eval_batch_size": 64}
    assert isinstance(got["epochs"], int) and isinstance(got["lr"], float)
    TrainConfig(**got)
