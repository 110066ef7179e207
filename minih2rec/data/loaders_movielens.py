"""MovieLens-100K and MovieLens-1M in their native file layouts.

* ``u.data``: ``user<TAB>item<TAB>rating<TAB>timestamp`` (UTF-8/ASCII).
* ``u.item``: ``id|title|release date|video release date|IMDb URL|`` + 19 genre flags
  (0/1, in ``ML100K_GENRES`` order), Latin-1.
* ``ratings.dat``: ``UserID::MovieID::Rating::Timestamp``.
* ``movies.dat``: ``MovieID::Title (year)::Genre|Genre``, Latin-1.

Item text is ``"Title (year). Genres: A, B"`` (the year is taken from the title, or from
the release date when the title has none). Ratings are read past: every rating is an
interaction. The item file is optional; its entries for movies nobody rated are skipped
with a logged warning.
"""
import logging
import re
from pathlib import Path

from .errors import ProblemLog
from .interactions import build_interactions
from .reading import ItemTexts, RowError, read_lines, read_triples, split_fields, token

log = logging.getLogger("minih2rec.data")

ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
                 "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical",
                 "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")

_YEAR_IN_TITLE = re.compile(r"\((\d{4})\)\s*$")
_YEAR_IN_DATE = re.compile(r"(\d{4})\s*$")


def movie_text(title, year=None, genres=()):
    """``"Title (year). Genres: A, B"``; the year is not repeated if the title ends with it."""
    title = title.strip()
    if year and not _YEAR_IN_TITLE.search(title):
        title = f"{title} ({year})"
    text = title
    if genres:
        text += f". Genres: {', '.join(genres)}"
    return text


def _locate(path, data_name, item_name):
    """(data file, item file or None) from a directory or from the data file itself."""
    path = Path(path)
    data = path / data_name if path.is_dir() else path
    if not data.is_file():
        raise FileNotFoundError(f"no {data_name} at {path}")
    item = data.parent / item_name
    return data, (item if item.is_file() else None)


def load_ml100k(path, *, dedup=True, k_core=0, name="ml-100k"):
    """Load MovieLens-100K from its native files.

    Parameters
    ----------
    path : directory holding ``u.data`` (and optionally ``u.item``), or ``u.data`` itself.
    dedup, k_core, name : see :func:`~minih2rec.data.interactions.build_interactions`.

    Returns
    -------
    Interactions (with ``item_text`` when ``u.item`` is present).

    Raises
    ------
    DataFormatError (a ValueError) naming the file and line of a malformed row.
    """
    data, item = _locate(path, "u.data", "u.item")
    users, items, times = read_triples(data, read_lines(data), "\t", 4, (0, 1, 3))
    texts = read_ml100k_items(item) if item else None
    return build_interactions(users, items, times, item_text=texts, dedup=dedup, k_core=k_core,
                              name=name, source=str(data))


def read_ml100k_items(path):
    """``{item token: text}`` from a ``u.item`` file (24 '|'-separated fields, Latin-1)."""
    texts, problems = ItemTexts(path), ProblemLog(path)
    for lineno, line in enumerate(read_lines(path, "latin-1"), 1):
        if not line.strip():
            continue
        try:
            f = split_fields(line, "|", 5 + len(ML100K_GENRES))
            key = token(f[0], "item id")
            flags = f[5:]
            bad = [x for x in flags if x.strip() not in ("0", "1")]
            if bad:
                raise RowError(f"genre flag {bad[0][:20]!r} is not 0 or 1")
            m = _YEAR_IN_DATE.search(f[2])
            genres = [g for g, x in zip(ML100K_GENRES, flags) if x.strip() == "1"]
            texts.add(key, movie_text(f[1], m.group(1) if m else None, genres), lineno)
        except RowError as e:
            problems.add(lineno, str(e))
    problems.raise_if_any()
    texts.warn_duplicates(log)
    return texts


def load_ml1m(path, *, dedup=True, k_core=0, name="ml-1m"):
    """Load MovieLens-1M from its native ``::``-separated files.

    Parameters
    ----------
    path : directory holding ``ratings.dat`` (and optionally ``movies.dat``), or ``ratings.dat``.
    dedup, k_core, name : see :func:`~minih2rec.data.interactions.build_interactions`.

    Returns
    -------
    Interactions (with ``item_text`` when ``movies.dat`` is present).

    Raises
    ------
    DataFormatError (a ValueError) naming the file and line of a malformed row.
    """
    data, item = _locate(path, "ratings.dat", "movies.dat")
    users, items, times = read_triples(data, read_lines(data), "::", 4, (0, 1, 3))
    texts = read_ml1m_movies(item) if item else None
    return build_interactions(users, items, times, item_text=texts, dedup=dedup, k_core=k_core,
                              name=name, source=str(data))


def read_ml1m_movies(path):
    """``{item token: text}`` from a ``movies.dat`` file (``id::Title (year)::G1|G2``, Latin-1)."""
    texts, problems = ItemTexts(path), ProblemLog(path)
    for lineno, line in enumerate(read_lines(path, "latin-1"), 1):
        if not line.strip():
            continue
        try:
            key, title, genres = split_fields(line, "::", 3)
            key = token(key, "item id")
            genres = [g.strip() for g in genres.split("|") if g.strip()]
            texts.add(key, movie_text(title, None, genres), lineno)
        except RowError as e:
            problems.add(lineno, str(e))
    problems.raise_if_any()
    texts.warn_duplicates(log)
    return texts
