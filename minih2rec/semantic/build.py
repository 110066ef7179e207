"""The one road to semantic IDs: item content -> residual quantizer -> :class:`SemanticIDs`.

``python -m minih2rec sids`` (through :mod:`semantic.job`) and the model factory
(``minih2rec.factory``, when ``train`` is not given a ``--sids`` file) both call
:func:`fit_semantic_ids`, so the file the ``sids`` command writes holds the very codes
``train`` would have computed with the same L, K and seed (DESIGN.md §2):

1. content ``x`` (V+1, D): a user's ``.npy``/``.npz`` matrix, else the dataset's own
   vectors, else TF-IDF + SVD of its item text (:func:`semantic.content.content_for`);
2. a quantizer (``RQKMeans`` by default, ``RQVAE`` on request) fitted on items 1..V;
3. ``SemanticIDs.from_quantizer``, stamped with the dataset's item-id fingerprint so a
   file cannot be used on another catalogue by mistake.

Defaults: L = 3 levels; K = :func:`default_codebook_size` (V) -- the smallest power of two
>= sqrt(V), clipped to [16, 256] (32 for V = 1,000, 128 for Yelp's 11,383 items).
"""
import weakref
from dataclasses import replace

import numpy as np

from ..quantize import RQKMeans, RQVAE
from .content import content_for, load_content_vectors
from .ids import SemanticIDs, item_fingerprint

DEFAULT_LEVELS = 3        # DESIGN §2: L = 3-4; 3 keeps K^L >> V for every K the default rule picks
CONTENT_DIM = 64          # width of text-derived content vectors (ignored when the data has its own)
METHODS = ("rqkmeans", "rqvae")

_cache = {}               # id(inter) -> (weakref to inter, {arguments: SemanticIDs or content})


def default_codebook_size(num_items):
    """K for a catalogue of V items: the smallest power of two >= sqrt(V), clipped to [16, 256] and V.

    Why sqrt(V): a level-1 code is then shared by ~sqrt(V) items (tail items borrow
    strength from their neighbours), and K^2 >= V, so two levels can already tell
    items apart while the third mostly resolves collisions. It gives 32 for V = 1,000,
    64 for ML-1M (3,416 items) and 128 for Yelp (11,383 items) -- the paper's K.
    """
    if num_items < 1:
        raise ValueError(f"default_codebook_size: num_items must be >= 1, got {num_items}")
    k = 1 << int(np.ceil(np.log2(max(np.sqrt(num_items), 1.0))))
    return int(max(1, min(max(16, min(k, 256)), num_items)))


def make_quantizer(method, levels, codebook_size, seed=0):
    """An unfitted ``RQKMeans`` (``method="rqkmeans"``) or ``RQVAE`` (``"rqvae"``)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    quantizer = RQKMeans if method == "rqkmeans" else RQVAE
    return quantizer(levels=levels, codebook_size=codebook_size, seed=seed)


def item_content(inter, dim=CONTENT_DIM, seed=0, content_path=None):
    """(V+1, D) float32 content of ``inter``'s items: from ``content_path`` if given, else ``content_for``."""
    if content_path:
        return load_content_vectors(content_path, inter.num_items)
    return _cached(inter, ("content", dim, seed), lambda: content_for(inter, dim=dim, seed=seed))


def fit_semantic_ids(inter, method="rqkmeans", levels=DEFAULT_LEVELS, codebook_size=None, seed=0,
                     dim=CONTENT_DIM, content_path=None):
    """Quantize the items of ``inter`` into semantic IDs.

    Parameters
    ----------
    inter : Interactions -- supplies planted content or item text (or use ``content_path``).
    method : "rqkmeans" (default) or "rqvae".
    levels, codebook_size : L and K (``None`` -> :func:`default_codebook_size` of V).
    seed : seeds the text SVD and the quantizer.
    dim : width of text-derived content vectors.
    content_path : optional ``.npy``/``.npz`` of (V, D) or (V+1, D) content vectors.

    Returns
    -------
    sids : SemanticIDs -- codes (V+1, L), codebooks, and ``inter``'s item fingerprint.
    quantizer : the fitted quantizer (for a report in its own space).
    content : float32 ndarray (V+1, D) -- the vectors that were quantized.
    """
    K = default_codebook_size(inter.num_items) if codebook_size is None else int(codebook_size)
    if K > inter.num_items:
        raise ValueError(f"codebook_size={K} is larger than the number of items "
                         f"({inter.num_items}); choose K <= {inter.num_items}")
    quantizer = make_quantizer(method, levels, K, seed)
    x = item_content(inter, dim, seed, content_path)                        # (V+1, D)
    sids = SemanticIDs.from_quantizer(x, quantizer)
    sids = replace(sids, fingerprint=item_fingerprint(inter), data_name=str(inter.name))
    return sids, quantizer, x


def semantic_ids(inter, levels=DEFAULT_LEVELS, codebook_size=None, seed=0):
    """RQ-KMeans semantic IDs of ``inter`` from its own content, computed once per dataset object.

    Building sid, fusion and h2rec on one dataset (``compare``) therefore quantizes once.
    Same data + same seed -> same codes, so a checkpoint's model can be rebuilt from its
    config alone.
    """
    K = default_codebook_size(inter.num_items) if codebook_size is None else int(codebook_size)
    return _cached(inter, ("rqkmeans", int(levels), K, int(seed)),
                   lambda: fit_semantic_ids(inter, "rqkmeans", levels, K, seed)[0])


def _cached(inter, key, compute):
    """``compute()`` once per (live dataset object, key); the entry dies with the dataset."""
    ref, entries = _cache.get(id(inter), (None, None))
    if ref is None or ref() is not inter:
        entries = {}
        _cache[id(inter)] = (weakref.ref(inter, lambda _, k=id(inter): _cache.pop(k, None)), entries)
    if key not in entries:
        entries[key] = compute()
    return entries[key]
