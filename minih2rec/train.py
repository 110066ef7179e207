"""The training loop: epochs, early stopping, checkpoints, resume, interrupt, numerical guard.

One :class:`Trainer` serves every model: a model only has to provide
``loss(batch) -> Tensor`` and ``score_users(seq, positions)`` (see
``models/base.py``). Evaluation reads the model and the split, never the
trainer's internals.

Checkpoints (in ``out_dir``): ``last.npz`` after every epoch (and on Ctrl-C or
SIGTERM, mid-epoch), ``best.npz`` with the weights of the best validation epoch;
each one self-contained file (see :mod:`minih2rec.checkpoint`). Resuming from
``last`` reproduces an uninterrupted run bit for bit: parameters, optimiser
moments, every random generator, the position inside the epoch and the running
loss of the interrupted epoch are restored.
"""
import math
import os
import time
from dataclasses import asdict, dataclass, field, is_dataclass

import numpy as np
from tqdm.auto import tqdm

from . import checkpoint as ckpt
from .autograd import Tensor  # noqa: F401  (type of model.loss)
from .config import TrainConfig
from .data.batching import TrainBatches
from .eval import evaluate
from .interrupt import StopSignals
from .optim import Adam, clip_grad_norm
from .recompute import chunked_loss


class NonFiniteError(FloatingPointError):
    """Training produced a NaN/inf loss or gradient; the last good checkpoint is kept."""


@dataclass
class TrainResult:
    best_epoch: int
    best_valid: float
    epochs_run: int
    seconds_per_epoch: float
    history: list = field(default_factory=list)
    stopped: str = "max epochs"


