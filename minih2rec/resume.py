"""Resuming safely: continue a checkpoint only on its own data and with its own settings.

A ``last.npz`` stores the data fingerprint and the full training and model
configuration. ``--resume`` rebuilds the run from the command line and compares:

* a different data fingerprint is an error (another ``--data-seed``, file or ``--k-core``);
* any setting that differs from the checkpoint's is an error listing every difference;
* ``--override KEY=VALUE`` allows a change where continuing stays sound -- settings that
  decide how long or how fast training goes on, not what the saved state means (not the
  batch size: the position inside the epoch counts its batches) -- and is recorded in
  the checkpoint and in ``results.json``.
"""
import json
from dataclasses import fields, replace

import numpy as np

from .config import TrainConfig

# Training settings an override may change on resume, and why each is sound.
OVERRIDABLE = (
    "epochs",           # train longer or shorter
    "patience",         # early stopping is re-judged from the saved counters
    "lr",               # Adam's moments stay valid under a new step size
    "weight_decay",     # a regulariser's strength, applied from the next step on
    "clip_norm",        # a guard on the gradient, applied from the next step on
    "eval_every",       # when to validate
    "eval_batch_size",  # how many users are scored at once: same numbers
)

# Settings that older checkpoints did not record, at the value they were trained with.
UNRECORDED = {"window_stride": 0.0}   # before training windows: one row per user

# The command-line flag behind each setting, so an error says what to type.
FLAGS = {
    "train": {"epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr", "patience": "--patience",
              "seed": "--seed", "dynamic_length": "--no-dynamic", "bucket": "--no-bucket",
              "window_stride": "--window-stride"},
    "model": {"max_len": "--max-len", "d": "--d", "heads": "--heads", "blocks": "--blocks",
              "dropout": "--dropout", "loss": "--loss", "num_levels": "--num-levels",
              "codebook_size": "--codebook-size", "lambda_code": "--lambda-code",
              "lambda_msg": "--lambda-msg", "hid_dropout": "--hid-dropout", "hot_start": "--hot-start",
              "cross_attention": "--no-cross-attention", "gate": "--no-gate", "residual": "--no-residual",
              "seed": "--seed"},
    "data": {"source": "--data", "format": "--format", "preset": "--preset", "seed": "--data-seed",
             "k_core": "--k-core"},
}


def parse_overrides(items):
    """``["lr=0.01", "epochs=50"]`` -> ``{"lr": 0.01, "epochs": 50}``, typed as in :class:`TrainConfig`.

    Raises
    ------
    ValueError naming the bad item: not ``KEY=VALUE``, a key that may not change on
    resume, or a value of the wrong type.
    """
    types = {f.name: f.type for f in fields(TrainConfig)}
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"--override {item!r}: expected KEY=VALUE, e.g. --override epochs=50")
        if key not in OVERRIDABLE:
            raise ValueError(f"--override {item!r}: {key!r} cannot change on resume; "
                             f"allowed: {', '.join(OVERRIDABLE)}")
        typ = types[key] if isinstance(types[key], type) else {"int": int, "float": float}[types[key]]
        try:
            out[key] = typ(value)
        except ValueError:
            raise ValueError(f"--override {item!r}: {value!r} is not a valid {typ.__name__}") from None
    return out


def apply_overrides(config, overrides):
    """``config`` with ``overrides`` set (validated again by ``TrainConfig``)."""
    return replace(config, **overrides) if overrides else config


def check_resume(path, meta, model_name, data, fingerprint, train_config, model_config, overrides=None,
                 codes=None, saved_codes=None):
    """Raise ValueError unless this run may continue checkpoint ``path``; return the overrides record.

    Parameters
    ----------
    path : str -- the checkpoint, named in errors.
    meta : dict -- its metadata (``checkpoint.load_checkpoint``).
    model_name : str, data : experiment.DataSpec, fingerprint : str -- this run's model and data.
    train_config : TrainConfig -- this run's, with ``overrides`` already applied.
    model_config : dict -- the config of the model this run built.
    overrides : dict -- from :func:`parse_overrides`.
    codes, saved_codes : semantic IDs this run computed and the checkpoint's (or None).

    Returns
    -------
    list of {"key", "from", "to", "epoch", "step"} -- earlier overrides plus those of this run
    that change a value.
    """
    overrides = overrides or {}
    saved_fp = meta.get("data_fingerprint")
    if saved_fp is not None and saved_fp != fingerprint:
        hint = "; ".join(_differences("data", meta.get("data", {}), _plain(vars(data))))
        raise ValueError(f"--resume {path}: the data differs from the data this checkpoint was trained on "
                         f"(fingerprint {fingerprint[:12]} vs {saved_fp[:12]}"
                         + (f"; {hint}" if hint else "") + "); resume on the same data")
    diffs = []
    if meta.get("model") != model_name:
        diffs.append(f"model (--model) {meta.get('model')} -> {model_name}")
    saved_train = {**UNRECORDED, **meta.get("train_config", {})}
    saved_train = {k: v for k, v in saved_train.items() if k not in overrides}
    diffs += _differences("train", saved_train, _plain(train_config.to_dict()))
    diffs += _differences("model", meta.get("model_config", {}), _plain(model_config))
    if diffs:
        command = meta.get("command")
        raise ValueError(f"--resume {path}: this run's settings differ from the checkpoint's: {'; '.join(diffs)}. "
                         + (f"Repeat the original command ({command}) " if command else "Repeat the original flags ")
                         + f"or allow a change with --override KEY=VALUE ({', '.join(OVERRIDABLE)})")
    if codes is not None and saved_codes is not None and not np.array_equal(codes, saved_codes):
        raise ValueError(f"--resume {path}: the semantic IDs computed now differ from the checkpoint's "
                         f"(a different minih2rec version?); resume with the version that wrote it")
    record = list(meta.get("overrides", []))
    saved = meta.get("train_config", {})
    for key, value in overrides.items():
        if key in saved and _plain(saved[key]) != _plain(value):
            record.append({"key": key, "from": saved[key], "to": value,
                           "epoch": meta.get("epoch"), "step": meta.get("step_in_epoch")})
    return record


def _differences(section, saved, current):
    """``"lr (--lr) 0.001 -> 0.5"`` for every key both dicts know and that differs."""
    out = []
    for key in sorted(set(saved) & set(current)):
        if _plain(saved[key]) != _plain(current[key]):
            flag = FLAGS[section].get(key)
            name = f"{key} ({flag})" if flag else f"{section} {key}"
            out.append(f"{name} {saved[key]} -> {current[key]}")
    return out


def _plain(value):
    """JSON round trip: tuples become lists, NumPy scalars Python numbers -- as a checkpoint stores them."""
    return json.loads(json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
