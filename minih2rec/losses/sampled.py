"""Sampled softmax with logQ correction, as an autograd node over the compiled kernel.

For a large catalogue the full softmax over V items is the cost of training. Instead,
draw N negatives once per batch from a proposal Q, **shared** by all M positions, and
score each position against its positive and those N items only (Jean et al. 2015;
Yi et al. 2019)::

    pos_m  = s_m . E[y_m] - log_q(y_m)
    neg_mj = s_m . E[n_j] - log_q(n_j)          (-inf when n_j == y_m: an accidental hit)
    loss   = mean_m ( logsumexp(pos_m, neg_m1..neg_mN) - pos_m )

``log_q(i) = log(N * q_i)``, the log of the expected number of times item i is drawn,
removes the proposal's bias: popular items are drawn more often and would otherwise be
pushed down too hard.

Glossary: M real positions, N negatives, d width, R table rows (V+1), V items.

The forward and backward arithmetic lives in ``minih2rec.kernels.sampled_softmax`` (NumPy
reference, Numba and Cython versions); this module is the glue: the proposal, and a
graph node whose backward scales the kernel's gradients by the upstream gradient.
"""
import numpy as np

from ..autograd import Tensor
from ..kernels import sampled_softmax as _kernel
from ..kernels.scatter_add import scatter_add
from .rec import gather_real


class Proposal:
    """The distribution negatives are drawn from, over items 1..V (never the padding id 0).

    Build with :meth:`uniform` or :meth:`popularity`. Sampling is **with replacement**: an item
    can appear several times among the N negatives (each copy is its own logit; ``log_q``
    counts expected copies, so the correction stays right).

    Attributes
    ----------
    probs : float64 ndarray (V+1,) -- q_i; ``probs[0] == 0``, ``probs[1:]`` sums to 1.
    num_items : int -- V.
    """

    def __init__(self, probs):
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim != 1 or probs.size < 2:
            raise ValueError(f"Proposal: probs must be (V+1,) with V >= 1, got shape {probs.shape}")
        if probs[0] != 0 or not np.all(np.isfinite(probs)) or (probs < 0).any() or probs.sum() <= 0:
            raise ValueError("Proposal: probs must be finite, >= 0, not all 0, with probs[0] == 0 (padding)")
        self.probs = probs / probs.sum()                                   # (V+1,)
        self.num_items = probs.size - 1
        cdf = np.cumsum(self.probs[1:])                                    # (V,) for sampling
        self._cdf = cdf / cdf[-1]                                          # ends at exactly 1

    @classmethod
    def uniform(cls, num_items):
        """``q_i = 1 / V`` for every item 1..V."""
        probs = np.ones(int(num_items) + 1)
        probs[0] = 0.0
        return cls(probs)

    @classmethod
    def popularity(cls, counts, beta=1.0):
        """``q_i ∝ max(count_i, 1) ** beta`` from training counts.

        The floor of 1 keeps items unseen in training samplable (and their ``log_q`` finite);
        ``beta`` in [0, 1] flattens the popularity (0 = uniform, 1 = raw popularity; 0.75 is
        word2vec's choice).

        Parameters
        ----------
        counts : int ndarray (V+1,) -- e.g. ``split.train_popularity()``; ``counts[0]`` is ignored.
        beta : float >= 0.
        """
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 1 or (counts < 0).any():
            raise ValueError(f"Proposal.popularity: counts must be a (V+1,) array >= 0, "
                             f"got shape {counts.shape}")
        if beta < 0:
            raise ValueError(f"Proposal.popularity: beta must be >= 0, got {beta}")
        probs = np.maximum(counts, 1.0) ** beta
        probs[0] = 0.0
        return cls(probs)

    def sample(self, n, rng):
        """Draw ``n`` negative ids with replacement.

        Parameters
        ----------
        n : int >= 0 -- N.
        rng : np.random.Generator.

        Returns
        -------
        int64 ndarray (n,) of ids in 1..V.
        """
        if n < 0:
            raise ValueError(f"Proposal.sample: n must be >= 0, got {n}")
        u = rng.random(int(n))                                             # (n,)
        return np.searchsorted(self._cdf, u, side="right").astype(np.int64) + 1

    def log_q(self, ids, n):
        """logQ correction ``log(n * q_i)``: the log expected count of each id among n draws.

        Parameters
        ----------
        ids : int array (k,) -- positives or negatives.
        n : int -- N, the number of draws.

        Returns
        -------
        float64 ndarray (k,).
        """
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 1 or ids.max() > self.num_items):
            bad = ids.min() if ids.min() < 1 else ids.max()
            raise IndexError(f"Proposal.log_q: id {bad} outside [1, {self.num_items}]")
        if n < 1:
            raise ValueError(f"Proposal.log_q: n (number of draws) must be >= 1, got {n}")
        q = self.probs[ids]                                                # (k,)
        if q.size and q.min() <= 0:
            raise ValueError(f"Proposal.log_q: item {ids.flat[int(np.argmin(q))]} has probability 0 "
                             f"(never drawn), its logQ would be -inf")
        return np.log(n * q)

    def __repr__(self):
        return f"Proposal(V={self.num_items:,})"


