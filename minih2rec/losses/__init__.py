"""losses: next-item losses (rec.py); alignment losses are added alongside."""
from .rec import bce_loss, full_softmax_loss, gather_real

__all__ = ["bce_loss", "full_softmax_loss", "gather_real"]
