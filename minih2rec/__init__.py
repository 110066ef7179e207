"""minih2rec: a small, readable, CPU-only implementation of H2Rec.

H2Rec harmonizes semantic IDs (residual-quantized codes of item content) with
hash IDs (per-item embeddings) for sequential recommendation. Everything is
built from scratch on NumPy; the hot loops are compiled kernels (Numba, Cython).
"""
__version__ = "0.1.0"

from ._backend import backend_info, format_backend_info  # noqa: E402

__all__ = ["__version__", "backend_info", "format_backend_info"]
