"""A small reverse-mode autograd on NumPy arrays (micrograd-style, float32 by default).

``Tensor`` holds an ndarray and the local backward of the op that made it;
``ops`` adds structural ops (concatenate, stack, where, masked_fill, embedding);
``fused`` adds numerically careful fused ops (softmax, layer_norm, losses, attention);
``gradcheck`` compares analytic gradients with float64 central differences.
"""
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .tensor import Tensor
from . import fused, ops
from .gradcheck import GradcheckError, gradcheck

__all__ = ["Tensor", "no_grad", "enable_grad", "is_grad_enabled", "gradcheck", "GradcheckError", "ops", "fused"]
