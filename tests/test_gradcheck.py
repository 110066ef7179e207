"""gradcheck itself: it passes on correct backwards and FAILS on wrong ones (a test of the test)."""
import numpy as np
import pytest

from minih2rec.autograd import GradcheckError, Tensor, gradcheck

pytestmark = pytest.mark.numpy_backend


def t64(a):
    return Tensor(np.array(a, dtype=np.float64), requires_grad=True, dtype=np.float64)


def rand(shape, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, size=shape)


def square_with_backward(x, backward_factor, bad_index=None):
    """``x**2`` as one node whose backward is ``backward_factor * x * g`` (2 is right).

    With ``bad_index`` only that entry's gradient uses the factor; the rest are right.
    """
    def backward(g):
        grad = 2 * x.data * g
        if bad_index is None:
            return (backward_factor * x.data * g,)
        grad[bad_index] = backward_factor * x.data[bad_index] * g[bad_index]
        return (grad,)
    return Tensor.from_op(x.data ** 2, (x,), backward, "square")


def test_passes_on_correct_backward_and_returns_true():
    assert gradcheck(lambda x: square_with_backward(x, 2.0), t64(rand((3, 4)))) is True


@pytest.mark.parametrize("factor", [0.0, 1.0, -2.0, 2.05])
def test_fails_on_wrong_backward(factor):
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: square_with_backward(x, factor), t64(rand((3, 4)) + 3))
    assert isinstance(info.value, AssertionError)
    assert "input 0" in str(info.value) and "analytic" in str(info.value) and "numeric" in str(info.value)


def test_names_the_wrong_input_and_the_worst_index():
    a, b = t64(rand((2, 3))), t64(rand((2, 3), 1) + 3)
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2, 3\)\) at index \(1, 2\)"):
        gradcheck(lambda a, b: a * 2.0 + square_with_backward(b, 3.0, bad_index=(1, 2)), a, b)


def test_non_scalar_output_projection_catches_a_single_bad_entry():
    x = t64(rand((4, 5), 2) + 3)
    with pytest.raises(GradcheckError, match=r"at index \(3, 0\)"):
        gradcheck(lambda x: square_with_backward(x, 2.5, bad_index=(3, 0)), x)


def test_fails_on_missing_gradient():
    x = t64(rand(3))
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: Tensor(x.data * 2, dtype=np.float64) + x * 0.0, x)   # graph cut by hand


def test_restores_data_and_grad():
    x = t64(rand((2, 2)))
    before, x.grad = x.data, np.full((2, 2), 7.0)
    snapshot = before.copy()
    gradcheck(lambda x: (x * x).sum(), x)
    assert x.data is before
    np.testing.assert_array_equal(x.data, snapshot)
    np.testing.assert_array_equal(x.grad, np.full((2, 2), 7.0))


def test_non_contiguous_input_is_handled():
    base = rand((4, 3))
    x = Tensor(base.T, requires_grad=True, dtype=np.float64)     # a transposed (strided) view
    assert gradcheck(lambda x: (x * x * np.arange(4.0)).sum(), x)


def test_rejects_bad_inputs_and_outputs():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda x: x * 2, Tensor(np.ones(3), requires_grad=True))
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda x: x * 2, Tensor(np.ones(3), dtype=np.float64))
    with pytest.raises(ValueError, match="float64 Tensor"):
        gradcheck(lambda x: Tensor(x.data), t64(np.ones(3)))
