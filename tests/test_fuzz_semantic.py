"""Fuzzing the semantic-ID and content-vector loaders: every malformed file ends in a parse or a
ValueError naming the file -- never another exception type.

Each test runs its property, then prints how many files it tried (no test relies on another
having run first).
"""
import io
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minih2rec.semantic.content import load_content_vectors
from minih2rec.semantic.ids import SemanticIDs

pytestmark = pytest.mark.numpy_backend
TRIED = {"ids": 0, "content": 0}

_values = st.sampled_from([0, 1, 3, -1, 7, 2**40, np.nan, np.inf])


@st.composite
def id_files(draw):
    """Bytes of an .npz that SemanticIDs.load may or may not accept."""
    V, L, K = draw(st.integers(0, 4)), draw(st.integers(0, 3)), draw(st.integers(-1, 4))
    n = (V + 1) * max(L, 1)
    codes = np.array(draw(st.lists(_values, min_size=n, max_size=n)), dtype=np.float64)
    if draw(st.booleans()):                       # integer codes (else: float codes, must be refused)
        codes = np.nan_to_num(codes, posinf=9, neginf=-9).astype(np.int64)
    codes = codes.reshape(V + 1, max(L, 1)) if draw(st.booleans()) else codes   # else: 1-D, wrong
    arrays = {"codes": codes, "codebook_size": np.int64(K), "levels": np.int64(L), "method": np.str_("x")}
    for key in draw(st.lists(st.sampled_from(sorted(arrays)), max_size=2)):
        arrays.pop(key, None)
    if draw(st.booleans()):
        shape = draw(st.sampled_from([(max(L, 0), max(K, 0), 2), (1, 1), (L + 1, max(K, 0), 2)]))
        arrays["codebooks"] = np.zeros(shape)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    cut = draw(st.sampled_from([None, None, 10, len(data) // 2]))
    return data if cut is None else data[:cut]


def fuzz(kind, prop, capsys, *args):
    """Run the hypothesis property ``prop``; print and check how many ``kind`` files it tried."""
    TRIED[kind] = 0
    prop(*args)
    with capsys.disabled():
        print(f"\nsemantic fuzzing: {TRIED[kind]} {kind} files, none escaped as an unexpected exception")
    assert TRIED[kind] > 0


def test_semantic_id_loader_never_escapes(tmp_path_factory, capsys):
    fuzz("ids", _id_file_ends_well, capsys, tmp_path_factory)


def test_content_loader_never_escapes(tmp_path_factory, capsys):
    fuzz("content", _content_file_ends_well, capsys, tmp_path_factory)


@given(data=id_files(), num_items=st.sampled_from([None, 0, 2, 4]))
@settings(max_examples=40)
def _id_file_ends_well(tmp_path_factory, data, num_items):
    path = tmp_path_factory.mktemp("ids") / "codes.npz"
    path.write_bytes(data)
    TRIED["ids"] += 1
    try:
        sids = SemanticIDs.load(str(path), num_items=num_items)
    except ValueError as exc:
        assert "codes.npz" in str(exc)
        return
    assert sids.codes.min() >= 0 and sids.codes.max() < sids.codebook_size
    assert not sids.codes[0].any()


@given(rows=st.integers(0, 6), dim=st.integers(0, 3), num_items=st.integers(1, 5),
       poison=st.sampled_from([None, np.nan, np.inf, -np.inf]), kind=st.sampled_from(["npy", "npz", "junk", "2npz"]))
@settings(max_examples=40)
def _content_file_ends_well(tmp_path_factory, rows, dim, num_items, poison, kind):
    arr = np.random.default_rng(rows).normal(size=(rows, dim))
    if poison is not None and arr.size:
        arr.flat[-1] = poison
    path = tmp_path_factory.mktemp("content") / f"vectors.{'npz' if 'npz' in kind else 'npy'}"
    if kind == "npy":
        np.save(path, arr)
    elif kind == "npz":
        np.savez(path, content=arr)
    elif kind == "2npz":
        np.savez(path, a=arr, b=arr)
    else:
        path.write_bytes(b"\x93NUMPY garbage")
    TRIED["content"] += 1
    try:
        out = load_content_vectors(str(path), num_items)
    except ValueError as exc:
        assert "vectors.np" in str(exc)
        return
    assert out.shape == (num_items + 1, dim) and np.isfinite(out).all() and not out[0].any()

