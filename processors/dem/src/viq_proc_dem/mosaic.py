"""Priority mosaicking of rasters that share one pixel grid (pure numpy; no I/O).

A tile is pasted into the mosaic only where the mosaic has no valid value yet, band by band, in priority order
(the first tile wins): the same rule as ``rasterio.merge``'s default ``first`` method. Tiles must lie on the
mosaic's pixel grid (integer pixel offsets); tiles on another grid are resampled by the caller first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from affine import Affine
from numpy.typing import NDArray

ALIGN_TOLERANCE_PX = 1e-3
"""Largest departure from an integer pixel offset still treated as the same grid."""


@dataclass(frozen=True)
class GridSpec:
    """A north-up pixel grid: transform (upper-left corner of pixel (0, 0)), width and height."""

    transform: Affine
    width: int
    height: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in map units."""
        t = self.transform
        return (t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f)


@dataclass(frozen=True)
class Layer:
    """One tile: data ``(bands, rows, cols)`` with its validity mask (same shape) on ``transform``."""

    data: NDArray[np.generic]
    valid: NDArray[np.bool_]
    transform: Affine


@dataclass(frozen=True)
class Mosaic:
    """A mosaic: data, validity, which layer each cell came from (−1: none) and which cells a tile covered."""

    data: NDArray[np.generic]
    valid: NDArray[np.bool_]
    source: NDArray[np.int16]
    covered: NDArray[np.bool_]
    grid: GridSpec


def is_north_up(transform: Affine) -> bool:
    """True for a transform without rotation and with rows going south."""
    return transform.b == 0 and transform.d == 0 and transform.a > 0 and transform.e < 0


def pixel_offset(transform: Affine, grid: Affine) -> tuple[int, int] | None:
    """Integer (row, col) offset of ``transform``'s origin in ``grid``'s pixels, None if not on the same grid."""
    if not (is_north_up(transform) and is_north_up(grid)):
        return None
    if not (math.isclose(transform.a, grid.a, rel_tol=1e-9) and math.isclose(transform.e, grid.e, rel_tol=1e-9)):
        return None
    col = (transform.c - grid.c) / grid.a
    row = (transform.f - grid.f) / grid.e
    icol, irow = round(col), round(row)
    if abs(col - icol) > ALIGN_TOLERANCE_PX or abs(row - irow) > ALIGN_TOLERANCE_PX:
        return None
    return irow, icol


def union_grid(transforms: Sequence[Affine], shapes: Sequence[tuple[int, int]]) -> GridSpec:
    """The smallest grid, on the first transform's pixel size, holding every (transform, (rows, cols)) extent.

    The shape is rounded like ``rasterio.merge`` (``round(extent / pixel size)``) and the origin is the union's
    upper-left corner.
    """
    if not transforms:
        raise ValueError("no tile to mosaic")
    lefts, bottoms, rights, tops = [], [], [], []
    for t, (rows, cols) in zip(transforms, shapes, strict=True):
        if not is_north_up(t):
            raise ValueError("only north-up tiles can be mosaicked")
        lefts.append(t.c)
        tops.append(t.f)
        rights.append(t.c + t.a * cols)
        bottoms.append(t.f + t.e * rows)
    res_x, res_y = transforms[0].a, -transforms[0].e
    left, top = min(lefts), max(tops)
    width = round((max(rights) - left) / res_x)
    height = round((top - min(bottoms)) / res_y)
    return GridSpec(Affine(res_x, 0.0, left, 0.0, -res_y, top), width, height)


def empty_mosaic(grid: GridSpec, bands: int, dtype: np.dtype[np.generic] | type, fill: float | int = 0) -> Mosaic:
    """A mosaic with no valid cell yet."""
    shape = (bands, grid.height, grid.width)
    return Mosaic(
        data=np.full(shape, fill, dtype=dtype),
        valid=np.zeros(shape, dtype=bool),
        source=np.full((grid.height, grid.width), -1, dtype=np.int16),
        covered=np.zeros((grid.height, grid.width), dtype=bool),
        grid=grid,
    )


def paste(mosaic: Mosaic, layer: Layer, index: int) -> int:
    """Paste ``layer`` where the mosaic is still invalid (band by band); return the number of cells written.

    Raises ValueError when the layer is not on the mosaic's grid or has another band count.
    """
    if layer.data.ndim != 3 or layer.data.shape != layer.valid.shape:
        raise ValueError("a layer is (bands, rows, cols) with a validity mask of the same shape")
    if layer.data.shape[0] != mosaic.data.shape[0]:
        raise ValueError(f"layer {index} has {layer.data.shape[0]} bands, the mosaic {mosaic.data.shape[0]}")
    off = pixel_offset(layer.transform, mosaic.grid.transform)
    if off is None:
        raise ValueError(f"layer {index} is not on the mosaic's pixel grid; resample it first")
    r0, c0 = off
    rows, cols = layer.data.shape[1:]
    # intersection of the layer with the mosaic, in mosaic and in layer pixels
    mr0, mc0 = max(r0, 0), max(c0, 0)
    mr1, mc1 = min(r0 + rows, mosaic.grid.height), min(c0 + cols, mosaic.grid.width)
    if mr1 <= mr0 or mc1 <= mc0:
        return 0
    lr0, lc0 = mr0 - r0, mc0 - c0
    lr1, lc1 = lr0 + (mr1 - mr0), lc0 + (mc1 - mc0)
    dst = mosaic.data[:, mr0:mr1, mc0:mc1]
    dvalid = mosaic.valid[:, mr0:mr1, mc0:mc1]
    src = layer.data[:, lr0:lr1, lc0:lc1]
    svalid = layer.valid[:, lr0:lr1, lc0:lc1]
    take = svalid & ~dvalid
    dst[take] = src[take]
    dvalid |= take
    src_any = take.any(axis=0)
    mosaic.source[mr0:mr1, mc0:mc1][src_any] = index
    mosaic.covered[mr0:mr1, mc0:mc1] = True
    return int(take.sum())


def mosaic_layers(layers: Sequence[Layer], grid: GridSpec | None = None, fill: float | int = 0) -> Mosaic:
    """Mosaic ``layers`` in priority order on ``grid`` (default: the union grid of the layers)."""
    if not layers:
        raise ValueError("no tile to mosaic")
    if grid is None:
        grid = union_grid([lay.transform for lay in layers], [(lay.data.shape[1], lay.data.shape[2]) for lay in layers])
    out = empty_mosaic(grid, layers[0].data.shape[0], layers[0].data.dtype, fill)
    for i, lay in enumerate(layers):
        paste(out, lay, i)
    return out
