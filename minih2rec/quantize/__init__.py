"""Residual quantization: item content vectors -> semantic-ID code tuples.

* :func:`kmeans` -- k-means++ seeding + Lloyd iterations (one level);
* :class:`RQKMeans` -- L levels of k-means on residuals (the default quantizer);
* :class:`RQVAE` -- the paper's quantizer: an MLP autoencoder with residual codebooks;
* :func:`quantization_report` / :func:`plot_report` -- error per level, codebook
  use, collisions.
"""
from .kmeans import KMeansResult, kmeans, kmeans_plus_plus
from .report import QuantizationReport, collision_rate, plot_report, quantization_report
from .residual import RQKMeans, dedup_level
from .rqvae import RQVAE

__all__ = ["KMeansResult", "kmeans", "kmeans_plus_plus", "RQKMeans", "RQVAE", "dedup_level",
           "QuantizationReport", "quantization_report", "plot_report", "collision_rate"]
