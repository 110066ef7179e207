"""Models by name: one place that turns ``--model NAME`` into a constructed model.

``build(name, inter, split, overrides, seed)`` returns a model ready for the
:class:`minih2rec.train.Trainer` (or, for ``mostpop``, already fitted). New models
add a builder to ``builders()``.
"""
from dataclasses import fields


def config_from(cls, overrides, **required):
    """Instantiate config ``cls`` from ``required`` + the ``overrides`` it knows; reject unknown keys."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {unknown}; known: {sorted(known)}")
    return cls(**{**overrides, **required})


def _sasrec(inter, split, overrides, seed):
    from .sasrec import SASRec, SASRecConfig
    overrides = {"seed": seed, **overrides}
    return SASRec(config_from(SASRecConfig, overrides, num_items=split.num_items))


def _mostpop(inter, split, overrides, seed):
    from .popularity import MostPopular, MostPopularConfig
    model = MostPopular(config_from(MostPopularConfig, {k: v for k, v in overrides.items()
                                                    if k not in ("max_len", "seed")}))
    model.config.max_len = overrides.get("max_len", 50)   # evaluation input length (unused by the model)
    model.trainable = False
    return model.fit(split)


def check_config(name, overrides, num_items=None):
    """Validate ``overrides`` for model ``name`` before any data is loaded or any work is done.

    Builds the model's config dataclass (ranges, divisibility, choices) with ``num_items``
    (a large placeholder when the data is not loaded yet), so an impossible setting such as
    ``dropout=1.5`` or ``d`` not divisible by ``heads`` fails at once, naming the field.
    """
    from .h2rec import H2RecConfig
    from .sasrec import SASRecConfig
    from .sid import SIDConfig
    classes = {"sasrec": SASRecConfig, "sid": SIDConfig, "fusion": SIDConfig, "h2rec": H2RecConfig}
    if name not in classes:
        if name not in builders():
            raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(builders()))}")
        return
    V = num_items if num_items is not None else 10 ** 9
    over = {k: v for k, v in overrides.items() if k not in ("codes", "codebooks", "content", "hot_start")}
    if classes[name] is not SASRecConfig:
        over.setdefault("num_levels", 1)
        over.setdefault("codebook_size", 1)
    config_from(classes[name], over, num_items=V)


def builders():
    """``{name: builder}`` for every model (the semantic-ID models live in ``registry_semantic``)."""
    from .registry_semantic import BUILDERS as semantic
    return {"sasrec": _sasrec, "mostpop": _mostpop, **semantic}


def build(name, inter, split, overrides=None, seed=0):
    """Return the model ``name`` for this data; ``overrides`` set fields of its config."""
    table = builders()
    if name not in table:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(table))}")
    return table[name](inter, split, dict(overrides or {}), seed)
