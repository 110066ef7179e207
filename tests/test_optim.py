"""Optimizers against hand-computed steps; decoupled decay; clipping; checkpoint/resume."""
import numpy as np
import pytest

from minih2rec.nn import Parameter
from minih2rec.optim import SGD, Adam, AdamW, clip_grad_norm

pytestmark = pytest.mark.numpy_backend

W0 = np.array([1.0, -2.0, 0.5], dtype=np.float32)
G1 = np.array([0.1, 0.2, -0.3], dtype=np.float32)
G2 = np.array([-0.4, 0.0, 0.6], dtype=np.float32)


def _run(opt_cls, grads, **kw):
    p = Parameter(W0)
    opt = opt_cls([p], **kw)
    for g in grads:
        p.grad = g.copy()
        opt.step()
    return p.data


def test_sgd_plain_momentum_and_weight_decay():
    np.testing.assert_allclose(_run(SGD, [G1, G2], lr=0.1), W0 - 0.1 * G1 - 0.1 * G2, rtol=1e-6)
    # momentum 0.9: b1 = g1, b2 = 0.9 g1 + g2
    np.testing.assert_allclose(_run(SGD, [G1, G2], lr=0.1, momentum=0.9),
                               W0 - 0.1 * G1 - 0.1 * (0.9 * G1 + G2), rtol=1e-6)
    np.testing.assert_allclose(_run(SGD, [G1], lr=0.1, weight_decay=0.5),
                               W0 - 0.1 * (G1 + 0.5 * W0), rtol=1e-6)


def test_adam_two_steps_by_hand():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    w = W0.astype(np.float64)
    m = v = np.zeros(3)
    for t, g in enumerate([G1, G2], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    np.testing.assert_allclose(_run(Adam, [G1, G2], lr=lr), w, rtol=1e-5)
    # first step of Adam moves every coordinate with a nonzero gradient by ~lr
    np.testing.assert_allclose(np.abs(_run(Adam, [G1], lr=lr) - W0), lr, rtol=1e-4)


def test_adamw_decay_is_decoupled():
    zero = np.zeros(3, np.float32)
    # zero gradient: AdamW only shrinks the weights by (1 - lr wd) per step ...
    np.testing.assert_allclose(_run(AdamW, [zero, zero], lr=0.1, weight_decay=0.2),
                               W0 * (1 - 0.1 * 0.2) ** 2, rtol=1e-6)
    # ... whereas Adam's L2 decay goes through the adaptive scaling: a step of ~lr each
    np.testing.assert_allclose(np.abs(_run(Adam, [zero], lr=0.1, weight_decay=0.2) - W0), 0.1, rtol=1e-4)
    # with a gradient: AdamW = decay, then the plain Adam step
    expected = _run(Adam, [G1], lr=0.1) - 0.1 * 0.2 * W0
    np.testing.assert_allclose(_run(AdamW, [G1], lr=0.1, weight_decay=0.2), expected, rtol=1e-6)


def test_parameters_without_grad_are_skipped():
    p, q = Parameter(W0), Parameter(W0)
    opt = Adam([p, q], lr=0.1)
    p.grad = G1.copy()
    opt.step()
    assert not np.allclose(p.data, W0) and np.array_equal(q.data, W0)
    opt.zero_grad()
    assert p.grad is None


def test_clip_grad_norm():
    p, q, r = Parameter(np.zeros(2)), Parameter(np.zeros(2)), Parameter(np.zeros(1))
    p.grad, q.grad = np.array([3.0, 0.0], np.float32), np.array([0.0, 4.0], np.float32)
    total = clip_grad_norm([p, q, r], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(np.sqrt((p.grad ** 2).sum() + (q.grad ** 2).sum()), 1.0, rtol=1e-5)
    np.testing.assert_allclose(p.grad, [0.6, 0.0], rtol=1e-5)
    assert clip_grad_norm([p, q], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(p.grad, [0.6, 0.0], rtol=1e-5)      # below max: untouched
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([p], 0.0)


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.05, momentum=0.9),
                                  lambda ps: Adam(ps, lr=0.05), lambda ps: AdamW(ps, lr=0.05)])
def test_state_dict_resume_continues_the_same_trajectory(make):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(3).astype(np.float32) for _ in range(6)]
    p = Parameter(W0)
    opt = make([p])
    for i, g in enumerate(grads):
        p.grad = g.copy()
        opt.step()
        if i == 2:
            saved_w, saved_opt = p.data.copy(), opt.state_dict()
    q = Parameter(saved_w)
    opt2 = make([q]).load_state_dict(saved_opt)
    for g in grads[3:]:
        q.grad = g.copy()
        opt2.step()
    np.testing.assert_array_equal(p.data, q.data)
    assert opt2.t == 6


def test_state_dict_is_flat_scalars_and_arrays():
    p, q = Parameter(W0), Parameter(np.zeros((2, 2)))
    sd = Adam([p, q], lr=0.01).state_dict()
    assert sorted(k for k in sd if k.startswith("state.")) == ["state.0.m", "state.0.v",
                                                               "state.1.m", "state.1.v"]
    assert sd["state.1.v"].shape == (2, 2) and sd["t"] == 0 and sd["lr"] == 0.01
    sd["betas"] = list(sd["betas"])                       # as it comes back from JSON
    assert Adam([p, q]).load_state_dict(sd).betas == (0.9, 0.999)


def test_load_state_dict_errors():
    p = Parameter(W0)
    sd = Adam([p]).state_dict()
    with pytest.raises(ValueError, match="Adam"):
        SGD([p], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="missing.*state.1.m"):
        Adam([p, Parameter(W0)]).load_state_dict(sd)
    with pytest.raises(ValueError, match="shape"):
        Adam([Parameter(np.zeros(4))]).load_state_dict(sd)


def test_constructor_validation():
    with pytest.raises(ValueError, match="no trainable"):
        Adam([])
    with pytest.raises(ValueError, match="betas"):
        Adam([Parameter(W0)], betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="momentum"):
        SGD([Parameter(W0)], lr=0.1, momentum=1.5)
