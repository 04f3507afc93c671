"""Radiometric correction: raw DN → linear signal x (or TOA radiance) with a set of GIPPs.

x = inverse two-slope(DN − dark; a1, a2, Zs); L = x / A_k when a physical gain is given. Out-of-order detectors
(GIP_OUTORD) are replaced by linear interpolation between the nearest valid detectors on each side (nearest
valid detector at the array ends) — the interpolation rule written in the candidate GIP_OUTORD notes.
Saturated samples (DN ≥ dn_max) become NaN.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from viq_proc_radiometry.relsen import inverse_response

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

INTERPOLATION_RULE = "LINEAR_NEAREST_VALID"
"""Out-of-order detectors: linear interpolation between the nearest valid detectors on each side."""


@dataclass(frozen=True)
class Interpolator:
    """Precomputed neighbours and weights of the out-of-order detectors."""

    columns: npt.NDArray[np.int64]
    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]
    frac: F64

    @classmethod
    def build(cls, n_pixels: int, bad: Iterable[int]) -> Interpolator:
        """Neighbours of every bad detector among the valid ones; ValueError if none is valid."""
        cols = np.array(sorted({int(c) for c in bad if 0 <= int(c) < n_pixels}), dtype=np.int64)
        good = np.setdiff1d(np.arange(n_pixels), cols)
        if cols.size and good.size == 0:
            raise ValueError("every detector is out of order")
        r = np.searchsorted(good, cols)
        left = good[np.clip(r - 1, 0, good.size - 1)] if cols.size else cols
        right = good[np.clip(r, 0, good.size - 1)] if cols.size else cols
        left = np.where(r == 0, right, left)
        right = np.where(r >= good.size, left, right)
        span = (right - left).astype(np.float64)
        frac = np.where(span > 0, (cols - left) / np.where(span > 0, span, 1.0), 0.0)
        return cls(cols, left.astype(np.int64), right.astype(np.int64), frac)

    def apply(self, values: F32) -> None:
        """Fill the bad columns of ``values`` (lines × detectors) in place."""
        if self.columns.size:
            f = self.frac.astype(np.float32)
            values[:, self.columns] = (1 - f) * values[:, self.left] + f * values[:, self.right]


def correct_block(
    dn: npt.NDArray[np.generic],
    dark: F64,
    a1: F64,
    a2: F64,
    knee: F64,
    interp: Interpolator,
    gain: float | None = None,
    dn_max: float = 1023.0,
) -> F32:
    """Corrected block (float32): x, or L when ``gain`` is given; NaN where saturated."""
    d = np.asarray(dn, dtype=np.float64)
    x = inverse_response(d - dark[None, :], a1[None, :], a2[None, :], knee[None, :])
    if gain is not None:
        x = x / gain
    out = x.astype(np.float32)
    interp.apply(out)
    out[d >= dn_max] = np.nan
    return out
