"""Helpers shared by the simulator tests: read a simulated band and the truth GIPPs of a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio

from viq_proc_simulator import SimulationRun
from viq_proc_simulator.products import WrittenProduct
from viq_venus.gipp import read_gipp


def band_array(product: WrittenProduct, band: str) -> npt.NDArray[np.float64]:
    """One band of a product as float64."""
    with rasterio.open(product.band_files[band]) as ds:
        return ds.read(1).astype(np.float64)


def truth_gipp_array(
    run: SimulationRun, gipp_type: str, band: str, field: str, serial: int = 1
) -> npt.NDArray[np.float64]:
    """A sidecar array of the truth GIPP ``gipp_type`` of ``band`` (acquisition ``serial``)."""
    for g in run.gipps:
        if g.gipp_type == gipp_type and g.band == band and f"_{serial:05d}_" in g.path.name:
            return read_gipp(g.path).array(field).astype(np.float64)
    raise AssertionError(f"no {gipp_type} for {band}")


def all_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def phase_shift(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(dx, dy) such that b(p) ≈ a(p − d): phase-slope fit of the cross spectrum at low frequencies."""
    a = (a - a.mean()) * np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    b = (b - b.mean()) * np.outer(np.hanning(b.shape[0]), np.hanning(b.shape[1]))
    cross = np.fft.fft2(b) * np.conj(np.fft.fft2(a))
    fy = np.fft.fftfreq(a.shape[0])[:, None] * np.ones((1, a.shape[1]))
    fx = np.fft.fftfreq(a.shape[1])[None, :] * np.ones((a.shape[0], 1))
    sel = (np.hypot(fx, fy) < 0.15) & (np.hypot(fx, fy) > 0.01)
    phase = np.angle(cross[sel])
    w = np.sqrt(np.abs(cross[sel]))
    design = np.stack([fx[sel], fy[sel]], axis=1) * (-2 * np.pi)
    sol = np.linalg.lstsq(design * w[:, None], phase * w, rcond=None)[0]
    return float(sol[0]), float(sol[1])
