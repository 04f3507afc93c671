"""Candidate GIPP files (VENµS Earth Explorer XML with .npy sidecars, via :mod:`viq_venus.gipp`) and GIPPs in force.

Candidates are written with file class ``TEST`` by default, validity from the first input's sensing day
(open end unless given), the processor as ``Creator``. Reading a GIPP checks its type, band and TDI against
the data and raises :class:`~viq_interfaces.errors.GippError` naming the file when they disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from viq_interfaces.errors import GippError
from viq_proc_radiometry import PROCESSOR_VERSION
from viq_venus.bands import band_code, tdi_code
from viq_venus.gipp import (
    ArrayRef,
    BandNoiseModel,
    BandPhysicalGain,
    ColRange,
    DarkGippContent,
    DefectItem,
    GippContent,
    GippFile,
    GippName,
    NoiseModelContent,
    OutOfOrderContent,
    PhysicalGainContent,
    RelativeSensitivityContent,
    SpikeCoefficients,
    TdiConfigurationDefect,
    TdiNoiseModel,
    TdiPhysicalGain,
    make_header,
    read_gipp,
    save_array,
    sidecar_path,
    write_gipp,
)

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Stamp:
    """What every candidate of one run shares."""

    creator: str
    file_class: str
    serial: int
    validity_start: datetime | None
    validity_stop: datetime | None
    notes: str = ""


def _write(folder: Path, stamp: Stamp, content: GippContent, band: str | None, tdi: int | None, notes: str) -> Path:
    header = make_header(
        content, creator=stamp.creator, creator_version=PROCESSOR_VERSION,
        creation_date=datetime.now(UTC).replace(tzinfo=None, microsecond=0), file_class=stamp.file_class,
        validity_start=stamp.validity_start, validity_stop=stamp.validity_stop, serial=stamp.serial, band=band,
        tdi=tdi, notes=" ".join(x for x in (stamp.notes, notes) if x),
    )
    return write_gipp(folder, header, content)


def _refs(folder: Path, stamp: Stamp, file_type: str, band: str, tdi: int | None,
          arrays: dict[str, F64]) -> dict[str, ArrayRef]:
    name = str(GippName(
        stamp.file_class, file_type, "L", "ALLSITES", stamp.serial,
        stamp.validity_start.date() if stamp.validity_start else None,
        stamp.validity_stop.date() if stamp.validity_stop else None, band, (tdi,) if tdi else None,
    ))
    return {k: save_array(sidecar_path(folder, name, k), v.astype(np.float32)) for k, v in arrays.items()}


def write_dark(folder: Path, stamp: Stamp, band: str, tdi: int, dark: F64, hot: list[int],
               spikes: list[tuple[int, float, float, float]], notes: str = "") -> Path:
    """GIP_DARKCU; ``spikes`` are (column, threshold, amplitude, probability)."""
    r = _refs(folder, stamp, "GIP_DARKCU", band, tdi, {"dark_currents": dark})
    content = DarkGippContent(
        band_code=band_code(band), tdi=tdi, n_pixels=int(dark.size), dark_currents=r["dark_currents"],
        spikes=tuple(SpikeCoefficients(pixel_position=c, pixel_threshold=t, amplitude=max(a, 0.0),
                                       probability=p) for c, t, a, p in spikes),
        hot_pixels=tuple(hot),
    )
    return _write(folder, stamp, content, band, tdi, notes)


def write_relsen(folder: Path, stamp: Stamp, band: str, tdi: int, a1: F64, a2: F64, knee: F64,
                 notes: str = "") -> Path:
    """GIP_RELSEN."""
    r = _refs(folder, stamp, "GIP_RELSEN", band, tdi, {"a1": a1, "a2": a2, "knee": knee})
    content = RelativeSensitivityContent(band_code=band_code(band), tdi=tdi, n_pixels=int(a1.size), a1=r["a1"],
                                         a2=r["a2"], knee=r["knee"])
    return _write(folder, stamp, content, band, tdi, notes)


def write_outord(folder: Path, stamp: Stamp, band: str, tdis: tuple[int, ...], defects: dict[int, str],
                 notes: str = "") -> Path:
    """GIP_OUTORD (one band, one TDI set); the interpolation rule goes in the notes."""
    items = tuple(DefectItem(col_range=ColRange(first=c, last=c), defect_type=t)
                  for c, t in sorted(defects.items()))
    content = OutOfOrderContent(band_code=band_code(band), tdi_defects=(
        TdiConfigurationDefect(tdi_code=tdi_code(tdis), defects=items),))
    return _write(folder, stamp, content, band, None, notes)


def write_noise(folder: Path, stamp: Stamp, models: dict[str, dict[int, tuple[float, float]]], notes: str = "") -> Path:
    """GIP_NOISMO from {band: {tdi: (A, B)}}."""
    content = NoiseModelContent(bands=tuple(
        BandNoiseModel(band_code=band_code(b), tdi_models=tuple(
            TdiNoiseModel(tdi=t, a_coefficient=max(a, 0.0), b_coefficient=max(bb, 0.0))
            for t, (a, bb) in sorted(per.items())))
        for b, per in models.items()))
    return _write(folder, stamp, content, None, None, notes)


def write_phgain(folder: Path, stamp: Stamp, gains: dict[str, dict[int, float]], notes: str = "") -> Path:
    """GIP_PHGAIN from {band: {tdi: A_k}}."""
    content = PhysicalGainContent(bands=tuple(
        BandPhysicalGain(band_code=band_code(b), tdi_gains=tuple(
            TdiPhysicalGain(tdi=t, physical_gain=g) for t, g in sorted(per.items())))
        for b, per in gains.items()))
    return _write(folder, stamp, content, None, None, notes)


# ------------------------------------------------------------------------------------------------ reading
def open_gipp(path: Path, gipp_type: str) -> GippFile:
    """Read a GIPP of ``gipp_type``; GippError naming the file otherwise."""
    return read_gipp(path, expected_type=gipp_type)


def _check_band_tdi(gf: GippFile, band: str, tdi: int | None, n_pixels: int | None) -> None:
    content = gf.content
    code = getattr(content, "band_code", None)
    if code is not None and code != band_code(band):
        raise GippError(f"{gf.path.name}: GIPP is for band {code}, data are {band_code(band)}")
    gtdi = getattr(content, "tdi", None)
    if tdi is not None and gtdi is not None and gtdi != tdi:
        raise GippError(f"{gf.path.name}: GIPP is for TDI {gtdi}, data are TDI {tdi}")
    n = getattr(content, "n_pixels", None)
    if n_pixels is not None and n is not None and n < n_pixels:
        raise GippError(f"{gf.path.name}: GIPP has {n} detectors, data have {n_pixels}")


def load_dark(path: Path, band: str, tdi: int, n_pixels: int) -> F64:
    """Dark per detector from a GIP_DARKCU (first ``n_pixels`` detectors)."""
    gf = open_gipp(path, "GIP_DARKCU")
    _check_band_tdi(gf, band, tdi, n_pixels)
    return np.asarray(gf.array("dark_currents"), dtype=np.float64)[:n_pixels]


def load_relsen(path: Path, band: str, tdi: int, n_pixels: int) -> tuple[F64, F64, F64]:
    """(a1, a2, knee) from a GIP_RELSEN."""
    gf = open_gipp(path, "GIP_RELSEN")
    _check_band_tdi(gf, band, tdi, n_pixels)
    return tuple(np.asarray(gf.array(f), dtype=np.float64)[:n_pixels] for f in ("a1", "a2", "knee"))  # type: ignore[return-value]


def load_outord(path: Path, band: str, tdi: int) -> dict[int, str]:
    """Out-of-order detectors of ``band`` valid for ``tdi``."""
    gf = open_gipp(path, "GIP_OUTORD")
    _check_band_tdi(gf, band, None, None)
    content = gf.content
    assert isinstance(content, OutOfOrderContent)
    out: dict[int, str] = {}
    for block in content.tdi_defects:
        if tdi_code(tdi)[(32, 16, 8, 4, 2, 1).index(tdi)] == block.tdi_code[(32, 16, 8, 4, 2, 1).index(tdi)] == "1":
            for d in block.defects:
                for c in range(d.col_range.first, d.col_range.last + 1):
                    out[c] = d.defect_type
    return out


def load_phgain(path: Path, band: str, tdi: int) -> float:
    """A_k of ``band`` at ``tdi`` from a GIP_PHGAIN."""
    gf = open_gipp(path, "GIP_PHGAIN")
    content = gf.content
    assert isinstance(content, PhysicalGainContent)
    try:
        return content.gain(band, tdi)
    except KeyError as err:
        raise GippError(f"{path.name}: no physical gain for {band} TDI {tdi}") from err


def load_noise(path: Path, band: str, tdi: int) -> tuple[float, float]:
    """(A, B) of ``band`` at ``tdi`` from a GIP_NOISMO."""
    gf = open_gipp(path, "GIP_NOISMO")
    content = gf.content
    assert isinstance(content, NoiseModelContent)
    try:
        return content.coefficients(band, tdi)
    except KeyError as err:
        raise GippError(f"{path.name}: no noise model for {band} TDI {tdi}") from err
