"""The comparison users came for: SASRec vs SID-only vs naive fusion vs H2Rec.

Every model gets the same data, split, seeds, training budget (early stopping
on validation NDCG@10) and evaluation. With several seeds, each metric is the
mean over seeds (the per-seed numbers are kept in the JSON). The figure shows
NDCG@10 per popularity bucket, one line per model: the head/tail seesaw and
whether H2Rec resolves it.
"""
import os
import time
from contextlib import nullcontext
from dataclasses import replace

import numpy as np

from .checkpoint import atomic_write_json
from .config import TrainConfig
from .eval import EvalResult, plot_bucket_ndcg
from .experiment import run
from .factory import SEMANTIC_MODELS, check_config
from .run_lock import RunLock
from .semantic import SemanticIDs

DEFAULT_MODELS = ("sasrec", "sid", "fusion", "h2rec")
TABLE_GROUPS = ("overall", "head", "tail")
TABLE_METRICS = ("NDCG@10", "HR@10")        # the README's column order: NDCG first
PROTOCOLS = ("full", "sampled")


def compare(data, models=DEFAULT_MODELS, seeds=(0,), train_config=None, model_overrides=None,
            protocol="full", out_dir="runs/compare", progress=True, log=print, sids=None):
    """Train and evaluate each of ``models`` for each seed; return the summary dict.

    Parameters
    ----------
    data : experiment.DataSpec
    models : model names (see :mod:`minih2rec.factory`)
    seeds : training seeds; metrics are averaged over them
    train_config : TrainConfig shared by all models (its seed is replaced per run)
    model_overrides : {model name: {config field: value}} (e.g. shared ``max_len``, ``d``)
    protocol : "full" or "sampled" -- the protocol of the table and the figure
    out_dir : where ``compare.json`` and ``compare_buckets.png`` go; locked for the whole
        comparison (:mod:`minih2rec.run_lock`), so a second run writing there is refused
    sids : semantic-ID file (``python -m minih2rec sids``) for sid, fusion and h2rec, or None
        to compute them (the same way)
    """
    base_cfg = train_config or TrainConfig()
    model_overrides = model_overrides or {}
    check_arguments(models, seeds, protocol, model_overrides)   # a typo fails before minutes of training
    with RunLock(out_dir, log=log) if out_dir else nullcontext():
        return _compare(data, models, seeds, base_cfg, model_overrides, protocol, out_dir, progress, log, sids)


def _compare(data, models, seeds, base_cfg, model_overrides, protocol, out_dir, progress, log, sids):
    """:func:`compare` once its arguments are checked and the output folder is locked."""
    inter = data.load()
    if sids is not None:
        sids = SemanticIDs.load(sids, inter=inter)             # checked against the data once
    runs = {m: [] for m in models}
    for seed in seeds:
        for m in models:
            cfg = replace(base_cfg, seed=seed)
            t0 = time.perf_counter()
            res = run(m, data, cfg, model_overrides.get(m, {}), out_dir=None, protocols=PROTOCOLS,
                      progress=f"{m} seed {seed}" if progress else False, log=lambda *a, **k: None, inter=inter,
                      sids=sids if m in SEMANTIC_MODELS else None)
            res.pop("_model"), res.pop("_split")
            res["wall_seconds"] = round(time.perf_counter() - t0, 1)
            runs[m].append(res)
            ov = res["test"][protocol]["overall"]
            log(f"  {m:7s} seed {seed}: NDCG@10 {ov['NDCG@10']:.4f}  HR@10 {ov['HR@10']:.4f}  "
                f"({res['train']['epochs_run']} epochs, {res['wall_seconds']:.0f}s)")
    summary = _summarise(runs, protocol)
    summary.update(data=runs[models[0]][0]["data"], seeds=list(seeds), protocol=protocol,
                   description=runs[models[0]][0]["test"][protocol]["description"])
    other = next(p for p in PROTOCOLS if p != protocol)          # both are cheap: report both
    summary["other_protocol"] = _summarise(runs, other)
    summary["other_protocol"].update(protocol=other, seeds=list(seeds),
                                     description=runs[models[0]][0]["test"][other]["description"])
    for s in (summary, summary["other_protocol"]):
        if "h2rec" in runs and "sasrec" in runs:
            s["h2rec_over_sasrec"] = _ratios(s["models"]["h2rec"], s["models"]["sasrec"])
        log(format_table(s))
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        summary["figure"] = _plot(runs, protocol, os.path.join(out_dir, "compare_buckets.png"))
        atomic_write_json(os.path.join(out_dir, "compare.json"), dict(summary, runs=runs))
        log(f"wrote {os.path.join(out_dir, 'compare.json')} and {summary['figure']}")
    return summary


def check_arguments(models, seeds, protocol, model_overrides=None):
    """Raise ValueError naming the flag for anything :func:`compare` cannot run, before any work."""
    models, seeds = list(models), list(seeds)
    if not models:
        raise ValueError("compare --models: name at least one model")
    for m in models:
        if models.count(m) > 1:
            raise ValueError(f"compare --models names {m!r} twice")
        try:
            check_config(m, (model_overrides or {}).get(m, {}))
        except ValueError as exc:
            raise ValueError(f"compare --models {m}: {exc}") from None
    if not seeds:
        raise ValueError("compare --seeds: give at least one seed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"compare --seeds {s!r}: a seed is an integer >= 0")
        if seeds.count(s) > 1:                  # a repeated seed would be averaged twice
            raise ValueError(f"compare --seeds names {s} twice")
    if protocol not in PROTOCOLS:
        raise ValueError(f"compare --protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}")


def _ratios(h2rec, sasrec):
    """{group: H2Rec NDCG@10 / SASRec NDCG@10} (None where SASRec scored 0)."""
    return {g: (h2rec[f"{g} NDCG@10"] / sasrec[f"{g} NDCG@10"] if sasrec[f"{g} NDCG@10"] > 0 else None)
            for g in TABLE_GROUPS}


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
    """One text table in the README's column order (NDCG@10 then HR@10, each all/head/tail;
    parameters, epochs, epoch time), then the line "H2Rec / SASRec: overall ...x, head ...x, tail ...x"."""
    cols = [f"{g} {m}" for m in TABLE_METRICS for g in TABLE_GROUPS]
    head = ["model"] + [f"{m} {'all' if g == 'overall' else g}" for m in TABLE_METRICS for g in TABLE_GROUPS]
    head += ["params", "epochs", "s/epoch"]
    lines = [f"{summary.get('description', '')} -- mean of {len(summary.get('seeds', [0]))} seed(s)",
             "  ".join(f"{h:>12s}" if i else f"{h:8s}" for i, h in enumerate(head))]
    for m, row in summary["models"].items():
        cells = [f"{row[c]:12.4f}" for c in cols]
        cells += [f"{row['parameters']:12,d}", f"{row['epochs']:12.1f}", f"{row['seconds_per_epoch']:12.2f}"]
        lines.append(f"{m:8s}  " + "  ".join(cells))
    ratios = summary.get("h2rec_over_sasrec")
    if ratios:
        lines.append("H2Rec / SASRec: " + ", ".join(
            f"{g} {r:.3f}x" if r is not None else f"{g} n/a (SASRec scored 0)" for g, r in ratios.items())
            + " (NDCG@10)")
    return "\n".join(lines)


def _plot(runs, protocol, path):
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
