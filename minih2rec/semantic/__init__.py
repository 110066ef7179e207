"""Semantic IDs: item content -> vectors -> residual-quantized code tuples.

* :func:`content_vectors_from_text` -- TF-IDF + randomized SVD (LSA) of item text;
* :func:`load_content_vectors` / :func:`content_for` -- item-aligned (V+1, D) content;
* :class:`SemanticIDs` -- the (V+1, L) codes of a catalogue, saved/loaded with checks.
"""
from .content import content_for, load_content_vectors
from .ids import SemanticIDs
from .text import CSR, content_vectors_from_text, randomized_svd, tfidf, tokenize

__all__ = ["content_for", "load_content_vectors", "SemanticIDs", "CSR", "content_vectors_from_text",
           "randomized_svd", "tfidf", "tokenize"]
