"""PNG plots of the radiometry processors (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_dark(path: Path, estimates: Mapping[str, Any], in_force: Mapping[str, Any], tdi: int) -> None:
    """Dark level (and in-force difference) and temporal noise per detector, one row per band."""
    plt = _plt()
    n = len(estimates)
    fig, axes = plt.subplots(n, 2, figsize=(11, 2.6 * n), squeeze=False)
    for row, (band, est) in enumerate(estimates.items()):
        cols = np.arange(est.dark.size)
        ax = axes[row][0]
        ax.plot(cols, est.dark, lw=0.6, color="#1f4e79", label="dark")
        if est.hot.size:
            ax.plot(est.hot, est.dark[est.hot], "o", color="#c00000", ms=4, label="hot")
        if est.spikes:
            sc = [s.column for s in est.spikes]
            ax.plot(sc, est.dark[sc], "^", color="#ed7d31", ms=5, label="spike")
        if band in in_force:
            ax2 = ax.twinx()
            ax2.plot(cols, est.dark - in_force[band], lw=0.4, color="#7f7f7f")
            ax2.set_ylabel("Δ in force, DN", fontsize=7)
        ax.set_ylabel(f"{band} TDI {tdi}\ndark, DN")
        ax.legend(fontsize=7, loc="upper right")
        ax = axes[row][1]
        ax.plot(cols, est.noise, lw=0.6, color="#375623")
        ax.set_ylabel("temporal noise, DN")
    axes[-1][0].set_xlabel("detector")
    axes[-1][1].set_xlabel("detector")
    fig.suptitle("dark-signal: per-detector dark (sigma-clipped mean) and noise")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_relsen(path: Path, fits: Mapping[str, Any], striping: Mapping[str, tuple[float, float]], tdi: int) -> None:
    """a1, a2/a1, knee per detector with the out-of-order detectors, and striping before/after per band."""
    plt = _plt()
    n = len(fits)
    fig, axes = plt.subplots(n, 3, figsize=(13, 2.6 * n), squeeze=False)
    for row, (band, fit) in enumerate(fits.items()):
        cols = np.arange(fit.a1.size)
        valid = fit.valid
        ax = axes[row][0]
        ax.plot(cols[valid], fit.a1[valid], lw=0.6, color="#1f4e79")
        bad = sorted(fit.defects)
        if bad:
            ax.plot(bad, np.clip(fit.a1[bad], 0.8, 1.2), "x", color="#c00000", ms=6, label="out of order")
            ax.legend(fontsize=7)
        before, after = striping[band]
        ax.set_title(f"{band} TDI {tdi}: striping {before:.3f} % → {after:.4f} %", fontsize=8)
        ax.set_ylabel("a1")
        ax = axes[row][1]
        with np.errstate(divide="ignore", invalid="ignore"):
            ax.plot(cols[valid], (fit.a2 / fit.a1)[valid], lw=0.6, color="#375623")
        ax.set_ylabel("a2 / a1")
        ax = axes[row][2]
        ax.plot(cols[valid], fit.knee[valid], lw=0.6, color="#7030a0")
        ax.set_ylabel("knee Zs, DN")
    for ax in axes[-1]:
        ax.set_xlabel("detector")
    fig.suptitle("relative-sensitivity: two-slope response per detector")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_noise(path: Path, fits: Mapping[str, Any], tdi: int) -> None:
    """Variance against radiance with the fitted line, one panel per band."""
    plt = _plt()
    n = len(fits)
    ncol = min(n, 4)
    nrow = (n + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.8 * nrow), squeeze=False)
    for k, (band, fit) in enumerate(fits.items()):
        ax = axes[k // ncol][k % ncol]
        rad = np.array([lv.radiance for lv in fit.levels])
        var = np.array([lv.variance for lv in fit.levels])
        se = np.array([lv.variance_se for lv in fit.levels])
        ax.errorbar(rad, var, yerr=se, fmt="o", ms=3, color="#1f4e79")
        grid = np.linspace(0.0, float(rad.max()) * 1.05, 50)
        ax.plot(grid, fit.a + fit.b * grid, color="#c00000", lw=0.8)
        ax.set_title(f"{band} TDI {tdi}: A={fit.a:.3f}, B={fit.b:.4f}", fontsize=8)
        ax.set_xlabel("L, W m-2 sr-1 µm-1")
        ax.set_ylabel("σ², DN²")
    for k in range(n, nrow * ncol):
        axes[k // ncol][k % ncol].axis("off")
    fig.suptitle("noise-model: σ² = A + B·L")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_gains(path: Path, series: Mapping[str, Sequence[Any]], tdi: int) -> None:
    """A_k against time with error bars, one line per band."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    for band, ests in series.items():
        t = [e.when for e in ests]
        g = np.array([e.gain for e in ests])
        u = np.array([e.uncertainty for e in ests])
        ref = g[0]
        ax.errorbar(t, 100 * (g / ref - 1), yerr=100 * u / ref, fmt="o-", ms=3, lw=0.8, label=band)
    ax.set_ylabel("A_k change from first acquisition, %")
    ax.set_title(f"absolute-calibration: gain per acquisition (TDI {tdi})")
    ax.legend(fontsize=7, ncol=4)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_correction(path: Path, profiles: Mapping[str, tuple[F64, F64]], striping: Mapping[str, float]) -> None:
    """Column means of the raw (dark-subtracted) and corrected data, normalised, per band."""
    plt = _plt()
    n = len(profiles)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.4 * n), squeeze=False)
    for row, (band, (raw, corr)) in enumerate(profiles.items()):
        ax = axes[row][0]
        ax.plot(raw / np.nanmean(raw), lw=0.6, color="#7f7f7f", label="raw − dark")
        ax.plot(corr / np.nanmean(corr), lw=0.6, color="#1f4e79", label="corrected")
        ax.set_ylabel(f"{band}\nrelative")
        ax.set_title(f"{band}: residual striping {striping.get(band, float('nan')):.4f} %", fontsize=8)
        ax.legend(fontsize=7)
    axes[-1][0].set_xlabel("detector")
    fig.suptitle("radiometric-correction: column profiles")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
