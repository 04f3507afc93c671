"""Focal-plane geometry, line timing, attitude biases and jitter, and the per-band displacement model.

Conventions (used by the simulator's truth and by the geometric processors):

* Image axes: *across* track = columns (x, index j), *along* track = lines (y, index i).
* A displacement ``(dx, dy)`` in pixels means: pixel ``(i, j)`` of the band sees the ground point that the
  nominal model puts at ``(i + dy, j + dx)``. The image content therefore appears shifted by ``(-dx, -dy)``.
* Band ``b`` sits at along-track focal-plane position ``x_b`` (mm). Its view angle is ``θ_b = x_b / f`` and it
  sees a ground line ``t_b = H·θ_b / v_ground`` seconds after the focal-plane centre does (negative: before).
  The raw product is extracted with this nominal offset removed, so the band is line-aligned with the others
  up to the injected errors below.
* ``dx = fp_dx_b + k·roll(t) + yaw(t)·x_b/p + m·(j − j_c)``;
  ``dy = fp_dy_b + k·pitch(t) + m·x_b/p − yaw(t)·(j − j_c) − h·tan θ_b / GSD``
  with ``k = f/p`` pixels per radian, ``p`` the pitch, ``t = i·Δt + t_b``, ``h`` the terrain height (m) and
  ``m`` the focal homothety (a detector at focal-plane position (u, v) px sees nominal (1 + m)·(u, v)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from viq_venus.config import InstrumentConfig, JitterComponent

FloatArray = npt.NDArray[np.float64]


def orbital_speed_m_s(cfg: InstrumentConfig) -> float:
    """Orbital speed of a circular orbit at the configured altitude, m/s."""
    r = (cfg.orbit.earth_radius_km + cfg.orbit.altitude_km) * 1e3
    return math.sqrt(cfg.orbit.gm_m3_s2 / r)


def ground_speed_m_s(cfg: InstrumentConfig) -> float:
    """Speed of the sub-satellite point on the ground (Earth rotation neglected), m/s."""
    re = cfg.orbit.earth_radius_km
    return orbital_speed_m_s(cfg) * re / (re + cfg.orbit.altitude_km)


def gsd_m(cfg: InstrumentConfig) -> float:
    """Ground sampling distance at nadir: H·p/f (720 km → 5.35 m, 560 km → 4.16 m)."""
    return cfg.orbit.altitude_km * 1e3 * cfg.optics.pixel_pitch_um * 1e-6 / cfg.optics.focal_length_m


def line_period_s(cfg: InstrumentConfig) -> float:
    """Time between two lines: GSD / ground speed, s."""
    return gsd_m(cfg) / ground_speed_m_s(cfg)


def pixels_per_radian(cfg: InstrumentConfig) -> float:
    """Image displacement per radian of line-of-sight rotation: f / p."""
    return cfg.optics.focal_length_m / (cfg.optics.pixel_pitch_um * 1e-6)


def swath_km(cfg: InstrumentConfig) -> float:
    """Swath width of one array, km."""
    return cfg.pixels_per_array * gsd_m(cfg) / 1e3


def focal_plane_position_px(cfg: InstrumentConfig, band: str) -> float:
    """Along-track focal-plane position of the array of ``band`` in pixels (x_b / p)."""
    return focal_plane_position_mm(cfg, band) * 1e-3 / (cfg.optics.pixel_pitch_um * 1e-6)


def focal_plane_position_mm(cfg: InstrumentConfig, band: str) -> float:
    """Along-track focal-plane position of the array of ``band``, mm (from the focal-plane centre)."""
    unit, index = cfg.unit_of(band)
    return unit.along_track_mm + unit.array_offsets_mm[index]


def view_angle_rad(cfg: InstrumentConfig, band: str) -> float:
    """Along-track view angle of ``band``: atan(x_b / f)."""
    return math.atan(focal_plane_position_mm(cfg, band) * 1e-3 / cfg.optics.focal_length_m)


def time_offset_s(cfg: InstrumentConfig, band: str) -> float:
    """Acquisition-time offset of ``band`` within a line, relative to the focal-plane centre, s."""
    ground = cfg.orbit.altitude_km * 1e3 * math.tan(view_angle_rad(cfg, band))
    return ground / ground_speed_m_s(cfg)


def band_separation_deg(cfg: InstrumentConfig, a: str, b: str) -> float:
    """Angle between the lines of sight of two bands, degrees (B5/B6 ≈ 2°)."""
    return math.degrees(abs(view_angle_rad(cfg, a) - view_angle_rad(cfg, b)))


def focal_plane_offsets_px(cfg: InstrumentConfig) -> dict[str, tuple[float, float]]:
    """Injected per-band focal-plane offsets (dx across, dy along), px: explicit ones, else drawn from the seed."""
    rng = np.random.default_rng([cfg.instrument_seed, 0xF0CA1])
    out: dict[str, tuple[float, float]] = {}
    sigma = cfg.focal_plane.misregistration_sigma_px
    for band in sorted(cfg.bands, key=lambda b: int(b[1:])):
        draw = rng.normal(0.0, 1.0, 2) * sigma
        explicit = cfg.focal_plane.band_offset_px.get(band)
        pair = explicit if explicit is not None else (draw[0], draw[1])
        out[band] = (float(pair[0]), float(pair[1]))
    return out


@dataclass(frozen=True)
class Sinusoid:
    """One realised jitter line: ``amplitude·sin(2π·f·t + phase)`` on ``axis``, µrad."""

    axis: str
    frequency_hz: float
    amplitude_urad: float
    phase_rad: float


def jitter_realisation(cfg: InstrumentConfig, seed: int) -> tuple[Sinusoid, ...]:
    """The jitter of one acquisition: configured lines plus a random sum of sinusoids following the PSD.

    The random part has, per roll and pitch axis, ``n`` log-spaced frequencies between fmin and fmax with
    amplitude ``sqrt(2·PSD(f)·Δf)`` (so the variance matches the PSD integral) and random phases.
    """
    att = cfg.attitude
    rng = np.random.default_rng([seed, 0x717E5])
    lines: list[Sinusoid] = []
    comp: JitterComponent
    for comp in att.jitter:
        phase = comp.phase_rad if comp.phase_rad is not None else float(rng.uniform(0, 2 * math.pi))
        lines.append(Sinusoid(comp.axis, comp.frequency_hz, comp.amplitude_urad, phase))
    n = att.jitter_n_components
    if n > 0 and att.jitter_psd_urad2_per_hz > 0:
        edges = np.geomspace(att.jitter_fmin_hz, att.jitter_fmax_hz, n + 1)
        centres = np.sqrt(edges[:-1] * edges[1:])
        widths = np.diff(edges)
        amps = np.sqrt(2.0 * att.jitter_psd_urad2_per_hz * centres**att.jitter_psd_slope * widths)
        for axis in ("roll", "pitch"):
            phases = rng.uniform(0, 2 * math.pi, n)
            for f, a, p in zip(centres, amps, phases, strict=True):
                lines.append(Sinusoid(axis, float(f), float(a), float(p)))
    return tuple(lines)


def attitude_urad(cfg: InstrumentConfig, jitter: tuple[Sinusoid, ...], axis: str, t: FloatArray) -> FloatArray:
    """Bias + jitter of ``axis`` at times ``t`` (s), µrad."""
    att = cfg.attitude
    bias = {"roll": att.roll_bias_urad, "pitch": att.pitch_bias_urad, "yaw": att.yaw_bias_urad}
    out = np.full(np.shape(t), bias[axis], dtype=np.float64)
    for s in jitter:
        if s.axis == axis:
            out += s.amplitude_urad * np.sin(2 * math.pi * s.frequency_hz * t + s.phase_rad)
    return out


@dataclass(frozen=True)
class BandDisplacement:
    """Displacement model of one band over the lines of an acquisition (see the module conventions).

    ``dx_line``/``dy_line`` hold the terms that vary only with the line (focal plane, roll/pitch, the yaw
    term of ``dx``, the homothety term ``m·x_b/p`` of ``dy``); ``yaw_rad_line`` gives the column term
    ``dy -= yaw·(j − j_c)``; ``homothety`` the column term ``dx += m·(j − j_c)``; ``terrain_px_per_m`` the
    along-track parallax per metre of height (``dy -= h·terrain_px_per_m``).
    """

    band: str
    dx_line: FloatArray
    dy_line: FloatArray
    yaw_rad_line: FloatArray
    centre_column: float
    terrain_px_per_m: float
    time_offset_s: float
    homothety: float = 0.0

    def dx(self, lines: slice | FloatArray, columns: FloatArray) -> FloatArray:
        """Across-track displacement at (lines × columns), px."""
        out = np.broadcast_to(self.dx_line[lines][:, None], (len(self.dx_line[lines]), len(columns))).copy()
        if self.homothety:
            out += self.homothety * (np.asarray(columns, dtype=np.float64)[None, :] - self.centre_column)
        return out

    def dy(self, lines: slice | FloatArray, columns: FloatArray, height_m: FloatArray | None = None) -> FloatArray:
        """Along-track displacement at (lines × columns), px (terrain included when heights are given)."""
        out = self.dy_line[lines][:, None] - self.yaw_rad_line[lines][:, None] * (columns[None, :] - self.centre_column)
        if height_m is not None:
            out = out - height_m * self.terrain_px_per_m
        return np.asarray(out, dtype=np.float64)


def band_displacement(
    cfg: InstrumentConfig, band: str, n_lines: int, n_columns: int, jitter: tuple[Sinusoid, ...]
) -> BandDisplacement:
    """The displacement model of ``band`` for an acquisition of ``n_lines`` lines."""
    k = pixels_per_radian(cfg)
    tb = time_offset_s(cfg, band)
    t = np.arange(n_lines, dtype=np.float64) * line_period_s(cfg) + tb
    roll = attitude_urad(cfg, jitter, "roll", t) * 1e-6
    pitch = attitude_urad(cfg, jitter, "pitch", t) * 1e-6
    yaw = attitude_urad(cfg, jitter, "yaw", t) * 1e-6
    fp_dx, fp_dy = focal_plane_offsets_px(cfg)[band]
    xb_px = focal_plane_position_px(cfg, band)
    m = cfg.attitude.focal_homothety
    dx = fp_dx + k * roll + yaw * xb_px
    dy = fp_dy + k * pitch + m * xb_px
    terrain = math.tan(view_angle_rad(cfg, band)) / gsd_m(cfg)
    return BandDisplacement(band, dx, dy, yaw, (n_columns - 1) / 2.0, terrain, tb, m)
