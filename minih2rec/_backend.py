"""Per-kernel backend dispatch: cython -> numba -> numpy.

Every compiled kernel lives in three versions with one signature:

* ``<name>_ref`` -- vectorised NumPy, in ``minih2rec/kernels/<module>.py``; the
  oracle of the tests and the last fallback;
* ``<name>_nb``  -- the same module's plain-Python loop wrapped by ``numba.njit``
  at import (so ``NUMBA_DISABLE_JIT=1`` runs the very same source);
* ``<name>_cy``  -- the Cython twin, compiled from ``ext/_<module>.pyx`` into
  ``minih2rec._ext._<module>``. A kernel registered with no Cython module (``None``)
  has no twin by design: its Numba loop is its compiled version, it counts as
  "not slower" on Numba, and ``MINIH2REC_BACKEND=cython`` runs that Numba loop.

Environment switches (read when a kernel is first resolved; ``reset()`` re-reads):

* ``MINIH2REC_BACKEND=numpy|numba|cython`` forces one backend for every kernel;
* ``MINIH2REC_REQUIRE_COMPILED=1`` turns a fallback to NumPy (or a forced
  backend that is missing) into an error, so CI proves the compiled path ran.

A fallback is announced once per process, at the first kernel that falls back, by
one ``RuntimeWarning`` of one line naming every kernel that runs slower and why
(``pip install`` hides the build log, so this is where a failed compile shows).
"""
import importlib
import os
import warnings

BACKENDS = ("cython", "numba", "numpy")

# kernel name -> (python module holding _ref/_nb, Cython module holding _cy, what it speeds up)
KERNELS = {
    "scatter_add": ("minih2rec.kernels.scatter_add", "minih2rec._ext._scatter_add",
                    "embedding backward (np.add.at)"),
    "topk_exclude": ("minih2rec.kernels.topk", "minih2rec._ext._topk",
                     "full-ranking evaluation (top-K with history excluded)"),
    "nearest_codeword": ("minih2rec.kernels.codebook", "minih2rec._ext._codebook",
                         "residual quantization (nearest-codeword search)"),
    "sampled_softmax": ("minih2rec.kernels.sampled_softmax", "minih2rec._ext._sampled_softmax",
                        "sampled-softmax training loss"),
    "softmax_xent": ("minih2rec.kernels.softmax_xent", None,       # Numba only (vectorised exp)
                     "full-softmax training loss (per-logit passes)"),
    "layer_norm_forward": ("minih2rec.kernels.layer_norm", None, "LayerNorm forward"),     # Numba only
    "layer_norm_backward": ("minih2rec.kernels.layer_norm", None, "LayerNorm backward"),   # Numba only
}

_resolved = {}   # kernel -> (backend, callable)
_warned = set()  # holds "fallback" once the one fallback warning was given


class BackendError(RuntimeError):
    """A required compiled kernel is not available."""


def reset():
    """Forget resolved kernels so the environment variables are read again (tests use this)."""
    _resolved.clear()
    _warned.clear()


def _load(kernel, backend):
    """Return the callable for one kernel/backend, or raise ImportError/AttributeError."""
    py_mod, cy_mod, _ = KERNELS[kernel]
    if backend == "cython":
        if cy_mod is None:
            raise ImportError(f"{kernel} has no Cython twin (its Numba loop is its compiled version)")
        return getattr(importlib.import_module(cy_mod), kernel + "_cy")
    if backend == "numba":
        importlib.import_module("numba")
        fn = getattr(importlib.import_module(py_mod), kernel + "_nb")
        if fn is None:
            raise ImportError("numba version not built")
        return fn
    return getattr(importlib.import_module(py_mod), kernel + "_ref")


def implementations(kernel):
    """Return ``{backend: callable}`` for every backend of ``kernel`` that loads here."""
    out = {}
    for b in BACKENDS:
        try:
            out[b] = _load(kernel, b)
        except (ImportError, AttributeError):
            pass
    return out