def sampled_softmax_loss(states, table, pos_ids, neg_ids, log_q_pos, log_q_neg):
    """logQ-corrected sampled-softmax loss (mean over M) as one graph node.

    Forward and backward both come from one call of the compiled kernel
    ``minih2rec.kernels.sampled_softmax.sampled_softmax`` (so the gradients are computed even
    when none is needed, e.g. for a validation loss); backward multiplies them by the upstream
    gradient and scatters the touched rows into a zero (R, d) table gradient.

    Parameters
    ----------
    states : Tensor (M, d) -- user states at the real positions.
    table : Tensor (R, d) -- item embedding table (same dtype as ``states``).
    pos_ids : int ndarray (M,) -- positive item of each state.
    neg_ids : int ndarray (N,) -- shared negatives (e.g. ``Proposal.sample``).
    log_q_pos : ndarray (M,) -- ``Proposal.log_q(pos_ids, N)``.
    log_q_neg : ndarray (N,) -- ``Proposal.log_q(neg_ids, N)``.

    Returns
    -------
    Tensor scalar.
    """
    if not isinstance(states, Tensor) or not isinstance(table, Tensor):
        raise ValueError("sampled_softmax_loss: states and table must be Tensors")
    if states.dtype != table.dtype:
        raise ValueError(f"sampled_softmax_loss: states ({states.dtype}) and table ({table.dtype}) "
                         f"must share a dtype")
    loss, g_states, touched, g_rows = _kernel.sampled_softmax(
        states.data, pos_ids, neg_ids, table.data, log_q_pos, log_q_neg)
    dtype = states.dtype

    def backward(g):
        gs = gt = None
        if states.requires_grad:
            gs = (g * g_states).astype(dtype, copy=False)                   # (M, d)
        if table.requires_grad:
            gt = np.zeros(table.shape, dtype=dtype)                         # (R, d)
            scatter_add(gt, touched, (g * g_rows).astype(dtype, copy=False))
        return gs, gt
    return Tensor.from_op(np.asarray(loss, dtype=dtype), (states, table), backward, "sampled_softmax")


def sampled_softmax_next_item(H, item_table, target, proposal, num_negatives, rng):
    """Next-item sampled-softmax loss at every real position of a batch.

    Draws ``num_negatives`` shared negatives from ``proposal``, gathers the real positions
    (``target > 0``) and calls :func:`sampled_softmax_loss`.

    Parameters
    ----------
    H : Tensor (B, T, d) -- user states.
    item_table : Tensor (V+1, d).
    target : int ndarray (B, T), 0 = no target.
    proposal : Proposal over the same V items.
    num_negatives : int >= 1 -- N.
    rng : np.random.Generator.

    Returns
    -------
    Tensor scalar.
    """
    if proposal.num_items + 1 != item_table.shape[0]:
        raise ValueError(f"sampled_softmax_next_item: proposal covers {proposal.num_items} items, "
                         f"item_table has {item_table.shape[0]} rows (V+1)")
    if num_negatives < 1:
        raise ValueError(f"sampled_softmax_next_item: num_negatives must be >= 1, got {num_negatives}")
    h, flat = gather_real(H, target)                                       # (M, d)
    y = np.asarray(target).reshape(-1)[flat].astype(np.int64)              # (M,)
    neg = proposal.sample(num_negatives, rng)                              # (N,)
    return sampled_softmax_loss(h, item_table, y, neg,
                                proposal.log_q(y, num_negatives), proposal.log_q(neg, num_negatives))
