"""Hot loops, each as a NumPy reference (_ref), a Numba loop (_nb) and a Cython twin (_cy, in ext/).

The public function of each module validates its inputs and dispatches through
:mod:`minih2rec._backend`.
"""
