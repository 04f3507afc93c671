"""viq_venus: the VENµS instrument model shared by the VIQ simulator and calibration processors.

Modules: :mod:`~viq_venus.bands` (band table, TDI codes), :mod:`~viq_venus.config` (pydantic configuration,
TOML loader), :mod:`~viq_venus.geometry` (GSD, timing, focal plane, attitude, displacement model),
:mod:`~viq_venus.radiometry` (two-slope response, dark, noise, defects), :mod:`~viq_venus.mtf` (analytic
MTF, edge spread, resampling kernels), :mod:`~viq_venus.gipp` (GIPP content models and XML files).
"""

from viq_venus.bands import BAND_NAMES, CENTRE_WAVELENGTH_NM, DN_MAX, TDI_SETTINGS, band_code, tdi_code
from viq_venus.config import InstrumentConfig, default_config, load_instrument_config

__version__ = "0.1.0"

__all__ = [
    "BAND_NAMES",
    "CENTRE_WAVELENGTH_NM",
    "DN_MAX",
    "TDI_SETTINGS",
    "InstrumentConfig",
    "band_code",
    "default_config",
    "load_instrument_config",
    "tdi_code",
]
