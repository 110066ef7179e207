"""Trainer: learning beats the popularity floor, resume is bit-identical, runs are deterministic,
non-finite numbers stop training with a clear message."""
import os
import signal

import numpy as np
import pytest

from minih2rec.autograd import Tensor
from minih2rec.config import TrainConfig, preset
from minih2rec.data import make_synthetic, split_leave_one_out
from minih2rec.eval import evaluate
from minih2rec.models.popularity import MostPopular
from minih2rec.models.sasrec import SASRec, SASRecConfig
from minih2rec.train import NonFiniteError, Trainer


@pytest.fixture(scope="module")
def tiny_split():
    return split_leave_one_out(make_synthetic("tiny", seed=0))


def _model(split, **kw):
    return SASRec(SASRecConfig.tiny(split.num_items, **kw))


def _params(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def test_sasrec_beats_most_popular_on_synthetic():
    split = split_leave_one_out(make_synthetic("default", seed=0, num_users=600, num_items=300))
    model = SASRec(SASRecConfig(split.num_items, max_len=30, d=32, blocks=1, dropout=0.2))
    Trainer(model, split, TrainConfig(epochs=12, patience=3, batch_size=64, lr=3e-3),
            progress=False, log=lambda *a: None).fit()
    ours = evaluate(model, split, "test", max_len=30).overall["NDCG@10"]
    pop = evaluate(MostPopular().fit(split), split, "test", max_len=30).overall["NDCG@10"]
    assert ours > 1.5 * pop, (ours, pop)


def test_resume_mid_run_is_bit_identical(tiny_split, tmp_path):
    cfg = preset("tiny", epochs=4, patience=0)
    full = _model(tiny_split)
    Trainer(full, tiny_split, cfg, out_dir=str(tmp_path / "a"), progress=False, log=lambda *a: None).fit()

    first = _model(tiny_split)
    Trainer(first, tiny_split, preset("tiny", epochs=2, patience=0), out_dir=str(tmp_path / "b"),
            progress=False, log=lambda *a: None).fit()
    second = _model(tiny_split, seed=123)            # different init: everything must come from the checkpoint
    second.config.seed = 0
    t = Trainer(second, tiny_split, cfg, out_dir=str(tmp_path / "b"), progress=False, log=lambda *a: None)
    t.resume(str(tmp_path / "b" / "last.npz"))
    assert t.epoch == 2
    t.fit()
    a, b = _params(full), _params(second)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_interrupt_saves_and_resume_matches(tiny_split, tmp_path):
    cfg = preset("tiny", epochs=2, patience=0)
    full = _model(tiny_split)
    Trainer(full, tiny_split, cfg, progress=False, log=lambda *a: None).fit()

    model = _model(tiny_split)
    t = Trainer(model, tiny_split, cfg, out_dir=str(tmp_path), progress=False, log=lambda *a: None)
    original_step, calls = t._step, []

    def step_then_interrupt(batch, step):
        out = original_step(batch, step)
        calls.append(step)
        if len(calls) == 3:                          # Ctrl-C during epoch 1, after step 3
            os.kill(os.getpid(), signal.SIGINT)
        return out
    t._step = step_then_interrupt
    res = t.fit()
    assert res.stopped == "interrupted"
    resumed = _model(tiny_split)
    t2 = Trainer(resumed, tiny_split, cfg, out_dir=str(tmp_path), progress=False, log=lambda *a: None)
    t2.resume(str(tmp_path / "last.npz"))
    assert (t2.epoch, t2.step_in_epoch) == (0, 3)
    t2.fit()
    for k, v in _params(full).items():
        assert np.array_equal(v, resumed.state_dict()[k]), k


def test_same_seed_same_metrics(tiny_split):
    out = []
    for _ in range(2):
        m = _model(tiny_split)
        Trainer(m, tiny_split, preset("tiny"), progress=False, log=lambda *a: None).fit()
        out.append(evaluate(m, tiny_split, "test", max_len=20).overall)
    assert out[0] == out[1]


def test_nan_loss_stops_with_step_and_keeps_checkpoint(tiny_split, tmp_path):
    model = _model(tiny_split)
    t = Trainer(model, tiny_split, preset("tiny", epochs=3, patience=0), out_dir=str(tmp_path),
                progress=False, log=lambda *a: None)
    t.fit()
    good = (tmp_path / "last.npz").read_bytes()
    model.item_emb.weight.data[3] = np.nan
    t2 = Trainer(model, tiny_split, preset("tiny", epochs=5, patience=0), out_dir=str(tmp_path),
                 progress=False, log=lambda *a: None)
    with pytest.raises(NonFiniteError, match=r"epoch 1, step 1: the loss is nan"):
        t2.fit()
    assert (tmp_path / "last.npz").read_bytes() == good


def test_nan_gradient_names_the_tensor(tiny_split):
    model = _model(tiny_split)
    t = Trainer(model, tiny_split, preset("tiny"), progress=False, log=lambda *a: None)
    original = model.loss

    def poisoned(batch):                   # finite loss, NaN gradient for pos_emb only
        w = model.pos_emb.weight
        bad = Tensor.from_op(np.asarray(0, dtype=np.float32), (w,),
                           lambda g: (np.full_like(w.data, np.nan),), "poison")
        return original(batch) + bad
    model.loss = poisoned
    with pytest.raises(NonFiniteError, match=r"gradient of pos_emb\.weight"):
        t.fit()


def test_sampled_softmax_loss_trains_and_resumes_bit_identically(tiny_split, tmp_path):
    cfg = preset("tiny", epochs=2, patience=0)
    full = _model(tiny_split, loss="sampled_softmax", num_negatives=32)
    Trainer(full, tiny_split, cfg, progress=False, log=lambda *a: None).fit()
    first = _model(tiny_split, loss="sampled_softmax", num_negatives=32)
    hist = Trainer(first, tiny_split, preset("tiny", epochs=1, patience=0), out_dir=str(tmp_path),
                   progress=False, log=lambda *a: None)
    hist.fit()
    assert np.isfinite(hist.history[0]["loss"])
    resumed = _model(tiny_split, loss="sampled_softmax", num_negatives=32)
    t = Trainer(resumed, tiny_split, cfg, out_dir=str(tmp_path), progress=False, log=lambda *a: None)
    t.resume(str(tmp_path / "last.npz"))
    t.fit()
    for k, v in _params(full).items():
        assert np.array_equal(v, resumed.state_dict()[k]), k


def test_trainer_batches_follow_window_stride(tiny_split):
    model = _model(tiny_split)                       # tiny: max_len shorter than many histories
    L = model.config.max_len
    targets = {}
    for stride in (0.0, 0.5):
        trainer = Trainer(model, tiny_split, TrainConfig(window_stride=stride), progress=False,
                          log=lambda *a: None)
        targets[stride] = sum(b.num_targets for b in trainer._batches())
    last_only = sum(min(len(s) - 1, L) for s in tiny_split.train if len(s) >= 2)
    assert targets[0.0] == last_only
    assert targets[0.5] > last_only                  # the older items and the short-context rows
