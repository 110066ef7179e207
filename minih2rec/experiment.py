"""One experiment, end to end: data spec -> split -> model -> train -> evaluate -> JSON.

The CLI (``python -m minih2rec train|evaluate|compare``) and the tutorials call
these functions; a checkpoint stores the data spec so ``evaluate`` can rebuild
exactly the same split and reproduce the metrics.
"""
import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, is_dataclass, replace

from . import factory
from .checkpoint import atomic_write_json, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import load, make_synthetic, split_leave_one_out
from .eval import evaluate
from .fingerprint import data_fingerprint
from .interrupt import Interrupted
from .paths import check_output_dir
from .resume import apply_overrides, check_resume
from .run_lock import RunLock
from .semantic import SemanticIDs
from .semantic.sources import KEYWORDS, with_content
from .train import Trainer


@dataclass
class DataSpec:
    """Where the interactions come from; enough to rebuild the same split later."""
    source: str = "synthetic"    # "synthetic" or a path to a file / folder
    format: str = None           # loader format for a path (None = detect)
    preset: str = "default"      # synthetic preset ("default", "tiny")
    seed: int = 0                # synthetic generator seed
    k_core: int = 5              # real data: iterative 5-core, the SASRec/H2Rec convention
    content: str = None          # item content: None (the data's own, else TF-IDF), "tfidf", "minilm" or a .npy
    encoder_weights: str = None  # "minilm": folder of the weights (None: the installed weights package)
    cache_dir: str = None        # "minilm": where encoded vectors are cached (the run's output folder)

    def load(self):
        """Return the ``Interactions`` this spec describes, with its content (:mod:`semantic.sources`)."""
        if self.source == "synthetic":
            inter = make_synthetic(self.preset, seed=self.seed)
        else:
            inter = load(self.source, self.format, k_core=self.k_core)
        return with_content(inter, self.content, self.encoder_weights, self.cache_dir)

    def resolved(self):
        """This spec with absolute paths, so a checkpoint finds its data (and content) from any folder."""
        def absolute(path):
            return None if path is None else os.path.abspath(os.path.expanduser(path))
        return replace(self, source=self.source if self.source == "synthetic" else absolute(self.source),
                       content=self.content if self.content in (None,) + KEYWORDS else absolute(self.content),
                       encoder_weights=absolute(self.encoder_weights), cache_dir=absolute(self.cache_dir))


def build_model(name, inter, split, overrides=None, seed=0):
    """Construct a model by name for ``split`` (see :mod:`minih2rec.factory`)."""
    return factory.build(name, inter=inter, split=split, overrides=overrides or {}, seed=seed)


def run(model_name, data, train_config=None, model_overrides=None, out_dir=None,
        protocols=("full", "sampled"), progress=True, resume=None, log=print, inter=None, sids=None,
        resume_overrides=None, command=None):
    """Train ``model_name`` on ``data`` (a DataSpec) and evaluate it on the test split.

    ``out_dir`` is locked for the run (:mod:`minih2rec.run_lock`; ``command`` is recorded in
    the lock and the checkpoints). ``resume`` -- a ``last.npz`` to continue: its data
    fingerprint and settings must equal this run's (:mod:`minih2rec.resume`);
    ``resume_overrides`` ({key: value}) allow the sound changes. A Ctrl-C or SIGTERM during
    training saves ``last.npz`` and raises :class:`~minih2rec.interrupt.Interrupted`: no
    test metrics come from weights that validation never selected.

    ``sids`` -- a semantic-ID file (``python -m minih2rec sids``) or a ``SemanticIDs`` for
    sid / fusion / h2rec, checked against the data; None computes them (the same way).

    Returns a dict with the training summary and one evaluation per protocol; if
    ``out_dir`` is given, also writes ``results.json`` and keeps checkpoints there.
    """
    if resume_overrides and not resume:
        raise ValueError("--override changes a setting of the run being resumed; it needs --resume")
    cfg = apply_overrides(train_config or TrainConfig(), resume_overrides or {})
    model_overrides = dict(model_overrides or {})
    if sids is not None:
        model_overrides["sids"] = sids
    factory.check_config(model_name, model_overrides)       # impossible settings fail before any work
    data = data.resolved()
    if out_dir:
        check_output_dir(out_dir)
    with RunLock(out_dir, command, log) if out_dir else contextlib.nullcontext():
        saved = load_checkpoint(resume) if resume else None      # a bad --resume fails before the data loads
        return _run(model_name, data, cfg, model_overrides, out_dir, protocols, progress, log,
                    inter, sids, saved, resume, resume_overrides or {}, command)


