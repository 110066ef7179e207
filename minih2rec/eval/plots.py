"""The seesaw plot: a metric per item-popularity bucket, one line per model.

H2Rec's story in one picture: hash-ID models are strong on the popular
buckets and weak on the rare ones, semantic-ID models the other way round,
and H2Rec should be on top (or close to it) everywhere.

Drawing uses ``matplotlib.figure.Figure`` with an explicit Agg canvas, so it
never touches pyplot's global state or the user's backend choice.
"""
import textwrap

from .groups import BUCKETS
from .result import EvalResult


def plot_bucket_ndcg(results, path, metric="NDCG@10"):
    """Plot ``metric`` over the five popularity buckets, one line per model, and save it.

    Parameters
    ----------
    results : dict ``{model name: EvalResult or EvalResult.to_dict()}`` -- all from the
        same protocol, stage and users (identical ``description``).
    path : str or path-like -- output file; the format follows the suffix (``.png``, ``.pdf``...).
    metric : str -- e.g. ``"NDCG@10"`` or ``"HR@20"``.

    Returns
    -------
    path -- as given.

    Raises
    ------
    ValueError if ``results`` is empty, mixes protocols/stages/user sets, or lacks ``metric``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not results:
        raise ValueError("plot_bucket_ndcg: results is empty")
    res = {name: (r if isinstance(r, EvalResult) else EvalResult.from_dict(r)) for name, r in results.items()}
    first_name, first = next(iter(res.items()))
    for name, r in res.items():
        if (r.stage, r.description) != (first.stage, first.description):
            raise ValueError(f"plot_bucket_ndcg: {name!r} was evaluated as '{r.stage}, {r.description}' "
                             f"but {first_name!r} as '{first.stage}, {first.description}'; "
                             f"one plot must use one protocol")
        if metric not in r.overall:
            raise ValueError(f"plot_bucket_ndcg: {name!r} has no metric {metric!r} "
                             f"(has {', '.join(r.overall)})")

    groups = [f"bucket {label}" for label, _, _ in BUCKETS]
    x = list(range(len(groups)))
    labels = [f"{label}\n{first.item_counts.get(g, 0):,} items\n{first.counts.get(g, 0):,} users"
              for (label, _, _), g in zip(BUCKETS, groups)]

    fig = Figure(figsize=(7.0, 4.5), dpi=100)
    FigureCanvasAgg(fig)                                  # attach an Agg canvas to this figure only
    ax = fig.add_subplot(1, 1, 1)
    for name, r in res.items():
        ax.plot(x, [r.get(g, metric) for g in groups], marker="o", label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_xlabel("training interactions of the target item")
    ax.set_ylabel(metric)
    title = f"{metric} by item popularity -- {first.stage}, {first.description}"
    ax.set_title("\n".join(textwrap.wrap(title, 80)), fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path
