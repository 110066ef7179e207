"""Every tutorial and every solution runs end to end in smoke mode; solutions pass their checks.

The scripts are discovered by glob, so a new ``tutorials/NN_name.py`` (or
``tutorials/solutions/NN_name.py``) is tested without editing this file. Each runs
in a fresh interpreter with ``MINIH2REC_SMOKE=1`` (tiny sizes), ``MPLBACKEND=Agg`` and
``MINIH2REC_TUTORIAL_OUT`` set to a temporary folder: smoke-size figures must not land in
``tutorials/out/``, where they would look like real results (checked after every script).

* a tutorial must exit with code 0; one that prints a line ``[skip] reason`` (via
  ``_smoke.skip_tutorial``, e.g. when its data is absent) is reported as skipped;
* a solution must exit with 0, print at least one ``[check]`` line, and every one of
  them must be ``exact`` or ``close``; it must cover every exercise of its tutorial
  (same check names, in the same order).
"""
import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
SCRIPTS = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))
SOLUTIONS = sorted((TUTORIALS / "solutions").glob("[0-9][0-9]_*.py"))
TIMEOUT = 300        # seconds per script; smoke mode needs a few
CHECK_LINE = re.compile(r"^\[check\] (?P<name>.*?): (?P<status>(exact|close|WRONG|not attempted).*)$")


def _load_check():
    """``tutorials/checks.py``'s ``check``, loaded without putting tutorials/ on sys.path."""
    spec = importlib.util.spec_from_file_location("tutorial_checks", TUTORIALS / "checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check


check = _load_check()


def _real_outputs():
    """{file in tutorials/out/: modification time} -- the figures of full-size runs."""
    folder = TUTORIALS / "out"
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} if folder.is_dir() else {}


def _run(script, out):
    """Run one script in smoke mode with figures going to ``out``; return (returncode, stdout, stderr)."""
    env = dict(os.environ, MINIH2REC_SMOKE="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1",
               MINIH2REC_TUTORIAL_OUT=str(out))
    before = _real_outputs()
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert _real_outputs() == before, f"{script.name} wrote into tutorials/out/ in smoke mode"
    return proc.returncode, proc.stdout, proc.stderr


def _checks(stdout):
    """[(name, status)] of every ``[check]`` line, in order."""
    return [(m["name"], m["status"]) for m in map(CHECK_LINE.match, stdout.splitlines()) if m]


def _skip_reason(stdout):
    return next((line[len("[skip]"):].strip() for line in stdout.splitlines()
                 if line.startswith("[skip]")), None)


def _fail(script, code, out, err):
    return (f"{script.name} exited with {code}\n--- stdout (end) ---\n{out[-3000:]}"
            f"\n--- stderr (end) ---\n{err[-3000:]}")


def _ids(paths):
    return [str(p.relative_to(TUTORIALS)) for p in paths]


@pytest.mark.parametrize("script", SCRIPTS, ids=_ids(SCRIPTS))
def test_tutorial_runs_in_smoke_mode(script, tmp_path):
    code, out, err = _run(script, tmp_path)
    assert code == 0, _fail(script, code, out, err)
    reason = _skip_reason(out)
    if reason is not None:
        pytest.skip(f"{script.name}: {reason}")
    for name, status in _checks(out):      # unanswered exercises are fine; wrong answers are not
        assert status.startswith(("not attempted", "exact", "close")), \
            f"{script.name}: check {name!r} of the tutorial itself reports {status!r}"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_solution_passes_every_check(solution, tmp_path):
    code, out, err = _run(solution, tmp_path)
    assert code == 0, _fail(solution, code, out, err)
    if _skip_reason(out) is not None:
        pytest.skip(f"{solution.name}: {_skip_reason(out)}")
    results = _checks(out)
    assert results, f"{solution.name} printed no [check] line"
    bad = [(n, s) for n, s in results if not s.startswith(("exact", "close"))]
    assert not bad, f"{solution.name}: checks not passed: {bad}"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_solution_covers_every_exercise(solution):
    """The tutorial's exercises (its unanswered checks) and the solution's checks match by name."""
    tutorial = TUTORIALS / solution.name
    assert tutorial.exists(), f"solution {solution.name} has no tutorial {tutorial.name}"
    pattern = re.compile(r"""check\(\s*["']([^"']+)["']""")
    in_tutorial = pattern.findall(tutorial.read_text(encoding="utf-8"))
    in_solution = pattern.findall(solution.read_text(encoding="utf-8"))
    assert in_tutorial == in_solution, (f"exercise names differ: tutorial {in_tutorial}, "
                                        f"solution {in_solution}")


