"""Shared plumbing of the tutorials: smoke mode, where figures go, skipping without data.

* ``SMOKE`` -- True when ``MINIH2REC_SMOKE=1``: every tutorial then uses tiny sizes so the
  whole series runs in CI in a few minutes (``tests/test_tutorials.py``);
* ``size(full, smoke)`` -- pick a size: ``epochs = size(20, 1)``;
* ``out_dir()`` -- ``tutorials/out/`` (git-ignored), or the folder named by
  ``MINIH2REC_TUTORIAL_OUT`` (the test suite points it at a temporary folder, so smoke-size
  figures never land beside real ones); created on first use;
* ``show(fig, name)`` -- save ``fig`` as ``out/<name>`` and display it in a notebook;
  run as a script, matplotlib uses the non-interactive Agg backend, so nothing blocks;
* ``skip_tutorial(reason)`` -- print ``[skip] reason`` and stop with exit code 0 (for a
  tutorial whose data is absent); the test suite reports it as skipped.
"""
import os
import sys
from pathlib import Path

SMOKE = os.environ.get("MINIH2REC_SMOKE") == "1"


def size(full, smoke):
    """``smoke`` in smoke mode (``MINIH2REC_SMOKE=1``), else ``full``."""
    return smoke if SMOKE else full


def in_notebook():
    """True inside Jupyter / VS Code interactive (an IPython kernel), False in a plain script."""
    return "ipykernel" in sys.modules


def _use_agg_unless_notebook():
    """Scripts draw off-screen (Agg) so ``python tutorials/NN_x.py`` never waits on a window.

    ``matplotlib.use`` also switches pyplot if it was imported before this module.
    """
    if not in_notebook():
        import matplotlib
        matplotlib.use("Agg")


_use_agg_unless_notebook()


def out_dir():
    """Where figures are saved (created if missing): ``$MINIH2REC_TUTORIAL_OUT``, else ``tutorials/out/``."""
    path = Path(os.environ.get("MINIH2REC_TUTORIAL_OUT") or Path(__file__).resolve().parent / "out")
    path.mkdir(parents=True, exist_ok=True)
    return path


def show(fig, name):
    """Save ``fig`` as ``out_dir()/name`` (PNG), show it in a notebook, close it in a script.

    Returns
    -------
    Path of the saved file.
    """
    path = out_dir() / name
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print(f"saved figure {path}")
    import matplotlib.pyplot as plt
    if in_notebook():
        plt.show()
    else:
        plt.close(fig)
    return path


def skip_tutorial(reason):
    """Stop this tutorial cleanly (exit code 0) after printing ``[skip] reason``."""
    print(f"[skip] {reason}")
    raise SystemExit(0)
