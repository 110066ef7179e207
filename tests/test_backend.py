"""Backend dispatch: cython -> numba -> numpy, env overrides, one warning on fallback, backend_info.

Missing compiled versions are simulated with a fake kernel whose Python module
(registered in ``sys.modules``) has only a reference and whose Cython module
does not exist.
"""
import sys
import types
import warnings

import pytest

from minih2rec import _backend, backend_info, format_backend_info

REAL_KERNELS = dict(_backend.KERNELS)


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("MINIH2REC_BACKEND", raising=False)
    monkeypatch.delenv("MINIH2REC_REQUIRE_COMPILED", raising=False)
    _backend.reset()
    return monkeypatch


def _fake_ref(x):
    return ("numpy", x)


def _fake_nb(x):
    return ("numba", x)


@pytest.fixture
def fake_kernel(clean_env):
    """Register kernel 'fake' (NumPy only) and 'fake_nb_only' (NumPy + numba, no Cython)."""
    mod = types.ModuleType("minih2rec_test_fake_kernel")
    mod.fake_ref = _fake_ref
    mod.fake_nb = None                       # as when numba is not installed
    mod.fake_nb_only_ref = _fake_ref
    mod.fake_nb_only_nb = _fake_nb
    clean_env.setitem(sys.modules, mod.__name__, mod)
    kernels = dict(REAL_KERNELS)
    kernels["fake"] = (mod.__name__, "minih2rec._ext._no_such_module", "the fake hot loop")
    kernels["fake_nb_only"] = (mod.__name__, "minih2rec._ext._no_such_module_either", "the other fake loop")
    clean_env.setattr(_backend, "KERNELS", kernels)
    _backend.reset()
    return clean_env


@pytest.mark.parametrize("kernel", sorted(REAL_KERNELS))
def test_default_order_picks_first_available(clean_env, kernel):
    avail = list(_backend.implementations(kernel))
    if not avail:
        pytest.skip(f"{kernel} is not implemented yet in this tree")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        backend, fn = _backend.resolve(kernel)
    assert backend == avail[0]
    assert fn is _backend.implementations(kernel)[backend]


@pytest.mark.parametrize("backend", _backend.BACKENDS)
def test_env_forces_a_backend(clean_env, backend):
    if backend not in _backend.implementations("scatter_add"):
        pytest.skip(f"scatter_add has no {backend} version here")
    clean_env.setenv("MINIH2REC_BACKEND", backend.upper())   # case-insensitive
    _backend.reset()
    got, fn = _backend.resolve("scatter_add")
    assert got == backend
    assert fn is _backend.implementations("scatter_add")[backend]
    assert backend_info()["scatter_add"]["in_use"] == backend


def test_resolution_is_cached_until_reset(clean_env):
    clean_env.setenv("MINIH2REC_BACKEND", "numpy")
    _backend.reset()
    assert _backend.resolve("scatter_add")[0] == "numpy"
    clean_env.setenv("MINIH2REC_BACKEND", "numba")
    assert _backend.resolve("scatter_add")[0] == "numpy"      # not re-read yet
    _backend.reset()
    if "numba" in _backend.implementations("scatter_add"):
        assert _backend.resolve("scatter_add")[0] == "numba"


def test_invalid_backend_value_is_an_error(clean_env):
    clean_env.setenv("MINIH2REC_BACKEND", "fortran")
    _backend.reset()
    with pytest.raises(_backend.BackendError, match="fortran"):
        _backend.resolve("scatter_add")


def test_unknown_kernel_is_a_key_error(clean_env):
    with pytest.raises(KeyError, match="no_such_kernel"):
        _backend.resolve("no_such_kernel")


def test_require_compiled_with_numpy_forced_still_works(clean_env):
    clean_env.setenv("MINIH2REC_BACKEND", "numpy")
    clean_env.setenv("MINIH2REC_REQUIRE_COMPILED", "1")
    _backend.reset()
    assert _backend.resolve("scatter_add")[0] == "numpy"


def test_require_compiled_raises_when_compiled_versions_are_missing(fake_kernel):
    fake_kernel.setenv("MINIH2REC_REQUIRE_COMPILED", "1")
    _backend.reset()
    with pytest.raises(_backend.BackendError, match="REQUIRE_COMPILED.*'fake'"):
        _backend.resolve("fake")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # fake_nb_only falls back to numba
        assert backend_info()["fake"]["in_use"] == "unavailable"


