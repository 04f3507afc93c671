"""Report writers: figures (matplotlib, Agg) and the slope-class CSV."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray


def _sub(v: NDArray[Any], n: int = 1500) -> NDArray[Any]:
    step = max(1, int(np.ceil(max(v.shape) / n)))
    return v[::step, ::step]


def reference_dem_plot(
    heights: NDArray[np.float32], code: NDArray[np.uint8], slope: NDArray[np.float32] | None,
    rep: dict[str, Any], path: Path,
) -> None:
    """Heights, fill mask and height histogram of a reference DEM."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    h = _sub(heights)
    im = axes[0].imshow(h, cmap="terrain")
    fig.colorbar(im, ax=axes[0], label="height (m)")
    axes[0].set_title(f"{rep['site']}: heights ({rep['vertical_datum']})")
    axes[1].imshow(_sub(code), cmap="viridis", vmin=0, vmax=2, interpolation="nearest")
    axes[1].set_title(f"filled cells: {rep['output_filled_fraction']:.2%} (1 secondary, 2 interpolated)")
    fin = heights[np.isfinite(heights)]
    axes[2].hist(fin[:: max(1, fin.size // 2_000_000)], bins=100, color="0.4")
    axes[2].set_xlabel("height (m)")
    title = f"voids in sources: {rep['source_voids']['cells']} cells, {rep['source_voids']['regions']} regions"
    if slope is not None and "slope_deg" in rep:
        title += f"; mean slope {rep['slope_deg']['mean']:.1f}°"
    axes[2].set_title(title)
    for ax in axes[:2]:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def compare_plots(
    difference: NDArray[np.float64], classes: Sequence[tuple[str, dict[str, float]]], nmad_value: float,
    map_path: Path, hist_path: Path, slope_path: Path,
) -> None:
    """Difference map, histogram and by-slope-class bars of a DEM comparison."""
    lim = 3 * nmad_value if np.isfinite(nmad_value) and nmad_value > 0 else 1.0
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(_sub(difference), cmap="RdBu", vmin=-lim, vmax=lim)
    fig.colorbar(im, ax=ax, label="reference − DEM after coregistration (m)")
    ax.set_title("elevation difference")
    fig.savefig(map_path, dpi=80)
    plt.close(fig)
    fin = difference[np.isfinite(difference)]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(fin, bins=200, range=(-5 * lim, 5 * lim), color="0.4")
    ax.set_xlabel("elevation difference (m)")
    ax.set_ylabel("cells")
    fig.savefig(hist_path, dpi=80)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [c[0] for c in classes]
    x = np.arange(len(labels))
    ax.bar(x - 0.2, [c[1]["nmad"] for c in classes], 0.4, label="NMAD")
    ax.bar(x + 0.2, [c[1]["rmse"] for c in classes], 0.4, label="RMSE")
    ax.set_xticks(x, labels)
    ax.set_xlabel("slope class")
    ax.set_ylabel("m")
    ax.legend()
    fig.savefig(slope_path, dpi=80)
    plt.close(fig)


def write_class_csv(path: Path, classes: Sequence[tuple[str, dict[str, float]]]) -> None:
    """One row per slope class with every statistic."""
    keys = list(classes[0][1].keys()) if classes else []
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["class", *keys])
        for label, st in classes:
            w.writerow([label, *(f"{st[k]:.6g}" for k in keys)])
