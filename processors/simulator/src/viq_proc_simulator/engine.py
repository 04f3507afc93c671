"""The forward model: radiance field → displaced, blurred band image → DN, in blocks of lines.

One :class:`Acquisition` is one simulated product (one date, site, TDI; several bands). It is fully set up
(and every configuration check done) in its constructor, before anything is written. Blocks of
``BLOCK_LINES`` lines are rendered independently, each band/block with its own random stream
``(seed, band, block)``, so the output does not depend on how blocks are scheduled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from affine import Affine

from viq_interfaces.errors import ConfigurationError
from viq_proc_simulator.params import SimulatorParameters
from viq_proc_simulator.scenes import (
    Grid,
    Scene,
    dem_from_file,
    geotiff_scene,
    site_grid,
    synthetic_dem,
    synthetic_scene,
)
from viq_proc_simulator.sites import Site
from viq_venus import geometry, mtf, radiometry
from viq_venus.config import InstrumentConfig

BLOCK_LINES = 256
"""Lines per processing block (fixed: part of the determinism contract)."""
CHUNK = 16
"""Columns sharing one along-track kernel (yaw term quantised per chunk; error ≤ |yaw|·8 px)."""
NODATA_L1 = -9999.0

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AcquisitionSpec:
    """One product to simulate."""

    kind: str
    """dark, flat, side_slither, desert, edge, scene or terrain."""
    index: int
    """1-based item number in the run (serial key of truth GIPPs)."""
    site: Site
    sensing_time: datetime
    seed: int
    level: float | None = None
    tag: str = ""
    scene_seed: int | None = None
    """Seed of the synthetic scene and DEM; None = ``seed`` (a campaign may share one ground over its dates)."""


@dataclass
class BandState:
    """Everything fixed for one band of one acquisition."""

    band: str
    maps: radiometry.PixelMaps
    gain: float
    gain_l1: float
    noise_a: float
    noise_b: float
    displacement: geometry.BandDisplacement
    defect_columns: npt.NDArray[np.int64]
    good_columns: npt.NDArray[np.int64]
    tdi: int = 8


@dataclass
class BlockOut:
    """One rendered block of one band."""

    dn: npt.NDArray[np.uint16]
    radiance: F32
    saturated: npt.NDArray[np.bool_]
    spikes: list[tuple[int, int, float]] = field(default_factory=list)


def check_params(params: SimulatorParameters, cfg: InstrumentConfig) -> None:
    """Every consistency check of parameters against the instrument; ConfigurationError naming the field."""
    if not params.bands:
        raise ConfigurationError("bands: no band requested")
    for band in params.bands:
        if band not in cfg.bands:
            raise ConfigurationError(f"bands: unknown band {band!r} (configured: {', '.join(cfg.bands)})")
    if len(set(params.bands)) != len(params.bands):
        raise ConfigurationError("bands: a band is listed twice")
    cfg.check_tdi(params.tdi, "tdi")
    for band, tdi in params.tdi_per_band.items():
        if band not in params.bands:
            raise ConfigurationError(f"tdi_per_band: band {band!r} is not among the simulated bands")
        cfg.check_tdi(tdi, f"tdi_per_band.{band}")
    support = mtf.psf_support_px(cfg)
    if params.lines < support:
        raise ConfigurationError(f"lines: image of {params.lines} lines is smaller than the PSF ({support} px)")
    if params.pixels < support:
        raise ConfigurationError(f"pixels: image of {params.pixels} pixels is smaller than the PSF ({support} px)")
    if params.pixels > cfg.pixels_per_array:
        raise ConfigurationError(f"pixels: {params.pixels} exceeds the {cfg.pixels_per_array} detectors of an array")
    if any(level < 0 for level in params.levels):
        raise ConfigurationError("levels: radiance levels must not be negative")
    if not params.levels and params.acquisition == "flat":
        raise ConfigurationError("levels: a flat acquisition needs at least one level")
    if params.slither_max <= params.slither_min:
        raise ConfigurationError("slither_max: must exceed slither_min")
    if params.edge_high <= params.edge_low:
        raise ConfigurationError("edge_high: must exceed edge_low")


class Acquisition:
    """One simulated acquisition, set up and checked; render blocks with :meth:`render_block`."""

    def __init__(self, spec: AcquisitionSpec, params: SimulatorParameters, cfg: InstrumentConfig) -> None:
        check_params(params, cfg)
        self.spec = spec
        self.params = params
        self.cfg = cfg
        self.kind = spec.kind
        self.lines = params.lines
        self.pixels = params.pixels
        self.tdi = params.tdi
        self.gsd = geometry.gsd_m(cfg)
        self.line_period = geometry.line_period_s(cfg)
        self.jitter = geometry.jitter_realisation(cfg, spec.seed)
        l1_when = params.l1_gain_date
        self.bands: dict[str, BandState] = {}
        for band in params.bands:
            tdi = params.tdi_per_band.get(band, self.tdi)
            maps = radiometry.pixel_maps(cfg, band, tdi, self.pixels)
            a, b = radiometry.noise_coefficients(cfg, band, tdi, spec.sensing_time)
            defects = np.array(sorted(d.column for d in maps.defects), dtype=np.int64)
            good = np.setdiff1d(np.arange(self.pixels), defects)
            self.bands[band] = BandState(
                band=band,
                maps=maps,
                gain=radiometry.absolute_gain(cfg, band, tdi, spec.sensing_time),
                gain_l1=radiometry.absolute_gain(cfg, band, tdi, l1_when),
                noise_a=a,
                noise_b=b,
                displacement=geometry.band_displacement(cfg, band, self.lines, self.pixels, self.jitter),
                defect_columns=defects,
                good_columns=good,
                tdi=tdi,
            )
        self.grid: Grid = site_grid(spec.site, self.pixels, self.lines, self.gsd)
        self.scene: Scene | None = None
        self.dem: npt.NDArray[np.float32] | None = None
        self.profile: F64 | None = None
        self.margin = 0
        self.padded_width = self.pixels
        if self.kind in ("scene", "terrain"):
            self._setup_scene()
        elif self.kind == "side_slither":
            rng = np.random.default_rng([spec.seed, 0x511])
            n = self.lines + self.pixels
            prof = np.cumsum(rng.normal(0.0, 1.0, n))
            prof = np.convolve(prof, np.ones(15) / 15.0, mode="same")
            prof = (prof - prof.min()) / max(float(np.ptp(prof)), 1e-9)
            self.profile = params.slither_min + (params.slither_max - params.slither_min) * prof

    @property
    def tdis(self) -> dict[str, int]:
        """TDI of each band."""
        return {band: st.tdi for band, st in self.bands.items()}

    @property
    def common_tdi(self) -> int | None:
        """The TDI of every band, or None when bands differ."""
        values = set(self.tdis.values())
        return values.pop() if len(values) == 1 else None

    @property
    def scene_seed(self) -> int:
        """Seed of the synthetic scene and DEM."""
        return self.spec.seed if self.spec.scene_seed is None else self.spec.scene_seed

    # ------------------------------------------------------------------ set-up
    def _max_displacement(self) -> float:
        worst = 0.0
        for st in self.bands.values():
            d = st.displacement
            yaw = float(np.max(np.abs(d.yaw_rad_line))) * self.pixels / 2.0
            scale = abs(d.homothety) * self.pixels / 2.0
            terrain = 0.0 if self.dem is None else float(np.max(np.abs(self.dem))) * abs(d.terrain_px_per_m)
            worst = max(worst, float(np.max(np.abs(d.dx_line))) + scale,
                        float(np.max(np.abs(d.dy_line))) + yaw + terrain)
        return worst

    def _setup_scene(self) -> None:
        p = self.params
        if self.kind == "terrain":
            shape = (self.lines, self.pixels)
            self.dem = dem_from_file(p.dem_path, shape, self.gsd) if p.dem_path else synthetic_dem(
                shape, p.relief_m, self.scene_seed
            )
        k = self.cfg.mtf.kernel_taps
        self.margin = k // 2 + 5 + math.ceil(self._max_displacement())
        width = self.pixels + 2 * self.margin
        self.padded_width = width + (-width) % CHUNK
        shape = (self.lines + 2 * self.margin, self.padded_width)
        if p.scene_path:
            scene, grid = geotiff_scene(p.scene_path, self.cfg, p.bands, shape, self.gsd, p.scene_mode)
            if grid is not None:
                m = self.margin
                t = grid.transform
                shifted = Affine(t.a, t.b, t.c + (t.a + t.b) * m, t.d, t.e, t.f + (t.d + t.e) * m)
                self.grid = Grid(grid.crs, shifted, self.pixels, self.lines, self.gsd)
        else:
            scene = synthetic_scene(self.cfg, p.bands, shape, self.scene_seed)
        self.scene = scene

    # ------------------------------------------------------------------ radiance fields
    def reference_rows(self, band: str, i0: int, i1: int) -> F32:
        """Undisplaced, unblurred scene radiance on the ground grid (the reference ortho image)."""
        if self.scene is None:
            return self._simple_radiance(band, i0, i1)
        m = self.margin
        return np.ascontiguousarray(self.scene.band_rows(band, m + i0, m + i1)[:, m : m + self.pixels])

    def _simple_radiance(self, band: str, i0: int, i1: int) -> F32:
        n = i1 - i0
        if self.kind == "dark":
            return np.zeros((n, self.pixels), dtype=np.float32)
        if self.kind == "flat":
            level = float(self.spec.level or 0.0)
            return np.full((n, self.pixels), level, dtype=np.float32)
        if self.kind == "desert":
            return np.full((n, self.pixels), self.cfg.band(band).reference_radiance, dtype=np.float32)
        if self.kind == "side_slither":
            assert self.profile is not None
            idx = np.arange(i0, i1)[:, None] + np.arange(self.pixels)[None, :]
            prof: F32 = self.profile[idx].astype(np.float32)
            return prof
        if self.kind == "edge":
            return self._edge_rows(band, i0, i1, displaced=False)
        raise ConfigurationError(f"acquisition: unknown kind {self.kind!r}")

    def _edge_rows(self, band: str, i0: int, i1: int, displaced: bool) -> F32:
        p = self.params
        cols = np.arange(self.pixels, dtype=np.float64)
        rows = np.arange(i0, i1, dtype=np.float64)
        x = np.broadcast_to(cols[None, :], (i1 - i0, self.pixels)).astype(np.float64)
        y = np.broadcast_to(rows[:, None], (i1 - i0, self.pixels)).astype(np.float64)
        if displaced:
            d = self.bands[band].displacement
            x = x + d.dx(slice(i0, i1), cols)
            y = y + d.dy(slice(i0, i1), cols)
        xc, yc = (self.pixels - 1) / 2.0, (self.lines - 1) / 2.0
        th = math.radians(p.edge_angle_deg)
        if p.edge_direction == "across":
            dist = (x - xc) * math.cos(th) - (y - yc) * math.sin(th)
        else:
            dist = (y - yc) * math.cos(th) + (x - xc) * math.sin(th)
        esf = mtf.edge_spread(dist, self.cfg, band, p.edge_direction, p.edge_angle_deg) if displaced else (
            (dist > 0).astype(np.float64) + 0.5 * (dist == 0)
        )
        return (p.edge_low + (p.edge_high - p.edge_low) * esf).astype(np.float32)

    def band_radiance(self, band: str, i0: int, i1: int) -> F32:
        """At-sensor radiance seen by the detectors of lines ``i0:i1`` (blur and displacement applied)."""
        if self.kind == "edge":
            return self._edge_rows(band, i0, i1, displaced=True)
        if self.scene is None:
            return self._simple_radiance(band, i0, i1)
        if self.dem is not None:
            return self._warp_general(band, i0, i1)
        return self._warp_fast(band, i0, i1)

    def _warp_fast(self, band: str, i0: int, i1: int) -> F32:
        """Separable blur + shift with block-constant integer bases (smooth displacement, no terrain)."""
        assert self.scene is not None
        st = self.bands[band]
        d = st.displacement
        m, nb, wg, k = self.margin, i1 - i0, self.padded_width, self.cfg.mtf.kernel_taps
        nch = wg // CHUNK
        centre_cols = np.clip(np.arange(nch) * CHUNK + (CHUNK - 1) / 2.0 - m, 0, self.pixels - 1)
        dy = d.dy(slice(i0, i1), centre_cols)
        ny0 = math.floor(float(dy.min()))
        r_span = math.floor(float(dy.max()) - ny0) + 1
        taps = np.arange(-(k // 2), k // 2 + r_span + 2, dtype=np.int64)
        rows = self.scene.band_rows(band, m + i0 + ny0 + int(taps[0]), m + i1 + ny0 + int(taps[-1]))
        w = mtf.resampling_weights(dy - ny0, taps, self.cfg, band, "along").astype(np.float32)
        acc = np.zeros((nb, nch, CHUNK), dtype=np.float32)
        tmp = np.empty_like(acc)
        for t in range(taps.size):
            if not w[:, :, t].any():
                continue
            np.multiply(rows[t : t + nb].reshape(nb, nch, CHUNK), w[:, :, t, None], out=tmp)
            acc += tmp
        along = acc.reshape(nb, wg)
        return self._across(along, band, i0, i1)

    def _across(self, along: F32, band: str, i0: int, i1: int) -> F32:
        """Across-track blur + shift of along-track-resampled rows (padded columns) to the detector columns."""
        d = self.bands[band].displacement
        if d.homothety:
            return self._across_chunked(along, band, i0, i1)
        m, nb, k = self.margin, i1 - i0, self.cfg.mtf.kernel_taps
        dx = d.dx_line[i0:i1]
        nx0 = math.floor(float(dx.min()))
        rx_span = math.floor(float(dx.max()) - nx0) + 1
        taps_x = np.arange(-(k // 2), k // 2 + rx_span + 2, dtype=np.int64)
        wx = mtf.resampling_weights(dx - nx0, taps_x, self.cfg, band, "across").astype(np.float32)
        out = np.zeros((nb, self.pixels), dtype=np.float32)
        tmp2 = np.empty_like(out)
        for t in range(taps_x.size):
            if not wx[:, t].any():
                continue
            c0 = m + nx0 + int(taps_x[t])
            np.multiply(along[:, c0 : c0 + self.pixels], wx[:, t, None], out=tmp2)
            out += tmp2
        return out

    def _across_chunked(self, along: F32, band: str, i0: int, i1: int) -> F32:
        """Across pass when dx varies along the line (homothety): one kernel per line and CHUNK columns.

        The column term is taken at each chunk's centre (error ≤ |m|·CHUNK/2 px), like the yaw term of the
        along-track pass.
        """
        d = self.bands[band].displacement
        m, nb, k = self.margin, i1 - i0, self.cfg.mtf.kernel_taps
        nch = -(-self.pixels // CHUNK)
        width = nch * CHUNK
        centres = np.clip(np.arange(nch) * CHUNK + (CHUNK - 1) / 2.0, 0, self.pixels - 1)
        dx = d.dx(slice(i0, i1), centres)
        nx0 = math.floor(float(dx.min()))
        rx_span = math.floor(float(dx.max()) - nx0) + 1
        taps_x = np.arange(-(k // 2), k // 2 + rx_span + 2, dtype=np.int64)
        wx = mtf.resampling_weights(dx - nx0, taps_x, self.cfg, band, "across").astype(np.float32)
        need = m + nx0 + int(taps_x[-1]) + width - along.shape[1]
        lead = max(0, -(m + nx0 + int(taps_x[0])))
        if need > 0 or lead:
            along = np.pad(along, ((0, 0), (lead, max(need, 0))), mode="edge")
        out = np.zeros((nb, nch, CHUNK), dtype=np.float32)
        tmp = np.empty_like(out)
        for t in range(taps_x.size):
            if not wx[:, :, t].any():
                continue
            c0 = lead + m + nx0 + int(taps_x[t])
            np.multiply(along[:, c0 : c0 + width].reshape(nb, nch, CHUNK), wx[:, :, t, None], out=tmp)
            out += tmp
        return np.ascontiguousarray(out.reshape(nb, width)[:, : self.pixels])

    def _warp_general(self, band: str, i0: int, i1: int) -> F32:
        """Per-pixel along-track displacement (terrain parallax): gather-based, for moderate sizes."""
        assert self.scene is not None and self.dem is not None
        st = self.bands[band]
        d = st.displacement
        m, nb, wg, k = self.margin, i1 - i0, self.padded_width, self.cfg.mtf.kernel_taps
        gcols = np.clip(np.arange(wg) - m, 0, self.pixels - 1)
        heights = self.dem[i0:i1][:, gcols].astype(np.float64)
        dy = d.dy(slice(i0, i1), gcols.astype(np.float64), heights)
        pos = m + np.arange(i0, i1)[:, None] + dy
        base = np.floor(pos).astype(np.int64)
        taps = np.arange(-(k // 2), k // 2 + 3, dtype=np.int64)
        lo = int(base.min() + taps[0])
        hi = int(base.max() + taps[-1]) + 1
        rows = self.scene.band_rows(band, lo, hi)
        w = mtf.resampling_weights(pos - base, taps, self.cfg, band, "along").astype(np.float32)
        colidx = np.arange(wg)[None, :]
        along = np.zeros((nb, wg), dtype=np.float32)
        for t in range(taps.size):
            along += w[:, :, t] * rows[base + taps[t] - lo, colidx]
        if d.homothety:
            return self._across_chunked(along, band, i0, i1)
        dx = d.dx_line[i0:i1]
        nx0 = math.floor(float(dx.min()))
        rx_span = math.floor(float(dx.max()) - nx0) + 1
        taps_x = np.arange(-(k // 2), k // 2 + rx_span + 2, dtype=np.int64)
        wx = mtf.resampling_weights(dx - nx0, taps_x, self.cfg, band, "across").astype(np.float32)
        out = np.zeros((nb, self.pixels), dtype=np.float32)
        for t in range(taps_x.size):
            c0 = m + nx0 + int(taps_x[t])
            out += wx[:, t, None] * along[:, c0 : c0 + self.pixels]
        return out

    # ------------------------------------------------------------------ radiometry
    def render_block(self, band: str, block: int) -> BlockOut:
        """DN (uint16), at-sensor radiance and saturation mask of block ``block`` of ``band``."""
        st = self.bands[band]
        maps = st.maps
        i0 = block * BLOCK_LINES
        i1 = min(self.lines, i0 + BLOCK_LINES)
        radiance = self.band_radiance(band, i0, i1)
        rng = np.random.default_rng([self.spec.seed, int(band[1:]), block, 0xD11])
        # Z = a1·x + (a2 − a1)·max(x − Zs, 0): the two-slope response, in place
        x = radiance * np.float32(st.gain)
        value = x - maps.knee.astype(np.float32)
        np.maximum(value, 0.0, out=value)
        value *= (maps.a2 - maps.a1).astype(np.float32)
        x *= maps.a1.astype(np.float32)
        value += x
        value += maps.dark.astype(np.float32)
        # σ² = A + B·L per column, folded with the NOISY factor and the BLIND (no shot noise) mask
        nf2 = maps.noise_factor**2
        a_col = (st.noise_a * nf2).astype(np.float32)
        b_col = (st.noise_b * nf2 * (maps.a1 > 0)).astype(np.float32)
        std = radiance * b_col
        std += a_col
        np.sqrt(std, out=std)
        noise = rng.standard_normal(radiance.shape, dtype=np.float32)
        noise *= std
        value += noise
        spikes: list[tuple[int, int, float]] = []
        px = self.cfg.pixels
        if maps.spike_columns.size and px.spike_probability > 0:
            hits = rng.random((i1 - i0, maps.spike_columns.size)) < px.spike_probability
            amp = np.float32(px.spike_amplitude_dn)
            for r, c in zip(*np.nonzero(hits), strict=True):
                col = int(maps.spike_columns[c])
                value[r, col] += amp
                spikes.append((i0 + int(r), col, float(amp)))
        np.rint(value, out=value)
        dn_max = self.cfg.dn_max
        saturated = value >= dn_max
        np.clip(value, 0, dn_max, out=value)
        return BlockOut(value.astype(np.uint16), radiance, saturated, spikes)

    def n_blocks(self) -> int:
        """Blocks of BLOCK_LINES lines."""
        return (self.lines + BLOCK_LINES - 1) // BLOCK_LINES

    def l1_from_dn(self, band: str, dn: npt.NDArray[np.uint16]) -> F32:
        """L1-like TOA radiance from raw DN with the GIPPs in force (truth maps, ``gain_l1``).

        Out-of-order columns are interpolated from their good neighbours; saturated pixels are NODATA_L1.
        """
        st = self.bands[band]
        maps = st.maps
        z = dn.astype(np.float64) - maps.dark
        x = radiometry.inverse_two_slope(z, maps.a1, maps.a2, maps.knee)
        lum = x / st.gain_l1
        if st.defect_columns.size and st.good_columns.size >= 2:
            good = st.good_columns
            for col in st.defect_columns:
                right = int(np.searchsorted(good, col))
                left_col = good[max(right - 1, 0)]
                right_col = good[min(right, good.size - 1)]
                if left_col == right_col:
                    lum[:, col] = lum[:, left_col]
                else:
                    f = (col - left_col) / (right_col - left_col)
                    lum[:, col] = (1 - f) * lum[:, left_col] + f * lum[:, right_col]
        lum[dn >= self.cfg.dn_max] = NODATA_L1
        return lum.astype(np.float32)

    # ------------------------------------------------------------------ in-memory
    def render(self, band: str) -> BlockOut:
        """The whole band in memory (tests and small in-process uses)."""
        parts = [self.render_block(band, b) for b in range(self.n_blocks())]
        return BlockOut(
            np.concatenate([p.dn for p in parts]),
            np.concatenate([p.radiance for p in parts]),
            np.concatenate([p.saturated for p in parts]),
            [s for p in parts for s in p.spikes],
        )