class Trainer:
    """Train ``model`` on ``split`` with Adam, validating each epoch for early stopping.

    Parameters
    ----------
    model : a ``models.base.SequentialRecommender`` (or anything with ``loss``,
        ``score_users``, ``parameters``, ``state_dict`` and ``config``).
    split : ``data.split.Split`` (leave-one-out).
    config : :class:`TrainConfig`.
    out_dir : folder for checkpoints, or None to keep the best weights in memory only.
    progress : show a tqdm bar with loss and sequences/s; a string names the run in the bar
        (``compare`` passes e.g. ``"h2rec seed 1"``).
    """

    def __init__(self, model, split, config=None, out_dir=None, progress=True, log=print):
        self.model, self.split = model, split
        self.config = config or TrainConfig()
        self.out_dir = out_dir
        self.progress, self.log = progress, log
        self.params = list(model.named_parameters())
        self.optimizer = Adam([p for _, p in self.params], lr=self.config.lr, betas=tuple(self.config.betas),
                              weight_decay=self.config.weight_decay)
        self.rng = np.random.default_rng(self.config.seed)
        self.epoch = 0                # epochs completed
        self.step_in_epoch = 0        # batches completed in the current (interrupted) epoch
        self.epoch_rng_state = None   # batching rng state at the start of the current epoch
        self.best_valid, self.best_epoch, self.bad_epochs = -math.inf, 0, 0
        self.best_state = None
        self.history = []
        self.epoch_loss = [0.0, 0]    # running (sum, steps) of the current epoch's loss
        self.interrupted_by = None    # the signal that stopped fit(), if any
        self._stop = StopSignals()
        self.extra_meta = {}          # stored in every checkpoint (e.g. the data spec)

    # ---------------------------------------------------------------- loop
    def fit(self):
        """Train until early stopping or ``config.epochs``; restore the best weights; return a TrainResult."""
        cfg = self.config
        stopped, times = "max epochs", []
        self._stop = StopSignals()
        with self._stop:
            while self.epoch < cfg.epochs:
                t0 = time.perf_counter()
                loss = self._run_epoch()
                if loss is None:  # a signal: keep a resumable state, evaluate nothing
                    self.interrupted_by = self._stop.signum
                    if self.out_dir:
                        self._save("last")
                    stopped = "interrupted"
                    break
                times.append(time.perf_counter() - t0)
                self.epoch += 1
                row = {"epoch": self.epoch, "loss": loss, "seconds": round(times[-1], 3)}
                if self.epoch % cfg.eval_every == 0 or self.epoch == cfg.epochs:
                    res = evaluate(self.model, self.split, stage="valid", protocol=cfg.eval_protocol,
                                   max_len=self.model.config.max_len, seed=cfg.seed,
                                   batch_size=cfg.eval_batch_size)
                    value = res.overall[cfg.eval_metric]
                    row["valid_" + cfg.eval_metric] = value
                    for group in ("head", "tail"):            # the seesaw, epoch by epoch
                        if group in res.groups:
                            row[f"valid_{group}_{cfg.eval_metric}"] = res.get(group, cfg.eval_metric)
                    if value > self.best_valid:
                        self.best_valid, self.best_epoch, self.bad_epochs = value, self.epoch, 0
                        self.best_state = self.model.state_dict()
                        if self.out_dir:
                            self._save("best", weights=self.best_state)
                    else:
                        self.bad_epochs += 1
                self.history.append(row)
                self.log(_format_row(row))
                if self.out_dir:
                    self._save("last")
                if self.bad_epochs >= cfg.patience and cfg.patience > 0:
                    stopped = f"early stopping (no better valid {cfg.eval_metric} for {cfg.patience} epochs)"
                    break
        if self.best_state is not None and stopped != "interrupted":
            self.model.load_state_dict(self.best_state)
        return TrainResult(self.best_epoch, self.best_valid, self.epoch,
                           float(np.mean(times)) if times else float("nan"), self.history, stopped)

    def _batches(self):
        cfg, model = self.config, self.model
        return TrainBatches(self.split, batch_size=cfg.batch_size, max_len=model.config.max_len,
                            rng=self.rng, num_items=self.split.num_items, dynamic=cfg.dynamic_length,
                            bucket=cfg.bucket, negatives=getattr(model, "needs_negatives", False),
                            window_stride=cfg.window_stride)

    def _run_epoch(self):
        """One pass over the training users; returns the mean loss, or None if interrupted."""
        if self.step_in_epoch == 0:
            self.epoch_rng_state = self.rng.bit_generator.state
            self.epoch_loss = [0.0, 0]
        else:  # resuming mid-epoch: replay the epoch's batch stream from its start
            self.rng.bit_generator.state = self.epoch_rng_state
        batches = self._batches()
        self.model.train()
        (total, count), seen = self.epoch_loss, 0
        label = f"{self.progress} " if isinstance(self.progress, str) else ""
        bar = _progress(len(batches), f"{label}epoch {self.epoch + 1}", self.progress)
        t0 = time.perf_counter()
        for step, batch in enumerate(batches):
            if step < self.step_in_epoch:
                continue
            if self._stop.signum is not None:      # checked before the step: also between epochs
                if bar is not None:
                    bar.close()
                if self.step_in_epoch == 0:         # nothing done yet: save the epoch's start state
                    self.rng.bit_generator.state = self.epoch_rng_state
                return None
            loss = self._step(batch, step)
            total, count = total + loss, count + 1
            self.epoch_loss = [total, count]
            self.step_in_epoch = step + 1
            seen += batch.seq.shape[0]
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{total / count:.4f}", seq_s=f"{seen / (time.perf_counter() - t0):.0f}")
        if bar is not None:
            bar.close()
        self.step_in_epoch = 0
        return total / max(count, 1)

    def _step(self, batch, step):
        budget = self.config.max_batch_tokens
        if budget and batch.seq.size > budget:       # opt-in: bounded memory, the same loss
            loss = chunked_loss(self.model, batch, budget)
        else:
            loss = self.model.loss(batch)
        value = float(loss.data)
        if not math.isfinite(value):
            raise NonFiniteError(f"epoch {self.epoch + 1}, step {step + 1}: the loss is {value}; "
                                 f"training stopped, the last good checkpoint is kept"
                                 + (f" in {self.out_dir}" if self.out_dir else ""))
        self.optimizer.zero_grad()
        loss.backward()
        for name, p in self.params:
            if p.grad is not None and not np.isfinite(p.grad).all():
                raise NonFiniteError(f"epoch {self.epoch + 1}, step {step + 1}: the gradient of {name} "
                                     f"is not finite; training stopped, the last good checkpoint is kept"
                                     + (f" in {self.out_dir}" if self.out_dir else ""))
        if self.config.clip_norm > 0:
            clip_grad_norm([p for _, p in self.params], self.config.clip_norm)
        self.optimizer.step()
        return value

    # ------------------------------------------------------- checkpointing
    def _save(self, which, weights=None):
        arrays = {"model/" + k: v for k, v in (weights or self.model.state_dict()).items()}
        meta = {"kind": which, "model": getattr(self.model, "name", type(self.model).__name__),
                "model_config": _config_dict(self.model.config), "train_config": self.config.to_dict(),
                "epoch": self.epoch, "best_epoch": self.best_epoch, "best_valid": self.best_valid,
                **self.extra_meta}
        arrays.update(getattr(self.model, "extra_arrays", lambda: {})())
        if which == "last":
            opt = self.optimizer.state_dict()
            scalars = {}
            for k, v in opt.items():
                if isinstance(v, np.ndarray):
                    arrays["optim/" + k] = v
                else:
                    scalars[k] = v
            if self.best_state is not None:
                arrays.update({"best/" + k: v for k, v in self.best_state.items()})
            meta.update(optim=scalars, step_in_epoch=self.step_in_epoch, epoch_loss=self.epoch_loss,
                        bad_epochs=self.bad_epochs,
                        rng=self.rng.bit_generator.state, epoch_rng=self.epoch_rng_state,
                        model_rngs=ckpt.generator_states(self.model), history=self.history)
        return ckpt.save_checkpoint(os.path.join(self.out_dir, which + ".npz"), arrays, meta)

    def resume(self, path):
        """Restore everything saved in a ``last.npz`` checkpoint; the next :meth:`fit` continues it."""
        arrays, meta = ckpt.load_checkpoint(path)
        return self.restore(arrays, meta, path)

    def restore(self, arrays, meta, path="checkpoint"):
        """:meth:`resume` from a checkpoint already loaded by ``checkpoint.load_checkpoint``.

        The optimiser's learning rate and weight decay are taken from this trainer's
        config (equal to the checkpoint's unless a resume override changed them).
        """
        if meta.get("kind") != "last":
            raise ckpt.CheckpointError(f"{path}: only a 'last' checkpoint holds the optimiser and "
                                       f"random states needed to resume (this one is {meta.get('kind')!r})")
        self.model.load_state_dict(_strip(arrays, "model/"))
        opt = dict(meta["optim"], **_strip(arrays, "optim/"))
        self.optimizer.load_state_dict(opt)
        self.optimizer.lr, self.optimizer.weight_decay = self.config.lr, self.config.weight_decay
        best = _strip(arrays, "best/")
        self.best_state = best or None
        self.epoch, self.step_in_epoch = meta["epoch"], meta["step_in_epoch"]
        self.epoch_loss = list(meta.get("epoch_loss", [0.0, 0]))
        self.best_epoch, self.best_valid, self.bad_epochs = meta["best_epoch"], meta["best_valid"], meta["bad_epochs"]
        self.rng.bit_generator.state = meta["rng"]
        self.epoch_rng_state = meta["epoch_rng"]
        ckpt.set_generator_states(self.model, meta["model_rngs"])
        self.history = meta["history"]
        return self


def _strip(arrays, prefix):
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def _config_dict(cfg):
    return asdict(cfg) if is_dataclass(cfg) else dict(vars(cfg))


def _format_row(row):
    parts = [f"epoch {row['epoch']:3d}", f"loss {row['loss']:.4f}", f"{row['seconds']:.1f}s"]
    parts += [f"{k} {v:.4f}" for k, v in row.items() if k.startswith("valid_")]
    return "  ".join(parts)


def _progress(total, desc, enabled):
    if not enabled:
        return None
    return tqdm(total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)