@pytest.mark.parametrize("value", ["0", "false", "no", ""])
def test_require_compiled_falsy_values_allow_fallback(fake_kernel, value):
    fake_kernel.setenv("MINIH2REC_REQUIRE_COMPILED", value)
    _backend.reset()
    with pytest.warns(RuntimeWarning):
        assert _backend.resolve("fake")[0] == "numpy"


def test_forcing_a_missing_backend_raises(fake_kernel):
    fake_kernel.setenv("MINIH2REC_BACKEND", "cython")
    _backend.reset()
    with pytest.raises(_backend.BackendError, match="cython"):
        _backend.resolve("fake")


def test_fallback_warns_once_and_says_what_got_slower(fake_kernel):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            backend, fn = _backend.resolve("fake")
        backend_info()
    ours = [w for w in caught if issubclass(w.category, RuntimeWarning) and "'fake'" in str(w.message)]
    assert len(ours) == 1, [str(w.message) for w in ours]
    msg = str(ours[0].message)
    assert "numpy" in msg and "the fake hot loop" in msg and "slower" in msg
    assert backend == "numpy" and fn(3) == ("numpy", 3)


def test_numba_fallback_when_cython_is_missing(fake_kernel):
    with pytest.warns(RuntimeWarning, match="fake_nb_only.*runs on numba"):
        backend, fn = _backend.resolve("fake_nb_only")
    assert backend == "numba" and fn(1) == ("numba", 1)
    fake_kernel.setenv("MINIH2REC_REQUIRE_COMPILED", "1")
    _backend.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert _backend.resolve("fake_nb_only")[0] == "numba"   # numba counts as compiled


def test_implementations_lists_only_loadable_versions(fake_kernel):
    assert list(_backend.implementations("fake")) == ["numpy"]
    assert list(_backend.implementations("fake_nb_only")) == ["numba", "numpy"]


def test_backend_info_table_contents(fake_kernel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        info = backend_info()
    assert set(info) == set(REAL_KERNELS) | {"fake", "fake_nb_only"}
    assert info["fake"] == {"in_use": "numpy", "available": ["numpy"]}
    assert info["fake_nb_only"] == {"in_use": "numba", "available": ["numba", "numpy"]}
    for kernel, row in info.items():
        assert row["in_use"] in row["available"] or row["in_use"] == "unavailable", kernel
        assert all(b in _backend.BACKENDS for b in row["available"])
    text = format_backend_info(info)
    lines = text.splitlines()
    assert lines[0].split() == ["kernel", "in", "use", "available"]
    assert len(lines) == 1 + len(info)
    fake_line = next(line for line in lines if line.startswith("fake "))
    assert fake_line.split() == ["fake", "numpy", "numpy"]
    assert "numba, numpy" in text


def test_fallback_is_one_warning_of_one_line_for_all_kernels(fake_kernel):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _backend.resolve("fake")
        _backend.resolve("fake_nb_only")                  # covered by the first warning
    assert len(caught) == 1
    w = caught[0]
    text = warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)
    assert text.count("\n") == 1, text                    # one line, no source line under it
    assert "'fake' runs on numpy" in text and "'fake_nb_only' runs on numba" in text
    assert "python -m minih2rec info" in text


def test_missing_compiled_kernels_print_one_line_in_a_fresh_process():
    import subprocess
    code = ("import sys; sys.modules['minih2rec._ext'] = None\n"     # as after a failed compile
            "from minih2rec import _backend\n"
            "print(sorted({_backend.resolve(k)[0] for k in _backend.KERNELS}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={k: v for k, v in __import__("os").environ.items()
                              if not k.startswith("MINIH2REC_")})
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "RuntimeWarning: minih2rec kernels:" in lines[0] and "cython: " in lines[0]
    assert "cython" not in out.stdout


def test_kernel_without_a_cython_twin_runs_numba_silently(fake_kernel):
    """Cython module None = no twin by design: numba is its top backend, and 'cython' means numba."""
    kernels = dict(_backend.KERNELS)
    kernels["fake_nb_only"] = (kernels["fake_nb_only"][0], None, "the other fake loop")
    fake_kernel.setattr(_backend, "KERNELS", kernels)
    _backend.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)            # no fallback warning
        assert _backend.resolve("fake_nb_only")[0] == "numba"
        assert _backend.resolve("fake_nb_only")[1](2) == ("numba", 2)
    assert "cython" not in _backend.implementations("fake_nb_only")
    fake_kernel.setenv("MINIH2REC_BACKEND", "cython")
    _backend.reset()
    assert _backend.resolve("fake_nb_only")[0] == "numba"
    fake_kernel.setenv("MINIH2REC_BACKEND", "numpy")
    _backend.reset()
    assert _backend.resolve("fake_nb_only")[0] == "numpy"
