"""The VENµS band table and TDI settings (DESIGN §7, FACTS.md §5).

Band names are ``B1``…``B12``; file names use the three-character codes ``B01``…``B12``.
"""

from __future__ import annotations

BAND_NAMES: tuple[str, ...] = tuple(f"B{i}" for i in range(1, 13))
"""The 12 band names in order."""

CENTRE_WAVELENGTH_NM: dict[str, float] = {
    "B1": 424.0,
    "B2": 447.0,
    "B3": 492.0,
    "B4": 555.0,
    "B5": 620.0,
    "B6": 620.0,
    "B7": 666.0,
    "B8": 702.0,
    "B9": 741.0,
    "B10": 782.0,
    "B11": 861.0,
    "B12": 909.0,
}
"""Band centroids in nm, computed from the sensorsio spectral responses (FACTS.md §5)."""

TDI_SETTINGS: tuple[int, ...] = (1, 4, 8, 16, 32)
"""Allowed TDI settings (number of stages); there is no 2."""

DN_MAX = 1023
"""10-bit output: DN values are clipped to 0…1023."""


def band_code(band: str) -> str:
    """File-name band code: ``B3`` → ``B03``."""
    if band not in CENTRE_WAVELENGTH_NM:
        raise ValueError(f"unknown band {band!r}; expected one of {', '.join(BAND_NAMES)}")
    return f"B{int(band[1:]):02d}"


def band_from_code(code: str) -> str:
    """Band name from a file-name code: ``B03`` → ``B3``."""
    band = f"B{int(code[1:])}" if len(code) == 3 and code[0] == "B" and code[1:].isdigit() else code
    if band not in CENTRE_WAVELENGTH_NM:
        raise ValueError(f"unknown band code {code!r}")
    return band


def tdi_code(tdis: int | tuple[int, ...] | list[int]) -> str:
    """Six-character TDI-set code of the ICD: flags for 32, 16, 08, 04, (02 always 0), 01.

    ``tdi_code(8)`` → ``"001000"``; ``tdi_code((32, 16, 8, 4))`` → ``"111100"``.
    """
    values = (tdis,) if isinstance(tdis, int) else tuple(tdis)
    for t in values:
        if t not in TDI_SETTINGS:
            raise ValueError(f"TDI {t} is not one of {TDI_SETTINGS}")
    return "".join("1" if t in values else "0" for t in (32, 16, 8, 4, 2, 1))


def tdis_from_code(code: str) -> tuple[int, ...]:
    """Inverse of :func:`tdi_code`, sorted ascending."""
    if len(code) != 6 or set(code) - {"0", "1"} or code[4] != "0":
        raise ValueError(f"invalid TDI-set code {code!r}")
    return tuple(sorted(t for t, c in zip((32, 16, 8, 4, 2, 1), code, strict=True) if c == "1"))
