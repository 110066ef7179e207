"""Leave-one-out split: last item = test target, second-to-last = validation target.

For a user with items ``[i_1 ... i_n]`` and n >= 3::

    train        = [i_1 ... i_{n-2}]
    valid_target = i_{n-1}     (predicted from train)
    test_target  = i_n         (predicted from train + [i_{n-1}])

Users with fewer than 3 items keep *all* their items in ``train`` and get target 0 at
both stages: they still train the model but are excluded from evaluation (a target of
0 means "no target"; ``eval_users(stage)`` lists the users that have one).
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class Split:
    """Leave-one-out split of an :class:`~minih2rec.data.interactions.Interactions`.

    Attributes
    ----------
    train : list of U int64 arrays -- training sequences.
    valid_target : ndarray (U,) int64 -- validation item per user, 0 = none.
    test_target : ndarray (U,) int64 -- test item per user, 0 = none.
    num_items : int -- V.
    name : str -- dataset name used in printouts.
    """

    train: list
    valid_target: np.ndarray
    test_target: np.ndarray
    num_items: int
    name: str = "data"

    @property
    def num_users(self):
        """U, the number of users (including those without targets)."""
        return len(self.train)

    def targets(self, stage):
        """(U,) int64 targets of ``stage`` ("valid" or "test"), 0 = no target."""
        _check_stage(stage)
        return self.valid_target if stage == "valid" else self.test_target

    def eval_users(self, stage):
        """(n,) int64 ids of the users evaluated at ``stage`` (those with a target), ascending."""
        return np.flatnonzero(self.targets(stage)).astype(np.int64)

    def history(self, stage):
        """Input sequences at ``stage``: train ("valid"), train + [valid target] ("test")."""
        _check_stage(stage)
        if stage == "valid":
            return list(self.train)
        return [np.append(s, v) if v else s for s, v in zip(self.train, self.valid_target)]

    def train_popularity(self):
        """(V+1,) int64 count of each item in the training sequences (index 0 is 0)."""
        if not any(len(s) for s in self.train):
            return np.zeros(self.num_items + 1, dtype=np.int64)
        return np.bincount(np.concatenate(self.train), minlength=self.num_items + 1)

    def describe(self):
        """One line: users, train interactions, evaluated users."""
        n_train = sum(len(s) for s in self.train)
        return (f"{self.name} leave-one-out: {self.num_users:,} users, {n_train:,} train "
                f"interactions, {len(self.eval_users('test')):,} users with valid/test targets")


def split_leave_one_out(inter):
    """Leave-one-out split (see the module docstring for users with < 3 items).

    Parameters
    ----------
    inter : Interactions

    Returns
    -------
    Split
    """
    U = inter.num_users
    train = []
    valid = np.zeros(U, dtype=np.int64)
    test = np.zeros(U, dtype=np.int64)
    for u, seq in enumerate(inter.sequences):
        if len(seq) >= 3:
            train.append(seq[:-2].copy())
            valid[u], test[u] = seq[-2], seq[-1]
        else:
            train.append(seq.copy())
    return Split(train=train, valid_target=valid, test_target=test,
                 num_items=inter.num_items, name=inter.name)


def _check_stage(stage):
    if stage not in ("valid", "test"):
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")