def _run(model_name, data, cfg, model_overrides, out_dir, protocols, progress, log, inter, sids,
         saved, resume, resume_overrides, command):
    """:func:`run` once the output folder is locked and the checkpoint to resume (if any) is loaded."""
    inter = inter if inter is not None else data.load()
    if sids is not None and not isinstance(sids, SemanticIDs):
        model_overrides["sids"] = SemanticIDs.load(sids, inter=inter)
    fingerprint = data_fingerprint(inter)
    split = split_leave_one_out(inter)
    model = build_model(model_name, inter, split, model_overrides, seed=cfg.seed)
    log(f"{model_name} on {inter.describe()}")
    trainable = getattr(model, "trainable", True)
    if saved is not None and not trainable:
        raise ValueError(f"--resume {resume}: {model_name} is not trained, there is nothing to resume")
    meta = {"data": asdict(data), "data_fingerprint": fingerprint, "command": command, "overrides": []}
    if saved is not None:
        arrays, saved_meta = saved
        meta["overrides"] = check_resume(resume, saved_meta, model_name, data, fingerprint, cfg,
                                         _plain(model.config), resume_overrides, getattr(model, "codes", None),
                                         arrays.get("semantic/codes"))
    if out_dir:
        resumed_here = saved is not None and os.path.samefile(os.path.dirname(os.path.abspath(resume)), out_dir)
        _clear_outputs(out_dir, keep_checkpoints=resumed_here, log=log)
    t0 = time.perf_counter()
    if trainable:
        trainer = Trainer(model, split, cfg, out_dir=out_dir, progress=progress, log=log)
        trainer.extra_meta = meta
        if saved is not None:
            trainer.restore(*saved, resume)
            log(f"resumed from {resume} at epoch {trainer.epoch}, step {trainer.step_in_epoch}")
        summary = asdict(trainer.fit())
        if trainer.interrupted_by is not None:
            raise Interrupted(trainer.interrupted_by, trainer.epoch + 1, trainer.step_in_epoch,
                              os.path.join(out_dir, "last.npz") if out_dir else None)
    else:
        summary = {"best_epoch": 0, "epochs_run": 0, "seconds_per_epoch": 0.0, "stopped": "not trained"}
        if out_dir:      # a checkpoint all the same, so `evaluate` works for every model
            save_checkpoint(os.path.join(out_dir, "best.npz"), {}, dict(
                meta, kind="best", model=model_name, model_config=_plain(model.config),
                train_config=cfg.to_dict()))
    summary["train_seconds"] = round(time.perf_counter() - t0, 2)
    result = {"model": model_name, "data": asdict(data), "data_fingerprint": fingerprint,
              "train_config": cfg.to_dict(), "overrides": meta["overrides"],
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


def evaluate_checkpoint(path, protocols=("full", "sampled"), log=print, data_path=None):
    """Rebuild data, split and model from a checkpoint and evaluate it on the test split.

    The data is loaded from the checkpoint's (absolute) path, or from ``data_path`` if it
    moved; either way its fingerprint must equal the checkpoint's, so the metrics are never
    those of other data.
    """
    arrays, meta = load_checkpoint(path)
    data = DataSpec(**meta["data"])
    if data_path is not None:
        if data.source == "synthetic":
            raise ValueError(f"--data {data_path}: {path} was trained on synthetic data, which is "
                             f"rebuilt from its seed; drop --data")
        data = replace(data, source=data_path).resolved()
    try:
        inter = data.load()
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{exc}; the data {path} was trained on is not there -- if it moved, "
                                f"pass --data NEW_PATH") from None
    fingerprint, saved_fp = data_fingerprint(inter), meta.get("data_fingerprint")
    if saved_fp is None:
        log(f"warning: {path} has no data fingerprint (an older minih2rec wrote it); "
            f"cannot check that {data.source} is the data it was trained on")
    elif fingerprint != saved_fp:
        raise ValueError(f"{data.source} is not the data {path} was trained on (fingerprint "
                         f"{fingerprint[:12]} vs {saved_fp[:12]}); pass --data with the original data")
    split = split_leave_one_out(inter)
    train_cfg = TrainConfig.from_dict(meta["train_config"])
    overrides = {k: v for k, v in meta["model_config"].items() if k != "num_items"}
    if "semantic/codes" in arrays:          # the semantic IDs the model was trained with
        overrides["codes"] = arrays["semantic/codes"]
    # every weight comes from the checkpoint: build without the start-up inputs (codebooks, content)
    for key, plain_start in (("code_init", "random"), ("hot_start", False)):
        if key in overrides:
            overrides[key] = plain_start
    model = build_model(meta["model"], inter, split, overrides, seed=train_cfg.seed)
    if hasattr(model, "load_state_dict"):
        model.load_state_dict({k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")})
    out = {}
    for protocol in protocols:
        res = evaluate(model, split, stage="test", protocol=protocol, max_len=model.config.max_len,
                       seed=train_cfg.seed, batch_size=train_cfg.eval_batch_size)
        out[protocol] = res.to_dict()
        log(res.format_table())
    return out


def _clear_outputs(out_dir, keep_checkpoints, log):
    """Remove an earlier run's results (and, for a fresh run, its checkpoints) before this one writes.

    Otherwise an interrupted run would leave a ``results.json`` (or a ``last.npz``) of another run
    beside its own checkpoints.
    """
    names = ["results.json"] + ([] if keep_checkpoints else ["best.npz", "last.npz", "best.json", "last.json"])
    gone = [n for n in names if os.path.isfile(os.path.join(out_dir, n))]
    for n in gone:
        os.unlink(os.path.join(out_dir, n))
    if gone:
        log(f"{out_dir}: removed {', '.join(gone)} of an earlier run")


def _plain(cfg):
    return asdict(cfg) if is_dataclass(cfg) else {}


def _num_params(model):
    return int(model.num_parameters()) if hasattr(model, "num_parameters") else 0


def dumps(obj):
    """JSON text of a result dict without the live objects (keys starting with '_')."""
    return json.dumps({k: v for k, v in obj.items() if not k.startswith("_")}, indent=2)
