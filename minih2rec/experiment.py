"""One experiment, end to end: data spec -> split -> model -> train -> evaluate -> JSON.

The CLI (``python -m minih2rec train|evaluate|compare``) and the tutorials call
these functions; a checkpoint stores the data spec so ``evaluate`` can rebuild
exactly the same split and reproduce the metrics.
"""
import json
import os
import time
from dataclasses import asdict, dataclass, is_dataclass

from . import factory
from .checkpoint import atomic_write_json, load_checkpoint
from .config import TrainConfig
from .data import load, make_synthetic, split_leave_one_out
from .eval import evaluate
from .semantic import SemanticIDs
from .train import Trainer


@dataclass
class DataSpec:
    """Where the interactions come from; enough to rebuild the same split later."""
    source: str = "synthetic"    # "synthetic" or a path to a file / folder
    format: str = None           # loader format for a path (None = detect)
    preset: str = "default"      # synthetic preset ("default", "tiny")
    seed: int = 0                # synthetic generator seed
    k_core: int = 5              # real data: iterative 5-core, the SASRec/H2Rec convention

    def load(self):
        """Return the ``Interactions`` this spec describes."""
        if self.source == "synthetic":
            return make_synthetic(self.preset, seed=self.seed)
        return load(self.source, self.format, k_core=self.k_core)


def build_model(name, inter, split, overrides=None, seed=0):
    """Construct a model by name for ``split`` (see :mod:`minih2rec.factory`)."""
    return factory.build(name, inter=inter, split=split, overrides=overrides or {}, seed=seed)


def run(model_name, data, train_config=None, model_overrides=None, out_dir=None,
        protocols=("full", "sampled"), progress=True, resume=None, log=print, inter=None, sids=None):
    """Train ``model_name`` on ``data`` (a DataSpec) and evaluate it on the test split.

    ``sids`` -- a semantic-ID file (``python -m minih2rec sids``) or a ``SemanticIDs`` for
    sid / fusion / h2rec, checked against the data; None computes them (the same way).

    Returns a dict with the training summary and one evaluation per protocol; if
    ``out_dir`` is given, also writes ``results.json`` and keeps checkpoints there.
    """
    cfg = train_config or TrainConfig()
    model_overrides = dict(model_overrides or {})
    if sids is not None:
        model_overrides["sids"] = sids
    factory.check_config(model_name, model_overrides)       # impossible settings fail before any work
    inter = inter if inter is not None else data.load()
    if sids is not None and not isinstance(sids, SemanticIDs):
        model_overrides["sids"] = SemanticIDs.load(sids, inter=inter)
    split = split_leave_one_out(inter)
    model = build_model(model_name, inter, split, model_overrides, seed=cfg.seed)
    log(f"{model_name} on {inter.describe()}")
    t0 = time.perf_counter()
    if getattr(model, "trainable", True):
        trainer = Trainer(model, split, cfg, out_dir=out_dir, progress=progress, log=log)
        trainer.extra_meta = {"data": asdict(data)}
        if resume:
            trainer.resume(resume)
            log(f"resumed from {resume} at epoch {trainer.epoch}, step {trainer.step_in_epoch}")
        summary = asdict(trainer.fit())
    else:
        summary = {"best_epoch": 0, "epochs_run": 0, "seconds_per_epoch": 0.0, "stopped": "not trained"}
    summary["train_seconds"] = round(time.perf_counter() - t0, 2)
    result = {"model": model_name, "data": asdict(data), "train_config": cfg.to_dict(),
              "model_config": _plain(model.config), "num_parameters": _num_params(model),
              "train": summary, "test": {}}
    for protocol in protocols:
        res = evaluate(model, split, stage="test", protocol=protocol, max_len=model.config.max_len,
                       seed=cfg.seed, batch_size=cfg.eval_batch_size)
        result["test"][protocol] = res.to_dict()
        log(res.format_table())
    if out_dir:
        atomic_write_json(os.path.join(out_dir, "results.json"), result)
    result["_model"], result["_split"] = model, split
    return result


def evaluate_checkpoint(path, protocols=("full", "sampled"), log=print):
    """Rebuild data, split and model from a checkpoint and evaluate it on the test split."""
    arrays, meta = load_checkpoint(path)
    data = DataSpec(**meta["data"])
    inter = data.load()
    split = split_leave_one_out(inter)
    train_cfg = TrainConfig.from_dict(meta["train_config"])
    overrides = {k: v for k, v in meta["model_config"].items() if k != "num_items"}
    if "semantic/codes" in arrays:          # the semantic IDs the model was trained with
        overrides["codes"] = arrays["semantic/codes"]
    model = build_model(meta["model"], inter, split, overrides, seed=train_cfg.seed)
    model.load_state_dict({k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")})
    out = {}
    for protocol in protocols:
        res = evaluate(model, split, stage="test", protocol=protocol, max_len=model.config.max_len,
                       seed=train_cfg.seed, batch_size=train_cfg.eval_batch_size)
        out[protocol] = res.to_dict()
        log(res.format_table())
    return out


def _plain(cfg):
    return asdict(cfg) if is_dataclass(cfg) else {}


def _num_params(model):
    return int(model.num_parameters()) if hasattr(model, "num_parameters") else 0


def dumps(obj):
    """JSON text of a result dict without the live objects (keys starting with '_')."""
    return json.dumps({k: v for k, v in obj.items() if not k.startswith("_")}, indent=2)
