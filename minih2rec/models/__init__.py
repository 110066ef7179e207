"""models: every model follows the SequentialRecommender contract (models/base.py).

Models consume semantic IDs; they never build them. ``minih2rec.factory.build(name, ...)``
constructs one by name: ``sasrec`` (hash IDs only), ``sid`` (semantic IDs only), ``fusion``
(naive sum of both), ``h2rec`` (the full model), ``mostpop``.
"""
from .base import REC_LOSSES, BackboneConfig, SequentialRecommender
from .fusion import FusionConfig, FusionRec
from .h2rec import H2Rec, H2RecConfig
from .popularity import MostPopular, MostPopularConfig
from .sasrec import SASRec, SASRecConfig
from .sid import SIDConfig, SIDRec

__all__ = ["REC_LOSSES", "BackboneConfig", "SequentialRecommender", "SASRec", "SASRecConfig", "SIDRec", "SIDConfig",
           "FusionRec", "FusionConfig", "H2Rec", "H2RecConfig", "MostPopular", "MostPopularConfig"]
