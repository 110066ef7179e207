# %% [markdown]
# # Solutions · 02 Gradient checking

# %%
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import numpy as np

from minih2rec.autograd import Tensor, fused, gradcheck

from checks import check


def f64(*shape, seed=0):
    """A random float64 leaf Tensor that requires grad."""
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True,
                  dtype=np.float64)


# %% [markdown]
# **2.1** Perturb one entry of a private copy at a time, up and down.

# %%
def numeric_grad(f, x, eps=1e-6):
    """Central-difference gradient of scalar ``f`` at every entry of float64 array ``x``."""
    x = np.array(x, dtype=np.float64)            # private copy
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        f_plus = f(x)
        x[i] = old - eps
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


x_ex = np.random.default_rng(3).standard_normal((3, 4))
yours = numeric_grad(lambda v: np.sum(np.sin(v) * v), x_ex)
assert check("2.1 numeric gradient of sum(sin(x) * x)", yours, np.cos(x_ex) * x_ex + np.sin(x_ex))


# %% [markdown]
# **2.2** `d sigmoid(x)/dx = s (1 - s)`, times the upstream gradient. As an op it passes
# `gradcheck`.

# %%
def sigmoid_backward(s, g):
    return g * s * (1 - s)


xs = f64(2, 3, seed=4)
gs = np.random.default_rng(5).standard_normal((2, 3))
xs.sigmoid().backward(gs)
s = 1 / (1 + np.exp(-xs.data))
assert check("2.2 sigmoid backward", sigmoid_backward(s, gs), xs.grad)


def sigmoid_fixed(x):
    s = 1 / (1 + np.exp(-x.data))
    return Tensor.from_op(s, (x,), lambda g: (sigmoid_backward(s, g),), "sigmoid_fixed")


assert gradcheck(sigmoid_fixed, f64(2, 3))

# %% [markdown]
# **2.3** With `n = ||x||` and `y = x / n`, the Jacobian is `(I - y yᵀ) / n` (symmetric), so
# `dL/dx = (g - y (y·g)) / n`: the component of `g` along `y` — a change of length only — is
# removed.

# %%
x_n = np.random.default_rng(6).standard_normal((3, 4))
g_n = np.random.default_rng(7).standard_normal((3, 4))
xn_t = Tensor(x_n, requires_grad=True, dtype=np.float64)
fused.l2_normalize(xn_t).backward(g_n)

norm = np.linalg.norm(x_n, axis=-1, keepdims=True)
y = x_n / norm
yours = (g_n - y * (g_n * y).sum(axis=-1, keepdims=True)) / norm
assert check("2.3 l2_normalize backward", yours, xn_t.grad)
