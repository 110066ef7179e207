"""The ``sids`` job: item content -> residual quantizer -> semantic IDs + quality report.

``python -m minih2rec sids --data synthetic --levels 4 --codebook-size 128 --method rqkmeans --out codes.npz``

The IDs come from :func:`semantic.build.fit_semantic_ids`, the same road ``train`` takes
without ``--sids``; this job adds the timing and the quality report.
"""
import time

import numpy as np

from ..quantize import quantization_report
from .build import CONTENT_DIM, DEFAULT_LEVELS, fit_semantic_ids


def build_semantic_ids(inter, method="rqkmeans", levels=DEFAULT_LEVELS, codebook_size=None, seed=0,
                       dim=CONTENT_DIM, content_path=None):
    """Quantize the items of ``inter`` into semantic IDs and measure them.

    Parameters
    ----------
    inter : Interactions -- supplies planted content or item text (or use ``content_path``).
    method : "rqkmeans" (default) or "rqvae".
    levels, codebook_size : L and K (``None`` -> ``build.default_codebook_size(V)``, as ``train``).
    seed : seeds the text SVD and the quantizer.
    dim : width of text-derived content vectors.
    content_path : optional ``.npy``/``.npz`` of (V, D) or (V+1, D) content vectors.

    Returns
    -------
    sids : SemanticIDs
    report : quantize.report.QuantizationReport (measured where the codebooks live: the
        content space for RQ-KMeans, the latent space for RQ-VAE)
    fit_seconds : float -- content vectors + quantizer fit
    """
    t0 = time.perf_counter()
    sids, q, x = fit_semantic_ids(inter, method, levels, codebook_size, seed, dim, content_path)
    fit_seconds = time.perf_counter() - t0
    space = x[1:] if method == "rqkmeans" else q.latents(x[1:])
    report = quantization_report(space, sids.codes[1:], np.asarray(q.codebooks))
    return sids, report, fit_seconds
