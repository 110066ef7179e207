"""Parity with PyTorch: minih2rec's models against PyTorch twins written in ``bench/_torch_twin.py``.

Two modes (issue 12, item 3). Needs torch (in its own virtual environment; minih2rec never
imports it); without torch it says so and exits 0.

**weights** (default). For SASRec (each block layout), SID-only, fusion and H2Rec (alignment
losses off, on, on with a random L_code subset, and through the row-chunked recompute path),
in float64 with dropout off: build a small minih2rec model, copy its weights into the twin,
run one left-padded batch (rows of different lengths, positions offset as in a dynamic-length
batch) and compare, llm.c style, one ``OK`` / ``NOT OK`` line per check with the worst
absolute difference (tolerance 1e-5):

* scores -- ``H @ E^T`` at every position (B, T, V+1), and ``score_users`` (the evaluation path);
* loss -- the total, and for H2Rec each term (rec, L_code, L_msg); L_msg's masked levels must be
  identical, and L_code's random subset is the same because the twin draws from a copy of
  minih2rec's generator;
* grads -- every parameter's gradient;
* step -- every parameter after one Adam step (lr, betas, eps, weight decay and gradient clipping
  of ``TrainConfig()``, read from minih2rec, not restated here).

Exit status 1 if any check is NOT OK.

**curve** (``--curve``). Train minih2rec and its twin (started from the same weights) on the
same data, leave-one-out split and batches for N epochs, and print both validation NDCG@10
curves side by side (minih2rec's ``evaluate``, full ranking, for both). Float32; dropout as the
model config says (each implementation draws its own masks)::

    python bench/parity_torch.py                                   # weights mode
    python bench/parity_torch.py --curve --data synthetic --epochs 2
    python bench/parity_torch.py --curve --data ~/.cache/minih2rec/ml-100k --format atomic \\
        --epochs 30 --model sasrec --window-stride 0   # the reference script's training rows
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import import_torch_or_exit  # noqa: E402  (also puts the repository on sys.path)

torch = import_torch_or_exit("parity_torch")

import numpy as np  # noqa: E402

import _torch_twin as tw  # noqa: E402
from minih2rec.config import TrainConfig  # noqa: E402
from minih2rec.losses.alignment import lowest_gate_levels  # noqa: E402
from minih2rec.models import (FusionConfig, FusionRec, H2Rec, H2RecConfig, SASRec,  # noqa: E402
                              SASRecConfig, SIDConfig, SIDRec)
from minih2rec.nn import BLOCKS  # noqa: E402
from minih2rec.optim import Adam, clip_grad_norm  # noqa: E402

TOL = 1e-5
V, MAX_LEN, L, K = 40, 12, 3, 4      # small: every check runs in well under a second


# ---------------------------------------------------------------- weights mode
def parity_batch(seed=0, B=6, T=10):
    """Left-padded rows of lengths 1..T (one full row), positions ``arange(MAX_LEN - T, MAX_LEN)``."""
    rng = np.random.default_rng(seed)
    seq, target = np.zeros((B, T), np.int64), np.zeros((B, T), np.int64)
    for b, n in enumerate([T, 1, 3, T - 2, 5, 7][:B]):
        items = rng.integers(1, V + 1, size=n + 1)
        seq[b, T - n:], target[b, T - n:] = items[:-1], items[1:]
    from types import SimpleNamespace
    return SimpleNamespace(seq=seq, target=target, positions=np.arange(MAX_LEN - T, MAX_LEN),
                           neg=None, users=np.arange(B))


def cases():
    """``(label, build)`` pairs; ``build()`` returns a fresh float64 minih2rec model with dropout 0."""
    small = dict(max_len=MAX_LEN, d=16, heads=2, blocks=2, dropout=0.0, seed=3)
    codes = np.random.default_rng(1).integers(0, K, size=(V + 1, L))
    codes[0] = 0
    sid = dict(num_levels=L, codebook_size=K, code_init="random", **small)
    out = [(f"sasrec block={b}", lambda b=b: SASRec(SASRecConfig(V, block=b, **small)))
           for b in BLOCKS]
    out += [("sasrec gelu, ffn 24", lambda: SASRec(SASRecConfig(V, activation="gelu", ffn_hidden=24, **small))),
            ("sid", lambda: SIDRec(SIDConfig(V, **sid), codes)),
            ("fusion", lambda: FusionRec(FusionConfig(V, **sid), codes)),
            ("h2rec rec loss only", lambda: H2Rec(H2RecConfig(V, lambda_code=0.0, lambda_msg=0.0, **sid), codes)),
            ("h2rec + L_code + L_msg", lambda: H2Rec(H2RecConfig(V, lambda_code=0.5, lambda_msg=0.5, **sid), codes)),
            ("h2rec L_code subset (cap 8)", lambda: H2Rec(H2RecConfig(
                V, lambda_code=0.5, lambda_msg=0.5, code_items_cap=8, code_positive_cap=1, **sid), codes)),
            ("h2rec chunked recompute", lambda: _chunked(H2Rec(H2RecConfig(V, lambda_code=0.5, lambda_msg=0.5,
                                                                          **sid), codes))),
            ("h2rec no gate, no residual, 2 backbones", lambda: H2Rec(H2RecConfig(
                V, gate=False, residual=False, shared_backbone=False, sid_projection=True, **sid), codes))]
    return out


def _chunked(model):
    model.parity_max_tokens = 16         # the trainer's opt-in: encode in row chunks (minih2rec/recompute.py)
    return model


def minih2rec_loss(model, batch):
    """``model.loss(batch)``, or the row-chunked recomputed loss for the case that asks for it."""
    max_tokens = getattr(model, "parity_max_tokens", 0)
    if not max_tokens:
        return model.loss(batch)
    from minih2rec.recompute import chunked_loss
    return chunked_loss(model, batch, max_tokens)


class Report:
    """Collects ``OK`` / ``NOT OK`` lines with the worst absolute difference."""

    def __init__(self):
        self.failed = 0

    def check(self, case, what, diff, ok=None):
        ok = diff <= TOL if ok is None else ok
        self.failed += not ok
        print(f"{'OK    ' if ok else 'NOT OK'}  {case:42s} {what:28s} max|diff| {diff:.2e}")


def worst(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) if np.size(a) else 0.0


def check_case(label, build, report):
    model = build().to_dtype(np.float64)
    twin = tw.twin_of(model)
    batch = parity_batch()
    seq, positions, target = tw.as_torch(batch)
    # scores at every position, and the evaluation path (last column)
    H = model.user_states(batch.seq, batch.positions).data @ model.item_table().data.T
    with torch.no_grad():
        Ht = (twin.user_states(seq, positions) @ twin.item_table().t()).numpy()
    report.check(label, "scores (B, T, V+1)", worst(H, Ht))
    report.check(label, "score_users (B, V+1)", worst(model.score_users(batch.seq, batch.positions),
                                                      twin.score_users(batch.seq, batch.positions)))
    # loss and each term; the twin's NumPy generator starts where minih2rec's does
    if hasattr(twin, "rng"):
        twin.rng.bit_generator.state = model.rng.bit_generator.state
    loss = minih2rec_loss(model, batch)
    loss_t = twin.loss(seq, positions, target)
    report.check(label, "loss", abs(float(loss.data) - float(loss_t.detach())))
    for term, value in getattr(model, "last_losses", {}).items():
        if len(model.last_losses) > 1:
            report.check(label, f"  loss term {term}", abs(value - float(twin.last_losses[term])))
    if getattr(model.config, "lambda_msg", 0) > 0:
        alpha = model.gate_weights(batch.seq, batch.positions)                  # (B, L)
        same = np.array_equal(lowest_gate_levels(alpha, model.config.mask_levels), twin.last_masked.numpy())
        report.check(label, "  L_msg masked levels", 0.0 if same else 1.0, ok=same)
    # gradients, then one Adam step as the Trainer takes it
    tc = TrainConfig()
    opt = Adam(model.parameters(), lr=tc.lr, betas=tuple(tc.betas), weight_decay=tc.weight_decay)
    opt_t = torch.optim.Adam(twin.parameters(), lr=opt.lr, betas=opt.betas, eps=opt.eps,
                             weight_decay=opt.weight_decay)
    opt.zero_grad()
    loss.backward()
    opt_t.zero_grad()
    loss_t.backward()
    named_t = dict(twin.named_parameters())
    grads = [(worst(p.grad if p.grad is not None else 0 * p.data,
                    named_t[n].grad if named_t[n].grad is not None else 0 * p.data), n)
             for n, p in model.named_parameters()]
    g, name = max(grads)
    report.check(label, f"grads ({len(grads)} tensors)", g)
    if tc.clip_norm > 0:
        clip_grad_norm(model.parameters(), tc.clip_norm)
        tw.clip_grad_norm(list(twin.parameters()), tc.clip_norm)
    opt.step()
    opt_t.step()
    after = max(worst(p.data, named_t[n].detach()) for n, p in model.named_parameters())
    report.check(label, "params after 1 Adam step", after)
    if g > TOL:
        print(f"        worst gradient: {name}")


def weights_mode():
    torch.set_num_threads(1)
    tc = TrainConfig()
    print(f"parity_torch: minih2rec vs PyTorch {torch.__version__} twins, float64, dropout 0, "
          f"tolerance {TOL:g} (Adam lr {tc.lr}, betas {tuple(tc.betas)}, clip {tc.clip_norm})")
    report = Report()
    for label, build in cases():
        check_case(label, build, report)
    print("all OK" if not report.failed else f"{report.failed} check(s) NOT OK")
    return 1 if report.failed else 0


# ---------------------------------------------------------------- curve mode
def torch_step(twin, opt, batch, clip_norm):
    """One training step of the twin, as minih2rec's Trainer takes it (clip if configured, Adam)."""
    loss = twin.loss(*tw.as_torch(batch))
    opt.zero_grad()
    loss.backward()
    if clip_norm > 0:
        tw.clip_grad_norm(list(twin.parameters()), clip_norm)
    opt.step()
    return float(loss.detach())


