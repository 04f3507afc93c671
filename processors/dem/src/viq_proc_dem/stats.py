"""Difference statistics and terrain derivatives (pure numpy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

NMAD_FACTOR = 1.4826
PERCENTILES = (5.0, 25.0, 75.0, 90.0, 95.0)


def nmad(values: NDArray[np.floating]) -> float:
    """Normalised median absolute deviation: 1.4826 · median(|x − median(x)|)."""
    if values.size == 0:
        return float("nan")
    med = np.median(values)
    return float(NMAD_FACTOR * np.median(np.abs(values - med)))


def describe(values: NDArray[np.floating]) -> dict[str, float]:
    """Mean, median, std, NMAD, RMSE, min, max, |LE90|, percentiles and count of the finite values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    out: dict[str, float] = {"count": float(v.size)}
    if v.size == 0:
        for key in ("mean", "median", "std", "nmad", "rmse", "min", "max", "le90"):
            out[key] = float("nan")
        for p in PERCENTILES:
            out[f"p{p:g}"] = float("nan")
        return out
    out.update(
        mean=float(v.mean()),
        median=float(np.median(v)),
        std=float(v.std()),
        nmad=nmad(v),
        rmse=float(np.sqrt(np.mean(v * v))),
        min=float(v.min()),
        max=float(v.max()),
        le90=float(np.percentile(np.abs(v), 90.0)),
    )
    for p, q in zip(PERCENTILES, np.percentile(v, PERCENTILES), strict=True):
        out[f"p{p:g}"] = float(q)
    return out


def remove_outliers(values: NDArray[np.floating], k: float = 3.0) -> NDArray[np.bool_]:
    """Cells kept by a one-pass k-sigma clip about the mean (finite values only)."""
    v = np.asarray(values, dtype=np.float64)
    fin = np.isfinite(v)
    if not fin.any():
        return fin
    mu, sd = v[fin].mean(), v[fin].std()
    keep: NDArray[np.bool_] = fin & (np.abs(v - mu) <= k * sd)
    return keep


def horn_gradient(
    z: NDArray[np.floating], xres: float | NDArray[np.floating], yres: float | NDArray[np.floating]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Horn's 3×3 gradient (dz/dx east-positive, dz/dy north-positive); edges reflected; NaN propagates.

    ``xres``/``yres`` are the ground pixel sizes in metres (arrays allowed, e.g. per row for lon/lat grids).
    """
    zz = np.asarray(z, dtype=np.float64)
    kx = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    gx = ndimage.correlate(zz, kx, mode="reflect") / (8.0 * np.asarray(xres))
    gy = -ndimage.correlate(zz, kx.T, mode="reflect") / (8.0 * np.asarray(yres))
    return gx, gy


def slope_aspect(
    z: NDArray[np.floating], xres: float | NDArray[np.floating], yres: float | NDArray[np.floating]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Slope (degrees) and aspect (degrees clockwise from north, direction the slope faces; NaN when flat)."""
    gx, gy = horn_gradient(z, xres, yres)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    aspect = np.mod(np.degrees(np.arctan2(-gx, -gy)), 360.0)
    aspect = np.where((gx == 0) & (gy == 0), np.nan, aspect)
    return slope.astype(np.float32), aspect.astype(np.float32)


def slope_for_classes(
    z: NDArray[np.floating], xres: float | NDArray[np.floating], yres: float | NDArray[np.floating],
    unit: str = "percent",
) -> NDArray[np.float64]:
    """Slope for slope classes: ``percent`` (100·tan), ``degrees``, or ``demcompare`` (100 × angle in radians,
    the quantity demcompare 0.x labels "percent")."""
    gx, gy = horn_gradient(z, xres, yres)
    tan = np.hypot(gx, gy)
    if unit == "percent":
        return 100.0 * tan
    if unit == "degrees":
        return np.degrees(np.arctan(tan))
    if unit == "demcompare":
        return 100.0 * np.arctan(tan)
    raise ValueError(f"unknown slope unit {unit!r}")


def class_labels(edges: Sequence[float]) -> list[str]:
    """Labels ``[a;b[`` for each slope class, the last one open (``[a;inf[``)."""
    e = list(edges)
    return [f"[{e[i]:g};{e[i + 1]:g}[" for i in range(len(e) - 1)] + [f"[{e[-1]:g};inf["]


def by_class(
    values: NDArray[np.floating], classes: NDArray[np.floating], edges: Sequence[float]
) -> list[tuple[str, dict[str, float]]]:
    """:func:`describe` of ``values`` per class of ``classes`` (``[e_i, e_{i+1})``, last class open)."""
    e = [*edges, np.inf]
    out = []
    total = np.isfinite(values).sum()
    for label, lo, hi in zip(class_labels(edges), e[:-1], e[1:], strict=True):
        sel = (classes >= lo) & (classes < hi) & np.isfinite(values)
        d = describe(values[sel])
        d["percent_points"] = 100.0 * sel.sum() / total if total else float("nan")
        out.append((label, d))
    return out


def metric_pixel_size(
    transform_a: float, transform_e: float, lat_centres: NDArray[np.floating] | None
) -> tuple[float | NDArray[np.float64], float | NDArray[np.float64]]:
    """Ground pixel size in metres: as is for projected grids, per row from latitude for lon/lat grids."""
    if lat_centres is None:
        return abs(transform_a), abs(transform_e)
    # WGS84 radii of curvature
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    phi = np.radians(lat_centres)
    s2 = np.sin(phi) ** 2
    n = a / np.sqrt(1 - e2 * s2)
    m = a * (1 - e2) / (1 - e2 * s2) ** 1.5
    xres = np.radians(abs(transform_a)) * n * np.cos(phi)
    yres = np.radians(abs(transform_e)) * m
    return xres[:, None], yres[:, None]
