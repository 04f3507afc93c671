"""Dark signal of one band and TDI: per-detector robust level, hot pixels, spike detectors (DESIGN §8).

Method: :func:`~viq_proc_radiometry.stats.column_stats` over every line of every dark acquisition (median/MAD
start, one ±4σ clipping step, spikes counted above ``median + max(8σ, 10 DN)``). A detector is *hot* when its
dark level is more than ``hot_sigma`` robust standard deviations (over the array) above the array median, and
at least ``hot_min_dn`` above it. A detector is a *spike* detector when at least ``spike_min_count`` of its
samples exceed the spike threshold; its amplitude is the median excess (mean of the excess here) and its
probability the fraction of lines with a spike. The noise-limited bound of the dark is σ_j/√N_j per detector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from viq_proc_radiometry.stats import BlockSource, ColumnStats, column_stats, robust_z

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SpikeDetector:
    """A detector producing dark spikes."""

    column: int
    threshold_dn: float
    amplitude_dn: float
    probability: float
    count: int


@dataclass(frozen=True)
class DarkEstimate:
    """Result of :func:`estimate_dark`."""

    dark: F64
    """Dark level per detector, DN."""
    uncertainty: F64
    """Noise-limited standard error per detector, DN."""
    noise: F64
    """Temporal noise (clipped std) per detector, DN."""
    hot: I64
    """Hot detectors (0-based)."""
    spikes: tuple[SpikeDetector, ...]
    n_lines: int
    stats: ColumnStats

    @property
    def bound_rms(self) -> float:
        """RMS of the noise-limited bound over detectors: sqrt(mean σ_j²/N_j)."""
        return float(np.sqrt(np.mean(self.uncertainty**2)))

    @property
    def mean_level(self) -> float:
        """Mean dark level over detectors, DN."""
        return float(np.mean(self.dark))


def estimate_dark(
    source: BlockSource,
    n_lines: int,
    n_pixels: int,
    *,
    clip_sigma: float = 4.0,
    spike_sigma: float = 8.0,
    spike_min_dn: float = 10.0,
    spike_min_count: int = 2,
    hot_sigma: float = 7.0,
    hot_min_dn: float = 2.0,
) -> DarkEstimate:
    """Dark level, hot pixels and spike detectors from the dark lines of ``source``."""
    st = column_stats(
        source, n_lines, n_pixels, clip_sigma=clip_sigma, spike_sigma=spike_sigma, spike_min_dn=spike_min_dn
    )
    z = robust_z(st.mean)
    excess = st.mean - float(np.median(st.mean))
    hot = np.flatnonzero((z > hot_sigma) & (excess > hot_min_dn)).astype(np.int64)
    spikes = []
    for col in np.flatnonzero(st.spike_count >= spike_min_count):
        c = int(col)
        n = int(st.spike_count[c])
        spikes.append(
            SpikeDetector(
                column=c,
                threshold_dn=float(st.spike_threshold[c]),
                amplitude_dn=float(st.spike_excess[c] / n),
                probability=min(1.0, n / max(st.n_lines, 1)),
                count=n,
            )
        )
    return DarkEstimate(
        dark=st.mean,
        uncertainty=st.mean_uncertainty,
        noise=st.std,
        hot=hot,
        spikes=tuple(spikes),
        n_lines=st.n_lines,
        stats=st,
    )


def not_dark_reason(est: DarkEstimate, max_level_dn: float, max_noise_dn: float) -> str | None:
    """Why the frames are not dark (median level or temporal noise too high), or None."""
    level = float(np.median(est.dark))
    noise = float(np.median(est.noise))
    if level > max_level_dn:
        return f"median level {level:.1f} DN exceeds {max_level_dn:g} DN (scene or lit content?)"
    if noise > max_noise_dn:
        return f"median temporal noise {noise:.2f} DN exceeds {max_noise_dn:g} DN (scene content?)"
    return None
