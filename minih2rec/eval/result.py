"""EvalResult: the numbers of one evaluation, always together with the protocol that made them.

A bare "NDCG@10 = 0.31" is meaningless without "full ranking over 1,682 items,
943 users, training items excluded" or "100 sampled negatives" next to it --
the two protocols differ by an order of magnitude. So an :class:`EvalResult`
carries its protocol description and every printout starts with it.

Layout::

    result.overall            {"HR@5": 0.12, "NDCG@5": 0.08, ...}
    result.groups["head"]     {"HR@5": ..., ...}      (also "tail", "bucket 0-9", ..., "len <=5", ...)
    result.counts["head"]     number of evaluated users in the group ("overall" = all)
    result.item_counts        catalogue items per item group (head, tail, buckets)
    result.description        "full ranking over 1,682 items, 943 users (...)"
    result["head"]            same as result.groups["head"]; result["overall"] = result.overall
"""
import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class EvalResult:
    """Metrics of one model on one split stage under one protocol.

    Attributes
    ----------
    protocol : "full" or "sampled".
    stage : "valid" or "test".
    description : str -- the protocol in words, printed in every header.
    ks : tuple of int -- cutoffs.
    overall : dict metric -> float -- mean over all evaluated users.
    groups : dict group -> {metric -> float} -- NaN for an empty group.
    counts : dict group -> int -- evaluated users per group, plus ``"overall"``.
    item_counts : dict group -> int -- catalogue items in each item group.
    model : str -- the model's name (``model.name`` if it has one).
    settings : dict -- num_items, num_negatives, seed, max_len, ties ... (JSON-able scalars).
    ranks, users : ndarray (U,) or None -- per-user 0-based rank and user index (not in
        :meth:`to_dict` unless ``per_user=True``); full ranking stores ``max(ks)`` for
        "not in the top-K".
    """
    protocol: str
    stage: str
    description: str
    ks: tuple
    overall: dict
    groups: dict
    counts: dict
    item_counts: dict = field(default_factory=dict)
    model: str = ""
    settings: dict = field(default_factory=dict)
    ranks: object = field(default=None, compare=False, repr=False)
    users: object = field(default=None, compare=False, repr=False)

    # ---------------------------------------------------------------- access
    def __getitem__(self, group):
        """Metrics dict of ``"overall"`` or of any group name."""
        if group == "overall":
            return self.overall
        if group not in self.groups:
            raise KeyError(f"no group {group!r}; groups are: overall, {', '.join(self.groups)}")
        return self.groups[group]

    def keys(self):
        """Group names, ``"overall"`` first."""
        return ["overall", *self.groups]

    def get(self, group, metric):
        """One number: ``get("tail", "NDCG@10")`` (NaN for an empty group)."""
        metrics = self[group]
        if metric not in metrics:
            raise KeyError(f"no metric {metric!r}; metrics are: {', '.join(metrics)}")
        return metrics[metric]

    @property
    def header(self):
        """One line naming model, stage and protocol."""
        who = f"{self.model} -- " if self.model else ""
        return f"{who}{self.stage}, {self.description}"

    # ----------------------------------------------------------- serialising
    def to_dict(self, per_user=False):
        """JSON-serialisable dict (NaN -> None). ``per_user=True`` adds ranks and users as lists."""
        d = {
            "protocol": self.protocol, "stage": self.stage, "description": self.description,
            "ks": [int(k) for k in self.ks], "model": self.model,
            "overall": _clean(self.overall),
            "groups": {g: _clean(m) for g, m in self.groups.items()},
            "counts": {g: int(n) for g, n in self.counts.items()},
            "item_counts": {g: int(n) for g, n in self.item_counts.items()},
            "settings": {k: _scalar(v) for k, v in self.settings.items()},
        }
        if per_user and self.ranks is not None:
            d["ranks"] = [int(r) for r in self.ranks]
            d["users"] = [int(u) for u in self.users]
        return d

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict` (None -> NaN)."""
        back = lambda m: {k: (float("nan") if v is None else float(v)) for k, v in m.items()}  # noqa: E731
        ranks = d.get("ranks")
        return cls(protocol=d["protocol"], stage=d["stage"], description=d["description"],
                   ks=tuple(d["ks"]), overall=back(d["overall"]),
                   groups={g: back(m) for g, m in d["groups"].items()},
                   counts=dict(d["counts"]), item_counts=dict(d.get("item_counts", {})),
                   model=d.get("model", ""), settings=dict(d.get("settings", {})),
                   ranks=None if ranks is None else np.asarray(ranks, dtype=np.int64),
                   users=None if ranks is None else np.asarray(d["users"], dtype=np.int64))

    # -------------------------------------------------------------- printing
    def format_table(self, metrics=("HR@10", "NDCG@10"), groups=None):
        """A text table: a header line naming the protocol, then one row per group.

        Parameters
        ----------
        metrics : sequence of str -- columns, e.g. ``("HR@10", "NDCG@10")``.
        groups : sequence of str or None -- rows (default: overall, then every group).

        Returns
        -------
        str. Empty groups show ``-``; the ``users`` column is the group's user count.
        """
        rows = list(groups) if groups is not None else self.keys()
        for m in metrics:
            if m not in self.overall:
                raise KeyError(f"no metric {m!r}; metrics are: {', '.join(self.overall)}")
        width = max(len("group"), *(len(g) for g in rows))
        cols = [max(len(m), 7) for m in metrics]
        lines = [self.header,
                 f"{'group':<{width}}  {'users':>7}  " + "  ".join(f"{m:>{c}}" for m, c in zip(metrics, cols))]
        lines.append("-" * len(lines[-1]))
        for g in rows:
            vals = self[g]
            n = self.counts.get(g, 0)
            cells = []
            for m, c in zip(metrics, cols):
                v = vals[m]
                cells.append(f"{'-':>{c}}" if math.isnan(v) else f"{v:>{c}.4f}")
            lines.append(f"{g:<{width}}  {n:>7,}  " + "  ".join(cells))
        return "\n".join(lines)

    def __str__(self):
        return self.format_table()


def _clean(metrics):
    """Metric dict with Python floats, NaN -> None (valid JSON)."""
    return {k: (None if v is None or math.isnan(v) else float(v)) for k, v in metrics.items()}


def _scalar(v):
    """NumPy scalars -> Python scalars so json.dumps accepts them."""
    if isinstance(v, np.generic):
        return v.item()
    return v
