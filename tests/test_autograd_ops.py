"""Tensor and ops: every primitive gradient-checked (float64), plus graph semantics.

Kinks are avoided on purpose: relu/max inputs are kept away from 0 and from ties,
log/sqrt get positive inputs.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minih2rec.autograd import Tensor, enable_grad, gradcheck, is_grad_enabled, no_grad, ops

pytestmark = pytest.mark.numpy_backend


def t64(a):
    """A float64 leaf that requires grad."""
    return Tensor(np.array(a, dtype=np.float64), requires_grad=True, dtype=np.float64)


def rand(shape, seed=0, lo=-2.0, hi=2.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def away_from_zero(shape, seed):
    """Values with |x| in [0.2, 2] (no relu kink); distinct so max has no ties."""
    r = np.random.default_rng(seed)
    x = r.permutation(np.linspace(0.2, 2.0, int(np.prod(shape)))) * r.choice([-1, 1], size=int(np.prod(shape)))
    return x.reshape(shape)


small_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
seeds = st.integers(0, 2**16)


# ---------------------------------------------------------------- construction and dtypes
def test_dtype_rules():
    assert Tensor(np.zeros(3, dtype=np.float64)).dtype == np.float32
    assert Tensor([1, 2, 3]).dtype == np.float32
    assert Tensor(np.zeros(3), dtype=np.float64).dtype == np.float64
    x32, x64 = Tensor(np.ones(3)), Tensor(np.ones(3), dtype=np.float64)
    assert (x32 + 1.5).dtype == np.float32 and (2.0 * x32).dtype == np.float32
    assert (x32 + np.ones(3, dtype=np.float64)).dtype == np.float32
    assert (x32 ** np.float64(2.0)).dtype == np.float32
    assert (x64 * 3).dtype == np.float64
    assert isinstance(np.ones(3) + x32, Tensor) and isinstance(np.ones((2, 3)) @ Tensor(np.ones(3)), Tensor)


def test_attributes_and_helpers():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x.numpy() is x.data and x.sum().item() == 15.0
    d = x.detach()
    assert not d.requires_grad and d.data is x.data
    assert "requires_grad=True" in repr(x)
    with pytest.raises(TypeError):
        x ** x


# ---------------------------------------------------------------- elementwise
UNARY = {
    "exp": (lambda x: x.exp(), "any"),
    "tanh": (lambda x: x.tanh(), "any"),
    "sigmoid": (lambda x: x.sigmoid(), "any"),
    "gelu": (lambda x: x.gelu(), "any"),
    "neg": (lambda x: -x, "any"),
    "relu": (lambda x: x.relu(), "nonzero"),
    "log": (lambda x: x.log(), "positive"),
    "sqrt": (lambda x: x.sqrt(), "positive"),
    "pow3": (lambda x: x ** 3, "any"),
    "pow-half": (lambda x: x ** -0.5, "positive"),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=small_shapes, seed=seeds)
def test_unary_gradcheck(name, shape, seed):
    fn, domain = UNARY[name]
    if domain == "positive":
        x = rand(shape, seed, 0.3, 3.0)
    elif domain == "nonzero":
        x = away_from_zero(shape, seed)
    else:
        x = rand(shape, seed)
    assert gradcheck(fn, t64(x))


def test_gelu_and_sigmoid_values():
    x = np.linspace(-5, 5, 11)
    c = np.sqrt(2 / np.pi)
    want = 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(Tensor(x, dtype=np.float64).gelu().data, want, rtol=1e-12)
    np.testing.assert_allclose(Tensor(x, dtype=np.float64).sigmoid().data, 1 / (1 + np.exp(-x)), rtol=1e-12)
    assert np.all(np.isfinite(Tensor([-1e4, 1e4]).sigmoid().data))


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=seeds)
def test_binary_broadcast_gradcheck(name, shapes, seed):
    sa, sb = shapes.input_shapes
    a, b = rand(sa, seed), rand(sb, seed + 1, 0.5, 2.0)   # b away from 0 for division
    assert gradcheck(BINARY[name], t64(a), t64(b))


def test_broadcast_3_1_4_plus_2_4():
    a, b = t64(rand((3, 1, 4))), t64(rand((2, 4), 1))
    assert gradcheck(lambda a, b: (a + b) * b, a, b)
    (a + b).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((3, 1, 4), 2.0))
    np.testing.assert_array_equal(b.grad, np.full((2, 4), 3.0))


def test_scalar_and_reflected_operands():
    x = t64(rand((2, 3)) + 3)
    assert gradcheck(lambda x: 2.0 - x + 1.0 * x / 3.0 + 1.0 / x - np.ones(3) * x, x)


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
                                   ((3, 4), (2, 4, 2)), ((4,), (3, 4, 2)), ((2, 3, 4), (4,)), ((4,), (4,))])
def test_matmul_gradcheck(sa, sb):
    assert gradcheck(lambda a, b: a @ b, t64(rand(sa)), t64(rand(sb, 1)))


def test_matmul_one_side_requires_grad():
    a, w = Tensor(rand((2, 3, 4))), Tensor(rand((4, 5), 1), requires_grad=True)
    (a @ w).sum().backward()
    np.testing.assert_allclose(w.grad, np.broadcast_to(a.data.sum(axis=(0, 1))[:, None], (4, 5)), rtol=1e-5)
    assert a.grad is None


# ---------------------------------------------------------------- reductions
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_reduction_gradcheck(op, axis, keepdims):
    x = t64(away_from_zero((2, 3, 4), 7))
    assert gradcheck(lambda x: getattr(x, op)(axis=axis, keepdims=keepdims), x)


def test_max_ties_split_gradient_equally():
    x = t64([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


# ---------------------------------------------------------------- shape and indexing
def test_shape_ops_gradcheck():
    x = t64(rand((2, 3, 4)))
    assert gradcheck(lambda x: x.reshape(4, -1), x)
    assert gradcheck(lambda x: x.reshape((6, 4)).transpose(), x)
    assert gradcheck(lambda x: x.transpose(2, 0, 1) * np.arange(3.0), x)
    assert gradcheck(lambda x: x.permute(1, 2, 0), x)


@pytest.mark.parametrize("index", [
    (slice(None), 1), (1, slice(0, 3, 2)), (Ellipsis, None, 1), np.array([0, 2, 2, 1, 0]),
    np.array([[0, 0], [-1, 1]]), (slice(None), [2, 2, 0]), np.array([True, False, True])])
def test_getitem_gradcheck(index):
    assert gradcheck(lambda x: x[index], t64(rand((3, 3, 2))))


def test_getitem_repeated_rows_accumulate():
    x = Tensor(np.zeros((4, 2)), requires_grad=True)
    x[np.array([1, 1, 3, 1])].sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0], [3, 3], [0, 0], [1, 1]])


# ---------------------------------------------------------------- ops
def test_concatenate_stack_gradcheck():
    a, b, c = t64(rand((2, 3))), t64(rand((2, 1), 1)), t64(rand((2, 3), 2))
    assert gradcheck(lambda a, b: ops.concatenate([a, b, a], axis=-1), a, b)
    assert gradcheck(lambda a, c: ops.concatenate([a, c]), a, c)
    for axis in (0, 1, -1):
        assert gradcheck(lambda a, c: ops.stack([a, c], axis=axis) * np.arange(2.0)[:, None, None].reshape(
            (2, 1, 1) if axis == 0 else (1, 2, 1) if axis == 1 else (1, 1, 2)), a, c)


def test_where_and_masked_fill_gradcheck():
    cond = np.array([[True, False, True], [False, False, True]])
    a, b = t64(rand((2, 3))), t64(rand((3,), 1))
    assert gradcheck(lambda a, b: ops.where(cond, a, b), a, b)
    assert gradcheck(lambda a: ops.where(cond, a, 0.0), a)
    assert gradcheck(lambda a: ops.masked_fill(a, np.array([True, False, False]), -7.0), a)
    out = ops.masked_fill(a, cond, -5.0)
    assert np.all(out.data[cond] == -5.0) and np.all(out.data[~cond] == a.data[~cond])
    with pytest.raises(ValueError, match="does not broadcast"):
        ops.masked_fill(Tensor(np.ones(3)), np.ones((2, 3), bool), 0.0)


@given(rows=st.integers(1, 6), cols=st.integers(1, 4),
       idx_shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=seeds)
def test_embedding_backward_matches_add_at(rows, cols, idx_shape, seed):
    r = np.random.default_rng(seed)
    idx = r.integers(0, rows, size=idx_shape)                    # repeats are likely
    w = Tensor(r.standard_normal((rows, cols)), requires_grad=True)
    g = r.standard_normal(idx_shape + (cols,)).astype(np.float32)
    out = ops.embedding(w, idx)
    np.testing.assert_array_equal(out.data, w.data[idx])
    out.backward(g)
    want = np.zeros((rows, cols), np.float32)
    np.add.at(want, idx.reshape(-1), g.reshape(-1, cols))
    np.testing.assert_allclose(w.grad, want, rtol=1e-5, atol=1e-5)


def test_integer_index_and_embedding_on_non_contiguous_data():
    base = rand((3, 4))
    x = Tensor(base.T, requires_grad=True, dtype=np.float64)          # (4, 3) F-ordered view
    assert gradcheck(lambda x: x[np.array([0, 3, 3])], x)
    assert gradcheck(lambda x: ops.embedding(x, np.array([[1, 1], [2, 0]])), x)


def test_embedding_gradcheck_and_errors():
    assert gradcheck(lambda w: ops.embedding(w, np.array([[0, 3, 0], [2, 2, 1]])), t64(rand((4, 3))))
    with pytest.raises(IndexError, match="index 4"):
        ops.embedding(Tensor(np.ones((4, 2))), np.array([0, 4]))
    with pytest.raises(ValueError, match="integer"):
        ops.embedding(Tensor(np.ones((4, 2))), np.array([0.5]))


# ---------------------------------------------------------------- graph semantics
def test_gradient_accumulates_over_two_backward_calls():
    x = t64([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 3)
    x.zero_grad()
    assert x.grad is None
    y = (x * x).sum()
    y.backward()
    y.backward()                          # same graph twice also accumulates
    np.testing.assert_allclose(x.grad, 4 * x.data)


def test_shared_subexpression_and_deep_graph():
    x = t64(rand((3,)))
    y = x * 2.0
    z = (y * y + y).sum()                 # diamond: y feeds two nodes
    z.backward()
    np.testing.assert_allclose(x.grad, 8 * x.data + 2)
    w = Tensor(np.ones(2), requires_grad=True)
    h = w
    for _ in range(5000):                 # far deeper than Python's recursion limit
        h = h * 1.0 + 0.0
    h.sum().backward()
    np.testing.assert_allclose(w.grad, [1.0, 1.0])


def test_no_grad_records_nothing():
    x = Tensor(np.ones(3), requires_grad=True)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2).exp().sum()
        with no_grad():
            pass
        assert not is_grad_enabled()      # nested exit restores the outer state
    assert is_grad_enabled()
    assert not y.requires_grad and y._parents == () and y._backward is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()

    @no_grad()
    def f(t):
        return t * 3
    assert not f(x).requires_grad and (x * 3).requires_grad


def test_enable_grad_records_inside_no_grad_and_restores():
    x = Tensor(np.ones(3), requires_grad=True)
    with no_grad():
        with enable_grad():
            assert is_grad_enabled()
            y = (x * 2).sum()
        assert not is_grad_enabled()      # back to the enclosing no_grad
    y.backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0, 2.0])


def test_only_requires_grad_leaves_get_grads_and_errors():
    x, c = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3))
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None
    with pytest.raises(ValueError, match="one-element"):
        (x * 2).backward()
    (x * 2).backward(np.ones(3))
    np.testing.assert_allclose(x.grad, [3, 3, 3])


@given(seed=seeds)
def test_inputs_not_mutated(seed):
    r = np.random.default_rng(seed)
    a, b = r.uniform(0.5, 2, (2, 3)), r.uniform(0.5, 2, (3,))
    idx = r.integers(0, 2, size=4)
    a0, b0, idx0 = a.copy(), b.copy(), idx.copy()
    ta, tb = Tensor(a, requires_grad=True, dtype=np.float64), Tensor(b, requires_grad=True, dtype=np.float64)
    out = ((ta * tb + ta / tb + tb ** 2).log().sqrt().exp().tanh().relu() @ tb).sum()
    out = out + ta[idx].max() + ops.embedding(ta, idx).mean() + ops.where(a > 1, ta, tb).sum()
    out = out + ops.masked_fill(ta, a > 1, 0.0).sum() + ops.concatenate([ta, ta]).gelu().sum()
    out.backward()
    ga = ta.grad.copy()
    out.backward()
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)
    np.testing.assert_array_equal(idx, idx0)
    np.testing.assert_allclose(ta.grad, 2 * ga)
