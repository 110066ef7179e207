"""Which content vectors a dataset's semantic IDs are built from: ``--content tfidf | minilm | FILE``.

* ``None`` (no ``--content``) -- the dataset's own vectors if it has them (the synthetic
  data does), else TF-IDF + SVD of its item text (:func:`.content.content_for`);
* ``"tfidf"`` -- TF-IDF + SVD of the item text, even when the dataset has its own vectors;
* ``"minilm"`` -- all-MiniLM-L6-v2 sentence embeddings of the item text (:mod:`.minilm`),
  computed once and cached (below), then reduced to their top ``MINILM_DIM`` = 64 principal
  components and scaled to unit length. Why: RQ-KMeans on the raw 384-d vectors finds little
  structure in the residuals (on MovieLens-100K the deeper levels put most items on a few
  codes: 16.7 % of the items share their full 4 x 128 tuple), while on the 64 leading
  components 1.8 % do -- and TF-IDF's default is 64 wide too;
* anything else -- a ``.npy``/``.npz`` file of (V, D) or (V+1, D) vectors
  (:func:`.content.load_content_vectors`).

:func:`with_content` puts the chosen vectors on the dataset (``inter.content``), so every
later step -- the semantic IDs, the hot start, the data fingerprint in a checkpoint -- sees
the same content without knowing where it came from.

**Cache.** Encoding a catalogue takes seconds to minutes, so MiniLM vectors are saved as
``content-minilm-<16 hex>.npy`` in ``cache_dir`` (the command's output folder). The hex is
a SHA-256 of the weight files and of the item texts in item order: another dataset, another
k-core, edited titles or other weights give another file, and a second run with the same
inputs reads the file instead of encoding again.
"""
import hashlib
import io
import os
from dataclasses import replace

import numpy as np

from ..checkpoint import atomic_write_bytes
from .content import load_content_vectors
from .minilm import MiniLM

KEYWORDS = ("tfidf", "minilm")
MINILM_DIM = 64           # principal components of the MiniLM vectors that are quantized (see above)


def describe_source(source):
    """One line for ``--help`` and printouts."""
    return {None: "dataset vectors, else tfidf", "tfidf": "TF-IDF + SVD of the item text",
            "minilm": "all-MiniLM-L6-v2 sentence embeddings of the item text"}.get(source, f"file {source}")


def with_content(inter, source=None, encoder_weights=None, cache_dir=None, log=print):
    """``inter`` with its ``content`` chosen by ``source`` (see the module docstring).

    Parameters
    ----------
    inter : data.Interactions
    source : None, "tfidf", "minilm" or a path to a ``.npy``/``.npz`` file.
    encoder_weights : folder of the MiniLM files, or None for the installed weights package.
    cache_dir : folder for cached MiniLM vectors (None: no cache).
    log : printer of the progress lines.

    Returns
    -------
    Interactions -- a copy with ``content`` (V+1, D) float32 set (or ``None`` for "tfidf");
    ``inter`` itself when ``source`` is None.

    Raises
    ------
    ValueError when the dataset has no item text to encode, or the file is bad;
    FileNotFoundError when the file or the encoder weights are missing.
    """
    if source is None:
        return inter
    name = getattr(inter, "name", "dataset")
    if source in KEYWORDS and inter.item_text is None:
        raise ValueError(f"--content {source}: {name} has no item text to build content vectors from; "
                         f"pass a .npy/.npz of vectors instead")
    if source == "tfidf":
        return replace(inter, content=None)                  # content_for then takes TF-IDF of the text
    if source == "minilm":
        vectors = minilm_content(inter.item_text, encoder_weights, cache_dir, log)       # (V+1, 384)
        out = np.zeros((vectors.shape[0], min(MINILM_DIM, vectors.shape[1])), dtype=np.float32)
        reduced = principal_components(vectors[1:], MINILM_DIM)
        out[1:, :reduced.shape[1]] = reduced
        return replace(inter, content=out)
    path = os.path.expanduser(os.fspath(source))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--content {source}: no such file; use tfidf, minilm or a .npy/.npz "
                                f"of (V, D) content vectors")
    return replace(inter, content=load_content_vectors(path, inter.num_items))


def principal_components(x, dim):
    """Rows of ``x`` (n, D) on their top-``dim`` principal directions, scaled to unit length.

    Centre, take the SVD, project on the first ``dim`` right singular vectors (each signed so
    that its largest entry is positive: the same result on every LAPACK). A catalogue of at
    most ``dim`` items has nothing to reduce and is returned centred and normalised as is.

    Returns
    -------
    float32 (n, min(dim, D)) -- or (n, D) when n <= dim.
    """
    x = np.asarray(x, dtype=np.float64)
    c = x - x.mean(axis=0)                                              # (n, D)
    if x.shape[0] > dim:
        vt = np.linalg.svd(c, full_matrices=False)[2][:dim]             # (dim, D)
        vt *= np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])[:, None]
        c = c @ vt.T                                                    # (n, dim)
    norms = np.linalg.norm(c, axis=1, keepdims=True)
    return np.divide(c, norms, out=np.zeros_like(c), where=norms > 0).astype(np.float32)


def content_fingerprint(texts, weights_fingerprint):
    """SHA-256 hex of the weights' fingerprint and the item texts (in item order)."""
    h = hashlib.sha256(weights_fingerprint.encode() + b"\0")
    for t in texts:
        b = (t or "").encode("utf-8")
        h.update(len(b).to_bytes(8, "little") + b)        # lengths first: ("ab", "c") != ("a", "bc")
    return h.hexdigest()


def minilm_content(item_text, encoder_weights=None, cache_dir=None, log=print):
    """MiniLM vectors of items 1..V, read from the cache when the same texts and weights were encoded.

    Parameters
    ----------
    item_text : list of V+1 str (index 0 = padding, not encoded).
    encoder_weights, cache_dir, log : see :func:`with_content`.

    Returns
    -------
    ndarray (V+1, 384) float32, unit rows, row 0 zeros.
    """
    encoder = MiniLM.load(encoder_weights)
    texts = [t or "" for t in item_text[1:]]
    key = content_fingerprint(texts, encoder.fingerprint())
    path = os.path.join(cache_dir, f"content-minilm-{key[:16]}.npy") if cache_dir else None
    vectors = _read_cache(path, (len(texts), encoder.config.width), log)
    if vectors is None:
        log(f"encoding {len(texts):,} item texts with all-MiniLM-L6-v2 (weights: {encoder.folder})")
        vectors = encoder.encode(texts, progress=True, log=log)                  # (V, d)
        if path:
            os.makedirs(cache_dir, exist_ok=True)
            buf = io.BytesIO()
            np.save(buf, vectors)
            atomic_write_bytes(path, buf.getvalue())
            log(f"cached the content vectors in {path}")
    out = np.zeros((len(texts) + 1, vectors.shape[1]), dtype=np.float32)
    out[1:] = vectors
    return out


def _read_cache(path, shape, log):
    """The cached (V, d) vectors at ``path``, or None if absent or unusable (then they are recomputed)."""
    if not path or not os.path.isfile(path):
        return None
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        log(f"ignoring the unreadable cache {path} ({exc}); encoding again")
        return None
    if vectors.shape != shape or vectors.dtype != np.float32 or not np.isfinite(vectors).all():
        log(f"ignoring the cache {path} (shape {vectors.shape}, dtype {vectors.dtype}; expected {shape} "
            f"finite float32); encoding again")
        return None
    log(f"content vectors read from the cache {path} (same texts and weights)")
    return vectors
