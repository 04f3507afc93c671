"""PNG plots of the geometry processors (Pillow for the registration plot, matplotlib for the series)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from viq_proc_geometry.grid import TiePoints

B = npt.NDArray[np.bool_]


def registration_plot(path: Path, tp: TiePoints, inlier: B, title: str) -> None:
    """Shift vectors over the grid (inliers blue, rejected red) and shift histograms, drawn with Pillow.

    Pillow (a dependency of scikit-image and matplotlib) rather than matplotlib: importing matplotlib and drawing
    this figure cost ≈ 1 s, more than the whole matching of the S2 pair; Pillow draws it in a few ms.
    """
    from PIL import Image, ImageDraw, ImageFont

    w, h, pad = 1500, 500, 50
    img = Image.new("RGB", (w, h), "white")
    dr = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    blue, red, grey = (31, 119, 180), (214, 39, 40), (90, 90, 90)
    # panel 1: vectors on the map (equal scale on both axes)
    x0, y0, x1, y1 = pad, pad, 500 - pad // 2, h - pad
    dr.rectangle((x0, y0, x1, y1), outline=grey)
    rej = tp.ok & ~inlier
    dr.text((x0, 8), f"{title}: {int(inlier.sum())} valid / {len(tp)} nodes", fill="black", font=font)
    if len(tp):
        xmin, xmax = float(tp.x_map.min()), float(tp.x_map.max())
        ymin, ymax = float(tp.y_map.min()), float(tp.y_map.max())
        scale = min((x1 - x0 - 20) / max(xmax - xmin, 1e-9), (y1 - y0 - 20) / max(ymax - ymin, 1e-9))

        def to_px(x: float, y: float) -> tuple[float, float]:
            return x0 + 10 + (x - xmin) * scale, y1 - 10 - (y - ymin) * scale

        vec = np.hypot(tp.shift_x_map, tp.shift_y_map)
        spacing = float(np.median(np.diff(np.unique(tp.x_map)))) * scale if np.unique(tp.x_map).size > 1 else 20.0
        med = float(np.median(vec[inlier])) if inlier.any() else 0.0
        gain = 0.8 * spacing / med if med > 0 else 0.0  # px per map unit of shift
        for k in np.flatnonzero(inlier):
            ax, ay = to_px(float(tp.x_map[k]), float(tp.y_map[k]))
            bx, by = ax + gain * float(tp.shift_x_map[k]), ay - gain * float(tp.shift_y_map[k])
            dr.line((ax, ay, bx, by), fill=blue, width=1)
            dr.ellipse((bx - 1.5, by - 1.5, bx + 1.5, by + 1.5), fill=blue)
        for k in np.flatnonzero(rej):
            ax, ay = to_px(float(tp.x_map[k]), float(tp.y_map[k]))
            dr.ellipse((ax - 2.5, ay - 2.5, ax + 2.5, ay + 2.5), fill=red)
        if gain > 0:
            dr.line((x1 - 120, 30, x1 - 120 + gain * 10.0, 30), fill=blue, width=2)
            dr.text((x1 - 110 + gain * 10.0, 24), "10 m", fill="black", font=font)
        dr.text((x0, h - pad + 8), "vectors: shift (map units), dot = head; red: rejected", fill=grey, font=font)
    # panels 2 and 3: histograms of the valid shifts
    for panel, (vals, label) in enumerate(((tp.shift_x_map, "shift x (map units)"), (tp.shift_y_map, "shift y"))):
        px0, px1 = 500 + panel * 500 + pad // 2, 500 + (panel + 1) * 500 - pad // 2
        dr.rectangle((px0, y0, px1, y1), outline=grey)
        dr.text((px0 + (px1 - px0) // 2 - 40, y1 + 18), label, fill="black", font=font)
        v = vals[inlier]
        v = v[np.isfinite(v)]
        if v.size == 0:
            continue
        counts, edges = np.histogram(v, bins=30)
        top = max(int(counts.max()), 1)
        bw = (px1 - px0) / counts.size
        for i, c in enumerate(counts):
            if c:
                dr.rectangle((px0 + i * bw + 1, y1 - (y1 - y0 - 10) * c / top, px0 + (i + 1) * bw - 1, y1),
                             fill=blue)
        lo, hi = float(edges[0]), float(edges[-1])
        xm = px0 + (float(np.median(v)) - lo) / max(hi - lo, 1e-12) * (px1 - px0)
        for yy in range(y0, y1, 12):
            dr.line((xm, yy, xm, min(yy + 6, y1)), fill="black", width=1)
        dr.text((px0, y1 + 2), f"{lo:.2f}", fill="black", font=font)
        dr.text((px1 - 40, y1 + 2), f"{hi:.2f}", fill="black", font=font)
        dr.text((px0 + 4, y0 + 4), f"max {top}; median {float(np.median(v)):.3f} (dashed)", fill=grey, font=font)
    img.save(path, format="PNG", optimize=False)


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
