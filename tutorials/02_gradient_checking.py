# %% [markdown]
# # 02 · Gradient checking
#
# **What you will build.** A finite-difference derivative, a plot of *why* it must be taken
# in float64, and the habit that keeps an autograd honest: every backward is compared with
# finite differences. You will watch `minih2rec.autograd.gradcheck` catch two deliberately
# wrong backward functions — the kind of bug that trains a model slightly worse, silently.
#
# **Time.** About 10 seconds to run on a 2-core laptop; 45 minutes with the exercises.
# Tutorial 01 (autograd) comes first.

# %%
import matplotlib.pyplot as plt
import numpy as np

from minih2rec.autograd import GradcheckError, Tensor, fused, gradcheck
from minih2rec.nn import Linear

from _smoke import show
from checks import check

# %% [markdown]
# ## 1. Finite differences, and their two errors
#
# The derivative is a limit of slopes. With a small step `h`:
#
# * forward difference `(f(x+h) - f(x)) / h` — error **O(h)** (Taylor: the `f''` term survives);
# * central difference `(f(x+h) - f(x-h)) / 2h` — error **O(h²)** (the `f''` terms cancel).
#
# So smaller `h` is better? Only until **rounding** takes over: `f(x+h)` and `f(x-h)` agree in
# most of their digits, and subtracting them leaves about `ε·|f| / h` of noise, where `ε` is
# the machine precision (`2.2e-16` in float64, `1.2e-7` in float32). The total error is a V:
# truncation falls with `h`, rounding grows as `h` shrinks.

# %%
def slopes(x, h, dtype):
    """Forward and central differences of tanh at x, computed entirely in ``dtype``."""
    x, h = dtype(x), dtype(h)
    forward = (np.tanh(x + h) - np.tanh(x)) / h
    central = (np.tanh(x + h) - np.tanh(x - h)) / (dtype(2) * h)
    return float(forward), float(central)


x0 = 0.5
exact = 1 - np.tanh(x0) ** 2
steps = np.logspace(-1, -12, 45)
errors = {}
for dtype in (np.float32, np.float64):
    for i, method in enumerate(("forward", "central")):
        errors[dtype.__name__, method] = np.array(
            [abs(slopes(x0, h, dtype)[i] - exact) for h in steps])

for (dt, method), err in errors.items():
    best = int(np.argmin(err))
    print(f"{dt:8s} {method:8s} best step {steps[best]:.0e}  error {err[best]:.1e}")

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
for (dt, method), err in errors.items():
    ax.loglog(steps, np.maximum(err, 1e-17), ls="-" if dt == "float64" else "--",
              label=f"{dt}, {method}")
ax.invert_xaxis()
ax.set_xlabel("step h (smaller to the right)")
ax.set_ylabel("|finite difference - exact derivative|")
ax.set_title("d tanh(x)/dx at x = 0.5: truncation vs rounding error")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
show(fig, "02_finite_difference_error.png")

# %% [markdown]
# Read the plot: in float64 a central difference with `h ≈ 1e-5`–`1e-6` is good to about
# 10 digits; in float32 the *best* you can do is about 5 digits — and through a real op
# with several inputs, fewer. A gradient check with a tolerance of 1e-3 relative would then
# flag correct code as wrong (or let small bugs pass).
# That is why `gradcheck` insists on **float64** inputs, while training runs in float32.
#
# The same thing on a real op — the gradient of a layer norm, checked by hand in both precisions:

# %%
def layer_norm_sum(x):
    """A scalar function of x through layer_norm (weights 1, bias 0), in x's dtype."""
    return float((fused.layer_norm(Tensor(x, dtype=x.dtype), None, None).data * proj).sum())


rng = np.random.default_rng(0)
x_ln = rng.standard_normal((4, 8))
proj = rng.standard_normal((4, 8))
for dtype, h in ((np.float32, 1e-3), (np.float64, 1e-6)):
    x = x_ln.astype(dtype)
    xt = Tensor(x, requires_grad=True, dtype=dtype)
    fused.layer_norm(xt, None, None).backward(proj)
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        numeric[i] = (layer_norm_sum(xp) - layer_norm_sum(xm)) / (2 * h)
    print(f"{dtype.__name__}: max |analytic - numeric| = {np.abs(xt.grad - numeric).max():.1e}")

# %% [markdown]
# ## 2. `gradcheck`
#
# `gradcheck(fn, *inputs)` does exactly this for every entry of every input, with two extra
# ideas:
#
# * **any output shape**: it reduces the output to a scalar with a fixed random projection,
#   `f = sum(fn(*inputs) * R)`, then calls `backward(R)` once for the analytic side;
# * **a tolerance that scales**: an entry passes when
#   `|analytic - numeric| <= atol + rtol * |numeric|` (defaults 1e-5 and 1e-3).
#
# It returns `True`, or raises `GradcheckError` naming the input, the worst index and both
# values. Inputs must be float64 Tensors with `requires_grad=True`.

# %%
def f64(*shape, seed=0):
    """A random float64 leaf Tensor that requires grad."""
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True,
                  dtype=np.float64)


print("softmax      ", gradcheck(lambda x: fused.softmax(x), f64(3, 5)))
print("layer_norm   ", gradcheck(lambda x, w, b: fused.layer_norm(x, w, b),
                                 f64(3, 5), f64(5, seed=1), f64(5, seed=2)))
targets = np.array([0, 3, 1])
print("cross_entropy", gradcheck(lambda z: fused.cross_entropy(z, targets), f64(3, 4)))

