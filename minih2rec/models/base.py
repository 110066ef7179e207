"""SequentialRecommender: the contract every trained model follows.

Glossary: B batch, T length, d width, V items (ids 1..V, 0 = padding).

A model maps left-padded item sequences ``seq`` (B, T) and absolute ``positions`` (T,)
to user states and scores items by a dot product with an item table:

    H = user_states(seq, positions)          # (B, T, d')  d' = d for SASRec, 2d for H2Rec
    E = item_table()                         # (V+1, d')   row 0 = padding
    score(b, t, i) = H[b, t] . E[i]

A subclass defines ``forward``, ``item_table`` and (if its scoring states are not what
``forward`` returns) ``user_states``; ``loss`` and ``score_users`` then come for free.
The training loss is chosen by ``config.loss``:

* ``"full_softmax"`` -- cross-entropy over all V items (default; exact, O(M V d));
* ``"bce"``          -- one sampled negative per position (needs ``batch.neg``);
* ``"sampled_softmax"`` -- N shared negatives with logQ correction, for large catalogues
  (``sampled_softmax_loss`` below; the compiled kernel does forward and backward).
"""
import numpy as np

from ..autograd import no_grad
from ..losses.rec import bce_loss, full_softmax_loss
from ..nn import Module

REC_LOSSES = ("full_softmax", "bce", "sampled_softmax")  # accepted values of config.loss


class SequentialRecommender(Module):
    """Base class: ``forward``, ``item_table``, ``user_states``, ``loss``, ``score_users``.

    Subclasses set ``self.config`` (a dataclass with at least ``num_items`` and ``loss``).
    """

    config = None

    @property
    def needs_negatives(self):
        """True when the loss samples one negative per position (the Trainer then draws them)."""
        return self.config.loss == "bce"

    def forward(self, seq, positions):
        """User states ``H`` (B, T, d) for ``seq`` (B, T) and ``positions`` (T,)."""
        raise NotImplementedError(f"{type(self).__name__} must define forward(seq, positions)")

    def item_table(self):
        """The (V+1, d') Tensor that states are scored against (row 0 = padding)."""
        raise NotImplementedError(f"{type(self).__name__} must define item_table()")

    def user_states(self, seq, positions):
        """States used for scoring, (B, T, d'); by default ``forward``'s output."""
        return self.forward(seq, positions)

    # ---- training --------------------------------------------------------------------------

    def loss(self, batch):
        """Next-item loss of a ``Batch`` (``seq``, ``positions``, ``target``, ``neg``) -> scalar Tensor."""
        H = self.user_states(batch.seq, batch.positions)      # (B, T, d')
        return self.rec_loss(H, self.item_table(), batch)

    def rec_loss(self, H, table, batch):
        """Dispatch on ``config.loss`` (see the module docstring)."""
        name = self.config.loss
        if name == "full_softmax":
            return full_softmax_loss(H, table, batch.target)
        if name == "bce":
            if batch.neg is None:
                raise ValueError("loss='bce' needs batch.neg (sampled negatives); "
                                 "build the batches with negatives")
            return bce_loss(H, table, batch.target, batch.neg)
        if name == "sampled_softmax":
            return self.sampled_softmax_loss(H, table, batch)
        raise ValueError(f"config.loss={name!r} is not one of {REC_LOSSES}")

    proposal = None          # losses.sampled.Proposal for loss="sampled_softmax" (None: uniform)
    num_negatives = 256      # N shared negatives per batch for loss="sampled_softmax"
    sampling_rng = None      # created from config.seed at the first sampled-softmax step

    def sampled_softmax_loss(self, H, table, batch):
        """N shared negatives from ``self.proposal`` with logQ correction (DESIGN §4).

        The proposal is uniform unless set, e.g. ``model.proposal =
        Proposal.popularity(split.train_popularity(), beta=0.5)``. The forward/backward
        runs in the compiled ``sampled_softmax`` kernel.
        """
        from ..losses.sampled import Proposal, sampled_softmax_next_item
        if self.proposal is None:
            self.proposal = Proposal.uniform(self.config.num_items)
        if self.sampling_rng is None:
            self.sampling_rng = np.random.default_rng([self.config.seed, 1])
        return sampled_softmax_next_item(H, table, batch.target, self.proposal, self.num_negatives,
                                         self.sampling_rng)

    # ---- inference -------------------------------------------------------------------------

    def score_users(self, seq, positions):
        """Scores of every item for each user's next item, ``H[:, -1] @ E^T``.

        Sequences are left-padded, so the last real item of every row sits in the last
        column: the state at ``t = T - 1`` is the user state. Runs in eval mode (no
        dropout) without recording a graph; the previous train/eval mode is restored.

        Parameters
        ----------
        seq : int ndarray (B, T), left-padded (0 = pad); each row needs a real last item.
        positions : int ndarray (T,)

        Returns
        -------
        ndarray (B, V+1) float32; column 0 is padding (the caller excludes it).
        """
        seq = np.asarray(seq)
        if seq.ndim != 2:
            raise ValueError(f"score_users: seq must be (B, T), got shape {seq.shape}")
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                H = self.user_states(seq, positions)            # (B, T, d')
                table = self.item_table()                       # (V+1, d')
                return H.data[:, -1, :] @ table.data.T          # (B, V+1)
        finally:
            self.train(was_training)


def check_sequence_inputs(seq, positions, num_items, max_len, who):
    """Validate ``seq`` (B, T) item ids in [0, V] and ``positions`` (T,) in [0, max_len); return arrays."""
    seq, positions = np.asarray(seq), np.asarray(positions)
    if seq.ndim != 2 or not np.issubdtype(seq.dtype, np.integer):
        raise ValueError(f"{who}: seq must be an integer (B, T) array, got {seq.dtype} {seq.shape}")
    if positions.shape != (seq.shape[1],) or not np.issubdtype(positions.dtype, np.integer):
        raise ValueError(f"{who}: positions must be integers of shape ({seq.shape[1]},), "
                         f"got {positions.dtype} {positions.shape}")
    if seq.size and (seq.min() < 0 or seq.max() > num_items):
        bad = seq.min() if seq.min() < 0 else seq.max()
        raise IndexError(f"{who}: item id {bad} outside [0, {num_items}]")
    if positions.size and (positions.min() < 0 or positions.max() >= max_len):
        bad = positions.min() if positions.min() < 0 else positions.max()
        raise IndexError(f"{who}: position {bad} outside [0, {max_len}) (config.max_len={max_len})")
    return seq, positions
