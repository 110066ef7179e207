# %% [markdown]
# # 01 · Autograd from scratch
#
# **What you will build.** A reverse-mode automatic differentiation engine for *scalars* in
# about 40 lines (in the spirit of Karpathy's micrograd), then the same ideas on NumPy arrays
# with minih2rec's `Tensor` — including the one thing arrays add: **broadcasting in the
# backward pass**. You finish by fitting a tiny model with the package's autograd.
#
# **Time.** Under 10 seconds to run on a 2-core laptop; about 45 minutes to read and do the
# exercises.

# %%
import math

import numpy as np

from minih2rec.autograd import Tensor, no_grad

from checks import check

# %% [markdown]
# ## 1. A scalar engine
#
# Every number that comes out of an operation remembers its **parents** and a small
# function, `_backward`, that knows the *local* derivative of that one operation. To get
# the gradient of the output with respect to everything, we visit the nodes from the output
# back to the inputs (a **topological order**, reversed) and let each node push its
# gradient to its parents with the chain rule:
#
# $$\frac{\partial L}{\partial \text{parent}} \mathrel{+}= \frac{\partial L}{\partial \text{out}}\cdot
#   \frac{\partial\, \text{out}}{\partial\, \text{parent}}$$
#
# The `+=` matters: a value used twice (like `b` in `a*b + b**2`) collects a contribution
# from each use.


# %%
class Value:
    """A scalar that remembers how it was made, so gradients can flow back to its inputs."""

    def __init__(self, data, parents=(), op=""):
        self.data, self.grad = float(data), 0.0
        self._parents, self._op = parents, op
        self._backward = lambda: None           # leaves have nothing to pass on

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():                          # d(a+b)/da = d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():                          # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, p):                         # p is a plain number
        out = Value(self.data ** p, (self,), f"**{p}")

        def _backward():
            self.grad += p * self.data ** (p - 1) * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():                          # d tanh(x)/dx = 1 - tanh(x)^2
            self.grad += (1 - t * t) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        order, seen = [], set()

        def visit(v):                             # depth first: parents before children
            if id(v) not in seen:
                seen.add(id(v))
                for p in v._parents:
                    visit(p)
                order.append(v)
        visit(self)
        self.grad = 1.0                           # dL/dL
        for v in reversed(order):                 # children before parents
            v._backward()

    __radd__, __rmul__ = __add__, __mul__

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __repr__(self):
        return f"Value(data={self.data:.4f}, grad={self.grad:.4f})"


# %% [markdown]
# A single neuron, `y = tanh(w1*x1 + w2*x2 + b)`:

# %%
x1, x2 = Value(2.0), Value(-1.0)
w1, w2, b = Value(-0.5), Value(1.5), Value(0.8)
y = (w1 * x1 + w2 * x2 + b).tanh()
y.backward()
print("y =", y)
for name, v in [("x1", x1), ("x2", x2), ("w1", w1), ("w2", w2), ("b", b)]:
    print(f"dy/d{name} = {v.grad:+.6f}")

# %% [markdown]
# Is it right? A gradient is a slope, so nudge one input and watch the output move
# (tutorial 02 makes this rigorous):

# %%
def neuron(w1_):
    return math.tanh(w1_ * 2.0 + 1.5 * -1.0 + 0.8)


eps = 1e-6
print("finite difference dy/dw1:", (neuron(-0.5 + eps) - neuron(-0.5 - eps)) / (2 * eps))
print("backward          dy/dw1:", w1.grad)

# %% [markdown]
# ## 2. The same thing on arrays: `minih2rec.autograd.Tensor`
#
# The package's `Tensor` is this engine with NumPy arrays instead of floats. Three changes:
#
# 1. each op's backward is a closure `backward(g) -> (grad for each parent)` that *returns*
#    gradients; `Tensor.backward()` does the `+=` (so an op cannot forget it);
# 2. the topological sort is iterative — a Transformer's graph is too deep for Python's
#    recursion limit;
# 3. data is `float32` unless you ask for `dtype=np.float64` (tutorial 02 explains when you must).
#
# The neuron again, as Tensors:

# %%
x = Tensor([2.0, -1.0], dtype=np.float64)                      # input: no gradient needed
w = Tensor([-0.5, 1.5], requires_grad=True, dtype=np.float64)
bias = Tensor(0.8, requires_grad=True, dtype=np.float64)
y_t = ((w * x).sum() + bias).tanh()
y_t.backward()
print("y =", y_t.item(), " op that made it:", y_t.op)
print("dy/dw =", w.grad, " (scalar engine:", [w1.grad, w2.grad], ")")
print("dy/db =", bias.grad, " (scalar engine:", b.grad, ")")
print("x.grad =", x.grad, " (x did not ask for a gradient)")

# %% [markdown]
# ## 3. Broadcasting in the backward pass
#
# NumPy lets you add a `(3, 1)` column to a `(4,)` row: both are *stretched* to `(3, 4)`.
# The stretching copies values, so in the backward pass the gradient of every copy must be
# **summed back** onto the original:
#
# * `a` of shape `(3, 1)` was copied along axis 1 → `a.grad = g.sum(axis=1, keepdims=True)`;
# * `b` of shape `(4,)` got a new leading axis and was copied along it → `b.grad = g.sum(axis=0)`.
#
# The package does this in one helper, `_unbroadcast(g, shape)`, used by every elementwise op.

