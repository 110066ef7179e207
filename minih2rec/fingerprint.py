"""Data fingerprints: one SHA-256 that says "this is the very data the model was trained on".

A checkpoint stores the fingerprint of its ``Interactions`` *as loaded* (after
dedup, k-core and id remapping), so ``--resume`` and ``evaluate`` can refuse other
data instead of silently reporting numbers for it -- wherever the data now lives.
"""
import hashlib

import numpy as np


def data_fingerprint(inter):
    """SHA-256 (hex) of the interactions, their id maps and the item side information.

    Covers the item sequences, timestamps, raw user and item ids, item text and
    content vectors -- everything that can change a split, the semantic IDs or a
    metric. Two loads of the same file give the same fingerprint; a different
    ``--data-seed``, ``--k-core`` or file gives a different one.

    Parameters
    ----------
    inter : data.Interactions

    Returns
    -------
    str -- 64 hex digits.
    """
    h = hashlib.sha256()
    lengths = np.array([len(s) for s in inter.sequences], dtype=np.int64)                    # (U,)
    _add(h, "num_items", np.array([inter.num_items], dtype=np.int64))
    _add(h, "lengths", lengths)
    _add(h, "items", np.concatenate(inter.sequences) if len(lengths) else np.zeros(0, np.int64))
    if inter.timestamps is not None:
        _add(h, "timestamps", np.concatenate([np.asarray(t, dtype=np.float64) for t in inter.timestamps])
             if len(lengths) else np.zeros(0))
    _add(h, "user_ids", inter.user_ids)
    _add(h, "item_ids", inter.item_ids)
    if inter.item_text is not None:
        _add_bytes(h, "item_text", "\0".join(map(str, inter.item_text)).encode("utf-8"))
    if inter.content is not None:
        _add(h, "content", np.asarray(inter.content, dtype=np.float32))
    return h.hexdigest()


def _add(h, name, array):
    """Feed one array, with its dtype and shape, so equal bytes of other shapes differ."""
    a = np.asarray(array)
    if a.dtype == object:                      # raw ids read as Python objects: hash their text
        a = a.astype(str)
    a = np.ascontiguousarray(a)
    _add_bytes(h, f"{name}:{a.dtype.str}:{a.shape}", a.tobytes())


def _add_bytes(h, label, data):
    h.update(label.encode() + b"\0" + len(data).to_bytes(8, "little"))
    h.update(data)
