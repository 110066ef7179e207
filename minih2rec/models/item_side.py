"""Item tables of the SID, fusion and H2Rec models, and their settings (``SIDConfig``).

Glossary: B batch, T length, d width, L SID levels, K codes per level, V items
(ids 1..V, 0 = padding), D content-vector width.

* **Hash table** ``E_h`` (V+1, d): one trainable row per item (``nn.Embedding``).
  ``pca_rows`` gives its optional *hot start*: the items' content vectors projected
  on their top principal directions, so similar items start close.
* **Code embeddings** ``C^l`` (K, d) for each level l, stored as one Parameter
  (L, K, d) (:class:`CodeEmbeddings`). Item i's level-l embedding is ``C^l[c_i^l]``;
  its fused SID embedding is ``e_s(i) = mean_l C^l[c_i^l]`` (optionally followed by
  a linear projection). ``C`` starts from the RQ codebooks through one fixed linear map
  D -> d (exact if D <= d, PCA otherwise; ``code_init="rq"``) or at random (``"random"``).
* :class:`SIDConfig`: the backbone settings (``BackboneConfig``) plus those of the code table.
* ``check_codes``: the codes' contract.
"""
from dataclasses import dataclass

import numpy as np

from ..autograd import ops
from ..nn import Linear, Module, Parameter, init
from .base import BackboneConfig, check_field

CODE_INITS = ("rq", "random")   # accepted values of config.code_init


@dataclass
class SIDConfig(BackboneConfig):
    """Settings shared by the SID-based models (``SIDRec``, ``FusionRec``; ``H2RecConfig`` extends it).

    ``BackboneConfig`` (sizes, backbone, rec loss, seed) plus the code table's fields below.
    """
    num_levels: int = None      # L: code levels per item, codes.shape[1] (required; 3 by default
                                # in the builders -- the paper uses 4 on 1536-d text embeddings)
    codebook_size: int = None   # K: codes per level (required; builders: semantic.default_codebook_size)
    code_init: str = "rq"       # "rq": C^l starts from the RQ codebooks (content geometry from step 0);
                                # "random": plain normal init (needs no codebooks)
    sid_projection: bool = False  # a Linear(d, d) after mean_l C^l: off, the plain mean is the paper's e_s

    def __post_init__(self):
        super().__post_init__()
        c = self
        # required (None is only there because a dataclass cannot put a field without a
        # default after BackboneConfig's defaults)
        check_field(c.num_levels is not None and c.num_levels >= 1, c, "num_levels", c.num_levels,
                    "given and >= 1")
        check_field(c.codebook_size is not None and 1 <= c.codebook_size <= c.num_items, c,
                    "codebook_size", c.codebook_size,
                    f"given, >= 1 and at most the number of items ({c.num_items})")
        check_field(c.code_init in CODE_INITS, c, "code_init", c.code_init, f"one of {CODE_INITS}")

    @classmethod
    def tiny(cls, num_items, num_levels, codebook_size, **overrides):
        """A laptop preset for tests and tutorials: d=16, 1 block, max_len=20, random code init."""
        return cls(num_items=num_items, num_levels=num_levels, codebook_size=codebook_size,
                   **{"max_len": 20, "d": 16, "blocks": 1, "dropout": 0.1, "code_init": "random",
                      **overrides})


def check_codes(codes, num_items, num_levels, codebook_size, who):
    """Validate semantic IDs and return them as a C-contiguous int64 (V+1, L) array.

    Parameters
    ----------
    codes : int array (V+1, L) -- row i holds item i's codes (row 0, padding, is never used).
    num_items, num_levels, codebook_size : int -- V, L, K from the model config.
    who : str -- the model name used in error messages.
    """
    codes = np.asarray(codes)
    if codes.shape != (num_items + 1, num_levels):
        raise ValueError(f"{who}: codes must have shape (V+1, L) = ({num_items + 1}, {num_levels}), "
                         f"got {codes.shape}")
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"{who}: codes must be integers, got dtype {codes.dtype}")
    if codes.size and (codes.min() < 0 or codes.max() >= codebook_size):
        row, level = np.argwhere((codes < 0) | (codes >= codebook_size))[0]
        raise ValueError(f"{who}: codes[{row}, {level}] = {codes[row, level]} is outside "
                         f"[0, K) = [0, {codebook_size})")
    return np.ascontiguousarray(codes, dtype=np.int64)


def _projection(vectors, d, rng):
    """A (D, d) map for ``vectors`` (n, D): exact (orthonormal rows) if D <= d, else the top-d PCA.

    D <= d: a random orthonormal embedding keeps every distance and angle.
    D > d: the top-d eigenvectors of ``vectors^T vectors`` (uncentred, so the common
    direction stays) -- the rank-d map that loses the least of the vectors' energy.
    """
    D = vectors.shape[1]
    if D <= d:
        q, r = np.linalg.qr(rng.standard_normal((d, D)))           # q (d, D) orthonormal columns
        return (q * np.sign(np.diag(r))).T                         # (D, d) orthonormal rows
    _, vecs = np.linalg.eigh(vectors.T @ vectors)                  # ascending eigenvalues
    return vecs[:, ::-1][:, :d]                                    # (D, d)


def _unit_mean_norm(x):
    """Scale ``x`` (n, d) so its rows have mean L2 norm 1."""
    norm = np.linalg.norm(x, axis=1).mean()
    return x / norm if norm > 0 else x


