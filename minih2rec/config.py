"""Training configuration: one dataclass, every default explained, small presets.

Model hyper-parameters live with each model (``SASRecConfig``, ``H2RecConfig``);
this file holds what the training loop and the data pipeline need.
"""
import math
import numbers
from dataclasses import asdict, dataclass, fields, replace


@dataclass
class TrainConfig:
    epochs: int = 200            # an upper bound: early stopping on validation ends runs long before
    batch_size: int = 128        # SASRec's setting; fits L2-sized working sets on a laptop CPU
    lr: float = 1e-3             # Adam's usual step for transformers of this size
    weight_decay: float = 0.0    # SASRec/H2Rec use dropout, not weight decay, as regulariser
    betas: tuple = (0.9, 0.98)   # Adam's moment decays; a shorter second-moment memory than the
                                 # usual 0.999, as SASRec's PyTorch code uses
    clip_norm: float = 0.0       # global-norm clipping (> 0 turns it on); off, as in SASRec's code
    patience: int = 10           # epochs without a better validation NDCG@10 before stopping: validation
                                 # on ~1k users is noisy; with 5, SASRec on ML-100K stopped at epoch 47
                                 # while its best epoch with 10-15 came later and was better
    eval_every: int = 1          # validate after every epoch (cheap at these sizes)
    seed: int = 0                # seeds batching, negatives and evaluation sampling
    dynamic_length: bool = True  # cut each batch to its longest real row (same results, less work)
    bucket: bool = True          # group users of similar length into batches: ~1.5-3x less work on
                                 # long-tailed lengths, same rows per epoch, batch order shuffled
    window_stride: float = 0.5   # training rows end every 0.5 max_len items back from a sequence's end
                                 # (data/batching.py): each item is a target ~twice per epoch, with a long
                                 # and a short context; 0 = the last max_len only, as SASRec's code
    max_batch_tokens: int = 0    # 0 = off (one shot). h2rec: encode a batch of more rows x columns than
                                 # this in row chunks, recomputed in backward (minih2rec/recompute.py):
                                 # the memory of one chunk for one extra forward; for long sequences
    eval_protocol: str = "full"  # "full" ranking (default) or "sampled" (100 negatives, the paper's)
    eval_metric: str = "NDCG@10"  # what early stopping watches
    eval_batch_size: int = 256   # users scored at once during evaluation

    def __post_init__(self):
        validate_positive(self, "epochs", "batch_size", "eval_every", "eval_batch_size")
        if not (isinstance(self.lr, numbers.Real) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"TrainConfig.lr (--lr) must be a finite number > 0, got {self.lr}")
        if not (isinstance(self.seed, numbers.Integral) and self.seed >= 0):   # numpy seeds are non-negative
            raise ValueError(f"TrainConfig.seed (--seed) must be an integer >= 0, got {self.seed!r}")
        if not (math.isfinite(self.weight_decay) and math.isfinite(self.clip_norm)):
            raise ValueError("TrainConfig.weight_decay and clip_norm must be finite, got "
                             f"{self.weight_decay}, {self.clip_norm}")
        if self.weight_decay < 0 or self.clip_norm < 0 or self.patience < 0:
            raise ValueError("TrainConfig.weight_decay, clip_norm and patience must be >= 0, got "
                             f"{self.weight_decay}, {self.clip_norm}, {self.patience}")
        if not (isinstance(self.window_stride, numbers.Real) and 0 <= self.window_stride <= 1):
            raise ValueError(f"TrainConfig.window_stride (--window-stride) must be a number in [0, 1] "
                             f"(a share of max_len; 0 = the last window only), got {self.window_stride!r}")
        if not (isinstance(self.max_batch_tokens, numbers.Integral) and self.max_batch_tokens >= 0):
            raise ValueError(f"TrainConfig.max_batch_tokens (--max-batch-tokens) must be an integer >= 0 "
                             f"(0 = off), got {self.max_batch_tokens!r}")
        if self.eval_protocol not in ("full", "sampled"):
            raise ValueError(f"TrainConfig.eval_protocol must be 'full' or 'sampled', got {self.eval_protocol!r}")

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"TrainConfig: unknown fields {sorted(unknown)}")
        return cls(**d)


PRESETS = {
    # tests and tutorials in smoke mode: seconds
    "tiny": dict(epochs=3, batch_size=64, patience=2),
    # the full budget: early stopping decides (the README's Results)
    "default": dict(),
    # the README quick start: a few minutes on 2 cores, models a little short of converged
    "quick": dict(epochs=20, patience=3),
    # the paper's budget
    "paper": dict(epochs=300, batch_size=256, patience=10),
}


def preset(name, **overrides):
    """Return ``TrainConfig`` for a named preset (``tiny``, ``default``, ``paper``) with overrides."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return replace(TrainConfig(**PRESETS[name]), **overrides)


def validate_positive(cfg, *names):
    """Raise ValueError naming the first field of ``cfg`` among ``names`` that is not >= 1."""
    for n in names:
        v = getattr(cfg, n)
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{type(cfg).__name__}.{n} must be an integer >= 1, got {v!r}")
