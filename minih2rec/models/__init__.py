"""models: every model follows the SequentialRecommender contract (models/base.py)."""
from .base import REC_LOSSES, SequentialRecommender
from .sasrec import SASRec, SASRecConfig

__all__ = ["REC_LOSSES", "SequentialRecommender", "SASRec", "SASRecConfig"]
