"""minih2rec: a small, readable, CPU-only implementation of H2Rec.

H2Rec harmonizes semantic IDs (residual-quantized codes of item content) with hash IDs
(per-item embeddings) for sequential recommendation, built from scratch on NumPy with
compiled kernels (Numba, Cython) for the hot loops. A map, in the order data flows:
``Tensor`` (``autograd``) is an array that remembers its backward, and the layers of ``nn``
(``Linear``, ``Embedding``, ``MultiHeadAttention``, ``SASRecBackbone`` ...) are built on it;
the data loaders (``load``, ``make_synthetic``) give an ``Interactions``, which
``split_leave_one_out`` turns into train/valid/test sequences; ``fit_semantic_ids``
(``semantic``) quantizes item content with ``RQKMeans`` or ``RQVAE`` (``quantize``) into
``SemanticIDs``; the models (``SASRec``, ``SIDRec``, ``FusionRec``, ``H2Rec``, ``MostPopular``,
each with its config dataclass) consume them, and ``build_model`` builds one by name;
``Trainer`` (with ``TrainConfig`` / ``preset``) fits a model; ``evaluate`` ranks the catalogue
for each user and reports HR/NDCG overall and by item popularity; ``run`` is one experiment
end to end (the ``train`` command) and ``compare`` trains SASRec, SID, fusion and H2Rec
alike. ``backend_info()`` tells which version of each compiled kernel runs.
"""
__version__ = "0.1.0"

from ._backend import backend_info, format_backend_info  # noqa: E402
from .autograd import Tensor, gradcheck, no_grad  # noqa: E402
from .compare import compare  # noqa: E402
from .config import TrainConfig, preset  # noqa: E402
from .data import Interactions, load, make_synthetic, split_leave_one_out  # noqa: E402
from .eval import EvalResult, evaluate  # noqa: E402
from .experiment import DataSpec, run  # noqa: E402
from .factory import build as build_model  # noqa: E402
from .models import (FusionConfig, FusionRec, H2Rec, H2RecConfig, MostPopular,  # noqa: E402
                     MostPopularConfig, SASRec, SASRecConfig, SIDConfig, SIDRec)
from .nn import (Dropout, Embedding, FeedForward, LayerNorm, Linear, Module,  # noqa: E402
                 MultiHeadAttention, Parameter, SASRecBackbone)
from .quantize import RQKMeans, RQVAE  # noqa: E402
from .semantic import SemanticIDs, fit_semantic_ids  # noqa: E402
from .train import Trainer  # noqa: E402

__all__ = [
    "__version__", "backend_info", "format_backend_info",
    "Tensor", "no_grad", "gradcheck",
    "Module", "Parameter", "Linear", "Embedding", "LayerNorm", "Dropout", "FeedForward",
    "MultiHeadAttention", "SASRecBackbone",
    "Interactions", "load", "make_synthetic", "split_leave_one_out",
    "SemanticIDs", "fit_semantic_ids", "RQKMeans", "RQVAE",
    "SASRec", "SASRecConfig", "SIDRec", "SIDConfig", "FusionRec", "FusionConfig", "H2Rec", "H2RecConfig",
    "MostPopular", "MostPopularConfig", "build_model",
    "Trainer", "TrainConfig", "preset", "evaluate", "EvalResult", "DataSpec", "run", "compare",
]
