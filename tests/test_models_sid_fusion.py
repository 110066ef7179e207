"""SID and fusion baselines, the shared item-side pieces, and the semantic-model builders."""

import numpy as np
import pytest

from minih2rec.config import preset
from minih2rec.data import make_synthetic, split_leave_one_out
from minih2rec.models import SASRecConfig
from minih2rec.models.fusion import FusionConfig, FusionRec
from minih2rec.models.h2rec import H2Rec
from minih2rec.factory import BUILDERS
from minih2rec.models.item_side import CodeEmbeddings, check_codes, mean_row_norm, pca_rows
from minih2rec.models.sid import SIDConfig, SIDRec
from minih2rec.optim import Adam
from minih2rec.semantic.build import default_codebook_size, item_content, semantic_ids
from minih2rec.train import Trainer

from _batches import make_batch as _make_batch

V, L, K = 12, 3, 4
CODES = np.random.default_rng(3).integers(0, K, size=(V + 1, L))
CODES[4] = CODES[9]                                        # items 4 and 9 collide on the full tuple


def small(cls, **overrides):
    return cls(**{"num_items": V, "num_levels": L, "codebook_size": K, "max_len": 8, "d": 8, "blocks": 1,
                  "dropout": 0.0, "code_init": "random", **overrides})


def make_batch(rows, T, seed=0):
    return _make_batch(rows, T, V, seed)


BATCH = make_batch([[1, 2, 3, 4, 5], [6, 7, 8], [9, 10, 11, 12, 1, 2, 3]], T=7)


# ---------------------------------------------------------------- item-side pieces
@pytest.mark.numpy_backend
@pytest.mark.parametrize("V_, K_", [(1000, 32), (3416, 64), (11383, 128), (150, 16), (10, 10),
                                   (10 ** 6, 256)])
def test_default_codebook_size(V_, K_):
    assert default_codebook_size(V_) == K_


@pytest.mark.numpy_backend
def test_check_codes():
    assert check_codes(CODES.astype(np.int32), V, L, K, "m").dtype == np.int64
    with pytest.raises(ValueError, match="must be integers"):
        check_codes(CODES.astype(float), V, L, K, "m")
    with pytest.raises(ValueError, match=r"codes\[0, 0\] = -1"):
        check_codes(np.full((V + 1, L), -1), V, L, K, "m")


@pytest.mark.numpy_backend
@pytest.mark.parametrize("D", [5, 40])
def test_rq_init_keeps_the_codebook_geometry(D):
    rng = np.random.default_rng(0)
    books = rng.standard_normal((L, K, D))
    if D > 8:                                               # D > d: exact only within the top-8 subspace
        books[..., 8:] = 0.0
    emb = CodeEmbeddings(CODES, K, 8, rng, books, code_init="rq")
    for level in range(L):
        C = emb.weight.data[level].astype(np.float64)
        dist_c = np.linalg.norm(C[:, None] - C[None], axis=-1)
        dist_b = np.linalg.norm(books[level][:, None] - books[level][None], axis=-1)
        ratio = dist_c[dist_b > 0] / dist_b[dist_b > 0]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)           # one scale per level
        np.testing.assert_allclose(np.linalg.norm(C, axis=1).mean(), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="needs codebooks of shape"):
        CodeEmbeddings(CODES, K, 8, rng, books[:2], code_init="rq")


@pytest.mark.numpy_backend
def test_pca_rows_recover_content_clusters():
    inter = make_synthetic("tiny", seed=0)
    rows = pca_rows(inter.content, 16, np.random.default_rng(0))
    assert rows.shape == (inter.num_items + 1, 16) and np.all(rows[0] == 0)
    np.testing.assert_allclose(np.linalg.norm(rows[1:], axis=1).mean(), 1.0, rtol=1e-5)
    x = rows[1:] / np.linalg.norm(rows[1:], axis=1, keepdims=True)
    cluster = np.asarray(inter.item_meta["cluster"])[1:]
    same = cluster[:, None] == cluster[None]
    cos = x @ x.T
    assert cos[same].mean() > cos[~same].mean() + 0.3


# ---------------------------------------------------------------- SID baseline
@pytest.mark.numpy_backend
@pytest.mark.parametrize("field, value", [("num_levels", 0), ("codebook_size", 0), ("code_init", "pca"),
                                          ("d", 0), ("loss", "hinge")])
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"SIDConfig.{field}="):
        small(SIDConfig, **{field: value})
    with pytest.raises(ValueError, match="FusionConfig.hot_start="):
        small(FusionConfig, hot_start="yes")


@pytest.mark.numpy_backend
def test_sid_items_are_their_codes():
    m = SIDRec(small(SIDConfig), CODES)
    table = m.item_table().data
    np.testing.assert_allclose(table[1:], m.code_emb.weight.data[np.arange(L), CODES[1:]].mean(1), rtol=1e-6)
    assert np.all(table[0] == 0)
    scores = m.score_users(BATCH.seq, BATCH.positions)
    assert scores.shape == (3, V + 1)
    np.testing.assert_array_equal(scores[:, 4], scores[:, 9])          # same tuple, same item
    assert m.codes is m.code_emb.codes and m.extra_arrays()["semantic/codes"].shape == (V + 1, L)
    with pytest.raises(ValueError, match="expected a SIDConfig"):
        SIDRec(SASRecConfig(num_items=V), CODES)


