"""Tensor: a NumPy array that remembers how it was made, so gradients can flow back.

The design is micrograd's, on arrays instead of scalars: every op computes its
forward with NumPy and defines its *local* backward right beside it, as a closure
``backward(g) -> (grad for each parent)``; ``Tensor.backward()`` sorts the graph
topologically (iteratively -- a transformer's graph is too deep for recursion)
and calls each node's closure once, children before parents.

Conventions
-----------
* ``float32`` unless created with ``dtype=np.float64`` (gradcheck does this);
  Python scalars and ndarrays mixed with a Tensor become constants of its dtype.
* Broadcasting as in NumPy; ``_unbroadcast`` sums a gradient back to its input's shape.
* Only tensors with ``requires_grad`` take part; under ``no_grad()`` nothing is recorded.
* Gradients of *leaves* (tensors you created, e.g. parameters) accumulate in
  ``.grad`` across backward calls (first write allocates, later ones add);
  ``zero_grad()`` resets. Intermediate gradients are freed once passed on (as in
  PyTorch), so an intermediate's ``.grad`` stays None.
* Forward and backward never modify the input arrays.
"""
import numpy as np

from ..kernels.scatter_add import scatter_add
from . import grad_mode
from ._arrays import _is_advanced, _matmul, _norm_axes, _unbroadcast
from .grad_mode import is_grad_enabled, no_grad  # noqa: F401  (re-exported)


