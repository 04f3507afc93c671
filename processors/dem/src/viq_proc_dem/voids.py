"""Void detection and void filling (pure numpy/scipy).

* :func:`find_voids` labels void regions (4-connected, as in the SRTM void statistics).
* :func:`laplace_fill` fills voids with the harmonic (Laplace) interpolant of the surrounding valid cells: the
  smoothest surface matching the void's border exactly, so filled regions join the data without a seam.
* :func:`delta_fill` fills voids from a secondary DEM plus a Laplace-interpolated correction surface (the
  "delta surface" method), so a biased secondary source leaves no step at the void border.

Mask codes written by :func:`fill_voids`: ``ORIGINAL`` (0), ``FROM_SECONDARY`` (1), ``INTERPOLATED`` (2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, sparse
from scipy.sparse.linalg import spsolve

from viq_proc_dem.errors import AllVoidError

ORIGINAL = 0
FROM_SECONDARY = 1
INTERPOLATED = 2

_FOUR = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class VoidSummary:
    """Void statistics of a DEM: cells, 4-connected regions and the largest region's size."""

    cells: int
    regions: int
    largest: int
    total: int

    @property
    def fraction(self) -> float:
        """Void cells over all cells."""
        return self.cells / self.total if self.total else 0.0


def find_voids(void: NDArray[np.bool_]) -> VoidSummary:
    """Count void cells and 4-connected void regions."""
    labels, n = ndimage.label(void, structure=_FOUR)
    largest = int(np.bincount(labels.ravel())[1:].max()) if n else 0
    return VoidSummary(cells=int(void.sum()), regions=int(n), largest=largest, total=int(void.size))


def laplace_fill(
    z: NDArray[np.floating], unknown: NDArray[np.bool_], known: NDArray[np.bool_] | None = None
) -> NDArray[np.float64]:
    """Solve Laplace's equation on the ``unknown`` cells with the ``known`` cells as fixed boundary values.

    ``known`` defaults to every other cell. Neighbours that are neither unknown nor known, and the array border,
    act as zero-gradient boundaries. Raises AllVoidError when a connected unknown region touches no known cell.
    """
    out = np.array(z, dtype=np.float64, copy=True)
    if not unknown.any():
        return out
    known_m = ~unknown if known is None else (known & ~unknown)
    labels, n = ndimage.label(unknown, structure=_FOUR)
    touching = ndimage.binary_dilation(known_m, structure=_FOUR) & unknown
    ok = np.unique(labels[touching])
    if len(ok) < n:
        raise AllVoidError(f"{n - len(ok)} void region(s) have no valid neighbour to interpolate from")
    rows, cols = unknown.shape
    idx = np.full(unknown.shape, -1, dtype=np.int64)
    rr, cc = np.nonzero(unknown)
    m = rr.size
    idx[rr, cc] = np.arange(m)
    diag = np.zeros(m)
    rhs = np.zeros(m)
    ri: list[NDArray[np.int64]] = []
    ci: list[NDArray[np.int64]] = []
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        nr, nc = rr + dr, cc + dc
        inside = np.nonzero((nr >= 0) & (nr < rows) & (nc >= 0) & (nc < cols))[0]
        nidx = idx[nr[inside], nc[inside]]
        unk = nidx >= 0
        ri.append(inside[unk])
        ci.append(nidx[unk])
        diag[inside[unk]] += 1
        kn = inside[~unk]
        kn = kn[known_m[nr[kn], nc[kn]]]
        diag[kn] += 1
        rhs[kn] += out[nr[kn], nc[kn]]
    r_all = np.concatenate(ri)
    c_all = np.concatenate(ci)
    diag_idx = np.arange(m)
    a = sparse.csc_matrix(
        (np.concatenate([diag, -np.ones(r_all.size)]),
         (np.concatenate([diag_idx, r_all]), np.concatenate([diag_idx, c_all]))),
        shape=(m, m),
    )
    out[rr, cc] = spsolve(a, rhs)
    return out


def delta_fill(
    z: NDArray[np.floating],
    void: NDArray[np.bool_],
    secondary: NDArray[np.floating],
    secondary_valid: NDArray[np.bool_],
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Fill void cells where the secondary DEM is valid with ``secondary + delta``.

    ``delta`` (primary − secondary) is known where both are valid and Laplace-interpolated across each void;
    a void region with no cell where both are valid next to it takes the secondary as it is. Returns the new
    heights and the mask of cells filled.
    """
    out = np.array(z, dtype=np.float64, copy=True)
    use = void & secondary_valid
    if not use.any():
        return out, use
    both = ~void & secondary_valid
    delta = np.where(both, out - np.where(secondary_valid, secondary, 0.0), 0.0)
    labels, _ = ndimage.label(void, structure=_FOUR)
    touching = ndimage.binary_dilation(both, structure=_FOUR) & void
    anchored_ids = np.unique(labels[touching])
    anchored = np.isin(labels, anchored_ids[anchored_ids > 0])
    if anchored.any():
        delta = laplace_fill(delta, anchored, known=both)
    delta = np.where(anchored, delta, 0.0)
    out[use] = secondary[use] + delta[use]
    return out, use


@dataclass(frozen=True)
class FillResult:
    """Filled heights and the per-cell fill code (ORIGINAL, FROM_SECONDARY, INTERPOLATED)."""

    z: NDArray[np.float64]
    code: NDArray[np.uint8]


def fill_voids(
    z: NDArray[np.floating],
    valid: NDArray[np.bool_],
    secondary: NDArray[np.floating] | None = None,
    secondary_valid: NDArray[np.bool_] | None = None,
) -> FillResult:
    """Fill every invalid cell: from the secondary DEM first (delta surface), then by Laplace interpolation."""
    if not valid.any():
        raise AllVoidError("the DEM has no valid cell to fill its voids from")
    code = np.zeros(z.shape, dtype=np.uint8)
    out = np.where(valid, np.asarray(z, dtype=np.float64), np.nan)
    void = ~valid
    if secondary is not None and secondary_valid is not None and void.any():
        out, used = delta_fill(np.where(valid, out, 0.0), void, secondary, secondary_valid)
        code[used] = FROM_SECONDARY
        void = void & ~used
    if void.any():
        out = laplace_fill(np.where(void, 0.0, out), void)
        code[void] = INTERPOLATED
    return FillResult(z=out, code=code)
