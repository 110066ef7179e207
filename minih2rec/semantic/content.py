"""Where item content vectors come from: a user's matrix file, the dataset, or its text.

Everything here returns an item-aligned matrix of shape (V+1, D), float32:
row i is item id i, row 0 is the padding item and is all zeros.
"""
import os

import numpy as np

from .text import content_vectors_from_text

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


def _align(arr, num_items, where):
    """Check a (V, D) / (V+1, D) matrix and return it as (V+1, D) float32 with a zero row 0."""
    arr = np.asarray(arr)
    V = int(num_items)
    if arr.ndim != 2 or arr.shape[0] not in (V, V + 1) or arr.shape[1] < 1:
        raise ValueError(f"{where} has shape {arr.shape}; expected ({V}, D) or ({V + 1}, D) for {V} items")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{where} has dtype {arr.dtype}; expected a float matrix")
    offset = 1 if arr.shape[0] == V else 0                    # array row r holds item id r + offset
    items = arr[1 - offset:]                                  # (V, D) rows of items 1..V
    bad = np.flatnonzero(~np.isfinite(items).all(axis=1))
    if bad.size:
        r = int(bad[0]) + 1 - offset
        raise ValueError(f"{where}: row {r} (item id {int(bad[0]) + 1}) has a NaN or inf entry; "
                         f"{bad.size} bad rows in total")
    out = np.zeros((V + 1, arr.shape[1]), dtype=np.float32)
    out[1:] = items
    return out


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