def _env_backend():
    forced = os.environ.get("MINIH2REC_BACKEND", "").strip().lower()
    if forced and forced not in BACKENDS:
        raise BackendError(f"MINIH2REC_BACKEND={forced!r} is not one of {', '.join(BACKENDS)}")
    return forced or None


def _require_compiled():
    return os.environ.get("MINIH2REC_REQUIRE_COMPILED", "").strip() not in ("", "0", "false", "no")


def _first_loadable(kernel, order):
    """``(backend, callable or None, {backend: error})``: the first of ``order`` that loads."""
    errors = {}
    for b in order:
        try:
            return b, _load(kernel, b), errors
        except (ImportError, AttributeError) as exc:
            errors[b] = exc
    return None, None, errors


def _order_for(kernel, order):
    """``order`` as it applies to ``kernel``: one with no Cython twin by design reads "cython" as "numba"."""
    if KERNELS[kernel][1] is None:
        order = tuple(dict.fromkeys("numba" if b == "cython" else b for b in order))
    return order


def _warn_fallback_once(order):
    """One line, once per process: every kernel that runs below ``order[0]``, and the first cause."""
    if "fallback" in _warned:
        return
    _warned.add("fallback")
    slower, causes = [], {}
    for k in KERNELS:
        korder = _order_for(k, order)
        b, _, errors = _first_loadable(k, korder)
        if b is not None and b != korder[0]:
            slower.append(f"{k!r} runs on {b} ({KERNELS[k][2]} will be slower)")
            causes.update({name: exc for name, exc in errors.items() if name not in causes})
    why = "; ".join(f"{name}: {' '.join(str(exc).split())}" for name, exc in causes.items())
    # warn_explicit with no source line: the warning prints as one line
    warnings.warn_explicit(f"minih2rec kernels: {', '.join(slower)} -- because {why}; run "
                           f"`python -m minih2rec info` for the kernel table", RuntimeWarning, "minih2rec", 0)


def resolve(kernel):
    """Return ``(backend, callable)`` for ``kernel`` following cython -> numba -> numpy."""
    if kernel in _resolved:
        return _resolved[kernel]
    if kernel not in KERNELS:
        raise KeyError(f"unknown kernel {kernel!r}; known: {', '.join(KERNELS)}")
    forced = _env_backend()
    order = _order_for(kernel, (forced,) if forced else BACKENDS)
    b, fn, errors = _first_loadable(kernel, order)
    if b is not None and not (b == "numpy" and _require_compiled() and forced != "numpy"):
        if b != order[0]:
            _warn_fallback_once((forced,) if forced else BACKENDS)
        _resolved[kernel] = (b, fn)
        return _resolved[kernel]
    why = "; ".join(f"{k}: {v}" for k, v in errors.items()) or "the compiled versions are missing"
    if len(errors) == len(order):
        raise BackendError(f"kernel {kernel!r} has no usable version{' for ' + forced if forced else ''} ({why})")
    if forced:
        raise BackendError(f"MINIH2REC_BACKEND={forced} but kernel {kernel!r} has no {forced} version here ({why})")
    raise BackendError(f"MINIH2REC_REQUIRE_COMPILED is set but kernel {kernel!r} has no compiled version ({why})")


def backend_info():
    """Return ``{kernel: {"in_use": backend, "available": [backends]}}`` for every kernel."""
    info = {}
    for k in KERNELS:
        avail = list(implementations(k))
        try:
            in_use = resolve(k)[0]
        except BackendError:
            in_use = "unavailable"
        info[k] = {"in_use": in_use, "available": avail}
    return info


def format_backend_info(info=None):
    """Render :func:`backend_info` as a small text table."""
    info = backend_info() if info is None else info
    rows = [("kernel", "in use", "available")]
    rows += [(k, v["in_use"], ", ".join(v["available"]) or "-") for k, v in info.items()]
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in rows)
