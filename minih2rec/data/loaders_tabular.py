"""Tabular formats: RecBole atomic files (``.inter`` / ``.item``) and plain CSV/TSV.

**RecBole atomic.** Tab-separated, first line a header of ``name:type`` fields (types
``token``, ``token_seq``, ``float``, ``float_seq``), e.g.::

    user_id:token  item_id:token  rating:float  timestamp:float

The ``.inter`` file must have the user, item and timestamp fields (names configurable).
An optional ``.item`` file with the same stem gives the text: for MovieLens-style
fields ``movie_title``/``title``, ``release_year``/``year`` and ``class``/``genre``/
``categories`` it is ``"Title (year). Genres: A, B"`` (``token_seq`` values are
space-separated); other fields are joined as ``"field: value; ..."``.

**CSV/TSV.** Columns ``user, item, timestamp``; the delimiter is sniffed from the
first line among ``,``, tab and ``;`` (the one that occurs most). The first line must be
a header naming the columns (``user``/``user_id``/``userId``, ``item``/``item_id``/
``movieId``, ``timestamp``/``time``, ...), in any order, with any extra columns: the
MovieLens "latest" ``userId,movieId,rating,timestamp`` reads as is. A file without a
header is an error (a headerless ``user,item,rating`` file would otherwise be read with
the ratings as timestamps); ``header=False`` reads exactly three columns ``user, item,
timestamp``. No quoting: fields cannot contain the delimiter. Item text comes from an
optional ``item<TAB>text`` file (an ``item``/``item_id`` header line is skipped).
Content vectors (``.npy``) are attached later by ``minih2rec.semantic``; here
``content`` is None or a ``{raw item id: vector}`` dict.
"""
import logging
from pathlib import Path

from .errors import DataFormatError, ProblemLog
from .interactions import build_interactions
from .loaders_movielens import movie_text
from .reading import (ItemTexts, RowError, first_content_line, read_lines, read_triples,
                      split_fields, token)

log = logging.getLogger("minih2rec.data")

ATOMIC_TYPES = ("token", "token_seq", "float", "float_seq")
_TITLE, _YEAR = ("movie_title", "title", "name"), ("release_year", "year")
_GENRES = ("class", "genre", "genres", "categories")
CSV_USER = ("user", "user_id", "userid", "uid")
CSV_ITEM = ("item", "item_id", "itemid", "iid", "movie_id", "movieid", "product_id")
CSV_TIME = ("timestamp", "time", "ts", "unix_time")


def read_atomic_header(path, line):
    """Field names of a RecBole header line ``name:type<TAB>...`` (line 1 of ``path``)."""
    names = []
    for k, field in enumerate(line.split("\t"), 1):
        name, colon, kind = field.strip().partition(":")
        if not colon or not name or kind not in ATOMIC_TYPES:
            raise DataFormatError(path, 1, f"header field {k} {field[:40]!r} is not name:type "
                                           f"with type in {', '.join(ATOMIC_TYPES)}")
        if name in names:
            raise DataFormatError(path, 1, f"header names field {name!r} twice")
        names.append(name)
    return names


def _column(path, names, wanted, lineno):
    """Index of the first name of ``wanted`` found in the header ``names``, else DataFormatError."""
    wanted = (wanted,) if isinstance(wanted, str) else tuple(wanted)
    for w in wanted:
        if w in names:
            return names.index(w)
    raise DataFormatError(path, lineno, f"missing column {wanted[0]!r} in header "
                                        f"(found: {', '.join(names)[:200]})")


