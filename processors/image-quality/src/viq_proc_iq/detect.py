"""Automatic search for slanted-edge regions in an image (numpy only).

The whole image is tried first (an image cut around one edge, like the ISO 12233 examples). Otherwise square
windows on a grid are ranked by their gradient energy across the dominant direction (integral images, so a
full VENµS frame costs a few array passes), and the strongest ones are checked with the full edge tests of
:func:`viq_proc_iq.sfr.edge_sfr`; a window that passes is re-centred on its edge and checked again. The best
region per edge orientation (vertical edges: across-track profile; horizontal edges: along-track) is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from viq_proc_iq.sfr import EdgeError, EdgeLimits, edge_sfr

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class EdgeRegion:
    """A region holding one usable edge: ``x0, y0`` top-left, ``w × h`` px; ``vertical`` edge or not."""

    x0: int
    y0: int
    w: int
    h: int
    vertical: bool
    score: float

    def slices(self) -> tuple[slice, slice]:
        """Row and column slices of the region."""
        return slice(self.y0, self.y0 + self.h), slice(self.x0, self.x0 + self.w)


@dataclass(frozen=True)
class SearchReport:
    """Found regions and, when none, the reasons the best candidates were rejected."""

    regions: tuple[EdgeRegion, ...]
    rejected: tuple[str, ...]
    candidates_checked: int


def _window_sums(values: FloatArray, size: int, stride: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Sum of ``values`` over every ``size × size`` window on a ``stride`` grid; returns (sums, y0s, x0s)."""
    rows, cols = values.shape
    integral = np.zeros((rows + 1, cols + 1))
    integral[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    y0 = np.arange(0, rows - size + 1, stride)
    x0 = np.arange(0, cols - size + 1, stride)
    if rows - size > 0 and y0[-1] != rows - size:
        y0 = np.append(y0, rows - size)
    if cols - size > 0 and x0[-1] != cols - size:
        x0 = np.append(x0, cols - size)
    y1, x1 = y0 + size, x0 + size
    sums = integral[y1][:, x1] - integral[y0][:, x1] - integral[y1][:, x0] + integral[y0][:, x0]
    return sums, y0.astype(np.float64), x0.astype(np.float64)


def _check(image: FloatArray, region: EdgeRegion, limits: EdgeLimits, saturation: float | None) -> tuple[bool, float]:
    """Run the edge tests on a region; return (vertical edge?, edge offset from the region centre in px)."""
    rows, cols = region.slices()
    curve = edge_sfr(image[rows, cols], limits=limits, saturation_level=saturation)[0]
    n_lines = region.w if curve.rotated else region.h
    n_pix = region.h if curve.rotated else region.w
    offset = curve.fit.x_at((n_lines - 1) / 2.0) - (n_pix - 1) / 2.0
    return not curve.rotated, offset


def find_edge_regions(
    image: npt.ArrayLike,
    *,
    size: int | None = None,
    limits: EdgeLimits | None = None,
    saturation_level: float | None = None,
    max_checks: int = 150,
    whole_image_max_px: int = 1_000_000,
) -> SearchReport:
    """Find the best slanted-edge region for each edge orientation in a 2-D image.

    :param size: window side in px (default: the smaller of 96 and the image's smaller side).
    :param max_checks: candidate windows checked with the full edge tests, per orientation.
    :param whole_image_max_px: try the whole image as one region first when it is no larger than this.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise EdgeError(f"edge search needs a 2-D image, got shape {img.shape}")
    lim = limits or EdgeLimits()
    rows, cols = img.shape
    rejected: list[str] = []
    checked = 0
    if min(rows, cols) < lim.min_size_px:
        raise EdgeError(f"image {cols}×{rows} px is smaller than the {lim.min_size_px} px edge region minimum")
    if rows * cols <= whole_image_max_px:
        whole = EdgeRegion(0, 0, cols, rows, True, float("inf"))
        checked += 1
        try:
            vertical, _ = _check(img, whole, lim, saturation_level)
            return SearchReport((EdgeRegion(0, 0, cols, rows, vertical, float("inf")),), (), checked)
        except EdgeError as err:
            rejected.append(f"whole image: {err}")

    sizes = [size] if size else [96, 64, 48, 32]
    sizes = sorted({max(min(v, rows, cols), lim.min_size_px) for v in sizes}, reverse=True)
    finite = np.where(np.isfinite(img), img, np.nanmedian(img))
    gx = np.zeros_like(finite)
    gy = np.zeros_like(finite)
    gx[:, 1:] = np.abs(np.diff(finite, axis=1))
    gy[1:, :] = np.abs(np.diff(finite, axis=0))
    found: list[EdgeRegion] = []
    for vertical in (True, False):
        for side in sizes:
            region, n_checked = _search(img, gx, gy, side, vertical, lim, saturation_level, max_checks, rejected)
            checked += n_checked
            if region is not None:
                found.append(region)
                break
    return SearchReport(tuple(found), tuple(rejected), checked)


def _search(
    img: FloatArray,
    gx: FloatArray,
    gy: FloatArray,
    side: int,
    vertical: bool,
    lim: EdgeLimits,
    saturation: float | None,
    max_checks: int,
    rejected: list[str],
) -> tuple[EdgeRegion | None, int]:
    """The strongest valid region of one size and orientation, and the number of windows checked."""
    rows, cols = img.shape
    stride = max(side // 4, 1)
    sx, y0s, x0s = _window_sums(gx, side, stride)
    sy, _, _ = _window_sums(gy, side, stride)
    # energy across the edge weighted by its directional coherence (texture and corners score low):
    # (a - b)² / (a + b) with a, b the energies across and along the edge
    a, b = (sx, sy) if vertical else (sy, sx)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(a > b, (a - b) ** 2 / (a + b), 0.0)
    across = gx if vertical else gy
    order = np.argsort(score, axis=None)[::-1]
    taken: list[tuple[int, int]] = []
    n_checked = 0
    for flat in order:
        if n_checked >= max_checks:
            break
        iy, ix = np.unravel_index(int(flat), score.shape)
        s = float(score[iy, ix])
        if s <= 0:
            break
        region = EdgeRegion(int(x0s[ix]), int(y0s[iy]), side, side, vertical, s)
        # centre the window on the gradient energy across the edge before testing it
        prof = across[region.slices()].sum(axis=0 if vertical else 1)
        if prof.sum() > 0:
            centre = float((prof * np.arange(side)).sum() / prof.sum())
            region = _recentre(region, centre - (side - 1) / 2.0, rows, cols)
        if any(abs(region.y0 - ty) < side / 2 and abs(region.x0 - tx) < side / 2 for ty, tx in taken):
            continue
        taken.append((region.y0, region.x0))
        n_checked += 1
        try:
            is_vertical, offset = _check(img, region, lim, saturation)
            if is_vertical != vertical:
                continue
            region = _recentre(region, offset, rows, cols)
            is_vertical, _ = _check(img, region, lim, saturation)
            if is_vertical != vertical:
                continue
        except EdgeError as err:
            if len(rejected) < 6:
                rejected.append(f"window x0={region.x0} y0={region.y0} {side}×{side}: {err}")
            continue
        return region, n_checked  # candidates come strongest first: the first valid one wins
    return None, n_checked


def _recentre(region: EdgeRegion, offset: float, rows: int, cols: int) -> EdgeRegion:
    """Shift a region across its edge so the edge crosses its centre (kept inside the image)."""
    shift = round(offset)
    x0, y0 = region.x0, region.y0
    if region.vertical:
        x0 = min(max(x0 + shift, 0), cols - region.w)
    else:
        y0 = min(max(y0 + shift, 0), rows - region.h)
    return EdgeRegion(x0, y0, region.w, region.h, region.vertical, region.score)
