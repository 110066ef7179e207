"""Semantic IDs: item content -> vectors -> residual-quantized code tuples.

* :func:`content_vectors_from_text` -- TF-IDF + randomized SVD (LSA) of item text;
* :func:`load_content_vectors` / :func:`content_for` -- item-aligned (V+1, D) content;
* :class:`SemanticIDs` -- the (V+1, L) codes of a catalogue, saved/loaded with checks;
* :func:`fit_semantic_ids` / :func:`semantic_ids` -- the one road from a dataset to its
  SemanticIDs (content -> RQ-KMeans or RQ-VAE), used by ``sids`` and by ``train`` alike;
  :func:`default_codebook_size` -- the K rule;
* :class:`MiniLM` -- all-MiniLM-L6-v2 sentence embeddings in NumPy (:class:`WordPiece` tokenizer,
  :func:`load_safetensors` weights, :func:`find_encoder_weights` to locate them);
  :func:`with_content` -- ``--content tfidf | minilm | FILE`` on a dataset;
* :func:`export_recbole` / :func:`read_item_codes` -- semantic IDs as RecBole atomic files.
"""
from .build import default_codebook_size, fit_semantic_ids, semantic_ids
from .content import content_for, load_content_vectors
from .encoder_weights import find_encoder_weights
from .export import export_recbole, read_item_codes
from .ids import SemanticIDs
from .minilm import MiniLM
from .safetensors import load_safetensors
from .sources import with_content
from .text import CSR, content_vectors_from_text, randomized_svd, tfidf, tokenize
from .wordpiece import WordPiece

__all__ = ["default_codebook_size", "fit_semantic_ids", "semantic_ids", "content_for", "load_content_vectors",
           "SemanticIDs", "CSR", "content_vectors_from_text",
           "randomized_svd", "tfidf", "tokenize", "MiniLM", "WordPiece", "load_safetensors", "find_encoder_weights",
           "with_content", "export_recbole", "read_item_codes"]
