"""Semantic IDs that leave minih2rec: RecBole atomic files any PyTorch code can read.

``python -m minih2rec sids ... --export recbole DIR`` writes, for a dataset named NAME:

* ``DIR/NAME.inter`` -- ``user_id:token  item_id:token  timestamp:float``, the interactions
  *as loaded* (after dedup and k-core), users in id order, each user's items in time order;
  raw ids, so the rows still mean what they meant in the original data. Without
  timestamps (synthetic data) the timestamp is the position in the sequence;
* ``DIR/NAME.item`` -- ``item_id:token``, ``title:token_seq`` (the item text, if any),
  ``sid:token_seq`` (the code tuple, e.g. ``12 5 33``) and one ``sid_l<l>:token`` per level
  (``sid_l1`` ... ``sid_lL``), items in id order;
* ``DIR/NAME.content.npy`` -- the (V, D) float32 content vectors the codes were built from,
  row r = item on row r of ``NAME.item`` (id r + 1).

In RecBole, a level field is a categorical token with its own vocabulary (one embedding
table per level); ``sid`` gives the whole tuple as a sequence. A RecBole config loads them with
``load_col: {inter: [user_id, item_id, timestamp], item: [item_id, sid, sid_l1, sid_l2, sid_l3]}``.
:func:`read_item_codes` reads the codes back, aligned to a dataset's item ids.
"""
import io
import os
from pathlib import Path

import numpy as np

from ..checkpoint import atomic_write_bytes
from ..data.loaders_tabular import read_atomic_header
from ..data.errors import DataFormatError
from ..data.reading import first_content_line, read_lines

FORMATS = ("recbole",)


def _clean(text):
    """One line of a tab-separated file: tabs and line breaks become spaces."""
    return " ".join(str(text).split())


def export_recbole(inter, sids, out_dir, name=None, content=None):
    """Write ``NAME.inter``, ``NAME.item`` (with the codes) and ``NAME.content.npy`` into ``out_dir``.

    Parameters
    ----------
    inter : data.Interactions -- the dataset the IDs were built for.
    sids : SemanticIDs -- codes (V+1, L) of that dataset.
    out_dir : str or Path -- created if missing.
    name : file stem (default ``inter.name``).
    content : (V+1, D) content vectors, or None to skip the ``.npy``.

    Returns
    -------
    dict "inter" / "item" / "content" -> path written.
    """
    codes = np.asarray(sids.codes)
    V, L = inter.num_items, codes.shape[1]
    if codes.shape[0] != V + 1:
        raise ValueError(f"export: semantic IDs cover {codes.shape[0] - 1} items but {inter.name} has {V}")
    stem = name or inter.name
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"inter": out / f"{stem}.inter", "item": out / f"{stem}.item"}

    rows = ["user_id:token\titem_id:token\ttimestamp:float"]
    for u, seq in enumerate(inter.sequences):
        times = inter.timestamps[u] if inter.timestamps is not None else np.arange(len(seq), dtype=np.float64)
        user = _clean(inter.user_ids[u])
        rows += [f"{user}\t{_clean(inter.item_ids[i])}\t{float(t)!r}" for i, t in zip(seq.tolist(), times.tolist())]
    atomic_write_bytes(paths["inter"], ("\n".join(rows) + "\n").encode("utf-8"))

    text = inter.item_text is not None
    header = ["item_id:token"] + (["title:token_seq"] if text else []) + ["sid:token_seq"]
    header += [f"sid_l{level + 1}:token" for level in range(L)]
    rows = ["\t".join(header)]
    for i in range(1, V + 1):
        c = [str(int(x)) for x in codes[i]]
        fields = [_clean(inter.item_ids[i])] + ([_clean(inter.item_text[i] or "")] if text else [])
        rows.append("\t".join(fields + [" ".join(c)] + c))
    atomic_write_bytes(paths["item"], ("\n".join(rows) + "\n").encode("utf-8"))

    if content is not None:
        content = np.asarray(content, dtype=np.float32)
        if content.shape[0] != V + 1:
            raise ValueError(f"export: content has {content.shape[0]} rows, expected V+1 = {V + 1}")
        buf = io.BytesIO()
        np.save(buf, content[1:])                                  # (V, D) in .item row order
        paths["content"] = out / f"{stem}.content.npy"
        atomic_write_bytes(paths["content"], buf.getvalue())
    return {k: str(v) for k, v in paths.items()}


def read_item_codes(path, inter, field="sid", item_field="item_id"):
    """The code tuples of an exported ``.item`` file, aligned to ``inter``'s item ids.

    Parameters
    ----------
    path : str or Path -- a ``.item`` file with ``item_field`` and a ``field:token_seq`` column.
    inter : data.Interactions -- whose raw item ids the file's ``item_id`` tokens are matched to.

    Returns
    -------
    int64 ndarray (V+1, L), row 0 zeros.

    Raises
    ------
    DataFormatError (a ValueError) naming the file and line: missing column, a code that is not a
    non-negative integer, tuples of different lengths, an item of ``inter`` without a row.
    """
    lines = read_lines(path)
    top = first_content_line(lines)
    names = read_atomic_header(path, lines[top])
    for need in (item_field, field):
        if need not in names:
            raise DataFormatError(path, top + 1, f"missing column {need!r} (found: {', '.join(names)})")
    key_col, code_col = names.index(item_field), names.index(field)
    row_of = {str(raw): i for i, raw in enumerate(np.asarray(inter.item_ids)[1:].tolist(), start=1)}
    codes, L = None, None
    for lineno in range(top + 2, len(lines) + 1):
        fields = lines[lineno - 1].split("\t")
        if not lines[lineno - 1].strip():
            continue
        if len(fields) != len(names):
            raise DataFormatError(path, lineno, f"expected {len(names)} tab-separated fields, got {len(fields)}")
        tuple_ = fields[code_col].split()
        if not all(t.isdigit() for t in tuple_) or not tuple_:
            raise DataFormatError(path, lineno, f"{field} {fields[code_col][:40]!r} is not a list of "
                                                f"non-negative integer codes")
        if L is None:
            L = len(tuple_)
            codes = np.zeros((inter.num_items + 1, L), dtype=np.int64)
            seen = np.zeros(inter.num_items + 1, dtype=bool)
        if len(tuple_) != L:
            raise DataFormatError(path, lineno, f"{field} has {len(tuple_)} codes; earlier rows have {L}")
        i = row_of.get(fields[key_col].strip())
        if i is not None:                                  # items the dataset does not have are skipped
            codes[i], seen[i] = [int(t) for t in tuple_], True
    if codes is None or not seen[1:].all():
        missing = 1 if codes is None else int(np.flatnonzero(~seen[1:])[0]) + 1
        raw = np.asarray(inter.item_ids)[missing].item()
        raise DataFormatError(path, None, f"no {field} for item {raw} (item id {missing}) of {inter.name}")
    return codes


def export(kind, inter, sids, out_dir, content=None):
    """Dispatch ``--export KIND DIR``; only ``recbole`` exists."""
    if kind not in FORMATS:
        raise ValueError(f"--export {kind}: unknown format; choose one of {', '.join(FORMATS)}")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"--export {kind} {out_dir}: exists and is not a folder")
    return export_recbole(inter, sids, out_dir, content=content)