def curve_mode(args):
    from minih2rec.data import split_leave_one_out
    from minih2rec.eval import evaluate
    from minih2rec.experiment import DataSpec, build_model
    from minih2rec.train import Trainer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)                          # the twin's dropout masks
    spec = (DataSpec(source="synthetic") if args.data == "synthetic"
            else DataSpec(source=os.path.expanduser(args.data), format=args.format))
    inter = spec.load()
    split = split_leave_one_out(inter)
    tc = TrainConfig(seed=args.seed, epochs=args.epochs, window_stride=args.window_stride)
    model = build_model(args.model, inter, split, {}, seed=args.seed)
    twin = tw.twin_of(model)                              # same starting weights
    trainer = Trainer(model, split, tc, progress=False, log=lambda *a: None)
    opt = trainer.optimizer
    opt_t = torch.optim.Adam(twin.parameters(), lr=opt.lr, betas=opt.betas, eps=opt.eps,
                             weight_decay=opt.weight_decay)
    c = model.config
    print(f"parity_torch --curve: {args.model} on {inter.describe()}")
    print(f"  model config: {c}")
    print(f"  training: batch {tc.batch_size}, Adam lr {opt.lr} betas {opt.betas} eps {opt.eps}, "
          f"clip {tc.clip_norm}, window stride {tc.window_stride}; the same batches for both; "
          f"torch {torch.__version__}, {args.threads} torch thread(s)")
    print("  validation NDCG@10, full ranking over all items (training items excluded), minih2rec's evaluate")
    print(f"{'epoch':>5}  {'loss mh':>8} {'loss torch':>10}  {'NDCG@10 mh':>10} {'NDCG@10 torch':>13}  "
          f"{'tail mh':>7} {'tail torch':>10}  {'s mh':>6} {'s torch':>7}")
    best = {"minih2rec": (-1.0, 0), "torch": (-1.0, 0)}
    for epoch in range(1, args.epochs + 1):
        batches = list(trainer._batches())               # the Trainer's own batching and rng
        model.train()
        twin.train()
        t0 = time.perf_counter()
        loss_m = np.mean([trainer._step(b, i) for i, b in enumerate(batches)])
        t1 = time.perf_counter()
        loss_t = np.mean([torch_step(twin, opt_t, b, tc.clip_norm) for b in batches])
        t2 = time.perf_counter()
        res = {name: evaluate(m, split, stage="valid", protocol="full", max_len=c.max_len, seed=tc.seed,
                              batch_size=tc.eval_batch_size)
               for name, m in (("minih2rec", model), ("torch", twin))}
        ndcg = {k: r.overall["NDCG@10"] for k, r in res.items()}
        tail = {k: r.get("tail", "NDCG@10") if "tail" in r.groups else float("nan") for k, r in res.items()}
        for k in best:
            if ndcg[k] > best[k][0]:
                best[k] = (ndcg[k], epoch)
        print(f"{epoch:5d}  {loss_m:8.4f} {loss_t:10.4f}  {ndcg['minih2rec']:10.4f} {ndcg['torch']:13.4f}  "
              f"{tail['minih2rec']:7.4f} {tail['torch']:10.4f}  {t1 - t0:6.1f} {t2 - t1:7.1f}", flush=True)
    print(f"best validation NDCG@10: minih2rec {best['minih2rec'][0]:.4f} (epoch {best['minih2rec'][1]}), "
          f"torch {best['torch'][0]:.4f} (epoch {best['torch'][1]})")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--curve", action="store_true", help="training-curve mode (default: weights mode)")
    p.add_argument("--data", default="synthetic", help="'synthetic' or a dataset path (curve mode)")
    p.add_argument("--format", default=None, help="loader format of --data, e.g. atomic (default: detect)")
    p.add_argument("--model", default="sasrec", choices=["sasrec", "sid", "fusion", "h2rec"])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (curve mode)")
    p.add_argument("--window-stride", type=float, default=TrainConfig().window_stride,
                   help="curve mode: training windows, as minih2rec's --window-stride (0 = the last "
                        "max_len items of each user only, the reference script's data)")
    args = p.parse_args()
    return curve_mode(args) if args.curve else weights_mode()


if __name__ == "__main__":
    sys.exit(main())
