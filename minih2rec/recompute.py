"""Bounded-memory training of H2Rec: encode a batch in row chunks, recompute them in backward.

Glossary: B batch, T length, d width, b rows of a chunk, T_c its length.

An **opt-in of the trainer** (``TrainConfig.max_batch_tokens``, ``--max-batch-tokens``): a
batch of more than ``max_batch_tokens`` (rows x columns) is trained through
:func:`chunked_loss` instead of ``model.loss``. The model itself always computes in one shot.

Why. H2Rec keeps every activation of its backbone runs (R = 2, or 4 with L_msg) alive until
backward: for 128 Yelp users cut to T = 200, gigabytes. But the rows of a batch are
independent inside the encoder -- every attention is within a row -- and what the loss reads
from the encoder is small: the states ``[H_h ; H_s]`` (B, T, 2d) and, with L_msg, the user
states ``U_m, U_f`` (B, d). So only ``H2Rec.encode`` is chunked; the loss itself
(``H2Rec.loss_from``: rec loss, L_msg, L_code) runs once on the whole batch, as in one shot:

1. **forward** (no graph): for each chunk of rows, save the dropout generator's state and
   run ``encode``; write its outputs into the (B, T, 2d) and (B, d) arrays.
2. **backward**, given the gradients ``G`` of those arrays: for each chunk, restore its
   generator state (the same dropout masks), run ``encode`` again *with* a graph, and
   back-propagate ``sum(outputs_c * G_c)`` -- its gradient is the chunk's share of the true
   one. Parameter gradients accumulate in ``.grad``; ``e_s`` is a leaf copy whose gradient
   is handed back to the outer graph, so the SID table is built and differentiated once.

Rows are sorted by length and each chunk is cut to its own longest row (left padding is
dropped; absolute positions are kept, and padding never changes a real output, which is
exactly zero), so a long-tailed batch costs about its real tokens, not B x T.

The same loss, the same gradient. The rec loss draws its negatives once, outside the chunks,
so every term sees exactly what it would in one shot. Dropout masks are drawn per chunk,
so with dropout a chunked batch sees different (equally distributed) masks than the same
batch in one shot; without dropout the two agree to float rounding, in every loss term and
every gradient (tests/test_recompute.py).

The trade: one extra forward of the encoder, for the memory of one chunk's graph. Measured
on a shared 2-core machine (load 6-9, ``OPENBLAS_NUM_THREADS=1``; README, "Measured"):

* ML-100K, the default H2Rec, batches of 128, 3,072 tokens per chunk: 39.0-45.2 s per epoch
  chunked vs 26.7-37.4 s in one shot; peak RSS 674-678 MB vs 738-745 MB. The code before
  this module left ``models/`` shows the same: 39.6-42.9 s chunked vs 21.6-23.6 s one shot.
* ML-1M-shaped, max_len 200, 8 steps: 300 s, 831 MB chunked vs 205 s, 2,901 MB in one shot.

So the one-shot step is the faster one: an earlier measurement (chunks 10-20 % faster on
ordinary batches, read as a cache-footprint effect: a 3,072-token chunk's d = 64 activations
fit in L2/L3, a whole batch's do not) did not reproduce with length-bucketed batches, the
default now. Bucketing already gives what per-chunk length cuts gave (batches that cost about
their real tokens) without recomputing; chunking pays only when memory is the limit.
"""
import numpy as np

from .autograd import Tensor, enable_grad, no_grad
from .models.h2rec import H2Rec, Encoded


def plan_chunks(seq, max_tokens):
    """Split the rows of ``seq`` (B, T) into chunks of at most ``max_tokens`` row-tokens.

    Rows are sorted by real length; a chunk's cost is ``rows x its longest row``.

    Returns
    -------
    list of (rows int64 (b,), T_c int) -- row ids in ascending length, the chunk's length.
    """
    lengths = np.maximum((np.asarray(seq) != 0).sum(axis=1), 1)           # (B,) real inputs
    chunks, rows = [], []
    for r in np.argsort(lengths, kind="stable"):                          # ascending length
        if rows and (len(rows) + 1) * int(lengths[r]) > max_tokens:
            chunks.append((np.array(rows, dtype=np.int64), int(lengths[rows[-1]])))
            rows = []
        rows.append(r)
    if rows:
        chunks.append((np.array(rows, dtype=np.int64), int(lengths[rows[-1]])))
    return chunks


