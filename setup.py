"""Build script: compiles the optional Cython kernels in ext/ into minih2rec._ext.

Every ``ext/_name.pyx`` becomes the private module ``minih2rec._ext._name``.
OpenMP is probed with a tiny test compile, never assumed. If Cython, numpy or
a C compiler is missing, or a kernel fails to compile, the install still
succeeds and the package runs on its Numba / NumPy kernels; a clear message
says so.
"""
import glob
import os
import sys
import tempfile

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def _say(msg):
    print(f"[minih2rec build] {msg}", file=sys.stderr)


def _openmp_flags(compiler):
    """Return (compile_args, link_args) for OpenMP if a test program builds, else ([], [])."""
    if os.environ.get("MINIH2REC_NO_OPENMP"):
        return [], []
    src = "#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel reduction(+:n)\nn+=1;\nreturn n>0?0:1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "omp_probe.c")
        with open(path, "w") as f:
            f.write(src)
        try:
            objs = compiler.compile([path], output_dir=tmp, extra_postargs=["-fopenmp"])
            compiler.link_executable(objs, "omp_probe", output_dir=tmp, extra_postargs=["-fopenmp"])
        except Exception:  # any compiler/linker failure means "no OpenMP here"
            return [], []
    return ["-fopenmp"], ["-fopenmp"]


def _summary(total, failed):
    """The build's last line: what compiled, and the command that shows it after install.

    A plain ``pip install`` shows the build log only with ``-v``, so minih2rec also warns
    (once, one line) at the first use of a kernel that fell back.
    """
    if failed:
        names = ", ".join(n.rsplit(".", 1)[-1] for n in failed)
        _say(f"WARNING: {len(failed)} of {total} kernels did not compile ({names}); they run on "
             f"Numba/NumPy, slower. After install, check with: python -m minih2rec info")
    else:
        _say(f"all {total} Cython kernels compiled. After install, python -m minih2rec info shows them in use")


class OptionalBuildExt(build_ext):
    """build_ext that never fails the install: a kernel that cannot compile is skipped."""

    def run(self):
        self._failed = []
        try:
            super().run()
        except Exception as exc:  # no compiler at all
            _say(f"compiled kernels skipped ({exc}); minih2rec will use Numba/NumPy kernels.")
            self._failed = [ext.name for ext in self.extensions]
        _summary(len(self.extensions), self._failed)

    def build_extensions(self):
        cflags, lflags = _openmp_flags(self.compiler)
        _say("OpenMP " + ("found: Cython kernels run in parallel" if cflags else "not found: Cython kernels run serially"))
        for ext in self.extensions:
            ext.extra_compile_args += cflags
            ext.extra_link_args += lflags
        super().build_extensions()

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            _say(f"could not compile {ext.name} ({exc}); its Numba/NumPy version will be used.")
            self._failed.append(ext.name)


def _extensions():
    sources = sorted(glob.glob(os.path.join("ext", "_*.pyx")))
    if not sources:
        return []
    try:
        import numpy
        from Cython.Build import cythonize
    except ImportError as exc:
        _say(f"Cython/numpy not available at build time ({exc}); installing the pure Python package "
             f"(Numba/NumPy kernels). After install, check with: python -m minih2rec info")
        return []
    from setuptools import Extension

    exts = [
        Extension(
            "minih2rec._ext." + os.path.splitext(os.path.basename(src))[0],
            [src],
            include_dirs=[numpy.get_include(), "ext"],   # ext/*.h: small C helpers
            extra_compile_args=["-O3"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        )
        for src in sources
    ]
    try:
        return cythonize(exts, language_level=3, quiet=True,
                         compiler_directives={"boundscheck": False, "wraparound": False,
                                              "cdivision": True, "initializedcheck": False})
    except Exception as exc:
        _say(f"cythonize failed ({exc}); installing the pure Python package (Numba/NumPy kernels). "
             f"After install, check with: python -m minih2rec info")
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
