"""Semantic IDs: item content -> vectors -> residual-quantized code tuples.

* :func:`content_vectors_from_text` -- TF-IDF + randomized SVD (LSA) of item text;
* :func:`load_content_vectors` / :func:`content_for` -- item-aligned (V+1, D) content;
* :class:`SemanticIDs` -- the (V+1, L) codes of a catalogue, saved/loaded with checks;
* :func:`fit_semantic_ids` / :func:`semantic_ids` -- the one road from a dataset to its
  SemanticIDs (content -> RQ-KMeans or RQ-VAE), used by ``sids`` and by ``train`` alike;
  :func:`default_codebook_size` -- the K rule.
"""
from .build import default_codebook_size, fit_semantic_ids, semantic_ids
from .content import content_for, load_content_vectors
from .ids import SemanticIDs
from .text import CSR, content_vectors_from_text, randomized_svd, tfidf, tokenize

__all__ = ["default_codebook_size", "fit_semantic_ids", "semantic_ids", "content_for", "load_content_vectors",
           "SemanticIDs", "CSR", "content_vectors_from_text",
           "randomized_svd", "tfidf", "tokenize"]
