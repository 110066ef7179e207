"""Where item content vectors come from: a user's matrix file, the dataset, or its text.

Everything here returns an item-aligned matrix of shape (V+1, D), float32:
row i is item id i, row 0 is the padding item and is all zeros.
"""
import logging
import os

import numpy as np

from .text import content_vectors_from_text

log = logging.getLogger("minih2rec.semantic")
_NPZ_KEYS = ("content", "vectors", "embeddings")   # looked up in this order in a multi-array .npz


def load_content_vectors(path, num_items):
    """Load a user-supplied content matrix (e.g. sentence embeddings) aligned to item ids.

    Parameters
    ----------
    path : str or Path -- ``.npy``, or ``.npz`` holding one array (or one named
        ``content``, ``vectors`` or ``embeddings``).
    num_items : int -- V, the number of items of the dataset.
        The array must be (V, D) (row r is item id r+1) or (V+1, D) (row r is item id r;
        row 0, the padding item, is ignored).

    Returns
    -------
    ndarray (V+1, D) float32, row 0 zeros.

    Raises
    ------
    ValueError naming the file if it cannot be read, has the wrong shape, or has a
    NaN/inf entry (the message gives the first bad item id).
    """
    path = os.fspath(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"content file {path!r} could not be read as .npy/.npz: {exc}") from exc
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.files)
            key = keys[0] if len(keys) == 1 else next((k for k in _NPZ_KEYS if k in keys), None)
            if key is None:
                raise ValueError(f"content file {path!r} holds arrays {keys}; expected one array or one "
                                 f"named {' / '.join(_NPZ_KEYS)}")
            arr = loaded[key]
    else:
        arr = loaded
    return _align(arr, num_items, f"content file {path!r}")


# Residual k-means and the PCA hot start give the same codes / directions for x and c*x,
# so content far from unit scale is rescaled (float32 squared distances overflow near
# 1e19 and underflow near 1e-19, which gives every item the same code).
SCALE_RANGE = (1e-3, 1e3)   # largest |entry| outside this range: divide by it
MAX_NORM_RATIO = 1e6        # a row this many times the median row norm is an outlier


def _align(arr, num_items, where):
    """Check a (V, D) / (V+1, D) matrix and return it as (V+1, D) float32 with a zero row 0.

    Raises ValueError naming ``where`` and the first bad row (NaN/inf, outlier norm, no
    variation); a matrix whose largest entry is outside ``SCALE_RANGE`` is divided by it.
    """
    arr = np.asarray(arr)
    V = int(num_items)
    if arr.ndim != 2 or arr.shape[0] not in (V, V + 1) or arr.shape[1] < 1:
        raise ValueError(f"{where} has shape {arr.shape}; expected ({V}, D) or ({V + 1}, D) for {V} items")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{where} has dtype {arr.dtype}; expected a float matrix")
    offset = 1 if arr.shape[0] == V else 0                    # array row r holds item id r + offset
    items = np.asarray(arr[1 - offset:], dtype=np.float64)    # (V, D) rows of items 1..V
    bad = np.flatnonzero(~np.isfinite(items).all(axis=1))
    if bad.size:
        r = int(bad[0]) + 1 - offset
        raise ValueError(f"{where}: row {r} (item id {int(bad[0]) + 1}) has a NaN or inf entry; "
                         f"{bad.size} bad rows in total")
    items = _sane_scale(items, offset, where)
    out = np.zeros((V + 1, arr.shape[1]), dtype=np.float32)
    out[1:] = items
    return out


def _sane_scale(items, offset, where):
    """``items`` (V, D) float64 rescaled into ``SCALE_RANGE``, or ValueError for degenerate content."""
    top = float(np.abs(items).max())
    if top == 0.0 or not np.ptp(items, axis=0).any():
        raise ValueError(f"{where}: all {len(items)} content rows are identical, so every item would get "
                         f"the same code; the content carries no information about the items")
    norms = np.linalg.norm(items / top, axis=1)               # scaled first: no overflow
    typical = float(np.median(norms[norms > 0]))
    k = int(np.argmax(norms))
    if norms[k] > MAX_NORM_RATIO * typical:
        raise ValueError(f"{where}: row {k + 1 - offset} (item id {k + 1}) has norm "
                         f"{norms[k] / typical:.3g} times the median row norm; an outlier this large "
                         f"squeezes every other item onto one code (fix or drop that row)")
    if not SCALE_RANGE[0] <= top <= SCALE_RANGE[1]:
        log.info("%s: largest entry %.3g; content divided by it (codes do not depend on the scale)",
                 where, top)
        items = items / top
    return items


def content_for(interactions, dim=64, seed=0):
    """Content vectors for a dataset: its own content matrix if it has one, else LSA of its item text.

    Parameters
    ----------
    interactions : minih2rec.data.Interactions -- uses ``num_items``, ``content`` ((V+1, D) or None)
        and ``item_text`` (list of V+1 strings, index 0 = padding, or None).
    dim : int -- width of the text vectors (ignored when planted content exists).
    seed : int -- seeds the randomized SVD.

    Returns
    -------
    ndarray (V+1, D) float32, row 0 zeros.

    Raises
    ------
    ValueError if the dataset has neither content vectors nor item text.
    """
    V = int(interactions.num_items)
    name = getattr(interactions, "name", "dataset")
    content = getattr(interactions, "content", None)
    if content is not None:
        return _align(content, V, f"{name}.content")
    texts = getattr(interactions, "item_text", None)
    if texts is None:
        raise ValueError(f"{name} has neither content vectors nor item text: pass a content matrix "
                         f"(.npy/.npz, (V, D)) to build semantic IDs from")
    if len(texts) != V + 1:
        raise ValueError(f"{name}.item_text has {len(texts)} entries; expected V+1 = {V + 1} (index 0 = padding)")
    out = np.zeros((V + 1, dim), dtype=np.float32)
    out[1:] = content_vectors_from_text(list(texts[1:]), dim=dim, seed=seed)
    return out