@pytest.mark.numpy_backend
def test_fusion_item_is_hid_plus_sid_and_hot_start():
    m = FusionRec(small(FusionConfig), CODES)
    np.testing.assert_allclose(m.item_table().data, m.item_emb.weight.data + m.code_emb.table().data)
    content = np.random.default_rng(0).standard_normal((V + 1, 6))
    hot = FusionRec(small(FusionConfig, hot_start=True), CODES, content=content)
    fresh = mean_row_norm(FusionRec(small(FusionConfig), CODES).item_emb.weight.data)
    pca = pca_rows(content, 8, np.random.default_rng(0), fresh)         # D = 6 < d: 2 noise columns
    np.testing.assert_allclose(hot.item_emb.weight.data[:, :6], pca[:, :6], atol=1e-6)
    assert mean_row_norm(hot.item_emb.weight.data[:, :6]) == pytest.approx(fresh, rel=1e-5)  # init's scale
    with pytest.raises(ValueError, match="hot_start=True needs content"):
        FusionRec(small(FusionConfig, hot_start=True), CODES)


@pytest.mark.numpy_backend
@pytest.mark.parametrize("cls, cfg", [(SIDRec, SIDConfig), (FusionRec, FusionConfig)])
def test_padding_and_causality(cls, cfg):
    m = cls(small(cfg, blocks=2), CODES).eval()
    short = m.score_users(np.array([[3, 7, 9]]), np.arange(5, 8))
    padded = m.score_users(np.array([[0, 0, 3, 7, 9]]), np.arange(3, 8))
    np.testing.assert_allclose(padded, short, rtol=1e-5, atol=1e-6)
    a = m(np.array([[1, 2, 3, 4]]), np.arange(4)).data
    b = m(np.array([[1, 2, 5, 6]]), np.arange(4)).data
    np.testing.assert_allclose(a[:, :2], b[:, :2], rtol=1e-5, atol=1e-6)


@pytest.mark.numpy_backend
@pytest.mark.parametrize("cls, cfg", [(SIDRec, SIDConfig), (FusionRec, FusionConfig)])
@pytest.mark.parametrize("loss", ["full_softmax", "bce"])
def test_baselines_train_score_and_round_trip(cls, cfg, loss):
    m = cls(small(cfg, loss=loss, d=16), CODES)
    assert m.needs_negatives == (loss == "bce")
    opt = Adam(m.parameters(), lr=0.01)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        value = m.loss(BATCH)
        value.backward()
        opt.step()
        losses.append(value.item())
    assert losses[-1] < 0.7 * losses[0], losses
    other = cls(small(cfg, loss=loss, d=16, seed=5), CODES)
    other.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(other.score_users(BATCH.seq, BATCH.positions),
                                  m.score_users(BATCH.seq, BATCH.positions))


# ---------------------------------------------------------------- builders
@pytest.fixture(scope="module")
def tiny():
    inter = make_synthetic("tiny", seed=0)
    return inter, split_leave_one_out(inter)


@pytest.mark.numpy_backend
def test_builders_compute_semantic_ids_from_content(tiny):
    inter, split = tiny
    sid = BUILDERS["sid"](inter, split, {"d": 16}, 0)
    assert (sid.config.num_levels, sid.config.codebook_size, sid.config.code_init) == (3, 16, "rq")
    sids = semantic_ids(inter, 3, 16, 0)
    codes, books, content = sids.codes, sids.codebooks, item_content(inter)
    np.testing.assert_array_equal(sid.codes, codes)
    assert codes.shape == (inter.num_items + 1, 3) and books.shape == (3, 16, content.shape[1])
    assert codes[1:].max() < 16 and np.all(codes[0] == 0)
    h2 = BUILDERS["h2rec"](inter, split, {"d": 16, "hot_start": True, "behaviour_positives": True}, 0)
    np.testing.assert_array_equal(h2.codes, codes)                    # same data and seed, same codes
    assert h2.cooc is not None and h2.cooc.num_items == inter.num_items
    fusion = BUILDERS["fusion"](inter, split, {"d": 16, "num_levels": 2}, 0)
    assert fusion.codes.shape == (inter.num_items + 1, 2)
    with pytest.raises(ValueError, match="has no field"):
        BUILDERS["h2rec"](inter, split, {"width": 3}, 0)


@pytest.mark.numpy_backend
def test_builders_accept_explicit_codes(tiny):
    inter, split = tiny
    codes = np.random.default_rng(0).integers(0, 5, size=(inter.num_items + 1, 2))
    codes[0] = 0                                                       # the padding item
    m = BUILDERS["h2rec"](inter, split, {"codes": codes, "d": 8}, 1)
    c = m.config
    assert (c.num_levels, c.codebook_size, c.code_init, c.seed) == (2, int(codes.max()) + 1, "random", 1)
    assert isinstance(m, H2Rec)
    books = np.random.default_rng(0).standard_normal((2, 6, 4))
    m = BUILDERS["sid"](inter, split, {"codes": codes, "codebooks": books, "d": 8}, 0)
    assert (m.config.codebook_size, m.config.code_init) == (6, "rq")


@pytest.mark.parametrize("name", ["sid", "fusion", "h2rec"])
def test_trainer_runs_one_epoch(tiny, name):
    inter, split = tiny
    model = BUILDERS[name](inter, split, {"d": 16, "max_len": 20, "blocks": 1, "loss": "bce"}, 0)
    result = Trainer(model, split, preset("tiny", epochs=1), progress=False, log=lambda *a: None).fit()
    assert result.epochs_run == 1 and np.isfinite(result.history[0]["loss"])
    assert 0.0 <= result.best_valid <= 1.0
