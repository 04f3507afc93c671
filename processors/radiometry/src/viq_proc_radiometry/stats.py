"""Per-column (per-detector) robust statistics over lines, streamed in line blocks.

Two passes over the data: pass 1 takes a per-detector median and MAD scale from an evenly spread sample of
lines; pass 2 accumulates, per detector, the sum, sum of squares and count of the samples within
``clip_sigma`` scales of that median (one sigma-clipping step around a robust start), and counts the
samples above ``median + max(spike_sigma·scale, spike_min_dn)`` (spikes) with their excess. The clipped mean
has the efficiency of the plain mean for Gaussian noise (clip at ≥ 4σ) and ignores spikes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BlockSource = Callable[[], Iterable[npt.NDArray[np.generic]]]
"""Called once per pass; yields (lines × detectors) blocks of every acquisition in turn."""

MAD_TO_SIGMA = 1.4826
MIN_SCALE_DN = 0.5
"""Floor of the robust scale: DN are integers, a MAD of 0 must not clip everything."""


@dataclass(frozen=True)
class ColumnStats:
    """Robust per-detector statistics of a series of lines."""

    mean: F64
    """Sigma-clipped mean per detector."""
    std: F64
    """Standard deviation of the kept samples (unbiased)."""
    count: I64
    """Kept samples per detector."""
    median: F64
    """Pass-1 median per detector."""
    scale: F64
    """Pass-1 robust scale (1.4826·MAD, floored) per detector."""
    n_lines: int
    """Lines seen."""
    spike_count: I64
    """Samples above the spike threshold per detector."""
    spike_excess: F64
    """Sum of (sample − median) over spike samples."""
    spike_threshold: F64
    """Spike threshold above the median, DN."""
    saturated: I64
    """Samples at or above the saturation DN per detector."""

    @property
    def mean_uncertainty(self) -> F64:
        """Noise-limited standard error of the clipped mean per detector, std/√count."""
        out: F64 = self.std / np.sqrt(np.maximum(self.count, 1))
        return out


def column_stats(
    source: BlockSource,
    n_lines: int,
    n_pixels: int,
    *,
    clip_sigma: float = 4.0,
    spike_sigma: float = 8.0,
    spike_min_dn: float = 10.0,
    sample_lines: int = 512,
    saturation_dn: float = 1023.0,
) -> ColumnStats:
    """Robust per-detector statistics of the lines produced by ``source`` (called twice)."""
    if n_lines <= 0:
        raise ValueError("no line to analyse")
    step = max(1, n_lines // sample_lines)
    picked: list[npt.NDArray[np.float32]] = []
    offset = 0
    for block in source():
        n = block.shape[0]
        first = (-offset) % step
        picked.append(np.asarray(block[first::step], dtype=np.float32))
        offset += n
    sample = np.concatenate(picked, axis=0)
    median = np.median(sample, axis=0).astype(np.float64)
    scale = np.maximum(MAD_TO_SIGMA * np.median(np.abs(sample - median.astype(np.float32)), axis=0), MIN_SCALE_DN)
    scale = scale.astype(np.float64)
    del sample, picked
    lo = (median - clip_sigma * scale).astype(np.float32)
    hi = (median + clip_sigma * scale).astype(np.float32)
    spike_thr = np.maximum(spike_sigma * scale, spike_min_dn)
    spike_at = (median + spike_thr).astype(np.float32)
    med32 = median.astype(np.float32)
    total = np.zeros(n_pixels)
    total2 = np.zeros(n_pixels)
    count = np.zeros(n_pixels, dtype=np.int64)
    spikes = np.zeros(n_pixels, dtype=np.int64)
    excess = np.zeros(n_pixels)
    saturated = np.zeros(n_pixels, dtype=np.int64)
    seen = 0
    for block in source():
        b = np.asarray(block, dtype=np.float32)
        seen += b.shape[0]
        d = b - med32  # centred: sums of squares stay well conditioned in float64
        keep = (b >= lo) & (b <= hi)
        dk = np.where(keep, d, np.float32(0.0))
        total += dk.sum(axis=0, dtype=np.float64)
        total2 += np.square(dk, dtype=np.float32).sum(axis=0, dtype=np.float64)
        count += keep.sum(axis=0)
        sp = b > spike_at
        if sp.any():
            spikes += sp.sum(axis=0)
            excess += np.where(sp, d, np.float32(0.0)).sum(axis=0, dtype=np.float64)
        saturated += (b >= saturation_dn).sum(axis=0)
    n = np.maximum(count, 1)
    mean_c = total / n
    var = np.maximum(total2 - n * mean_c**2, 0.0) / np.maximum(count - 1, 1)
    return ColumnStats(
        mean=median + mean_c,
        std=np.sqrt(var),
        count=count,
        median=median,
        scale=scale,
        n_lines=seen,
        spike_count=spikes,
        spike_excess=excess,
        spike_threshold=spike_thr,
        saturated=saturated,
    )


def robust_z(values: F64, mask: npt.NDArray[np.bool_] | None = None) -> F64:
    """(v − median) / (1.4826·MAD) over ``mask`` (all finite values by default)."""
    use = np.isfinite(values) if mask is None else mask & np.isfinite(values)
    if not use.any():
        return np.zeros_like(values)
    med = float(np.median(values[use]))
    mad = MAD_TO_SIGMA * float(np.median(np.abs(values[use] - med)))
    out: F64 = (values - med) / max(mad, 1e-12)
    return out


def running_median(values: F64, window: int) -> F64:
    """Centred running median across detectors (edges padded by reflection); NaNs ignored."""
    half = window // 2
    padded = np.pad(values, half, mode="reflect")
    view = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    out: F64 = np.nanmedian(view, axis=1)
    return out