def chunked_loss(model, batch, max_tokens):
    """H2Rec's loss on ``batch`` with the encoder run chunk by chunk (see the module docstring).

    Parameters
    ----------
    model : H2Rec.
    batch : Batch (``seq``, ``positions``, ``target``, ``neg``).
    max_tokens : int >= 1 -- rows x columns encoded at once.

    Returns
    -------
    Tensor scalar, the value ``model.loss(batch)`` would give; ``model.last_losses`` is set.
    """
    if not isinstance(model, H2Rec):
        raise ValueError(f"max_batch_tokens: chunked recomputation is implemented for H2Rec, "
                         f"not {type(model).__name__}; leave max_batch_tokens at 0")
    es_table = model.code_emb.table()                                     # (V+1, d), once per step
    out = encode_in_chunks(model, batch.seq, batch.positions, es_table, max_tokens,
                           with_msg=model.config.lambda_msg > 0)
    return model.loss_from(out, batch, es_table)


def encode_in_chunks(model, seq, positions, es_table, max_tokens, with_msg=False):
    """``model.encode`` of ``seq`` (B, T) in row chunks, recomputed in backward -> Encoded.

    The outputs are slices of one graph node, whose backward re-runs every chunk with a graph.
    """
    seq, positions = np.asarray(seq), np.asarray(positions)
    B, T = seq.shape
    d, dtype = es_table.shape[1], es_table.dtype
    sizes = (B * T * 2 * d, B * d, B * d) if with_msg else (B * T * 2 * d,)
    es_leaf = Tensor(es_table.data, requires_grad=True, dtype=dtype)      # (V+1, d) leaf copy
    chunks = []                                                           # (rows, T_c, rng state)
    packed = np.zeros(sum(sizes), dtype=dtype)                            # all outputs, flat
    states, users = _unpack(packed, sizes, B, T, d)                       # views into packed
    with no_grad():
        for rows, T_c in plan_chunks(seq, max_tokens):
            chunks.append((rows, T_c, model.rng.bit_generator.state))
            out = model.encode(seq[rows, T - T_c:], positions[T - T_c:], es_leaf, with_msg)
            states[rows, T - T_c:] = out.states.data                      # (b, T_c, 2d)
            for u, part in zip(users, out[1:]):
                u[rows] = part.data                                       # (b, d)

    def backward(g):
        g_states, g_users = _unpack(g, sizes, B, T, d)
        saved = model.rng.bit_generator.state
        try:
            with enable_grad():            # the recomputation needs a graph even under no_grad
                for rows, T_c, state in chunks:
                    model.rng.bit_generator.state = state                 # the same dropout masks
                    out = model.encode(seq[rows, T - T_c:], positions[T - T_c:], es_leaf, with_msg)
                    surrogate = (out.states * g_states[rows, T - T_c:]).sum()
                    for u, gu in zip(out[1:], g_users):
                        surrogate = surrogate + (u * gu[rows]).sum()
                    surrogate.backward()                                  # params accumulate .grad
        finally:
            model.rng.bit_generator.state = saved
        grad, es_leaf.grad = es_leaf.grad, None
        return (grad,)

    node = Tensor.from_op(packed, (es_table,), backward, "encode_in_chunks")
    parts, start = [], 0
    for size, shape in zip(sizes, [(B, T, 2 * d), (B, d), (B, d)]):
        parts.append(node[start:start + size].reshape(shape))
        start += size
    return Encoded(*parts)


def _unpack(flat, sizes, B, T, d):
    """Views of the flat array: states (B, T, 2d) and the list of user-state arrays (B, d)."""
    states = flat[:sizes[0]].reshape(B, T, 2 * d)
    users, start = [], sizes[0]
    for size in sizes[1:]:
        users.append(flat[start:start + size].reshape(B, d))
        start += size
    return states, users