def test_every_tutorial_has_summary_and_exercises():
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        assert text.startswith("# %% [markdown]"), f"{script.name} must open with a markdown cell"
        for needle in ("## Summary", "## Exercises", "check("):
            assert needle in text, f"{script.name} has no {needle!r}"


# ---------------------------------------------------------------- only public names of minih2rec

def _private(name):
    return name.startswith("_") and not name.startswith("__")


def _package_private_names():
    """Every ``_name`` minih2rec defines: functions, classes, variables, attributes, slots."""
    names = set()
    for path in (ROOT / "minih2rec").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
                names.add(node.value)                          # __slots__ entries
    return {n for n in names if _private(n)}


PACKAGE_PRIVATE = _package_private_names()


def private_uses(source):
    """[(line, what)] where ``source`` imports a private module or name of minih2rec, or reads a
    private attribute minih2rec defines (unless the script defines that attribute name itself)."""
    tree = ast.parse(source)
    own = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)}
    own |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "minih2rec":
            parts = node.module.split(".") + [a.name for a in node.names]
            found += [(node.lineno, f"from {node.module} import {p}") for p in parts if _private(p)][:1]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if a.name.split(".")[0] == "minih2rec" and any(map(_private, a.name.split(".")))]
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and _private(node.attr)
              and node.attr in PACKAGE_PRIVATE and node.attr not in own):
            found.append((node.lineno, f".{node.attr}"))
    return sorted(found)


def test_private_name_finder_catches_what_it_should():
    src = ("from minih2rec import _backend\nimport minih2rec._backend as b\n"
           "from minih2rec.autograd._arrays import unbroadcast\nfrom minih2rec.kernels import _threads\n"
           "t = Tensor._make(1, (), None, 'x')\nprint(t._op)\n")
    assert [line for line, _ in private_uses(src)] == [1, 2, 3, 4, 5, 6]
    own = "class V:\n    def __init__(self):\n        self._op = 1\nprint(V()._op, x.__dict__)\n"
    assert private_uses(own) == []              # the script's own private attributes are its business


@pytest.mark.parametrize("script", SCRIPTS + SOLUTIONS, ids=_ids(SCRIPTS + SOLUTIONS))
def test_tutorials_use_only_public_names(script):
    found = private_uses(script.read_text(encoding="utf-8"))
    assert not found, f"{script.name} uses private names of minih2rec: {found}"


# ---------------------------------------------------------------- the check() helper itself

def test_check_verdicts(capsys):
    assert check("none", None, 1.0) is False
    assert "not attempted" in capsys.readouterr().out
    assert check("exact", np.array([1, 2]), [1, 2]) is True
    assert "exact" in capsys.readouterr().out
    assert check("close", 1.0 + 1e-9, 1.0) is True
    assert "close (max diff" in capsys.readouterr().out
    assert check("shape", np.zeros(3), np.zeros((3, 1))) is False
    assert "WRONG SHAPE" in capsys.readouterr().out
    assert check("wrong", np.array([1.0, 2.5]), np.array([1.0, 2.0])) is False
    out = capsys.readouterr().out
    assert "WRONG (max diff 0.5 at index (1,)" in out
    assert check("bools", np.array([True, False]), np.array([True, True])) is False
    assert check("nan", np.array([np.nan, 1.0]), np.array([np.nan, 1.0])) is True
    assert check("nan wrong", np.array([np.nan, 1.0]), np.array([0.0, 1.0])) is False
    assert check("string", "cython", "cython") is True
    assert check("string wrong", "numba", "cython") is False


def test_check_reads_tensors(capsys):
    from minih2rec.autograd import Tensor
    assert check("tensor", Tensor([1.0, 2.0]), np.array([1.0, 2.0])) is True
    assert check("tensor wrong", np.array([1.0, 2.0]), Tensor([1.0, 3.0])) is False
    assert check("tolerance", 1.001, 1.0) is False
    assert check("looser tolerance", 1.001, 1.0, rtol=1e-2) is True
