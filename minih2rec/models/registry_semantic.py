"""Builders for the semantic-ID models ``sid``, ``fusion`` and ``h2rec`` (``registry.build`` finds them here).

Each builder has ``registry.py``'s signature ``(inter, split, overrides, seed)``; ``overrides``
set fields of the model's config, plus three keys that are not config fields:

* ``codes`` -- (V+1, L) int64 semantic IDs to use as they are (row 0 = padding);
* ``codebooks`` -- (L, K, D) RQ codebooks that go with ``codes`` (for ``code_init="rq"``);
* ``content`` -- (V+1, D) content vectors (for ``hot_start``).

Without ``codes`` the semantic IDs are computed from the items' content (DESIGN.md §2):
``semantic.content.content_for(inter, dim=64, seed)`` (the dataset's own vectors, else
TF-IDF + SVD of its item text), then ``quantize.RQKMeans(L, K, seed).fit(x).encode(x)``.
The result is cached per dataset object, so building sid, fusion and h2rec on one dataset
(``compare``) quantizes once. Same data + same seed -> same codes, so a checkpoint's model
can be rebuilt from its config alone.

Defaults: L = 3 levels; K = ``item_side.default_codebook_size(V)`` -- the smallest power
of two >= sqrt(V), clipped to [16, 256] (32 for V = 1,000, 128 for Yelp's 11,383 items).
When ``codes`` are given without ``codebooks``, ``code_init`` defaults to ``"random"`` and
K to ``codes.max() + 1`` (unless set).
"""
import weakref

import numpy as np

from .item_side import default_codebook_size
from .registry import config_from

DEFAULT_LEVELS = 3        # DESIGN §2: L = 3-4; 3 keeps K^L >> V for every K the default rule picks
CONTENT_DIM = 64          # width of text-derived content vectors (ignored when the data has its own)

_cache = {}               # id(inter) -> (weakref to inter, {(L, K, seed): (codes, codebooks, content)})


def _semantic_api():
    """``(content_for, RQKMeans)``, or a clear error naming what is missing."""
    try:
        from ..quantize import RQKMeans
        from ..semantic.content import content_for
    except ImportError as exc:
        raise ImportError(f"building semantic IDs needs minih2rec.quantize.RQKMeans and "
                          f"minih2rec.semantic.content.content_for ({exc}); pass overrides['codes'] "
                          f"(and optionally overrides['codebooks']) instead") from exc
    return content_for, RQKMeans


def semantic_ids(inter, num_levels, codebook_size, seed=0):
    """Content vectors and RQ-KMeans semantic IDs of every item of ``inter``.

    Parameters
    ----------
    inter : Interactions (uses ``num_items``, ``content`` or ``item_text``).
    num_levels, codebook_size : int -- L and K.
    seed : int -- seeds the text SVD and the k-means++ initialisation.

    Returns
    -------
    codes : int64 ndarray (V+1, L), row 0 = 0 (padding).
    codebooks : ndarray (L, K, D).
    content : float32 ndarray (V+1, D), row 0 = 0.
    """
    key = (int(num_levels), int(codebook_size), int(seed))
    ref, entries = _cache.get(id(inter), (None, None))
    if ref is None or ref() is not inter:
        entries = {}
        _cache[id(inter)] = (weakref.ref(inter, lambda _, k=id(inter): _cache.pop(k, None)), entries)
    if key not in entries:
        content_for, RQKMeans = _semantic_api()
        content = np.asarray(content_for(inter, dim=CONTENT_DIM, seed=seed), dtype=np.float32)  # (V+1, D)
        rq = RQKMeans(levels=num_levels, codebook_size=codebook_size, seed=seed).fit(content[1:])
        codes = np.zeros((inter.num_items + 1, num_levels), dtype=np.int64)                    # (V+1, L)
        codes[1:] = rq.encode(content[1:])[:, :num_levels]
        entries[key] = (codes, np.asarray(rq.codebooks), content)
    return entries[key]


def _semantic_inputs(inter, split, overrides, seed):
    """Pop codes/codebooks/content from ``overrides`` (computing them if absent) and fill L, K, code_init."""
    V = split.num_items
    codes = overrides.pop("codes", None)
    codebooks = overrides.pop("codebooks", None)
    content = overrides.pop("content", None)
    if codes is None:
        L = overrides.setdefault("num_levels", DEFAULT_LEVELS)
        K = overrides.setdefault("codebook_size", default_codebook_size(V))
        codes, codebooks, computed = semantic_ids(inter, L, K, seed)
        content = computed if content is None else content
    else:
        codes = np.asarray(codes)
        if codes.ndim != 2:
            raise ValueError(f"overrides['codes'] must be a (V+1, L) array, got shape {codes.shape}")
        overrides.setdefault("num_levels", codes.shape[1])
        overrides.setdefault("codebook_size", np.shape(codebooks)[1] if codebooks is not None
                             else int(codes.max()) + 1)
        if codebooks is None:
            overrides.setdefault("code_init", "random")
    if content is None and overrides.get("hot_start") and getattr(inter, "content", None) is not None:
        content = inter.content
    return codes, codebooks, content


def _sid(inter, split, overrides, seed):
    from .sid import SIDConfig, SIDRec
    overrides = {"seed": seed, **overrides}
    codes, codebooks, _ = _semantic_inputs(inter, split, overrides, seed)
    return SIDRec(config_from(SIDConfig, overrides, num_items=split.num_items), codes, codebooks)


def _fusion(inter, split, overrides, seed):
    from .fusion import FusionConfig, FusionRec
    overrides = {"seed": seed, **overrides}
    codes, codebooks, content = _semantic_inputs(inter, split, overrides, seed)
    return FusionRec(config_from(FusionConfig, overrides, num_items=split.num_items), codes, codebooks, content)


def _h2rec(inter, split, overrides, seed):
    from ..losses.cooccurrence import CoOccurrence
    from .h2rec import H2Rec, H2RecConfig
    overrides = {"seed": seed, **overrides}
    codes, codebooks, content = _semantic_inputs(inter, split, overrides, seed)
    config = config_from(H2RecConfig, overrides, num_items=split.num_items)
    cooc = (CoOccurrence.from_sequences(split.train, split.num_items, config.cooc_window)
            if config.behaviour_positives else None)     # training sequences only (DESIGN §3)
    return H2Rec(config, codes, codebooks, content, cooc)


BUILDERS = {"sid": _sid, "fusion": _fusion, "h2rec": _h2rec}
