"""EvalResult serialisation and printing, and the popularity-bucket plot."""
import json

import numpy as np
import pytest

from minih2rec.eval import EvalResult, evaluate, plot_bucket_ndcg
from minih2rec.models.popularity import MostPopular

from test_eval_protocols import LINEAR, FakeModel, hand_split, random_split

pytestmark = pytest.mark.numpy_backend


def result(protocol="full", **kw):
    split = random_split(np.random.default_rng(0), U=60, V=80)
    return evaluate(MostPopular().fit(split), split, protocol=protocol, num_negatives=20, **kw)


def test_to_dict_round_trips_through_json():
    r = result()
    d = r.to_dict()
    s = json.dumps(d)
    assert json.loads(s) == d
    back = EvalResult.from_dict(json.loads(s))
    assert back.to_dict() == d
    assert back.get("tail", "NDCG@10") == pytest.approx(r.get("tail", "NDCG@10"))
    assert "ranks" not in d
    dp = r.to_dict(per_user=True)
    assert EvalResult.from_dict(json.loads(json.dumps(dp))).ranks.tolist() == r.ranks.tolist()


def test_empty_groups_become_null_in_json():
    r = evaluate(FakeModel(LINEAR), hand_split())      # only 3 users: most buckets are empty
    d = json.loads(json.dumps(r.to_dict()))
    empty = [g for g, n in r.counts.items() if n == 0]
    assert empty and all(v is None for g in empty for v in d["groups"][g].values())
    assert np.isnan(EvalResult.from_dict(d).get(empty[0], "HR@10"))


def test_format_table_names_protocol_and_counts():
    r = result()
    text = r.format_table()
    lines = text.splitlines()
    assert lines[0].startswith("mostpop -- test, full ranking over 80 items, 57 users")
    assert "HR@10" in lines[1] and "NDCG@10" in lines[1] and "users" in lines[1]
    row = next(line for line in lines if line.startswith("overall"))
    assert f"{r.overall['NDCG@10']:.4f}" in row and " 57 " in row
    assert any(line.startswith("bucket >=100") or line.startswith("bucket 0-9") for line in lines)
    sampled = result("sampled").format_table(metrics=("NDCG@5",), groups=("overall", "head"))
    assert "sampled: 20 negatives/user, without replacement, never-seen items" in sampled
    assert len(sampled.splitlines()) == 5
    with pytest.raises(KeyError, match="NDCG@7"):
        r.format_table(metrics=("NDCG@7",))


def test_get_and_getitem():
    r = result()
    assert r["overall"] is r.overall and r["head"] is r.groups["head"]
    assert r.get("head", "HR@5") == r.groups["head"]["HR@5"]
    with pytest.raises(KeyError, match="no group"):
        r["middle"]
    with pytest.raises(KeyError, match="no metric"):
        r.get("head", "MRR")


def test_plot_writes_png(tmp_path):
    a = result()
    b = result().to_dict()                               # dicts are accepted too
    path = plot_bucket_ndcg({"mostpop": a, "again": b}, tmp_path / "buckets.png")
    data = (tmp_path / "buckets.png").read_bytes()
    assert path == tmp_path / "buckets.png"
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_refuses_mixed_protocols(tmp_path):
    with pytest.raises(ValueError, match="one protocol"):
        plot_bucket_ndcg({"full": result(), "sampled": result("sampled")}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="no metric"):
        plot_bucket_ndcg({"full": result()}, tmp_path / "x.png", metric="NDCG@50")
