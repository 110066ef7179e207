"""Hot loops, each as a NumPy reference (_ref), a Numba loop (_nb) and a Cython twin (_cy, in ext/).

The public function of each module (``scatter_add``, ``topk_exclude``, ``nearest_codeword``,
``sampled_softmax``, ``softmax_xent``, ``layer_norm_forward``/``layer_norm_backward``; the last
three have no Cython twin, Numba is their compiled version) validates its inputs and runs the version the backend dispatch picked
(cython -> numba -> numpy, or ``MINIH2REC_BACKEND``). To look at the versions themselves:

* :func:`implementations` (kernel name) -- ``{backend: function}`` of every version that loads here;
* :func:`resolve` (kernel name) -- ``(backend, function)`` of the version in use;
* ``KERNELS`` -- the kernel names; ``BACKENDS`` -- ``("cython", "numba", "numpy")``.
"""
from .._backend import BACKENDS, KERNELS, BackendError, implementations, resolve

__all__ = ["BACKENDS", "KERNELS", "BackendError", "implementations", "resolve"]
