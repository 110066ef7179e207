"""``load(path, format)``: one entry point for every supported file format.

=========  ==========================================  ==============================
format     files                                       function
=========  ==========================================  ==============================
ml-100k    ``u.data`` (+ ``u.item``)                    ``load_ml100k``
ml-1m      ``ratings.dat`` (+ ``movies.dat``)           ``load_ml1m``
atomic     RecBole ``x.inter`` (+ ``x.item``)           ``load_atomic``
csv        ``user,item,timestamp`` (+ item text file)   ``load_csv``
=========  ==========================================  ==============================

With ``format=None`` the format is guessed from the path (a directory holding
``u.data`` / ``ratings.dat`` / one ``*.inter``, or the file name). A malformed file
raises ``DataFormatError`` (a ``ValueError``) naming the file and line; a missing file
raises ``FileNotFoundError``.
"""
from pathlib import Path

from .loaders_movielens import load_ml100k, load_ml1m
from .loaders_tabular import load_atomic, load_csv

FORMATS = {"ml-100k": load_ml100k, "ml-1m": load_ml1m, "atomic": load_atomic, "csv": load_csv}
_ALIASES = {"ml100k": "ml-100k", "movielens-100k": "ml-100k", "ml1m": "ml-1m",
            "movielens-1m": "ml-1m", "recbole": "atomic", "inter": "atomic", "tsv": "csv"}


def detect_format(path):
    """Guess the format name of ``path`` (see the module table) or raise ValueError."""
    path = Path(path)
    if path.is_dir():
        if (path / "u.data").is_file():
            return "ml-100k"
        if (path / "ratings.dat").is_file():
            return "ml-1m"
        if any(path.glob("*.inter")):
            return "atomic"
    elif path.name == "u.data":
        return "ml-100k"
    elif path.name == "ratings.dat":
        return "ml-1m"
    elif path.suffix == ".inter":
        return "atomic"
    elif path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return "csv"
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {path}")
    raise ValueError(f"cannot tell the format of {path}; pass format= one of {sorted(FORMATS)}")


def load(path, format=None, **kwargs):
    """Load interactions from ``path``.

    Parameters
    ----------
    path : str or Path -- a file or a directory (see the module table).
    format : "ml-100k", "ml-1m", "atomic" (alias "recbole"), "csv" (alias "tsv") or None
        to detect it.
    **kwargs : passed to the format's loader (``dedup``, ``k_core``, ``name``, ...).

    Returns
    -------
    Interactions

    Examples
    --------
    >>> inter = load("~/.cache/minih2rec/ml-100k/ml-100k.inter", k_core=5)   # doctest: +SKIP
    >>> print(inter.describe())                                              # doctest: +SKIP
    """
    path = Path(path).expanduser()
    fmt = detect_format(path) if format is None else _ALIASES.get(format.lower(), format.lower())
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {sorted(FORMATS)}")
    if fmt == "csv" and path.is_dir():
        raise ValueError(f"format 'csv' reads one file, but {path} is a folder; pass the CSV file "
                         f"itself (a folder holds ml-100k, ml-1m or atomic files)")
    return FORMATS[fmt](path, **kwargs)
