"""gradcheck: compare autograd gradients with float64 central differences.

For a function ``fn`` of Tensors with any output shape, reduce the output to the
scalar ``f = sum(fn(*inputs) * R)`` with a fixed random projection ``R`` (seeded,
so a failure reproduces), then for each input entry ``x_i``::

    numeric_i  = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)
    analytic_i = d f / d x_i                      (from Tensor.backward(R))
    ok         = |analytic_i - numeric_i| <= atol + rtol * |numeric_i|

Use float64 inputs and avoid kinks (relu at 0, max at ties): there the two
one-sided derivatives differ and no gradient can pass.
"""
import numpy as np

from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the finite-difference one."""


def _projected(fn, inputs, proj):
    """``sum(fn(*inputs) * proj)`` as a Python float, without recording a graph."""
    with no_grad():
        return float(np.sum(fn(*inputs).data * proj))


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check the gradients of ``fn`` w.r.t. every input by central differences.

    Parameters
    ----------
    fn : callable(*Tensor) -> Tensor, deterministic (re-seed any rng inside ``fn``).
    *inputs : Tensor, float64, ``requires_grad=True``. A private copy of each ``.data`` is
        perturbed during the check; the original array and ``.grad`` are put back after.
    eps : float, finite-difference step.
    atol, rtol : float, tolerance ``|analytic - numeric| <= atol + rtol * |numeric|``.
    seed : int, seed of the random projection of a non-scalar output.

    Returns
    -------
    True when every entry passes.

    Raises
    ------
    GradcheckError naming the input, the worst index, the analytic and numeric values.
    ValueError on inputs that are not float64 Tensors requiring grad, or a non-float64 output.
    """
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or x.dtype != np.float64 or not x.requires_grad:
            raise ValueError(f"gradcheck: input {i} must be a float64 Tensor with requires_grad=True, "
                             f"got {x!r}")
    saved = [x.grad for x in inputs]
    for x in inputs:
        x.grad = None
    try:
        out = fn(*inputs)
        if not isinstance(out, Tensor) or out.dtype != np.float64:
            raise ValueError(f"gradcheck: fn must return a float64 Tensor, got {out!r}")
        proj = np.random.default_rng(seed).standard_normal(out.shape)     # same shape as out
        if out.requires_grad:
            out.backward(proj)
        analytic = [np.zeros_like(x.data) if x.grad is None else x.grad for x in inputs]
    finally:
        for x, g in zip(inputs, saved):
            x.grad = g

    for i, (x, ana) in enumerate(zip(inputs, analytic)):
        num = np.zeros(x.shape)
        original = x.data
        x.data = np.array(original, order="C")    # private contiguous copy to perturb
        flat = x.data.reshape(-1)                 # (n,) view of it
        try:
            for j in range(flat.size):
                flat[j] = original.flat[j] + eps
                f_plus = _projected(fn, inputs, proj)
                flat[j] = original.flat[j] - eps
                f_minus = _projected(fn, inputs, proj)
                flat[j] = original.flat[j]
                num.flat[j] = (f_plus - f_minus) / (2 * eps)
        finally:
            x.data = original
        excess = np.abs(ana - num) - (atol + rtol * np.abs(num))
        if excess.size and (excess.max() > 0 or not np.all(np.isfinite(ana))):
            worst = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(excess), excess, np.inf))),
                                     x.shape)
            raise GradcheckError(
                f"gradcheck: input {i} (shape {x.shape}) at index {tuple(int(w) for w in worst)}: "
                f"analytic {ana[worst]:.8g} vs numeric {num[worst]:.8g} "
                f"(|diff| {abs(ana[worst] - num[worst]):.3g}, allowed {atol + rtol * abs(num[worst]):.3g})")
    return True