def pca_rows(content, d, rng, row_norm=1.0):
    """Hot-start rows for the hash table: content vectors on their top-d principal directions.

    Items 1..V are centred and projected on the top ``min(d, D)`` eigenvectors of their
    covariance; if D < d the remaining columns are small random noise. Rows are scaled to
    a mean norm of ``row_norm`` -- pass the mean row norm of the freshly initialised table
    (``mean_row_norm``), so a hot start keeps the scale the model would start from anyway.
    Row 0 stays zero.

    Parameters
    ----------
    content : float array (V+1, D) -- row i = item i's content vector (row 0 = padding).
    d : int -- width of the table.
    rng : np.random.Generator -- for the filler columns when D < d.
    row_norm : float -- mean L2 norm of the returned rows 1..V.

    Returns
    -------
    float32 ndarray (V+1, d).
    """
    x = np.asarray(content, dtype=np.float64)[1:]                  # (V, D)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"pca_rows: content must be (V+1, D), got shape {np.shape(content)}")
    x = x - x.mean(axis=0)
    _, vecs = np.linalg.eigh(x.T @ x)                              # ascending eigenvalues
    k = min(d, x.shape[1])
    proj = x @ vecs[:, ::-1][:, :k]                                # (V, k) top components
    out = np.zeros((x.shape[0] + 1, d))
    out[1:, :k] = _unit_mean_norm(proj) * row_norm
    if k < d:
        out[1:, k:] = rng.standard_normal((x.shape[0], d - k)) * 0.01 * row_norm
    return out.astype(np.float32)


def mean_row_norm(table):
    """Mean L2 norm of rows 1..V of an item table (V+1, d): the scale a hot start should keep."""
    return float(np.linalg.norm(np.asarray(table)[1:], axis=1).mean())


class CodeEmbeddings(Module):
    """Per-level code embeddings ``C`` (L, K, d) and the fused SID item embedding ``e_s``.

    Parameters
    ----------
    codes : int ndarray (V+1, L), validated (``check_codes``).
    codebook_size : int -- K.
    d : int -- width.
    rng : np.random.Generator.
    codebooks : float array (L, K, D) or None -- RQ codebooks, needed by ``code_init="rq"``.
    code_init : "rq" (codebooks through one D -> d map -- distance-preserving if D <= d, PCA
        otherwise -- each level then scaled to mean row norm 1) or "random" (normal, std d^-0.5,
        like ``nn.Embedding``).
    projection : bool -- apply a learned Linear(d, d) after the mean over levels.
    """

    def __init__(self, codes, codebook_size, d, rng, codebooks=None, code_init="rq", projection=False):
        super().__init__()
        self.codes = codes                                          # (V+1, L), not trainable
        L, K = codes.shape[1], codebook_size
        self.num_levels, self.codebook_size, self.d = L, K, d
        self._rows = codes + np.arange(L, dtype=np.int64) * K      # (V+1, L) rows of C as (L*K, d)
        if code_init == "rq":
            cb = np.asarray(codebooks, dtype=np.float64) if codebooks is not None else None
            if cb is None or cb.ndim != 3 or cb.shape[:2] != (L, K):
                raise ValueError(f"CodeEmbeddings: code_init='rq' needs codebooks of shape (L, K, D) = "
                                 f"({L}, {K}, D), got {None if cb is None else cb.shape}; "
                                 f"pass codebooks or use code_init='random'")
            proj = _projection(cb.reshape(L * K, -1), d, rng)       # (D, d)
            weight = np.stack([_unit_mean_norm(level @ proj) for level in cb])   # (L, K, d)
        elif code_init == "random":
            weight = init_normal((L, K, d), rng)
        else:
            raise ValueError(f"CodeEmbeddings: code_init must be one of {CODE_INITS}, got {code_init!r}")
        self.weight = Parameter(weight.astype(np.float32))          # C (L, K, d)
        self.proj = Linear(d, d, rng) if projection else None

    def _flat(self):
        return self.weight.reshape(self.num_levels * self.codebook_size, self.d)   # (L*K, d)

    def level_embeddings(self, items):
        """``C^l[c^l_items]`` for every level: int ndarray of shape S -> Tensor (L, *S, d)."""
        rows = np.moveaxis(self._rows[np.asarray(items)], -1, 0)    # (L, *S)
        return ops.embedding(self._flat(), rows)                    # (L, *S, d)

    def fused(self, items):
        """``e_s(items) = mean_l C^l[c^l]`` (then the projection, if any): shape S -> (*S, d)."""
        per_level = ops.embedding(self._flat(), self._rows[np.asarray(items)])   # (*S, L, d)
        e = per_level.mean(axis=-2)                                 # (*S, d)
        return self.proj(e) if self.proj is not None else e

    def table(self):
        """``e_s`` of every item, (V+1, d); row 0 (padding) is exactly zero."""
        e = self.fused(np.arange(self.codes.shape[0]))              # (V+1, d)
        keep = np.ones((self.codes.shape[0], 1), dtype=e.dtype)
        keep[0] = 0.0
        return e * keep

    def extra_repr(self):
        return f"L={self.num_levels}, K={self.codebook_size}, d={self.d}"


def init_normal(shape, rng):
    """Normal entries with std = d ** -0.5 (d = last dim): rows of norm ~1, as ``nn.Embedding``."""
    return init.normal(shape, rng, std=shape[-1] ** -0.5)
