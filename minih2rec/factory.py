"""Models by name: one place that turns ``--model NAME`` into a constructed model.

``build(name, inter, split, overrides, seed)`` returns a model ready for the
:class:`minih2rec.train.Trainer` (or, for ``mostpop``, already fitted). Models only
*consume* semantic IDs; this factory decides where they come from, in this order:

* ``overrides["sids"]`` -- a :class:`~minih2rec.semantic.SemanticIDs` (e.g. the file
  ``python -m minih2rec sids`` wrote, loaded and checked against the data by ``train --sids``);
* ``overrides["codes"]`` (+ optional ``overrides["codebooks"]``) -- raw (V+1, L) codes, e.g.
  the ones a checkpoint stores; they pass the same checks as a file;
* otherwise :func:`semantic.build.semantic_ids` computes them from the items' content --
  the same road as the ``sids`` command, with L = 3 and K = ``default_codebook_size(V)``
  unless ``num_levels`` / ``codebook_size`` say otherwise.

Other override keys set fields of the model's config, plus ``content`` ((V+1, D) content
vectors for ``hot_start``; default: the dataset's own, as the semantic IDs use).
"""
from dataclasses import fields

import numpy as np

from .losses.cooccurrence import CoOccurrence
from .models import (FusionConfig, FusionRec, H2Rec, H2RecConfig, MostPopular, MostPopularConfig, SASRec,
                     SASRecConfig, SIDConfig, SIDRec)
from .semantic.build import CONTENT_DIM, DEFAULT_LEVELS, item_content, semantic_ids
from .semantic.ids import SemanticIDs

SEMANTIC_MODELS = ("sid", "fusion", "h2rec")       # the models that read semantic IDs
_NOT_CONFIG = ("sids", "codes", "codebooks", "content")   # override keys that are inputs, not config fields


def config_from(cls, overrides, **required):
    """Instantiate config ``cls`` from ``required`` + the ``overrides`` it knows; reject unknown keys."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {unknown}; known: {sorted(known)}")
    return cls(**{**overrides, **required})


def _sasrec(inter, split, overrides, seed):
    overrides = {"seed": seed, **overrides}
    return SASRec(config_from(SASRecConfig, overrides, num_items=split.num_items))


def _mostpop(inter, split, overrides, seed):
    model = MostPopular(config_from(MostPopularConfig, {k: v for k, v in overrides.items()
                                                    if k not in ("max_len", "seed")}))
    model.config.max_len = overrides.get("max_len", 50)   # evaluation input length (unused by the model)
    model.trainable = False
    return model.fit(split)


def _given_ids(overrides):
    """The semantic IDs passed in ``overrides`` (a SemanticIDs, or raw codes/codebooks), or None."""
    sids, codes, books = (overrides.pop(k, None) for k in ("sids", "codes", "codebooks"))
    if sids is not None or codes is None:
        return sids
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"overrides['codes'] must be a (V+1, L) array, got shape {codes.shape}")
    K = overrides.get("codebook_size") or (np.shape(books)[1] if books is not None else int(codes.max()) + 1)
    return SemanticIDs(codes, int(K), codes.shape[1], "given", None if books is None else np.asarray(books))


def _semantic_inputs(inter, split, overrides, seed):
    """Pop the semantic IDs and content from ``overrides``, fill L, K and code_init; return (sids, content)."""
    sids = _given_ids(overrides)
    if sids is None:
        L = overrides.setdefault("num_levels", DEFAULT_LEVELS)
        sids = semantic_ids(inter, L, overrides.get("codebook_size"), seed)
    if sids.num_items != split.num_items:
        raise ValueError(f"the semantic IDs cover {sids.num_items} items but the data has {split.num_items}")
    for field, have in (("num_levels", sids.levels), ("codebook_size", sids.codebook_size)):
        if overrides.setdefault(field, have) != have:
            raise ValueError(f"{field}={overrides[field]} disagrees with the semantic IDs given "
                             f"({field} {have}); drop the setting or rebuild the IDs")
    usable_books = sids.codebooks if not sids.dedup else None      # a dedup level has no codebook
    if usable_books is None:
        overrides.setdefault("code_init", "random")
    content = overrides.pop("content", None)
    if content is None and overrides.get("hot_start"):
        content = item_content(inter, CONTENT_DIM, seed)
    return sids.codes, usable_books, content


def _sid(inter, split, overrides, seed):
    overrides = {"seed": seed, **overrides}
    codes, codebooks, _ = _semantic_inputs(inter, split, overrides, seed)
    return SIDRec(config_from(SIDConfig, overrides, num_items=split.num_items), codes, codebooks)


def _fusion(inter, split, overrides, seed):
    overrides = {"seed": seed, **overrides}
    codes, codebooks, content = _semantic_inputs(inter, split, overrides, seed)
    return FusionRec(config_from(FusionConfig, overrides, num_items=split.num_items), codes, codebooks, content)


def _h2rec(inter, split, overrides, seed):
    overrides = {"seed": seed, **overrides}
    codes, codebooks, content = _semantic_inputs(inter, split, overrides, seed)
    config = config_from(H2RecConfig, overrides, num_items=split.num_items)
    cooc = (CoOccurrence.from_sequences(split.train, split.num_items, config.cooc_window)
            if config.behaviour_positives else None)     # training sequences only (DESIGN §3)
    return H2Rec(config, codes, codebooks, content, cooc)


BUILDERS = {"sasrec": _sasrec, "mostpop": _mostpop, "sid": _sid, "fusion": _fusion, "h2rec": _h2rec}
CONFIGS = {"sasrec": SASRecConfig, "sid": SIDConfig, "fusion": FusionConfig, "h2rec": H2RecConfig}


def _check_name(name):
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(BUILDERS))}")


def check_config(name, overrides, num_items=None):
    """Validate ``overrides`` for model ``name`` before any data is loaded or any work is done.

    Builds the model's config dataclass (ranges, divisibility, choices) with ``num_items``
    (a large placeholder when the data is not loaded yet), so an impossible setting such as
    ``dropout=1.5`` or ``d`` not divisible by ``heads`` fails at once, naming the field.
    Semantic IDs given to a model that reads none are refused too.
    """
    _check_name(name)
    if name not in SEMANTIC_MODELS and any(overrides.get(k) is not None for k in ("sids", "codes")):
        raise ValueError(f"model {name!r} uses no semantic IDs; semantic IDs (--sids) are for "
                         f"{', '.join(SEMANTIC_MODELS)}")
    if name not in CONFIGS:
        return
    over = {k: v for k, v in overrides.items() if k not in _NOT_CONFIG}
    if name in SEMANTIC_MODELS:
        over.setdefault("num_levels", 1)
        over.setdefault("codebook_size", 1)
    config_from(CONFIGS[name], over, num_items=num_items if num_items is not None else 10 ** 9)


def build(name, inter, split, overrides=None, seed=0):
    """Return the model ``name`` for this data; ``overrides`` set fields of its config (see module doc)."""
    _check_name(name)
    overrides = dict(overrides or {})
    check_config(name, overrides, split.num_items)
    return BUILDERS[name](inter, split, overrides, seed)
