"""Module, Parameter and ModuleList: the bookkeeping around trainable tensors.

A ``Module`` is any object that owns ``Parameter``s and/or other ``Module``s as
attributes. Registration is automatic: assigning ``self.w = Parameter(...)`` or
``self.block = Linear(...)`` makes them visible to ``parameters()``,
``named_parameters()`` (dotted names such as ``backbone.blocks.0.attn.q.weight``),
``train()``/``eval()``, ``state_dict()`` and ``load_state_dict()``. A plain
Python list of modules is *not* seen -- wrap it in ``ModuleList``.

Children are discovered by walking the instance attributes in the order they
were assigned (``vars(self)``), so there is no separate registry to keep in
sync. A module or parameter reachable twice (a shared backbone, tied weights)
is reported once, under the first name it was found by.
"""
import numpy as np

from ..autograd import Tensor


class Parameter(Tensor):
    """A Tensor that is trainable (``requires_grad=True``) and registered by its owning Module.

    Parameters
    ----------
    data : array-like -- the initial value (copied; float32 unless ``dtype`` says otherwise).
    dtype : numpy dtype or None -- e.g. ``np.float64`` for gradient checks.
    """

    def __init__(self, data, dtype=None):
        super().__init__(np.array(data, copy=True), requires_grad=True, dtype=dtype)

    def __repr__(self):
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


class Module:
    """Base class of every layer and model; subclasses define ``forward``."""

    training = True  # class default, so a subclass that forgets super().__init__() still works

    def __init__(self):
        self.training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    # ---- traversal -------------------------------------------------------------------------

    def named_modules(self):
        """Yield ``(dotted_name, module)`` for this module ("") and every sub-module, depth first."""
        yield from self._named_modules("", set())

    def _named_modules(self, name, seen):
        if id(self) in seen:           # shared sub-modules (and cycles) are visited once
            return
        seen.add(id(self))
        yield name, self
        for child, value in vars(self).items():
            if isinstance(value, Module):
                yield from value._named_modules(_join(name, child), seen)

    def named_parameters(self):
        """Yield ``(dotted_name, Parameter)`` pairs, each parameter once, in assignment order."""
        yield from self._named_parameters("", set(), set())

    def _named_parameters(self, prefix, seen_mods, seen_params):
        if id(self) in seen_mods:
            return
        seen_mods.add(id(self))
        for name, value in vars(self).items():
            if isinstance(value, Parameter) and id(value) not in seen_params:
                seen_params.add(id(value))
                yield _join(prefix, name), value
            elif isinstance(value, Module):
                yield from value._named_parameters(_join(prefix, name), seen_mods, seen_params)

    def parameters(self):
        """List of every Parameter (each once), in the order of ``named_parameters()``."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self):
        """Total number of scalar weights."""
        return int(sum(p.size for p in self.parameters()))

    # ---- modes and gradients ---------------------------------------------------------------

    def train(self, mode=True):
        """Set ``training = mode`` on this module and every sub-module (dropout reads it). Returns self."""
        for _, mod in self.named_modules():
            mod.training = bool(mode)
        return self

    def eval(self):
        """Inference mode: ``train(False)``. Returns self."""
        return self.train(False)

    def zero_grad(self):
        """Drop every parameter's gradient (``grad = None``; optimizers skip None)."""
        for p in self.parameters():
            p.grad = None

    def to_dtype(self, dtype):
        """Cast every parameter in place to ``dtype`` (e.g. ``np.float64`` for gradcheck). Returns self."""
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        return self

    # ---- checkpoints -----------------------------------------------------------------------

    def state_dict(self):
        """``{dotted_name: ndarray copy}`` of every parameter."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state):
        """Copy arrays from ``state`` into the parameters (strict: same names, same shapes).

        Raises
        ------
        ValueError naming every missing key, every unexpected key and every shape mismatch.
        Nothing is modified unless the whole dict matches.
        """
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        bad_shapes = [f"{k}: checkpoint {np.shape(state[k])} vs model {own[k].shape}"
                      for k in own if k in state and tuple(np.shape(state[k])) != tuple(own[k].shape)]
        if missing or unexpected or bad_shapes:
            lines = [f"load_state_dict into {type(self).__name__} failed:"]
            if missing:
                lines.append(f"  missing keys: {missing}")
            if unexpected:
                lines.append(f"  unexpected keys: {unexpected}")
            if bad_shapes:
                lines.append("  shape mismatches: " + "; ".join(bad_shapes))
            raise ValueError("\n".join(lines))
        for name, p in own.items():
            p.data[...] = np.asarray(state[name], dtype=p.dtype)
        return self

    def __repr__(self):
        kids = [f"  ({n}): " + repr(m).replace("\n", "\n  ")
                for n, m in vars(self).items() if isinstance(m, Module)]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + (")" if not kids else "\n" + "\n".join(kids) + "\n)")

    def extra_repr(self):
        """One-line summary shown by ``repr``; layers override it."""
        return ""


class ModuleList(Module):
    """A list of Modules whose parameters are registered (names ``0``, ``1``, ...)."""

    def __init__(self, modules=()):
        super().__init__()
        self._len = 0
        for m in modules:
            self.append(m)

    def append(self, module):
        if not isinstance(module, Module):
            raise ValueError(f"ModuleList.append: expected a Module, got {type(module).__name__}")
        setattr(self, str(self._len), module)
        self._len += 1
        return self

    def __getitem__(self, i):
        if not -self._len <= i < self._len:
            raise IndexError(f"ModuleList index {i} out of range for length {self._len}")
        return getattr(self, str(i % self._len))

    def __len__(self):
        return self._len

    def __iter__(self):
        return (getattr(self, str(i)) for i in range(self._len))


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name
