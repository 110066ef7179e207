"""Get MovieLens into the folder layout the loaders read: ``python -m minih2rec data ml-100k``.

The GroupLens zip is downloaded (or taken from ``--from FILE.zip``), its SHA-256 is
checked against the official archive, and only the files the loaders need are copied
out of it (``u.data`` + ``u.item``, or ``ratings.dat`` + ``movies.dat``) into one
folder, by default ``~/.cache/minih2rec/NAME``. Nothing is executed or unpacked beyond
those members. The folder then loads with ``--data FOLDER`` (the format is detected).

MovieLens terms of use: research use, cite F. M. Harper and J. A. Konstan, "The
MovieLens Datasets: History and Context", ACM TiiS 5(4), 2015; do not redistribute.
"""
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .loaders import load


@dataclass(frozen=True)
class Archive:
    """One published MovieLens zip and the members the loaders read from it."""
    url: str
    size: int                  # bytes of the official zip
    sha256: str                # of the official zip
    members: tuple             # (interactions file, item file), copied into the folder
    member_sha256: dict = field(default_factory=dict)   # known hashes of members, if any


# Sizes and SHA-256 of the official zips as listed by TensorFlow Datasets
# (tensorflow_datasets/url_checksums/movielens.txt) and pinned alike by other projects;
# GroupLens itself publishes MD5 sums only. They could not be checked against a fresh
# download on the machine this was written on (no internet access there).
# The u.data hash was computed here: it is the hash of the rows of RecBole 1.2.1's copy
# of ML-100K written back in u.data's layout, and equals the value published elsewhere.
ARCHIVES = {
    "ml-100k": Archive(
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip", size=4_924_029,
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        members=("u.data", "u.item"),
        member_sha256={"u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"}),
    "ml-1m": Archive(
        url="https://files.grouplens.org/datasets/movielens/ml-1m.zip", size=5_917_549,
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        members=("ratings.dat", "movies.dat")),
}
CACHE = Path("~/.cache/minih2rec")
CHUNK = 1 << 16


def default_folder(name):
    """``~/.cache/minih2rec/NAME`` (expanded)."""
    return (CACHE / name).expanduser()


def get_dataset(name, folder=None, from_zip=None, force=False, verify=True, timeout=60.0,
                log=print):
    """Put MovieLens ``name`` into ``folder`` and return its ``Interactions`` (no k-core filter).

    Parameters
    ----------
    name : "ml-100k" or "ml-1m".
    folder : destination; default ``~/.cache/minih2rec/NAME``.
    from_zip : a zip already on disk (nothing is downloaded), or None to download.
    force : convert again even if the folder already holds the files.
    verify : check the zip's SHA-256 against the official archive (False: trust ``from_zip``).
    timeout : seconds a download may stall before it fails.
    log : where progress lines go.

    Returns
    -------
    Interactions loaded from ``folder``, so a broken archive fails here, not later.

    Raises
    ------
    ValueError naming the file, URL or folder: unknown name, no network, wrong checksum,
    a zip without the expected files, a destination that cannot be written.
    """
    if name not in ARCHIVES:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(ARCHIVES)}")
    arc = ARCHIVES[name]
    folder = Path(folder).expanduser() if folder is not None else default_folder(name)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"destination {folder} is a file, not a folder")
    if not force and all((folder / m).is_file() for m in arc.members):
        log(f"{name} is already in {folder} (pass --force to convert it again)")
        return load(folder, name)
    if from_zip is not None and not Path(from_zip).expanduser().is_file():
        raise FileNotFoundError(f"--from {Path(from_zip).expanduser()}: no such file")
    created = not folder.exists()
    _make_folder(folder)
    try:
        if from_zip is not None:
            _extract(name, arc, Path(from_zip).expanduser(), folder, verify, log)
        else:
            with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
                zip_path = Path(tmp) / Path(arc.url).name
                _download(arc.url, zip_path, timeout, name, log)
                _extract(name, arc, zip_path, folder, verify, log)
    except BaseException:
        if created and not any(folder.iterdir()):    # leave no empty folder behind a failure
            folder.rmdir()
        raise
    inter = load(folder, name)
    log(f"{name} ready in {folder}: {inter.describe()}")
    return inter


def _make_folder(folder):
    """Create ``folder`` (and parents) or raise ValueError naming it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the folder {folder}: {exc.strerror or exc}") from None


def _download(url, path, timeout, name, log):
    """Stream ``url`` into ``path``; a network failure is a ValueError that says what to do."""
    log(f"downloading {url} ({ARCHIVES[name].size / 1e6:.1f} MB)")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(path, "wb") as out:
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ValueError(f"could not download {url} ({reason}); if this machine is offline, fetch the "
                         f"zip on another one and run: python -m minih2rec data {name} --from "
                         f"PATH/{Path(url).name}") from None


def sha256_of(path):
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _extract(name, arc, zip_path, folder, verify, log):
    """Check ``zip_path`` and copy the members the loader needs into ``folder``."""
    digest = sha256_of(zip_path)
    official = digest == arc.sha256
    try:
        with zipfile.ZipFile(zip_path) as z:
            found = {m: _member(z, m, zip_path) for m in arc.members}
            data = {m: z.read(entry) for m, entry in found.items()}
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{zip_path} is not a readable zip archive ({exc})") from None
    same_rows = bool(arc.member_sha256) and all(
        hashlib.sha256(data[m]).hexdigest() == h for m, h in arc.member_sha256.items())
    if verify and not (official or same_rows):
        raise ValueError(f"{zip_path} is not the official GroupLens {name}.zip (SHA-256 {digest[:16]}..., "
                         f"expected {arc.sha256[:16]}...); download it again, or pass --no-verify "
                         f"if you trust this copy")
    if official:
        log(f"verified {zip_path.name}: SHA-256 of the official GroupLens archive")
    elif same_rows:
        log(f"{zip_path.name} is not byte-identical to the official zip, but its "
            f"{', '.join(arc.member_sha256)} is (SHA-256)")
    else:
        log(f"warning: {zip_path} was not verified (--no-verify, SHA-256 {digest[:16]}...)")
    for member, content in data.items():
        _write(folder / member, content)


def _member(z, member, zip_path):
    """The one entry of ``z`` whose file name is ``member`` (in any folder), else ValueError."""
    hits = [i.filename for i in z.infolist()
            if not i.is_dir() and i.filename.replace("\\", "/").rsplit("/", 1)[-1] == member]
    if len(hits) != 1:
        what = "no" if not hits else f"{len(hits)}"
        raise ValueError(f"{zip_path} holds {what} file named {member}; expected exactly one "
                         f"(is it the right MovieLens archive?)")
    return hits[0]


def _write(path, content):
    """Write ``content`` to ``path`` through a temporary file (no half-written member)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(content)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"cannot write {path}: {exc.strerror or exc}") from None
