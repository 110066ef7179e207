"""How good are the semantic IDs? Reconstruction error, codebook use and collisions.

Shapes: n items, D content width, L levels, K codes per level.

* **reconstruction error** after levels 1..l: the mean over items of
  ``||x - sum_{j<=l} C^j[c^j]||^2``; it must not grow with l;
* **utilisation** of level l: the share of its K codes that some item uses;
* **perplexity** of level l: ``exp(entropy)`` of its code-usage distribution --
  the number of codes that would be in use if all were used equally (K at best);
* **collision rate**: the share of items whose full code tuple is shared with
  at least one other item (0 when every item has its own ID).
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class QuantizationReport:
    """Result of :func:`quantization_report`; ``format_table()`` renders it."""

    num_items: int
    codebook_size: int               # K
    levels: int                      # L (codebook levels; a dedup column is not a level)
    baseline_error: float            # mean ||x||^2: the error with no code at all
    recon_error: np.ndarray          # (L,) mean squared error per item after levels 1..l
    utilisation: np.ndarray          # (L,) share of the K codes used at each level
    perplexity: np.ndarray           # (L,) exp(entropy of code usage) at each level
    collision_rate: float            # share of items whose full tuple is not unique
    unique_tuples: int               # number of distinct full tuples

    def format_table(self):
        """Text table: one row per level plus the collision summary."""
        lines = [f"Semantic-ID quality: {self.num_items:,} items, {self.levels} levels x {self.codebook_size} codes",
                 f"  (error = mean squared reconstruction error per item; no codes: {self.baseline_error:.4g})",
                 f"  {'level':>5}  {'error':>10}  {'codes used':>10}  {'perplexity':>10}"]
        for l in range(self.levels):
            lines.append(f"  {l + 1:>5}  {self.recon_error[l]:>10.4g}  {self.utilisation[l]:>9.1%}  "
                         f"{self.perplexity[l]:>10.1f}")
        lines.append(f"  collision rate: {self.collision_rate:.2%} of items share their full tuple "
                     f"({self.unique_tuples:,} distinct tuples)")
        return "\n".join(lines)

    def to_dict(self):
        """Plain-Python version (lists and floats), e.g. for a JSON summary."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}


def code_usage(codes, codebook_size):
    """(L, K) int64 count of items using each code at each level (columns of ``codes`` (n, L))."""
    codes = np.asarray(codes)
    return np.stack([np.bincount(codes[:, l], minlength=codebook_size) for l in range(codes.shape[1])])


def perplexity(counts):
    """``exp(entropy)`` of the distribution proportional to ``counts`` (K,); 0 for no counts."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def collision_rate(codes):
    """Share of rows of ``codes`` (n, L) whose whole tuple appears in another row too."""
    codes = np.asarray(codes)
    if codes.shape[0] == 0:
        return 0.0
    _, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    return float(np.mean(counts[inverse.reshape(-1)] > 1))


def quantization_report(x, codes, codebooks):
    """Measure semantic IDs against the vectors they encode.

    Parameters
    ----------
    x : ndarray (n, D) -- the item vectors that were quantized.
    codes : ndarray (n, L) or (n, L+1) int -- their codes; an extra dedup column counts in the
        collision rate (it makes tuples unique) but not in the reconstruction.
    codebooks : ndarray (L, K, D).

    Returns
    -------
    QuantizationReport
    """
    x = np.asarray(x, dtype=np.float64)
    codes = np.asarray(codes)
    codebooks = np.asarray(codebooks)
    L, K, D = codebooks.shape
    if x.ndim != 2 or x.shape[1] != D:
        raise ValueError(f"quantization_report: x has shape {x.shape}, expected (n, {D}) to match the codebooks")
    if codes.ndim != 2 or codes.shape[0] != x.shape[0] or codes.shape[1] < L:
        raise ValueError(f"quantization_report: codes have shape {codes.shape}, expected ({x.shape[0]}, >= {L})")
    if codes.size and (codes[:, :L].min() < 0 or codes[:, :L].max() >= K):
        raise ValueError(f"quantization_report: codes must lie in [0, {K})")
    r = x.copy()                                              # (n, D) residual
    errors = np.empty(L)
    for l in range(L):
        r -= codebooks[l][codes[:, l]]
        errors[l] = np.einsum("nd,nd->n", r, r).mean()
    usage = code_usage(codes[:, :L], K)                       # (L, K)
    return QuantizationReport(
        num_items=int(x.shape[0]), codebook_size=int(K), levels=int(L),
        baseline_error=float(np.einsum("nd,nd->n", x, x).mean()),
        recon_error=errors,
        utilisation=(usage > 0).mean(axis=1),
        perplexity=np.array([perplexity(u) for u in usage]),
        collision_rate=collision_rate(codes),
        unique_tuples=int(np.unique(codes, axis=0).shape[0]) if codes.shape[0] else 0)


def plot_report(report, codes, path):
    """Save a figure: sorted code-usage histogram per level, and error vs level.

    Parameters
    ----------
    report : QuantizationReport
    codes : ndarray (n, >= L) int -- the codes the report was computed from.
    path : str or Path -- image file to write (format from the suffix, e.g. ``.png``).

    Returns
    -------
    path
    """
    from matplotlib.figure import Figure                      # no pyplot: no global state, no window

    L, K = report.levels, report.codebook_size
    usage = code_usage(np.asarray(codes)[:, :L], K)           # (L, K)
    fig = Figure(figsize=(3.2 * (L + 1), 3.0))
    axes = fig.subplots(1, L + 1)
    for l in range(L):
        ax = axes[l]
        ax.bar(np.arange(K), np.sort(usage[l])[::-1], width=1.0, color="tab:blue")
        ax.set_title(f"level {l + 1}: {report.utilisation[l]:.0%} used, ppl {report.perplexity[l]:.0f}", fontsize=9)
        ax.set_xlabel("code (sorted by use)")
        ax.set_ylabel("items")
    ax = axes[L]
    ax.plot(np.arange(L + 1), np.r_[report.baseline_error, report.recon_error], marker="o")
    ax.set_xticks(np.arange(L + 1))
    ax.set_xlabel("levels used")
    ax.set_ylabel("mean squared error per item")
    ax.set_title(f"reconstruction (collisions {report.collision_rate:.1%})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)                                # Agg canvas, picked by the file suffix
    return path
