"""The comparison users came for: SASRec vs SID-only vs naive fusion vs H2Rec.

Every model gets the same data, split, seeds, training budget (early stopping
on validation NDCG@10) and evaluation. With several seeds, each metric is the
mean over seeds (the per-seed numbers are kept in the JSON). The figure shows
NDCG@10 per popularity bucket, one line per model: the head/tail seesaw and
whether H2Rec resolves it.
"""
import os
import time

import numpy as np

from .checkpoint import atomic_write_json
from .experiment import run

DEFAULT_MODELS = ("sasrec", "sid", "fusion", "h2rec")
TABLE_GROUPS = ("overall", "head", "tail")
TABLE_METRICS = ("HR@10", "NDCG@10")


def compare(data, models=DEFAULT_MODELS, seeds=(0,), train_config=None, model_overrides=None,
            protocol="full", out_dir="runs/compare", progress=True, log=print):
    """Train and evaluate each of ``models`` for each seed; return the summary dict.

    Parameters
    ----------
    data : experiment.DataSpec
    models : model names (see ``models.registry``)
    seeds : training seeds; metrics are averaged over them
    train_config : TrainConfig shared by all models (its seed is replaced per run)
    model_overrides : {model name: {config field: value}} (e.g. shared ``max_len``, ``d``)
    protocol : "full" or "sampled" -- the protocol of the table and the figure
    out_dir : where ``compare.json`` and ``compare_buckets.png`` go
    """
    from dataclasses import replace

    from .config import TrainConfig
    base_cfg = train_config or TrainConfig()
    model_overrides = model_overrides or {}
    inter = data.load()
    runs = {m: [] for m in models}
    for seed in seeds:
        for m in models:
            cfg = replace(base_cfg, seed=seed)
            t0 = time.perf_counter()
            res = run(m, data, cfg, model_overrides.get(m, {}), out_dir=None, protocols=(protocol,),
                      progress=progress, log=lambda *a, **k: None, inter=inter)
            res.pop("_model"), res.pop("_split")
            res["wall_seconds"] = round(time.perf_counter() - t0, 1)
            runs[m].append(res)
            ov = res["test"][protocol]["overall"]
            log(f"  {m:7s} seed {seed}: NDCG@10 {ov['NDCG@10']:.4f}  HR@10 {ov['HR@10']:.4f}  "
                f"({res['train']['epochs_run']} epochs, {res['wall_seconds']:.0f}s)")
    summary = _summarise(runs, protocol)
    summary.update(data=runs[models[0]][0]["data"], seeds=list(seeds), protocol=protocol,
                   description=runs[models[0]][0]["test"][protocol]["description"])
    log(format_table(summary))
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        summary["figure"] = _plot(runs, protocol, os.path.join(out_dir, "compare_buckets.png"))
        atomic_write_json(os.path.join(out_dir, "compare.json"), dict(summary, runs=runs))
        log(f"wrote {os.path.join(out_dir, 'compare.json')} and {summary['figure']}")
    return summary


def _summarise(runs, protocol):
    rows = {}
    for m, rs in runs.items():
        row = {}
        for g in TABLE_GROUPS:
            for metric in TABLE_METRICS:
                vals = [_group(r["test"][protocol], g)[metric] for r in rs]
                row[f"{g} {metric}"] = float(np.mean(vals))
        row["buckets"] = {b: float(np.mean([r["test"][protocol]["groups"][b]["NDCG@10"] or 0.0 for r in rs]))
                          for b in rs[0]["test"][protocol]["groups"] if b.startswith("bucket")}
        row["parameters"] = rs[0]["num_parameters"]
        row["seconds_per_epoch"] = float(np.mean([r["train"]["seconds_per_epoch"] for r in rs]))
        row["epochs"] = float(np.mean([r["train"]["epochs_run"] for r in rs]))
        rows[m] = row
    return {"models": rows}


def _group(test, g):
    return test["overall"] if g == "overall" else test["groups"][g]


def format_table(summary):
    """One text table: HR@10/NDCG@10 overall/head/tail, parameters, epoch time."""
    cols = [f"{g} {m}" for g in TABLE_GROUPS for m in TABLE_METRICS]
    head = ["model"] + [c.replace("overall ", "all ") for c in cols] + ["params", "s/epoch", "epochs"]
    lines = [f"{summary.get('description', '')} -- mean of {len(summary.get('seeds', [0]))} seed(s)",
             "  ".join(f"{h:>12s}" if i else f"{h:8s}" for i, h in enumerate(head))]
    for m, row in summary["models"].items():
        cells = [f"{row[c]:12.4f}" for c in cols]
        cells += [f"{row['parameters']:12,d}", f"{row['seconds_per_epoch']:12.2f}", f"{row['epochs']:12.1f}"]
        lines.append(f"{m:8s}  " + "  ".join(cells))
    return "\n".join(lines)


def _plot(runs, protocol, path):
    from .eval import EvalResult, plot_bucket_ndcg
    results = {}
    for m, rs in runs.items():
        res = EvalResult.from_dict(rs[0]["test"][protocol])
        for g in res.groups:     # mean over seeds, per bucket
            if g.startswith("bucket"):
                vals = [r["test"][protocol]["groups"][g]["NDCG@10"] for r in rs]
                vals = [v for v in vals if v is not None]
                res.groups[g]["NDCG@10"] = float(np.mean(vals)) if vals else float("nan")
        results[m] = res
    return plot_bucket_ndcg(results, path, metric="NDCG@10")
