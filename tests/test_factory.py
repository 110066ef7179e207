"""The model factory: semantic IDs from a file, from raw codes or computed -- one road, one set of checks."""
from dataclasses import replace

import numpy as np
import pytest

from minih2rec.data import make_synthetic, split_leave_one_out
from minih2rec.factory import build, check_config
from minih2rec.semantic import SemanticIDs
from minih2rec.semantic.build import fit_semantic_ids, semantic_ids
from minih2rec.semantic.job import build_semantic_ids

pytestmark = pytest.mark.numpy_backend
SMALL = {"d": 8, "max_len": 10, "blocks": 1}


@pytest.fixture(scope="module")
def tiny():
    inter = make_synthetic("tiny", seed=0)
    return inter, split_leave_one_out(inter)


def test_sids_job_and_factory_build_the_same_codes(tiny):
    inter, split = tiny
    from_job, _, _ = build_semantic_ids(inter, levels=3, seed=0)        # what `sids` writes, default K
    model = build("sid", inter, split, SMALL, seed=0)                  # what `train` computes
    np.testing.assert_array_equal(model.codes, from_job.codes)
    assert model.config.codebook_size == from_job.codebook_size


def test_saved_file_round_trips_into_a_model(tiny, tmp_path):
    inter, split = tiny
    sids, _, _ = fit_semantic_ids(inter, levels=2, codebook_size=8, seed=1)
    loaded = SemanticIDs.load(sids.save(tmp_path / "codes"), inter=inter)
    model = build("h2rec", inter, split, {**SMALL, "sids": loaded}, seed=0)
    np.testing.assert_array_equal(model.codes, sids.codes)
    assert (model.config.num_levels, model.config.codebook_size, model.config.code_init) == (2, 8, "rq")


def test_file_of_another_catalogue_is_refused(tiny, tmp_path):
    inter, _ = tiny
    path = fit_semantic_ids(inter, levels=2, codebook_size=8)[0].save(tmp_path / "codes")
    assert SemanticIDs.load(path, inter=make_synthetic("tiny", seed=0)).num_items == 150   # same data
    renamed = replace(inter, item_ids=np.concatenate([[0], inter.item_ids[1:][::-1]]))
    for other in (renamed, make_synthetic("tiny", seed=1)):                 # same count, other items
        with pytest.raises(ValueError, match=r"codes\.npz.*different item ids.*python -m minih2rec sids"):
            SemanticIDs.load(path, inter=other)
    with pytest.raises(ValueError, match=r"codes\.npz.*150 items.*has 400"):
        SemanticIDs.load(path, inter=make_synthetic("tiny", seed=0, num_items=400, num_clusters=8))


def test_ids_without_fingerprint_cannot_be_checked(tiny):
    inter, _ = tiny
    sids = replace(semantic_ids(inter, 2, 8), fingerprint=None)
    with pytest.raises(ValueError, match="no item fingerprint"):
        sids.check_data(inter)


def test_settings_that_contradict_the_ids_are_named(tiny):
    inter, split = tiny
    sids = semantic_ids(inter, 2, 8)
    with pytest.raises(ValueError, match="num_levels=3 disagrees with the semantic IDs"):
        build("sid", inter, split, {**SMALL, "sids": sids, "num_levels": 3})
    with pytest.raises(ValueError, match="codebook_size=16 disagrees"):
        build("fusion", inter, split, {**SMALL, "sids": sids, "codebook_size": 16})


def test_raw_codes_pass_the_same_validator(tiny):
    inter, split = tiny
    codes = np.ones((inter.num_items + 1, 2), dtype=np.int64)           # row 0 must be the padding zeros
    with pytest.raises(ValueError, match="row 0 .*padding"):
        build("sid", inter, split, {**SMALL, "codes": codes})
    with pytest.raises(ValueError, match=r"must be a \(V\+1, L\) array"):
        build("sid", inter, split, {**SMALL, "codes": np.zeros(inter.num_items + 1, dtype=np.int64)})


def test_models_without_semantic_ids_refuse_them():
    with pytest.raises(ValueError, match="'sasrec' uses no semantic IDs"):
        check_config("sasrec", {"sids": "codes.npz"})
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        check_config("nope", {})
