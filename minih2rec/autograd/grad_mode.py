"""Grad mode: whether new ops record a graph (``no_grad`` switches it off).

Evaluation and parameter updates need no graph; skipping it saves the memory of
every intermediate array the backward closures would keep alive.
"""
import functools

_enabled = True   # read by Tensor.from_op on every op


def is_grad_enabled():
    """True unless inside a ``no_grad()`` block."""
    return _enabled


class no_grad:
    """Context manager (or decorator) that stops graph recording: results get ``requires_grad=False``.

    Nesting is fine: leaving a block restores the state it found.
    """
    _mode = False     # what the block sets

    def __enter__(self):
        global _enabled
        self._prev, _enabled = _enabled, self._mode
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class enable_grad(no_grad):
    """The opposite block: record a graph even inside ``no_grad`` (e.g. a backward that
    recomputes its forward, ``minih2rec/recompute.py``)."""
    _mode = True
