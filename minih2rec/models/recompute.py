"""Row-chunked loss with recomputation: bounded memory for long batches, the same loss.

Glossary: B batch, T length, d width, M real positions of the batch, c a chunk of rows.

Why. A batch of 128 Yelp users cut to T = 200 keeps every activation of H2Rec's four
backbone passes alive until backward: gigabytes. But the users of a batch are
independent until the very end -- every attention is within a row -- and the loss is

    L = sum_c (M_c / M) L_rec(c)  +  lambda_msg L_msg(U_m, U_f)   (+ lambda_code L_code, elsewhere)

where ``L_rec(c)`` is the mean rec loss over the M_c real positions of chunk c, and L_msg
couples the users only through their last-position states ``U_m, U_f`` (B, d). So:

1. **forward** (no graph): for each chunk, save the dropout generator's state, run the
   encoder, keep the rec-loss value and the chunk's rows of ``U_m, U_f``. Then build the
   small L_msg graph on leaf copies of ``U_m, U_f`` and take its gradient ``G_m, G_f`` (B, d).
2. **backward**: for each chunk, restore its generator state (the same dropout masks),
   re-run the encoder *with* a graph and back-propagate the surrogate
   ``(M_c / M) L_rec(c) + lambda_msg sum(U_m[c] * G_m[c] + U_f[c] * G_f[c])``
   -- its gradient equals that of L restricted to chunk c. Parameter gradients accumulate
   in ``.grad``; the shared SID table ``e_s`` is a leaf copy whose gradient is handed back
   to the outer graph, so ``e_s`` itself is computed and differentiated once per step.

Rows are sorted by length and each chunk is cut to its own longest row (left padding of
the others is dropped; absolute positions are kept, and padding never changes a real
output), so a long-tailed batch costs about its real tokens, not B x T.

Cost: one extra forward of the chunked batches (about +1/3 of their compute); memory:
one chunk's graph. Dropout masks are drawn per chunk, so a chunked batch sees different
(equally distributed) masks than the same batch unchunked; in eval mode the two agree
to float rounding (tests/test_models_recompute.py).
"""
from types import SimpleNamespace

import numpy as np

from ..autograd import Tensor, enable_grad, no_grad
from ..losses.alignment import masked_granularity_loss


def plan_chunks(seq, budget):
    """Split the rows of ``seq`` (B, T) into chunks of at most ``budget`` row-tokens.

    Rows are sorted by real length; a chunk's cost is ``rows x its longest row``.

    Returns
    -------
    list of (rows int64 (b,), T_c int) -- row ids in ascending length, the chunk's length.
    """
    lengths = np.maximum((np.asarray(seq) != 0).sum(axis=1), 1)           # (B,) real inputs
    chunks, rows = [], []
    for r in np.argsort(lengths, kind="stable"):                          # ascending length
        if rows and (len(rows) + 1) * int(lengths[r]) > budget:
            chunks.append((np.array(rows, dtype=np.int64), int(lengths[rows[-1]])))
            rows = []
        rows.append(r)
    if rows:
        chunks.append((np.array(rows, dtype=np.int64), int(lengths[rows[-1]])))
    return chunks


def _chunk_batch(batch, rows, T_c):
    """The sub-batch of ``rows``, cut to its last ``T_c`` columns (a Batch-like namespace)."""
    cut = slice(batch.seq.shape[1] - T_c, None)
    neg = None if batch.neg is None else batch.neg[rows, cut]
    return SimpleNamespace(seq=batch.seq[rows, cut], target=batch.target[rows, cut],
                           positions=batch.positions[cut], neg=neg, users=batch.users[rows])


def chunked_loss(model, batch, es_table, budget):
    """``L_rec + lambda_msg L_msg`` of H2Rec on ``batch``, computed chunk by chunk (see the module doc).

    Parameters
    ----------
    model : H2Rec (uses ``_encode``, ``_table``, ``rec_loss``, ``rng``, ``config``).
    batch : Batch.
    es_table : Tensor (V+1, d) -- this step's SID table (with its graph).
    budget : int -- row-tokens per chunk (rows x length x backbone passes).

    Returns
    -------
    (Tensor scalar, dict of float term values {"rec", "msg"?}).
    """
    c = model.config
    with_msg = c.lambda_msg > 0
    passes = 4 if with_msg else 2
    chunks = plan_chunks(batch.seq, max(1, budget // passes))
    M = int((batch.target > 0).sum())
    B, d = batch.seq.shape[0], c.d
    es_leaf = Tensor(es_table.data, requires_grad=True)                   # (V+1, d) leaf copy
    table = model._table(es_leaf)                                         # (V+1, 2d)

    def run(part):
        """Encoder + rec loss of one chunk -> (L_rec(c), (U_m, U_f) or None)."""
        states, _, msg = model._encode(part.seq, part.positions, es_leaf, with_msg=with_msg)
        return model.rec_loss(states, table, part), msg

    parts, rng_states, rec = [], [], 0.0
    U = np.zeros((2, B, d), dtype=es_table.dtype)                         # (2, B, d) U_m, U_f
    with no_grad():
        for rows, T_c in chunks:
            part = _chunk_batch(batch, rows, T_c)
            rng_states.append(model.rng.bit_generator.state)
            loss_c, msg = run(part)
            weight = (part.target > 0).sum() / M                          # M_c / M
            rec += weight * float(loss_c.data)
            if with_msg:
                U[0, rows], U[1, rows] = msg[0].data, msg[1].data
            parts.append((part, rows, weight))
    terms = {"rec": rec}
    G = None
    if with_msg:
        Um, Uf = Tensor(U[0], requires_grad=True), Tensor(U[1], requires_grad=True)
        msg_loss = masked_granularity_loss(Um, Uf, tau=c.tau_msg)
        msg_loss.backward()
        G = np.stack([Um.grad, Uf.grad]) * np.float32(c.lambda_msg)      # (2, B, d) dL/dU
        terms["msg"] = msg_loss.item()
    value = rec + c.lambda_msg * terms.get("msg", 0.0)

    def backward(g):
        saved = model.rng.bit_generator.state
        try:
            # the recomputed forward needs a graph even when backward() is called under no_grad
            with enable_grad():
                for (part, rows, weight), state in zip(parts, rng_states):
                    model.rng.bit_generator.state = state                 # same dropout masks
                    loss_c, msg = run(part)
                    surrogate = loss_c * float(weight)
                    if G is not None:
                        surrogate = surrogate + ((msg[0] * G[0, rows]).sum() + (msg[1] * G[1, rows]).sum())
                    surrogate.backward(g)                                 # params accumulate .grad
        finally:
            model.rng.bit_generator.state = saved
        grad, es_leaf.grad = es_leaf.grad, None
        return (grad,)
    out = Tensor._make(np.asarray(value, dtype=es_table.dtype), (es_table,), backward, "chunked_loss")
    return out, terms