# %%
rng = np.random.default_rng(0)
a = Tensor(rng.standard_normal((3, 1)), requires_grad=True, dtype=np.float64)
b = Tensor(rng.standard_normal(4), requires_grad=True, dtype=np.float64)
weights = rng.standard_normal((3, 4))                            # a constant, (3, 4)
loss = ((a + b) * weights).sum()                                 # (3, 1) + (4,) -> (3, 4)
loss.backward()

g = weights                                                      # dloss/d(a + b), shape (3, 4)
print("a.grad shape", a.grad.shape, "matches sum over axis 1:",
      np.allclose(a.grad, g.sum(axis=1, keepdims=True)))
print("b.grad shape", b.grad.shape, "matches sum over axis 0:", np.allclose(b.grad, g.sum(axis=0)))

# %% [markdown]
# ## 4. Gradients accumulate; `zero_grad` and `no_grad`
#
# Leaf gradients *add up* across `backward()` calls — the same `+=` as in the scalar engine.
# That is what you want when a loss is split into pieces, and a bug if you forget to reset
# between training steps. Under `no_grad()` no graph is recorded at all (evaluation, and the
# parameter update itself).

# %%
w2_ = Tensor([1.0, 2.0], requires_grad=True)
(w2_ * w2_).sum().backward()
print("after one backward: ", w2_.grad)
(w2_ * w2_).sum().backward()
print("after two backwards:", w2_.grad, "(doubled)")
w2_.zero_grad()
print("after zero_grad:    ", w2_.grad)
with no_grad():
    z = w2_ * 3
print("made under no_grad, requires_grad =", z.requires_grad)

# %% [markdown]
# ## 5. Fit something
#
# A linear regression `y ≈ X w`, trained by plain gradient descent: forward, backward,
# update `.data` in place (a plain NumPy operation: nothing is recorded in the graph), reset.

# %%
X = rng.standard_normal((200, 3))
w_true = np.array([2.0, -3.0, 0.5])
y_obs = X @ w_true + 0.1 * rng.standard_normal(200)

w_fit = Tensor(np.zeros(3), requires_grad=True)
for step in range(101):
    loss = ((Tensor(X) @ w_fit - y_obs) ** 2).mean()              # (200,) -> scalar
    loss.backward()
    w_fit.data -= 0.1 * w_fit.grad
    w_fit.zero_grad()
    if step % 25 == 0:
        print(f"step {step:3d}  mse {loss.item():.4f}")
print("learned w:", np.round(w_fit.data, 3), " true w:", w_true)

# %% [markdown]
# ## Summary
#
# * Reverse-mode autodiff = a graph of ops, each with a *local* derivative, visited in
#   reverse topological order; gradients of a value used twice add up.
# * minih2rec's `Tensor` is the same on arrays: closures return gradients, an iterative sort
#   drives them, `float32` by default.
# * Broadcasting copies values forward, so backward **sums** the gradient over the stretched
#   axes.
# * Leaf gradients accumulate across `backward()` calls; reset with `zero_grad()`; record
#   nothing under `no_grad()`.
#
# ## Exercises
#
# Replace each `None`; `check` tells you whether you are right. Solutions:
# `tutorials/solutions/01_autograd_from_scratch.py`.
#
# **1.1 — chain rule by hand.** For `f(a, b) = tanh(a*b + b**2)` at `a = 2, b = -1`, give
# `[df/da, df/db]` as two numbers (use `math.tanh`; remember `b` is used twice).

# %%
a_t = Tensor(2.0, requires_grad=True, dtype=np.float64)
b_t = Tensor(-1.0, requires_grad=True, dtype=np.float64)
(a_t * b_t + b_t ** 2).tanh().backward()

yours = None  # TODO: [df/da, df/db]
check("1.1 chain rule, [df/da, df/db]", yours, [a_t.grad, b_t.grad])

# %% [markdown]
# **1.2 — a broadcast gradient.** `x` is `(4, 3)`, `w` is `(3,)` and
# `L = ((x * w) ** 2).sum()`. Write `dL/dw` with NumPy (shape `(3,)`: sum over the copies).

# %%
x_np = np.random.default_rng(1).standard_normal((4, 3))
w_np = np.array([0.5, -1.0, 2.0])
w_t = Tensor(w_np, requires_grad=True, dtype=np.float64)
((Tensor(x_np, dtype=np.float64) * w_t) ** 2).sum().backward()

yours = None  # TODO: dL/dw, an array of shape (3,)
check("1.2 broadcast gradient dL/dw", yours, w_t.grad)

# %% [markdown]
# **1.3 — centring.** For `x` of shape `(5, 3)` and
# `L = ((x - x.mean(axis=0, keepdims=True)) ** 2).sum()`, write `dL/dx` with NumPy.
# Hint: the path through the mean contributes a term proportional to the sum of the centred
# values over axis 0 — what is that sum?

# %%
x5 = np.random.default_rng(2).standard_normal((5, 3))
x5_t = Tensor(x5, requires_grad=True, dtype=np.float64)
((x5_t - x5_t.mean(axis=0, keepdims=True)) ** 2).sum().backward()

yours = None  # TODO: dL/dx, an array of shape (5, 3)
check("1.3 gradient through a mean", yours, x5_t.grad)
