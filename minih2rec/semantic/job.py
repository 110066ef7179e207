"""The ``sids`` job: item content -> residual quantizer -> semantic IDs + quality report.

``python -m minih2rec sids --data synthetic --levels 4 --codebook-size 128 --method rqkmeans --out codes.npz``
"""
import time

import numpy as np

from .content import content_for, load_content_vectors
from .ids import SemanticIDs

METHODS = ("rqkmeans", "rqvae")


def build_semantic_ids(inter, method="rqkmeans", levels=3, codebook_size=64, seed=0, dim=64,
                       content_path=None):
    """Quantize the items of ``inter`` into semantic IDs and measure them.

    Parameters
    ----------
    inter : Interactions -- supplies planted content or item text (or use ``content_path``).
    method : "rqkmeans" (default) or "rqvae".
    levels, codebook_size : L and K.
    seed : seeds the text SVD and the quantizer.
    dim : width of text-derived content vectors.
    content_path : optional ``.npy``/``.npz`` of (V, D) or (V+1, D) content vectors.

    Returns
    -------
    sids : SemanticIDs
    report : quantize.report.QuantizationReport (measured where the codebooks live: the
        content space for RQ-KMeans, the latent space for RQ-VAE)
    fit_seconds : float
    """
    from ..quantize import RQKMeans, quantization_report
    from ..quantize.rqvae import RQVAE
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if codebook_size > inter.num_items:
        raise ValueError(f"codebook_size={codebook_size} is larger than the number of items "
                         f"({inter.num_items}); choose K <= {inter.num_items}")
    x = (load_content_vectors(content_path, inter.num_items) if content_path
         else content_for(inter, dim=dim, seed=seed))                       # (V+1, D)
    q = (RQKMeans(levels=levels, codebook_size=codebook_size, seed=seed) if method == "rqkmeans"
         else RQVAE(levels=levels, codebook_size=codebook_size, seed=seed))
    t0 = time.perf_counter()
    sids = SemanticIDs.from_quantizer(x, q)
    fit_seconds = time.perf_counter() - t0
    space = x[1:] if method == "rqkmeans" else q.latents(x[1:])
    report = quantization_report(space, sids.codes[1:], np.asarray(q.codebooks))
    return sids, report, fit_seconds
