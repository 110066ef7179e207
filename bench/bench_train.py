"""Training throughput and peak memory of one epoch, measured side by side in one run.

Each configuration runs in its own subprocess, so its peak RSS (``ru_maxrss``) is its
own. Printed per configuration: seconds per epoch, sequences/s, seconds of one evaluation
pass (full ranking of the validation split, as the Trainer runs it after each epoch; wall
time and the process's CPU time, which a busy machine inflates less), peak RSS.

Configurations (``--set``):

* ``sasrec``  -- SASRec on an ML-1M-shaped synthetic workload (6,040 users, 3,416 items,
  ~1M interactions), d=64, 2 blocks, 1 head, max_len 200, batch 128, full softmax,
  once with dynamic-length batches and once padded to max_len.
* ``h2rec``   -- H2Rec on the ML-1M-shaped workload (same settings, L=4, K=128) and on a
  Yelp-shaped one (15,720 users, 11,383 items, lengths 3 + lognormal(1.49, 1.2) capped at
  400), d=128, batch 128, L=4, K=128, 2 blocks, the paper's ``bce`` loss with both
  alignment losses on (the public PyTorch code needs ~870 s/epoch and 6.9 GB on the
  Yelp-shaped workload on a 2-core machine).

    python bench/bench_train.py --set sasrec            # issue 3
    python bench/bench_train.py --set h2rec             # issue 5
    python bench/bench_train.py --set sasrec --quick    # a fraction of the users
    python bench/bench_train.py --set h2rec --only yelp --blas-threads 1
    python bench/bench_train.py --set h2rec --only yelp --blas-threads 1 --eval-only  # no epoch
    python bench/bench_train.py --set h2rec --only ml-1m --steps 8 --max-batch-tokens 0   # one shot

Levers the measured configurations use (each documented where it lives):

* dynamic length -- each batch is cut to its longest row (``TrainConfig.dynamic_length``);
* length buckets (the H2Rec sets; ``TrainConfig.bucket``, on by default) -- users of similar length share
  a batch, so the long-tailed Yelp lengths (median 7, a few of 200) cost about their real
  tokens: ~150k row-tokens per epoch instead of ~1.5M with random batches;
* row-chunked recomputation (the H2Rec sets; ``TrainConfig.max_batch_tokens`` = 3,072, off by
  default; ``minih2rec/recompute.py``) -- an H2Rec batch above 3,072 rows x columns is encoded
  in chunks of sorted rows, each cut to its own length, and recomputed in backward: bounded
  memory, the same loss (``--max-batch-tokens 0`` measures the one-shot step instead);
* lean fused ops -- dropout and attention-dropout masks stored as bools, attention scores
  masked / exponentiated in place (``autograd/fused.py``).

BLAS threads are not set by the package; ``--blas-threads N`` runs the children with
``OPENBLAS_NUM_THREADS=N`` (on a loaded 2-core machine 1 thread is often faster).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

SETS = {
    "sasrec": [
        dict(label="SASRec ML-1M-shaped, dynamic length", model="sasrec", shape="ml-1m",
             dynamic=True, loss="full_softmax", d=64, max_len=200),
        dict(label="SASRec ML-1M-shaped, padded to max_len", model="sasrec", shape="ml-1m",
             dynamic=False, loss="full_softmax", d=64, max_len=200),
    ],
    "h2rec": [
        dict(label="H2Rec ML-1M-shaped (d=64, full softmax), bucketed", model="h2rec", shape="ml-1m",
             dynamic=True, bucket=True, loss="full_softmax", d=64, max_len=200, levels=4, K=128,
             max_batch_tokens=3072),
        dict(label="H2Rec Yelp-shaped (d=128, bce + L_code + L_msg), bucketed", model="h2rec",
             shape="yelp", dynamic=True, bucket=True, loss="bce", d=128, max_len=200, levels=4, K=128,
             max_batch_tokens=3072),
    ],
}


def run_one(cfg, quick, eval_only=False):
    """Build the workload and model of ``cfg``, time one epoch (unless ``eval_only``) and one
    full-ranking validation pass; return a dict of measurements."""
    import numpy as np

    from minih2rec.config import TrainConfig
    from minih2rec.data import make_shaped_like, split_leave_one_out
    from minih2rec.eval import evaluate
    from minih2rec.experiment import build_model
    from minih2rec.train import Trainer

    over = {"num_users": int(quick * 1000)} if quick else {}
    inter = make_shaped_like(cfg["shape"], seed=0, **over)
    split = split_leave_one_out(inter)
    overrides = dict(max_len=cfg["max_len"], d=cfg["d"], blocks=2, heads=1, loss=cfg["loss"])
    if cfg["model"] == "h2rec":
        overrides.update(num_levels=cfg["levels"], codebook_size=cfg["K"])
    t0 = time.perf_counter()
    model = build_model(cfg["model"], inter, split, overrides, seed=0)
    setup_s = time.perf_counter() - t0
    # one row per user (window_stride 0): the epoch the speed targets were set on; the default
    # windows (0.5) add rows on long histories (ML-100K: 4,287 rows instead of 943)
    tc = TrainConfig(epochs=1, batch_size=128, dynamic_length=cfg["dynamic"], patience=0,
                     bucket=cfg.get("bucket", False), max_batch_tokens=cfg.get("max_batch_tokens", 0),
                     window_stride=cfg.get("window_stride", 0.0))
    trainer = Trainer(model, split, tc, progress=False, log=lambda *a: None)
    users = sum(1 for s in split.train if len(s) >= 2)
    epoch_s = train_rss_mb = None
    if not eval_only:
        t0 = time.perf_counter()
        if cfg.get("steps"):                     # the first N batches of the epoch only
            model.train()
            for step, batch in zip(range(cfg["steps"]), trainer._batches()):
                trainer._step(batch, step)
        else:
            trainer._run_epoch()
        epoch_s = time.perf_counter() - t0
        train_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    # the pass the Trainer runs after each epoch (its cost does not depend on the weights)
    t0, c0 = time.perf_counter(), time.process_time()
    res = evaluate(model, split, stage="valid", protocol="full", max_len=cfg["max_len"],
                   batch_size=tc.eval_batch_size)
    eval_s, eval_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(label=cfg["label"], users=users, blas=os.environ.get("OPENBLAS_NUM_THREADS", "default"),
                interactions=int(inter.num_interactions),
                setup_s=round(setup_s, 1), epoch_s=None if eval_only else round(epoch_s, 1),
                seq_per_s=None if eval_only else round(users / epoch_s, 1),
                eval_s=round(eval_s, 1), eval_cpu_s=round(eval_cpu_s, 1), eval_users=res.counts["overall"],
                peak_rss_mb=round(rss_mb), train_rss_mb=train_rss_mb, np=np.__version__)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", choices=sorted(SETS), default="sasrec")
    p.add_argument("--quick", type=float, default=0.0,
                   help="use QUICK*1000 users instead of the full workload (e.g. 0.5)")
    p.add_argument("--only", default="", help="run only configurations whose label contains this")
    p.add_argument("--blas-threads", type=int, default=0,
                   help="OPENBLAS_NUM_THREADS for the measured processes (0 = leave the default)")
    p.add_argument("--eval-only", action="store_true",
                   help="skip the training epoch; time only the evaluation pass")
    p.add_argument("--max-batch-tokens", type=int, default=-1,
                   help="override the configurations' TrainConfig.max_batch_tokens (0 = one shot)")
    p.add_argument("--window-stride", type=float, default=0.0,
                   help="training windows (TrainConfig.window_stride); 0 = one row per user, the "
                        "epoch the targets were set on")
    p.add_argument("--steps", type=int, default=0,
                   help="time the first STEPS batches instead of a whole epoch")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child is not None:                       # inside the subprocess
        print(json.dumps(run_one(json.loads(args.child), args.quick, args.eval_only)))
        return 0
    from minih2rec import format_backend_info
    print(format_backend_info())
    rows = []
    env = dict(os.environ)
    if args.blas_threads > 0:
        env["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
    print(f"OPENBLAS_NUM_THREADS={env.get('OPENBLAS_NUM_THREADS', 'default')}")
    for cfg in SETS[args.set]:
        if args.only.lower() not in cfg["label"].lower():
            continue
        if args.window_stride:
            cfg = dict(cfg, window_stride=args.window_stride,
                       label=f"{cfg['label']}, window_stride={args.window_stride}")
        if args.max_batch_tokens >= 0:
            cfg = dict(cfg, max_batch_tokens=args.max_batch_tokens,
                       label=f"{cfg['label']}, max_batch_tokens={args.max_batch_tokens}")
        if args.steps > 0:
            cfg = dict(cfg, steps=args.steps)
        cmd = [sys.executable, __file__, "--child", json.dumps(cfg), "--quick", str(args.quick)]
        out = subprocess.run(cmd + (["--eval-only"] if args.eval_only else []),
                             capture_output=True, text=True, env=env)
        if out.returncode != 0:
            print(f"{cfg['label']}: FAILED\n{out.stderr[-2000:]}")
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        what = f"{args.steps} steps" if args.steps > 0 else "epoch"
        epoch = (f"{what}       -" if r["epoch_s"] is None
                 else f"{what} {r['epoch_s']:7.1f}s (peak RSS {r['train_rss_mb']} MB)" if args.steps > 0
                 else f"{what} {r['epoch_s']:7.1f}s  {r['seq_per_s']:7.1f} seq/s")
        print(f"{r['label']:50s} users {r['users']:6d}  {epoch}  "
              f"eval {r['eval_s']:6.1f}s, CPU {r['eval_cpu_s']:.1f}s ({r['eval_users']:,} users, full ranking, valid)  "
              f"peak RSS {r['peak_rss_mb']:6d} MB  (setup {r['setup_s']}s)")
    if args.set == "sasrec" and len(rows) == 2 and rows[0]["epoch_s"] is not None:
        print(f"dynamic-length speed-up: {rows[1]['epoch_s'] / rows[0]['epoch_s']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
