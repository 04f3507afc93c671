"""PNG plots of the geometry processors (matplotlib's Agg canvas, imported when a plot is drawn)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from viq_proc_geometry.grid import TiePoints

B = npt.NDArray[np.bool_]


def registration_plot(path: Path, tp: TiePoints, inlier: B, title: str) -> None:
    """Shift vectors over the grid (inliers blue, rejected red) and shift histograms.

    Drawn on a bare Agg ``Figure`` with a fixed layout (no pyplot state, no tight-layout pass: a third of the
    cost of the plot on the S2 pair).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 5))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.9, wspace=0.25)
    axes = fig.subplots(1, 3)
    ax = axes[0]
    rej = tp.ok & ~inlier
    if inlier.any():
        q = ax.quiver(tp.x_map[inlier], tp.y_map[inlier], tp.shift_x_map[inlier], tp.shift_y_map[inlier],
                      color="tab:blue", angles="xy")
        ax.quiverkey(q, 0.85, 1.03, 10.0, "10 m", labelpos="E")
    if rej.any():
        ax.scatter(tp.x_map[rej], tp.y_map[rej], c="tab:red", s=8, label="rejected")
        ax.legend(loc="lower left")
    ax.set_title(f"{title}: {int(inlier.sum())} valid / {len(tp)} nodes")
    ax.set_aspect("equal")
    for k, (vals, label) in enumerate(((tp.shift_x_map, "shift x (map units)"), (tp.shift_y_map, "shift y"))):
        a = axes[k + 1]
        if inlier.any():
            a.hist(vals[inlier], bins=30, color="tab:blue")
            a.axvline(float(np.median(vals[inlier])), color="k", ls="--")
        a.set_xlabel(label)
    fig.savefig(path, dpi=80)


def series_plot(path: Path, x: Sequence[float], series: Mapping[str, Sequence[float]], xlabel: str,
                ylabel: str, title: str, hline: float | None = None) -> None:
    """Simple line plot of several named series."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for name, ys in series.items():
        ax.plot(x, ys, marker="o", ms=3, label=name)
    if hline is not None:
        ax.axhline(hline, color="r", ls="--", lw=1)
        ax.axhline(-hline, color="r", ls="--", lw=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