def _atomic_files(path, item_path):
    """(inter file, item file or None) from a ``.inter`` path or a directory holding one."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.inter"))
        if len(found) != 1:
            raise FileNotFoundError(f"expected one *.inter file in {path}, found {len(found)}")
        path = found[0]
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if item_path is None:
        guess = path.with_suffix(".item")
        item_path = guess if guess.is_file() else None
    return path, item_path


def load_atomic(path, *, item_path=None, user_field="user_id", item_field="item_id",
                time_field="timestamp", dedup=True, k_core=0, name=None):
    """Load RecBole atomic files.

    Parameters
    ----------
    path : a ``.inter`` file, or a directory holding exactly one.
    item_path : ``.item`` file; default: the ``.inter`` path with suffix ``.item`` if present.
    user_field, item_field, time_field : header names (without ``:type``).
    dedup, k_core : see :func:`~minih2rec.data.interactions.build_interactions`.
    name : dataset name; default the file stem (e.g. "ml-100k").

    Returns
    -------
    Interactions

    Raises
    ------
    DataFormatError (a ValueError) naming the file and line: bad header, missing column,
    wrong field count, bad timestamp, undecodable bytes, empty file.
    """
    inter, item_path = _atomic_files(path, item_path)
    lines = read_lines(inter)
    top = first_content_line(lines)
    names = read_atomic_header(inter, lines[top])
    cols = tuple(_column(inter, names, f, top + 1) for f in (user_field, item_field, time_field))
    users, items, times = read_triples(inter, lines, "\t", len(names), cols, first=top + 1)
    texts = read_atomic_items(item_path, item_field) if item_path else None
    return build_interactions(users, items, times, item_text=texts, dedup=dedup, k_core=k_core,
                              name=name or inter.stem, source=str(inter))


def read_atomic_items(path, item_field="item_id"):
    """``{item token: text}`` from a RecBole ``.item`` file (see the module docstring)."""
    lines = read_lines(path)
    top = first_content_line(lines)
    names = read_atomic_header(path, lines[top])
    key_col = _column(path, names, item_field, top + 1)
    texts, problems = ItemTexts(path), ProblemLog(path)
    for lineno in range(top + 2, len(lines) + 1):
        line = lines[lineno - 1]
        if not line.strip():
            continue
        try:
            fields = split_fields(line, "\t", len(names))
            key = token(fields[key_col], "item id")
            record = {n: v.strip() for n, v in zip(names, fields) if n != item_field}
            texts.add(key, _atomic_text(record), lineno)
        except RowError as e:
            problems.add(lineno, str(e))
    problems.raise_if_any()
    texts.warn_duplicates(log)
    return texts


def _atomic_text(record):
    """Item text from the non-id fields of one ``.item`` row."""
    title = next((record[f] for f in _TITLE if record.get(f)), None)
    if title is None:
        return "; ".join(f"{k}: {v}" for k, v in record.items() if v)
    year = next((record[f] for f in _YEAR if record.get(f)), None)
    genres = next((record[f].split() for f in _GENRES if record.get(f)), ())
    return movie_text(title, year, genres)


def _sniff_delimiter(path, line, lineno):
    """The most frequent of ',', tab, ';' in ``line`` (ties: that order)."""
    counts = [(line.count(d), -k, d) for k, d in enumerate((",", "\t", ";"))]
    best = max(counts)
    if best[0] == 0:
        raise DataFormatError(path, lineno, "cannot find a delimiter (',', tab or ';') in "
                                            f"{line[:60]!r}")
    return best[2]


def load_csv(path, *, item_text=None, content=None, delimiter=None, header=None, dedup=True,
             k_core=0, name=None):
    """Load ``user, item, timestamp`` rows from a CSV/TSV file.

    Parameters
    ----------
    path : the interactions file.
    item_text : path of an ``item<TAB>text`` file, or None.
    content : None or ``{raw item id: vector}`` (``.npy`` files: see ``minih2rec.semantic``).
    delimiter : ",", "\\t" or ";"; None sniffs it from the first line.
    header : None (the default) or True: the first line is a header naming the columns
        (None: an error if it names no known column); False: no header, the columns are
        ``user, item, timestamp``.
    dedup, k_core : see :func:`~minih2rec.data.interactions.build_interactions`.
    name : dataset name; default the file stem.

    Returns
    -------
    Interactions

    Raises
    ------
    DataFormatError (a ValueError) naming the file and line of the first problem.
    """
    path = Path(path)
    lines = read_lines(path)
    top = first_content_line(lines)
    sep = delimiter or _sniff_delimiter(path, lines[top], top + 1)
    first = [f.strip().lower() for f in lines[top].split(sep)]
    known = set(CSV_USER + CSV_ITEM + CSV_TIME)
    if header is None:
        header = any(f in known for f in first)
        if not header:                       # rows like "7,42,5": is the 5 a time or a rating?
            raise DataFormatError(path, top + 1, f"no header line: {lines[top][:60]!r} names no known "
                                                 f"column; add a first line naming the columns, e.g. "
                                                 f"user{sep}item{sep}timestamp")
    if header:
        cols = tuple(_column(path, first, w, top + 1) for w in (CSV_USER, CSV_ITEM, CSV_TIME))
        ncols = len(first)
    else:
        cols, ncols = (0, 1, 2), 3
    users, items, times = read_triples(path, lines, sep, ncols, cols, first=top + int(header))
    texts = read_item_text(item_text) if item_text is not None else None
    return build_interactions(users, items, times, item_text=texts, content=content,
                              dedup=dedup, k_core=k_core, name=name or path.stem,
                              source=str(path))


def read_item_text(path):
    """``{item token: text}`` from ``item<TAB>text`` lines (text may contain tabs)."""
    texts, problems = ItemTexts(path), ProblemLog(path)
    lines = read_lines(path)
    top = first_content_line(lines)
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        key, tab, text = line.partition("\t")
        if lineno == top + 1 and key.strip().lower() in ("item", "item_id"):
            continue                                   # header line
        try:
            if not tab:
                raise RowError("expected 'item<TAB>text', found no tab")
            texts.add(token(key, "item id"), text.strip(), lineno)
        except RowError as e:
            problems.add(lineno, str(e))
    problems.raise_if_any()
    texts.warn_duplicates(log)
    return texts
