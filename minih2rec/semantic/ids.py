"""Semantic IDs of a catalogue: one code tuple per item, saved and loaded with checks.

``codes`` has shape (V+1, L): row i is item id i, row 0 is the padding item
(all zeros, never looked up as a real item). Every code lies in ``[0, K)``.
With ``dedup=True`` the last column is the TIGER-style extra level that makes
the tuples unique (``codebooks`` then has L-1 levels).

Codes are only meaningful for the catalogue they were built on: a file also stores
that catalogue's *item fingerprint* (a hash of the raw ids of items 1..V in id order,
and of their text and content vectors), and :meth:`SemanticIDs.check_data` refuses a
dataset whose items differ.
"""
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..checkpoint import atomic_write_bytes, atomic_write_json
from ..quantize.report import code_usage, collision_rate
from ..quantize.residual import RQKMeans


@dataclass
class SemanticIDs:
    """Code tuples of items 1..V (row 0 = padding)."""

    codes: np.ndarray                    # (V+1, L) int64, row 0 zeros
    codebook_size: int                   # K: every code is in [0, K)
    levels: int                          # L: columns of codes (including a dedup column)
    method: str                          # how they were made, e.g. "rq-kmeans"
    codebooks: Optional[np.ndarray] = None   # (L, K, D), or (L-1, K, D) with dedup; None if unknown
    dedup: bool = False                  # True if the last column is the dedup level
    fingerprint: Optional[str] = None    # item_fingerprint of the catalogue they were built on
    data_name: Optional[str] = None      # that catalogue's name, for error messages

    def __post_init__(self):
        self.codes = np.asarray(self.codes)
        _validate(self.codes, self.codebook_size, self.levels, self.codebooks, self.dedup, "SemanticIDs")
        self.codes = self.codes.astype(np.int64, copy=False)

    @property
    def num_items(self):
        """V, the number of real items."""
        return self.codes.shape[0] - 1

    def summary(self):
        """Small dict for the JSON file: sizes, per-level code use and the collision rate."""
        items = self.codes[1:]
        usage = code_usage(items, self.codebook_size)        # (L, K)
        return {"num_items": self.num_items, "levels": self.levels, "codebook_size": self.codebook_size,
                "method": self.method, "dedup": self.dedup,
                "codes_used_per_level": [int(u) for u in (usage > 0).sum(axis=1)],
                "collision_rate": collision_rate(items),
                "has_codebooks": self.codebooks is not None, "data": self.data_name,
                "item_fingerprint": self.fingerprint}

    def check_data(self, inter, where="semantic IDs"):
        """Raise ValueError naming ``where`` unless these IDs were built for ``inter``'s items.

        The item count must match and so must the item fingerprint (the same raw item
        ids behind ids 1..V); IDs without a fingerprint cannot be checked and are refused.
        """
        V, name = int(inter.num_items), getattr(inter, "name", "the dataset")
        built_for = f"{self.data_name!r}" if self.data_name else "another dataset"
        if self.num_items != V:
            raise ValueError(f"{where} has IDs for {self.num_items} items (built for {built_for}) but "
                             f"{name!r} has {V}; rebuild them with `python -m minih2rec sids` on this data")
        if self.fingerprint is None:
            raise ValueError(f"{where} has no item fingerprint, so its item mapping cannot be checked; "
                             f"rebuild it with `python -m minih2rec sids` on this data")
        if self.fingerprint != item_fingerprint(inter):
            raise ValueError(f"{where} was built for the items of {built_for}, not those of {name!r} "
                             f"(same count {V}, different item ids, text or content); rebuild it with "
                             f"`python -m minih2rec sids` on this data")

    def save(self, path):
        """Write ``path`` (.npz, suffix added if missing) and a JSON summary beside it; return the .npz path."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        arrays = {"codes": self.codes, "codebook_size": np.int64(self.codebook_size),
                  "levels": np.int64(self.levels), "method": np.str_(self.method), "dedup": np.bool_(self.dedup)}
        if self.codebooks is not None:
            arrays["codebooks"] = self.codebooks
        if self.fingerprint is not None:
            arrays["fingerprint"] = np.str_(self.fingerprint)
        if self.data_name is not None:
            arrays["data_name"] = np.str_(self.data_name)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())          # a crash never leaves half a file
        atomic_write_json(path[:-4] + ".json", self.summary())
        return path

    @classmethod
    def load(cls, path, num_items=None, inter=None):
        """Read a file written by :meth:`save`, checking shapes and code ranges.

        Parameters
        ----------
        path : str or Path to the .npz.
        num_items : int or None -- if given, the file must hold IDs for exactly this many items.
        inter : Interactions or None -- if given, the file must have been built for its items
            (:meth:`check_data`: item count and item fingerprint).

        Raises
        ------
        ValueError naming the file on a missing/corrupt file or array, codes outside ``[0, K)``,
        a non-zero padding row, an item-count mismatch, or IDs of another catalogue.
        """
        path = os.fspath(path)
        where = f"semantic-ID file {path!r}"
        arrays = _read_npz(path, where)
        K, L, method, dedup, fingerprint, data_name = _header(arrays, where)
        codes, books = arrays["codes"], arrays.get("codebooks")
        _validate(codes, K, L, books, dedup, where)
        if num_items is not None and codes.shape[0] - 1 != int(num_items):
            raise ValueError(f"{where} has IDs for {codes.shape[0] - 1} items but the dataset "
                             f"has {int(num_items)}; rebuild the IDs for this dataset")
        sids = cls(codes, K, L, method, books, dedup, fingerprint, data_name)
        if inter is not None:
            sids.check_data(inter, where)
        return sids

    @classmethod
    def from_quantizer(cls, content, quantizer=None, levels=3, codebook_size=64, seed=0, dedup=False):
        """Quantize item content (V+1, D) (row 0 = padding, skipped) into SemanticIDs.

        Parameters
        ----------
        content : ndarray (V+1, D) -- item-aligned content vectors.
        quantizer : object with ``fit(x)``, ``encode(x)``, ``codebooks``, ``codebook_size``
            (e.g. :class:`~minih2rec.quantize.RQKMeans`), or None to build an RQKMeans from
            ``levels``, ``codebook_size``, ``seed``, ``dedup``.

        Returns
        -------
        SemanticIDs with ``codes`` (V+1, L) and the quantizer's codebooks.
        """
        content = np.asarray(content)
        if content.ndim != 2 or content.shape[0] < 2:
            raise ValueError(f"from_quantizer: content must be (V+1, D) with V >= 1, got shape {content.shape}")
        q = quantizer if quantizer is not None else RQKMeans(levels, codebook_size, seed=seed, dedup=dedup)
        x = content[1:]                                           # (V, D) items 1..V
        item_codes = np.asarray(q.fit(x).encode(x), dtype=np.int64)   # (V, L)
        codes = np.zeros((x.shape[0] + 1, item_codes.shape[1]), dtype=np.int64)
        codes[1:] = item_codes
        q_dedup = bool(getattr(q, "dedup", False))
        method = getattr(q, "method", type(q).__name__.lower())
        return cls(codes, int(q.codebook_size), codes.shape[1], method, getattr(q, "codebooks", None), q_dedup)


def item_fingerprint(inter):
    """16 hex digits of SHA-256 over ``inter``'s raw ids of items 1..V (in id order), their text and content."""
    h = hashlib.sha256("\n".join(str(i) for i in np.asarray(inter.item_ids)[1:].tolist()).encode("utf-8"))
    if getattr(inter, "item_text", None) is not None:
        h.update("\0".join(map(str, inter.item_text[1:])).encode("utf-8"))
    if getattr(inter, "content", None) is not None:
        h.update(np.ascontiguousarray(inter.content[1:], dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


def _read_npz(path, where):
    """Every array of the .npz at ``path``; a ValueError naming ``where`` if it is not a readable .npz."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, AttributeError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{where} could not be read as an .npz: {exc}") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):       # a plain .npy: one bare array
        raise ValueError(f"{where} is a plain .npy array, not the .npz that "
                         f"SemanticIDs.save and `python -m minih2rec sids` write")
    try:
        with loaded as f:
            return {k: f[k] for k in f.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{where} has a corrupt array: {exc}") from exc


def _header(arrays, where):
    """``(K, L, method, dedup, fingerprint, data_name)`` from a file's arrays, all required ones present."""
    missing = [k for k in ("codes", "codebook_size", "levels", "method") if k not in arrays]
    if missing:
        raise ValueError(f"{where} lacks arrays {missing} (has {sorted(arrays)})")
    optional = {k: str(arrays[k]) if k in arrays else None for k in ("fingerprint", "data_name")}
    try:
        return (int(arrays["codebook_size"]), int(arrays["levels"]), str(arrays["method"]),
                bool(arrays.get("dedup", False)), optional["fingerprint"], optional["data_name"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where} has a malformed header field: {exc}") from exc


def _validate(codes, K, L, codebooks, dedup, where):
    """Raise ValueError naming ``where`` unless codes (V+1, L) int lie in [0, K) with a zero row 0."""
    if codes.ndim != 2 or codes.shape[0] < 1 or codes.shape[1] != L:
        raise ValueError(f"{where}: codes have shape {codes.shape}; expected (V+1, {L})")
    if not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"{where}: codes have dtype {codes.dtype}; expected integers")
    if K < 1 or L < 1:
        raise ValueError(f"{where}: codebook_size={K} and levels={L} must both be >= 1")
    if codes.size and (codes.min() < 0 or codes.max() >= K):
        bad = np.argwhere((codes < 0) | (codes >= K))[0]
        raise ValueError(f"{where}: code {int(codes[tuple(bad)])} at item {bad[0]}, level {bad[1]} "
                         f"is outside [0, {K})")
    if np.any(codes[0] != 0):
        raise ValueError(f"{where}: row 0 (the padding item) must be all zeros, got {codes[0].tolist()}")
    if codebooks is not None:
        want = (L - int(dedup), K)
        if codebooks.ndim != 3 or codebooks.shape[:2] != want:
            raise ValueError(f"{where}: codebooks have shape {codebooks.shape}; expected ({want[0]}, {K}, D)")
        if not np.issubdtype(codebooks.dtype, np.floating) and not np.issubdtype(codebooks.dtype, np.integer):
            raise ValueError(f"{where}: codebooks have dtype {codebooks.dtype}; expected floats")
        bad = np.argwhere(~np.isfinite(codebooks).all(axis=2))      # (n_bad, 2) of (level, code)
        if bad.size:                  # a NaN codeword would make the first training step NaN
            raise ValueError(f"{where}: codebook level {bad[0][0]}, code {bad[0][1]} has a NaN or inf "
                             f"entry ({len(bad)} bad codewords in total); rebuild the semantic IDs")
