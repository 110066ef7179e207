"""SASRec: config validation, the model contract, padding/causality at model level, overfitting."""
import numpy as np
import pytest

from minih2rec.models import SASRec, SASRecConfig
from minih2rec.optim import Adam

from _batches import make_batch as _batch

pytestmark = pytest.mark.numpy_backend


@pytest.mark.parametrize("field, value", [("d", 0), ("heads", 3), ("max_len", 0), ("dropout", 1.0),
                                          ("dropout", -0.1), ("num_items", 0), ("loss", "hinge"),
                                          ("blocks", 0), ("activation", "tanh")])
def test_config_validation_names_the_field(field, value):
    kw = {"num_items": 10, "d": 8, "heads": 2, field: value}
    with pytest.raises(ValueError, match=f"SASRecConfig.{field}="):
        SASRecConfig(**kw)


def test_same_seed_same_model():
    a, b = SASRec(SASRecConfig.tiny(12)), SASRec(SASRecConfig.tiny(12))
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)
    assert a.item_table() is a.item_emb.weight and a.item_table().shape == (13, 16)


def test_forward_shape_padding_zero_and_input_errors():
    model = SASRec(SASRecConfig.tiny(12))
    batch = _batch([[1, 2, 3], [4, 5, 6, 7, 8]], T=6, num_items=12)
    H = model(batch.seq, batch.positions)
    assert H.shape == (2, 6, 16) and H.dtype == np.float32
    assert np.all(H.data[batch.seq == 0] == 0)
    with pytest.raises(IndexError, match="item id 13"):
        model(np.array([[1, 13]]), np.arange(2))
    with pytest.raises(IndexError, match="position 20"):
        model(np.array([[1, 2]]), np.array([19, 20]))
    with pytest.raises(ValueError, match="positions"):
        model(np.array([[1, 2]]), np.arange(3))


def test_score_users_is_last_state_times_table_in_eval_mode():
    model = SASRec(SASRecConfig.tiny(12, dropout=0.5))
    batch = _batch([[1, 2, 3], [4, 5, 6, 7, 8]], T=6, num_items=12)
    scores = model.score_users(batch.seq, batch.positions)
    assert scores.shape == (2, 13) and model.training                 # mode restored
    model.eval()
    H = model(batch.seq, batch.positions).data
    np.testing.assert_allclose(scores, H[:, -1] @ model.item_table().data.T, rtol=1e-5, atol=1e-6)
    assert all(p.grad is None for p in model.parameters())


def test_left_padding_does_not_change_scores():
    """[0, 0, a, b, c] with positions 0..4 scores like [a, b, c] with positions 2..4."""
    model = SASRec(SASRecConfig.tiny(12, max_len=5))
    padded = model.score_users(np.array([[0, 0, 3, 7, 9]]), np.arange(5))
    short = model.score_users(np.array([[3, 7, 9]]), np.arange(2, 5))
    np.testing.assert_allclose(padded, short, rtol=1e-5, atol=1e-6)


def test_model_is_causal():
    model = SASRec(SASRecConfig.tiny(12)).eval()
    a = model(np.array([[0, 1, 2, 3, 4]]), np.arange(5)).data
    b = model(np.array([[0, 1, 2, 11, 5]]), np.arange(5)).data
    np.testing.assert_allclose(a[:, :3], b[:, :3], rtol=1e-6)
    assert not np.allclose(a[:, 3:], b[:, 3:])


def test_loss_choice_and_hooks():
    batch = _batch([[1, 2, 3], [4, 5, 6, 7, 8]], T=6, num_items=12)
    full = SASRec(SASRecConfig.tiny(12, dropout=0.0)).loss(batch).item()
    assert np.log(12) - 0.5 < full < np.log(12) + 2.0                 # O(1) logits at init
    bce_model = SASRec(SASRecConfig.tiny(12, loss="bce"))
    assert np.isfinite(bce_model.loss(batch).item())
    batch.neg = None
    with pytest.raises(ValueError, match="batch.neg"):
        bce_model.loss(batch)
    sampled = SASRec(SASRecConfig.tiny(12, loss="sampled_softmax", num_negatives=12))
    assert np.log(12) - 1.0 < sampled.loss(batch).item() < np.log(12) + 2.0   # logQ: ~ full softmax


def test_state_dict_round_trip_reproduces_scores():
    a, b = SASRec(SASRecConfig.tiny(12, seed=1)), SASRec(SASRecConfig.tiny(12, seed=2))
    seq, pos = np.array([[0, 1, 2, 3]]), np.arange(4)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.score_users(seq, pos), b.score_users(seq, pos))


@pytest.mark.parametrize("loss", ["full_softmax", "bce"])
def test_overfits_a_handful_of_sequences(loss):
    V, T = 30, 8
    rng = np.random.default_rng(0)
    rows = [rng.permutation(np.arange(1, V + 1))[:int(rng.integers(4, T + 2))] for _ in range(6)]
    batch = _batch(rows, T, V)
    model = SASRec(SASRecConfig(num_items=V, max_len=T, d=32, heads=2, blocks=2, dropout=0.0, loss=loss))
    opt = Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        value = model.loss(batch)
        value.backward()
        opt.step()
        losses.append(value.item())
    assert losses[-1] < 0.15 * losses[0], (losses[0], losses[-1])
    assert np.all(model.item_emb.weight.data[0] == 0)
    if loss == "full_softmax":                                         # it memorised the next items
        scores = model.score_users(batch.seq, batch.positions)
        assert np.mean(scores[:, 1:].argmax(1) + 1 == np.array([r[-1] for r in rows])) >= 5 / 6
