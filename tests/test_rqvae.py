"""RQ-VAE quantizer: training, straight-through and stop-gradients, API contract, planted clusters.

The loss is gradient-checked in float64 with its stop-gradient values held fixed (``frozen``):
then it is an ordinary function of the parameters and autograd must match central differences.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minih2rec.autograd import Tensor, gradcheck, no_grad
from minih2rec.data import make_synthetic
from minih2rec.quantize import quantization_report
from minih2rec.quantize.rqvae import RQVAE, RQVAENet

pytestmark = pytest.mark.numpy_backend

SMALL = dict(levels=2, codebook_size=8, latent_dim=8, hidden=(32,), batch_size=32)


@pytest.fixture(scope="module")
def tiny():
    inter = make_synthetic("tiny")
    return inter.content[1:], inter.item_meta["cluster"][1:]       # (150, 64), (150,)


@pytest.fixture(scope="module")
def fitted(tiny):
    return RQVAE(epochs=20, **SMALL).fit(tiny[0])


def tiny_net(seed=0, n=6, D=4, hidden=(5,), d=3, L=2, K=3):
    """A float64 RQVAENet and a batch, small enough for finite differences."""
    rng = np.random.default_rng(seed)
    net = RQVAENet(D, hidden, d, L, K, rng).to_dtype(np.float64)
    net.codebooks.data[...] = rng.standard_normal(net.codebooks.shape) * 0.5
    return net, rng.standard_normal((n, D))


def latents(net, x):
    with no_grad():
        return net.encode(Tensor(x, dtype=net.codebooks.dtype)).data.copy()


def frozen_loss_fn(net, x, part, beta=0.25):
    """loss(params) with codes and stop-gradient values fixed at the current point."""
    z0 = latents(net, x)
    frozen = (z0, net.codebooks.data.copy())
    codes = net.assign(z0)

    def fn(*params):
        out = net.loss(x, beta, codes=codes, frozen=frozen)
        return {"total": out.total, "vq": out.codebook + out.commit}[part]
    return fn


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("part", ["total", "vq"])
@pytest.mark.parametrize("seed", [0, 1])
def test_loss_gradcheck(part, seed):
    net, x = tiny_net(seed)
    assert gradcheck(frozen_loss_fn(net, x, part), *net.parameters(), eps=1e-6, atol=1e-7, rtol=1e-4)


def test_gradcheck_catches_a_missing_stop_gradient():
    """Guard: without the frozen values the stop-gradients hide real derivatives -> gradcheck fails."""
    net, x = tiny_net(0)
    codes = net.assign(latents(net, x))
    with pytest.raises(AssertionError):
        gradcheck(lambda *p: net.loss(x, 0.25, codes=codes).total, *net.parameters(), atol=1e-7, rtol=1e-4)


def test_training_gradient_equals_frozen_gradient():
    net, x = tiny_net(2)
    fn = frozen_loss_fn(net, x, "total")
    grads = []
    for loss in (lambda: net.loss(x, 0.25).total, lambda: fn()):
        net.zero_grad()
        loss().backward()
        grads.append([p.grad.copy() for p in net.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_straight_through_routes_gradients():
    """recon -> encoder and decoder, never codebooks; codebook term -> codebooks only; commit -> encoder only."""
    net, x = tiny_net(3, n=20)
    enc = [p for n, p in net.named_parameters() if n.startswith("encoder")]
    dec = [p for n, p in net.named_parameters() if n.startswith("decoder")]

    def grads(term):
        net.zero_grad()
        getattr(net.loss(x, 0.25), term).backward()
        return [np.zeros_like(p.data) if p.grad is None else p.grad for p in (*enc, *dec, net.codebooks)]

    def nonzero(gs):
        return [bool(np.any(g != 0)) for g in gs]
    ne, nd = len(enc), len(dec)
    g = nonzero(grads("recon"))
    assert all(g[:ne]) and all(g[ne:ne + nd]) and not g[-1]
    g = nonzero(grads("codebook"))
    assert not any(g[:-1]) and g[-1]
    g = nonzero(grads("commit"))
    assert any(g[:ne]) and not any(g[ne:])


def test_codebook_gradient_matches_formula():
    """dL/dC^l[k] = 2/(B d) sum_{rows with code k} (q^l - sg(r^l)): pulls codewords toward residuals."""
    net, x = tiny_net(4, n=30)
    out = net.loss(x, 0.25)
    net.zero_grad()
    out.total.backward()
    r = latents(net, x)                                                      # (B, d) r^1 = z
    B, d = r.shape
    expected = np.zeros_like(net.codebooks.data)                             # (L, K, d)
    for l, book in enumerate(net.codebooks.data):
        q = book[out.codes[:, l]]
        np.add.at(expected[l], out.codes[:, l], 2.0 / (B * d) * (q - r))
        r = r - q
    np.testing.assert_allclose(net.codebooks.grad, expected, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------- training
def test_total_loss_decreases(fitted):
    first, last = fitted.history[0], fitted.history[-1]
    assert last["total"] < 0.75 * first["total"], (first, last)
    assert last["recon"] < first["recon"]
    assert [h["epoch"] for h in fitted.history] == list(range(1, 21))
    assert set(first) >= {"epoch", "recon", "commit", "total"}


def test_kmeans_init_uses_every_code(tiny):
    """RQ-KMeans init (empty clusters re-seeded) -> every level-1 code has items in the first epoch."""
    m = RQVAE(epochs=1, lr=1e-9, **SMALL).fit(tiny[0])
    assert m.history[0]["used"][0] == 1.0


def test_deterministic_with_seed(tiny, fitted):
    again = RQVAE(epochs=20, **SMALL).fit(tiny[0])
    np.testing.assert_array_equal(again.encode(tiny[0]), fitted.encode(tiny[0]))
    np.testing.assert_array_equal(again.codebooks, fitted.codebooks)
    assert again.history == fitted.history
    other = RQVAE(epochs=20, seed=1, **SMALL).fit(tiny[0])
    assert not np.array_equal(other.codebooks, fitted.codebooks)


def test_recon_loss_is_decode_of_encode(tiny, fitted):
    """The straight-through forward value: the decoder sees exactly the quantized latent."""
    x = tiny[0]
    out = fitted.net.loss(x, fitted.beta)
    np.testing.assert_array_equal(out.codes, fitted.encode(x))
    xr = fitted.decode(fitted.encode(x))
    assert out.recon.item() == pytest.approx(np.mean((x - xr) ** 2), rel=1e-5)


def test_level_errors_consistent_with_report(tiny, fitted):
    x = tiny[0]
    err = fitted.level_errors(x)
    rep = quantization_report(fitted.latents(x), fitted.encode(x), fitted.codebooks)
    np.testing.assert_allclose(err.latent, rep.recon_error, rtol=1e-5)
    assert err.latent_baseline == pytest.approx(rep.baseline_error, rel=1e-5)
    full = np.mean(np.sum((x.astype(np.float64) - fitted.decode(fitted.encode(x))) ** 2, axis=1))
    assert err.input[-1] == pytest.approx(full, rel=1e-5)
    assert err.latent[0] < err.latent_baseline and err.input[-1] < err.input_baseline
    assert "latent" in err.format_table()


def test_planted_clusters_share_first_code(tiny):
    x, cluster = tiny
    m = RQVAE(levels=3, codebook_size=8, latent_dim=8, hidden=(32,), epochs=30, batch_size=64, lr=3e-3).fit(x)
    first = m.encode(x)[:, 0]
    same = (cluster[:, None] == cluster[None, :]) & ~np.eye(len(x), dtype=bool)
    agree = first[:, None] == first[None, :]
    chance = float(np.sum((np.bincount(first) / len(first)) ** 2))
    assert agree[same].mean() > max(3 * chance, 0.5), (agree[same].mean(), chance)
    assert agree[~same].mean() < chance


# ---------------------------------------------------------------- API contract
@settings(max_examples=10)
@given(n=st.integers(5, 30), D=st.integers(1, 6), L=st.integers(1, 3), K=st.integers(1, 5),
       seed=st.integers(0, 3), dedup=st.booleans())
def test_codes_shape_and_range(n, D, L, K, seed, dedup):
    x = np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)
    m = RQVAE(levels=L, codebook_size=K, latent_dim=3, hidden=(4,), epochs=2, batch_size=8,
              seed=seed, dedup=dedup and K >= n).fit(x)
    codes = m.encode(x)
    assert codes.dtype == np.int64 and codes.shape == (n, L + m.dedup)
    assert codes[:, :L].min() >= 0 and codes[:, :L].max() < K
    if m.dedup:
        assert np.unique(codes, axis=0).shape[0] == n
    assert m.codebooks.shape == (L, K, 3) and m.decode(codes).shape == (n, D)
    assert m.levels == L and m.codebook_size == K


def test_log_called_once_per_epoch(tiny):
    lines = []
    RQVAE(epochs=3, log=lines.append, **SMALL).fit(tiny[0][:40])
    assert len(lines) == 3 and all("recon" in s for s in lines) and "3/3" in lines[-1]


def test_errors(fitted):
    x = np.ones((10, 4), dtype=np.float32)
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="row 3"):
        RQVAE(codebook_size=2, epochs=1).fit(x)
    with pytest.raises(ValueError, match="codebook_size"):
        RQVAE(codebook_size=11, epochs=1).fit(np.ones((10, 4)))
    with pytest.raises(ValueError, match="2-D"):
        RQVAE(codebook_size=2).fit(np.ones(10))
    with pytest.raises(ValueError, match="fit"):
        RQVAE().encode(np.ones((3, 4)))
    for bad in (dict(levels=0), dict(hidden=(8, 0)), dict(beta=-1.0), dict(lr=0.0), dict(epochs=1.5)):
        with pytest.raises(ValueError):
            RQVAE(**bad)
    with pytest.raises(ValueError, match="D=5"):
        fitted.encode(np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        fitted.decode(np.full((2, 2), 8))
    with pytest.raises(ValueError, match="levels"):
        fitted.decode(np.zeros((2, 2), dtype=np.int64), levels=3)
    with pytest.raises(ValueError, match="row 1"):
        fitted.encode(np.array([[0.0] * 64, [np.inf] * 64]))
