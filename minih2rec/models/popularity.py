"""MostPopular: recommend the items with the most training interactions, to everyone.

The floor every sequential model must beat. It ignores the user's sequence;
its score for item i is the number of training interactions of i.

Tie-break: many items share a count (in particular the many rare ones), and
the two protocols treat ties differently (full ranking: lower id first;
sampled: against the target). So that both see the *same* ordering, a small
deterministic term ``0.5 * (V + 1 - i) / (V + 1)`` -- in (0, 0.5), strictly
decreasing in the item id -- is added: equal counts rank the lower id first,
and since counts are integers the term never reorders different counts.
``MostPopularConfig(tie_break=False)`` turns it off.

Shapes: B users, T input length, V items.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class MostPopularConfig:
    """Settings of the popularity baseline."""
    # add a term in (0, 0.5) decreasing with the item id, so equal counts have a fixed
    # order (lower id first) under both protocols; False keeps exact ties
    tie_break: bool = True


class MostPopular:
    """Popularity baseline with the model interface used by :func:`minih2rec.eval.evaluate`.

    Use ``MostPopular().fit(split)``; then ``score_users(seq, positions)`` returns the
    same scores for every user.
    """
    name = "mostpop"

    def __init__(self, config=None):
        self.config = config if config is not None else MostPopularConfig()
        self.scores = None          # (V+1,) float64 after fit; column 0 = -1 (padding)
        self.training = False       # nothing to train; kept for the model interface

    def fit(self, split):
        """Set the scores from ``split.train_popularity()`` ((V+1,) counts). Returns self."""
        pop = np.asarray(split.train_popularity())
        if pop.ndim != 1 or pop.shape[0] < 2 or (pop.size and pop.min() < 0):
            raise ValueError(f"MostPopular.fit: train_popularity() must be (V+1,) non-negative counts, "
                             f"got shape {pop.shape}")
        V = pop.shape[0] - 1
        scores = pop.astype(np.float64)                                  # (V+1,)
        if self.config.tie_break:
            ids = np.arange(V + 1, dtype=np.float64)
            scores += 0.5 * (V + 1 - ids) / (V + 1)                      # (0, 0.5) for items 1..V; lower id higher
        scores[0] = -1.0                                                 # padding: below every item
        self.scores = scores
        return self

    def score_users(self, seq, positions=None):
        """Scores ``(B, V+1)`` float64: the popularity row repeated for each of the B users.

        Parameters
        ----------
        seq : array-like int (B, T) -- ignored except for B.
        positions : ignored.
        """
        if self.scores is None:
            raise ValueError("MostPopular.score_users: call fit(split) first")
        B = np.asarray(seq).shape[0]
        return np.tile(self.scores, (B, 1))                              # (B, V+1)

    def eval(self):
        """No-op (no dropout); returns self."""
        return self

    def train(self, mode=True):
        """No-op; returns self."""
        return self