# %% [markdown]
# A whole layer works the same way: cast its parameters to float64 and pass them as inputs
# (gradcheck perturbs their `.data` in place, so the layer sees the perturbed weights).

# %%
layer = Linear(4, 3, np.random.default_rng(0)).to_dtype(np.float64)
x_in = f64(2, 4)
print("Linear       ", gradcheck(lambda x, w, b: layer(x).tanh(), x_in, layer.weight, layer.bias))

# %% [markdown]
# ## 3. Catching wrong backward functions
#
# To write a new op you give its forward result, its parents and its backward closure to
# `Tensor.from_op` — the public hook every op in `minih2rec/autograd/` is written with. Here are
# two ops with classic mistakes.
#
# **Bug 1: a forgotten factor.** The derivative of `sigmoid(x)` is `s * (1 - s)`; this one
# returns `s` only.

# %%
def sigmoid_wrong(x):
    s = 1 / (1 + np.exp(-x.data))
    return Tensor.from_op(s, (x,), lambda g: (g * s,), "sigmoid_wrong")   # should be g * s * (1 - s)


try:
    gradcheck(sigmoid_wrong, f64(2, 3))
except GradcheckError as err:
    print("caught:", err)

# %% [markdown]
# **Bug 2: overwriting instead of accumulating.** A gather `out = x[idx]` must *add* the
# gradients of repeated indices (recall 00's `scatter_add`). Writing `full[idx] = g` keeps
# only the last one. The bug is invisible while the indices happen to be distinct — a
# gradient check must use inputs that exercise the case.

# %%
def gather_wrong(x, idx):
    def backward(g):
        full = np.zeros_like(x.data)
        full[idx] = g                        # should be np.add.at(full, idx, g)
        return (full,)
    return Tensor.from_op(x.data[idx], (x,), backward, "gather_wrong")


table = f64(5, 2)
print("distinct indices:", gradcheck(lambda t: gather_wrong(t, np.array([0, 3, 1])), table))
try:
    gradcheck(lambda t: gather_wrong(t, np.array([0, 3, 0])), table)
except GradcheckError as err:
    print("repeated indices, caught:", err)

# %% [markdown]
# ## 4. False alarms at kinks
#
# `relu` has no derivative at 0: the left slope is 0, the right slope is 1, and a central
# difference straddling 0 reports their average, 0.5 (times the projection weight).
# Neither the analytic 0 nor 1 can match it. Keep test inputs away from kinks (`relu` at 0,
# `max` at ties, `abs` at 0) — the package's tests do.

# %%
kink = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True, dtype=np.float64)
try:
    gradcheck(lambda x: x.relu(), kink)
except GradcheckError as err:
    print("relu at 0:", err)

# %% [markdown]
# ## Summary
#
# * Central differences have error O(h²) plus rounding ~ε/h; only float64 leaves enough
#   digits for a strict comparison.
# * `gradcheck(fn, *inputs)` projects any output to a scalar, compares every input entry and
#   names the worst one.
# * It catches wrong factors and lost accumulations — if the inputs exercise the case
#   (repeated indices, masked entries, broadcast shapes).
# * Failures at kinks are false alarms: choose inputs away from them.
#
# ## Exercises
#
# Solutions: `tutorials/solutions/02_gradient_checking.py`.
#
# **2.1 — your own numeric gradient.** Write `numeric_grad(f, x, eps)`: the central-difference
# gradient of a scalar function `f` of an array `x`, one entry at a time (copy `x`; do not
# modify the caller's array). It is checked on `f(x) = sum(sin(x) * x)`, whose exact gradient
# is `cos(x) * x + sin(x)`.

# %%
def numeric_grad(f, x, eps=1e-6):
    """Central-difference gradient of scalar ``f`` at every entry of float64 array ``x``."""
    return None  # TODO


x_ex = np.random.default_rng(3).standard_normal((3, 4))
yours = numeric_grad(lambda v: np.sum(np.sin(v) * v), x_ex)
check("2.1 numeric gradient of sum(sin(x) * x)", yours, np.cos(x_ex) * x_ex + np.sin(x_ex))

# %% [markdown]
# **2.2 — fix bug 1.** Complete `sigmoid_backward(s, g)`: given the forward output
# `s = sigmoid(x)` and the upstream gradient `g`, return the gradient for `x`. It is compared
# with the package's `Tensor.sigmoid`; once it passes, plug it into an op and run `gradcheck`
# on it yourself.

# %%
def sigmoid_backward(s, g):
    return None  # TODO


xs = f64(2, 3, seed=4)
gs = np.random.default_rng(5).standard_normal((2, 3))
xs.sigmoid().backward(gs)
s = 1 / (1 + np.exp(-xs.data))
check("2.2 sigmoid backward", sigmoid_backward(s, gs), xs.grad)

# %% [markdown]
# **2.3 — the backward of `l2_normalize`.** `y = x / ||x||` row by row. Derive the
# Jacobian-vector product `dL/dx` for an upstream gradient `g` and write it with NumPy.
# Hint: `y` does not change when `x` is scaled, so the part of `g` along `y` must vanish.

# %%
x_n = np.random.default_rng(6).standard_normal((3, 4))
g_n = np.random.default_rng(7).standard_normal((3, 4))
xn_t = Tensor(x_n, requires_grad=True, dtype=np.float64)
fused.l2_normalize(xn_t).backward(g_n)

yours = None  # TODO: dL/dx, shape (3, 4)
check("2.3 l2_normalize backward", yours, xn_t.grad)
