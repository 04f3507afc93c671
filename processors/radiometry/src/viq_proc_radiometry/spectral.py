"""Spectral band adjustment factors (SBAF) for cross-calibration against another sensor.

VENµS relative spectral responses: ``data/srs_venus.csv`` (tab-separated, 300–2599 nm, 1 nm), a byte copy of
CNES sensorsio ``src/sensorsio/data/venus/srs_venus.csv`` (commit 5a9b2bfc, Apache-2.0, © CNES / UT3; see
``data/NOTICE-sensorsio.txt`` and ``data/LICENSE-Apache-2.0.txt``).

Sentinel-2 responses are not in the shared data; **assumption**: each S2A MSI band is a Gaussian with the
published centre wavelength and FWHM (ESA S2 MSI user guide, S2A values). The scene spectrum is a model of a
bright desert (Libya-4-like): reflectance rising linearly from 0.20 at 400 nm to 0.50 at 1000 nm, under a
5778 K black-body solar spectrum. The SBAF of VENµS band v against reference band r is the ratio of their
band-averaged radiances for that spectrum::

    SBAF = [∫ ρE R_v dλ / ∫ R_v dλ] / [∫ ρE R_r dλ / ∫ R_r dλ],   L_v = SBAF · L_r

Both assumptions are replaceable: :func:`sbaf` takes any spectrum and response table.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

S2A_BANDS: dict[str, tuple[float, float]] = {
    "B1": (442.7, 21.0), "B2": (492.4, 66.0), "B3": (559.8, 36.0), "B4": (664.6, 31.0), "B5": (704.1, 15.0),
    "B6": (740.5, 15.0), "B7": (782.8, 20.0), "B8": (832.8, 106.0), "B8A": (864.7, 21.0), "B9": (945.1, 20.0),
}
"""S2A MSI band centre and FWHM, nm (ESA Sentinel-2 MSI user guide)."""

VENUS_TO_S2: dict[str, str] = {
    "B1": "B1", "B2": "B1", "B3": "B2", "B4": "B3", "B5": "B4", "B6": "B4", "B7": "B4", "B8": "B5",
    "B9": "B6", "B10": "B7", "B11": "B8A", "B12": "B8A",
}
"""Closest S2A band to each VENµS band (B12 909 nm: B8A, since S2 B9 is a water-vapour band)."""


@lru_cache(maxsize=1)
def venus_responses() -> tuple[F64, dict[str, F64]]:
    """Wavelengths (nm) and the 12 VENµS relative spectral responses."""
    text = resources.files("viq_proc_radiometry").joinpath("data/srs_venus.csv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line.strip()]
    header = rows[0]
    data = np.array([[float(v) for v in r] for r in rows[1:]])
    wl = data[:, header.index("wavelength")]
    return wl, {name: data[:, i] for i, name in enumerate(header) if name.startswith("B")}


def s2a_response(band: str, wavelength: F64) -> F64:
    """Gaussian approximation of an S2A band response (see the module doc)."""
    centre, fwhm = S2A_BANDS[band]
    sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    out: F64 = np.exp(-0.5 * ((wavelength - centre) / sigma) ** 2)
    return out


def desert_spectrum(wavelength: F64) -> F64:
    """Relative TOA radiance spectrum of the model desert (reflectance ramp × 5778 K black body)."""
    lam = wavelength * 1e-9
    h, c, k = 6.62607015e-34, 2.99792458e8, 1.380649e-23
    planck = 1.0 / (lam**5 * (np.exp(h * c / (lam * k * 5778.0)) - 1.0))
    rho = 0.20 + 0.30 * np.clip((wavelength - 400.0) / 600.0, 0.0, None)
    out: F64 = rho * planck / planck.max()
    return out


def band_average(spectrum: F64, response: F64) -> float:
    """∫ spectrum·R / ∫ R on a common 1 nm grid."""
    return float(np.sum(spectrum * response) / np.sum(response))


def sbaf(venus_band: str, reference_band: str, sensor: str = "S2A", spectrum: F64 | None = None) -> float:
    """L_venus / L_reference for the model (or given) spectrum; 1 for the same sensor."""
    if sensor.upper() in ("VENUS", "TRUTH"):
        return 1.0
    if sensor.upper() != "S2A":
        raise ValueError(f"no spectral responses for sensor {sensor!r} (known: S2A)")
    wl, resp = venus_responses()
    if venus_band not in resp:
        raise ValueError(f"unknown VENµS band {venus_band!r}")
    if reference_band not in S2A_BANDS:
        raise ValueError(f"unknown S2A band {reference_band!r}")
    spec = desert_spectrum(wl) if spectrum is None else spectrum
    return band_average(spec, resp[venus_band]) / band_average(spec, s2a_response(reference_band, wl))
