"""Output paths, checked before any work: a bad ``--out`` fails in the first second, not after training."""
import os


def check_output_dir(path, flag="--out"):
    """Raise ValueError if folder ``path`` cannot be created or written (a file is in the way).

    Parameters
    ----------
    path : str -- a folder that may not exist yet.
    flag : str -- the command-line flag that gave it, named in the error.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{flag} {path} is a file, not a folder; choose a folder name")
    _check_parents(path, flag)


def check_output_file(path, flag="--out"):
    """Raise ValueError if file ``path`` cannot be written: it is a folder, or a parent is a file.

    Parameters
    ----------
    path : str -- a file that may not exist yet.
    flag : str -- the command-line flag that gave it, named in the error.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{flag} {path} is a folder; give a file name, e.g. {os.path.join(path, 'out.json')}")
    _check_parents(path, flag)


def _check_parents(path, flag):
    """The nearest existing ancestor must be a writable folder."""
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"{flag} {path}: {parent} is a file, not a folder; choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: no permission to write in {parent}; choose another path")