class Tensor:
    """An ndarray ``data`` plus, optionally, a ``grad`` and the op that produced it.

    Parameters
    ----------
    data : array-like. Cast to ``float32`` unless ``dtype`` is given.
    requires_grad : bool -- whether gradients should be computed for this tensor.
    dtype : NumPy dtype or None (None -> float32).
    """
    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "_op")
    __array_ufunc__ = None   # make ``ndarray + Tensor`` call Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = np.asarray(data, dtype=np.float32 if dtype is None else dtype)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None   # None for leaves
        self._op = ""

    # ------------------------------------------------------------ graph plumbing
    @staticmethod
    def from_op(data, parents, backward, op=""):
        """The result of a new op: how every op of the package is written, and how you add one.

        Parameters
        ----------
        data : ndarray -- the op's forward result, computed with NumPy.
        parents : tuple of Tensor -- the op's inputs.
        backward : callable ``g -> tuple`` -- given the gradient ``g`` of the loss with respect
            to ``data`` (same shape), return one gradient per parent (same shape as that
            parent, or None for an input that needs none). It must not modify ``g``.
        op : str -- a name shown by :attr:`op` (and useful when debugging a graph).

        Returns
        -------
        Tensor -- it records ``parents`` and ``backward`` only if gradients are enabled and
        some parent requires one; otherwise it is a constant.

        Examples
        --------
        >>> def square(x):
        ...     return Tensor.from_op(x.data ** 2, (x,), lambda g: (2 * x.data * g,), "square")
        """
        out = Tensor.__new__(Tensor)
        out.data, out.grad, out._op = data, None, op
        out.requires_grad = grad_mode._enabled and any(p.requires_grad for p in parents)
        out._parents = parents if out.requires_grad else ()
        out._backward = backward if out.requires_grad else None
        return out

    _make = from_op    # older internal spelling, still used by minih2rec/recompute.py

    @property
    def op(self):
        """Name of the op that produced this tensor ("" for a tensor you created)."""
        return self._op

    def _lift(self, other):
        """A Python scalar / ndarray becomes a constant Tensor of this tensor's dtype."""
        return other if isinstance(other, Tensor) else Tensor(other, dtype=self.data.dtype)

    def _topo(self):
        """Nodes reachable from self that need grads, parents before children (iterative DFS)."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if p.requires_grad and id(p) not in seen)
        return order

    def backward(self, grad=None):
        """Back-propagate ``grad`` (default: 1 for a scalar) into every leaf's ``.grad``.

        Parameters
        ----------
        grad : array-like broadcastable to ``self.shape``, or None for a one-element tensor.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad "
                               "(no input had requires_grad=True, or it was built under no_grad)")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward() without grad needs a one-element tensor, got shape {self.shape}")
            grad = np.ones_like(self.data)
        else:
            grad = np.broadcast_to(np.asarray(grad, dtype=self.data.dtype), self.shape)
        grads, owned = {id(self): grad}, set()   # node id -> grad; ids whose array we may add into
        for node in reversed(self._topo()):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None:            # a leaf: accumulate into .grad
                if node.grad is None:
                    node.grad = np.array(g, dtype=node.data.dtype)   # own copy
                else:
                    node.grad += g
                continue
            for p, gp in zip(node._parents, node._backward(g)):
                if gp is None or not p.requires_grad:
                    continue
                k = id(p)
                if k not in grads:
                    grads[k] = gp                 # may be a view shared with another node
                elif k in owned:
                    grads[k] += gp
                else:
                    grads[k] = grads[k] + gp      # first add allocates a private array
                    owned.add(k)

    def zero_grad(self):
        """Forget the accumulated gradient."""
        self.grad = None

    def detach(self):
        """A new leaf sharing ``data`` that is cut off from the graph."""
        return Tensor(self.data, dtype=self.data.dtype)

    def item(self):
        """The value of a one-element tensor as a Python float."""
        return self.data.item()

    def numpy(self):
        """The underlying ndarray (shared, not copied)."""
        return self.data

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        rg = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor(shape={self.shape}, dtype={self.dtype}{rg})"

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other):
        a, b = self, self._lift(other)
        return Tensor.from_op(a.data + b.data, (a, b),
                            lambda g: (_unbroadcast(g, a.shape) if a.requires_grad else None,
                                       _unbroadcast(g, b.shape) if b.requires_grad else None), "add")

    def __sub__(self, other):
        a, b = self, self._lift(other)
        return Tensor.from_op(a.data - b.data, (a, b),
                            lambda g: (_unbroadcast(g, a.shape) if a.requires_grad else None,
                                       _unbroadcast(-g, b.shape) if b.requires_grad else None), "sub")

    def __mul__(self, other):
        a, b = self, self._lift(other)

        def backward(g):
            return (_unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
                    _unbroadcast(g * a.data, b.shape) if b.requires_grad else None)
        return Tensor.from_op(a.data * b.data, (a, b), backward, "mul")

    def __truediv__(self, other):
        a, b = self, self._lift(other)
        out = a.data / b.data

        def backward(g):
            return (_unbroadcast(g / b.data, a.shape) if a.requires_grad else None,
                    _unbroadcast(-g * out / b.data, b.shape) if b.requires_grad else None)
        return Tensor.from_op(out, (a, b), backward, "div")

    def __pow__(self, p):
        if isinstance(p, Tensor) or not np.isscalar(p):
            raise TypeError(f"Tensor ** only supports a Python/NumPy scalar exponent, got {type(p).__name__}")
        p = p.item() if isinstance(p, np.generic) else p     # keep float32 float32
        a = self
        return Tensor.from_op(a.data ** p, (a,), lambda g: (g * (p * a.data ** (p - 1)),), "pow")

    def __neg__(self):
        return Tensor.from_op(-self.data, (self,), lambda g: (-g,), "neg")

    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, other):
        return self._lift(other) - self

    def __rtruediv__(self, other):
        return self._lift(other) / self

    def __matmul__(self, other):
        a, b = self, self._lift(other)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs at least 1-D operands, got shapes {a.shape} and {b.shape}")
        a2 = a.data[None, :] if a.ndim == 1 else a.data      # (..., m, k)
        b2 = b.data[:, None] if b.ndim == 1 else b.data      # (..., k, n)

        def backward(g):
            g2 = np.expand_dims(g, -1) if b.ndim == 1 else g
            g2 = np.expand_dims(g2, -2) if a.ndim == 1 else g2   # (..., m, n)
            ga = gb = None
            if a.requires_grad:
                ga = _unbroadcast(_matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
            if b.requires_grad:
                if b2.ndim == 2:                             # shared weight: one big GEMM over the batch
                    gb = a2.reshape(-1, a2.shape[-1]).T @ g2.reshape(-1, b2.shape[-1])
                else:
                    gb = _unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape)
                gb = gb.reshape(b.shape)
            return ga, gb
        return Tensor.from_op(_matmul(a.data, b.data), (a, b), backward, "matmul")

    def __rmatmul__(self, other):
        return self._lift(other) @ self

    # ------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (None = all)."""
        a, axes = self, _norm_axes(axis, self.ndim)

        def backward(g):
            if not keepdims:
                g = np.expand_dims(g, axes)
            return (np.broadcast_to(g, a.shape),)
        return Tensor.from_op(np.sum(a.data, axis=axes, keepdims=keepdims), (a,), backward, "sum")

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis`` (None = all)."""
        axes = _norm_axes(axis, self.ndim)
        count = int(np.prod([self.shape[i] for i in axes]))
        return self.sum(axis=axes, keepdims=keepdims) * (1.0 / max(count, 1))

    def max(self, axis=None, keepdims=False):
        """Maximum over ``axis``. Ties: the gradient is split equally among the tied maxima."""
        a, axes = self, _norm_axes(axis, self.ndim)
        m = np.max(a.data, axis=axes, keepdims=True)

        def backward(g):
            if not keepdims:
                g = np.expand_dims(g, axes)
            hit = a.data == m
            return (hit * (g / hit.sum(axis=axes, keepdims=True)),)
        out = m if keepdims else np.squeeze(m, axis=axes)
        return Tensor.from_op(out, (a,), backward, "max")

    # ------------------------------------------------------------ elementwise
    def exp(self):
        out = np.exp(self.data)
        return Tensor.from_op(out, (self,), lambda g: (g * out,), "exp")

    def log(self):
        a = self
        return Tensor.from_op(np.log(a.data), (a,), lambda g: (g / a.data,), "log")

    def sqrt(self):
        out = np.sqrt(self.data)
        return Tensor.from_op(out, (self,), lambda g: (g * 0.5 / out,), "sqrt")

    def tanh(self):
        out = np.tanh(self.data)
        return Tensor.from_op(out, (self,), lambda g: (g * (1 - out * out),), "tanh")

    def sigmoid(self):
        out = 0.5 * (np.tanh(0.5 * self.data) + 1)           # stable for any |x|
        return Tensor.from_op(out, (self,), lambda g: (g * out * (1 - out),), "sigmoid")

    def relu(self):
        a = self
        return Tensor.from_op(np.maximum(a.data, 0), (a,), lambda g: (g * (a.data > 0),), "relu")

    def gelu(self):
        """GELU, tanh approximation: 0.5 x (1 + tanh(c (x + 0.044715 x^3))), c = sqrt(2/pi)."""
        x, c = self.data, np.sqrt(2 / np.pi).astype(self.dtype)
        t = np.tanh(c * (x + 0.044715 * x * x * x))

        def backward(g):
            return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)),)
        return Tensor.from_op(0.5 * x * (1 + t), (self,), backward, "gelu")

    # ------------------------------------------------------------ shape and indexing
    def reshape(self, *shape):
        """Same data in a new shape (``-1`` allowed)."""
        shape = tuple(shape[0]) if len(shape) == 1 and not np.isscalar(shape[0]) else shape
        a = self
        return Tensor.from_op(a.data.reshape(shape), (a,), lambda g: (g.reshape(a.shape),), "reshape")

    def transpose(self, *axes):
        """Permute axes (no argument: reverse them)."""
        axes = tuple(axes[0]) if len(axes) == 1 and not np.isscalar(axes[0]) else axes
        axes = tuple(range(self.ndim))[::-1] if not axes else tuple(int(x) % self.ndim for x in axes)
        inverse = tuple(np.argsort(axes))
        return Tensor.from_op(self.data.transpose(axes), (self,),
                            lambda g: (g.transpose(inverse),), "transpose")

    permute = transpose

    def __getitem__(self, index):
        if isinstance(index, tuple):
            index = tuple(i.data.astype(np.int64) if isinstance(i, Tensor) else i for i in index)
        elif isinstance(index, Tensor):
            index = index.data.astype(np.int64)
        a = self
        out = a.data[index]
        if not grad_mode._enabled or not a.requires_grad:
            return Tensor.from_op(out, (a,), None, "getitem")

        def backward(g):
            full = np.zeros(a.shape, dtype=a.dtype)            # C-contiguous, so reshape is a view
            if isinstance(index, np.ndarray) and index.dtype.kind in "iu" and a.ndim >= 1:
                rows = index.reshape(-1)
                rows = np.where(rows < 0, rows + a.shape[0], rows)
                view = full.reshape(a.shape[0], -1)            # (R, C) view of full
                scatter_add(view, rows,                        # rows may repeat: accumulate
                            np.ascontiguousarray(g, dtype=full.dtype).reshape(rows.size, -1))
            elif _is_advanced(index):
                np.add.at(full, index, g)
            else:
                full[index] = g                                # basic index: a view, no repeats
            return (full,)
        return Tensor.from_op(out, (a,), backward, "getitem")
