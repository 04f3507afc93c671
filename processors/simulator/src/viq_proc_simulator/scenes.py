"""Scene sources: synthetic fractal textures and DEMs, GeoTIFF scenes, and the ground grid.

A scene is a set of *components* (float32 reflectance-like fields on the padded ground grid) and, per band, a
linear mix of them scaled to TOA radiance. Fields are generated once per acquisition; band radiance rows are
computed on demand, so memory stays at a few fields whatever the band count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window, from_bounds

from viq_interfaces.errors import ConfigurationError, MissingInputError
from viq_proc_simulator.sites import Site
from viq_venus.config import InstrumentConfig

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Grid:
    """The ground grid of the nominal model: ``height`` × ``width`` pixels of ``gsd`` metres in ``crs``."""

    crs: str
    transform: Affine
    width: int
    height: int
    gsd: float

    def corners_lonlat(self) -> list[tuple[float, float]]:
        """Footprint ring (UL, UR, LR, LL, UL) in lon/lat (EPSG:4326)."""
        t = self.transform
        cr = [(0, 0), (self.width, 0), (self.width, self.height), (0, self.height)]
        pts = [(t.c + t.a * c + t.b * r, t.f + t.d * c + t.e * r) for c, r in cr]
        xs, ys = warp_transform(self.crs, "EPSG:4326", [p[0] for p in pts], [p[1] for p in pts])
        ring = [(round(float(x), 7), round(float(y), 7)) for x, y in zip(xs, ys, strict=True)]
        return [*ring, ring[0]]

    def footprint_wkt(self) -> str:
        """Footprint polygon WKT (lon lat)."""
        return "POLYGON ((" + ", ".join(f"{x} {y}" for x, y in self.corners_lonlat()) + "))"


def utm_crs(lon: float, lat: float) -> str:
    """EPSG code of the UTM zone of a point."""
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def site_grid(site: Site, width: int, height: int, gsd: float) -> Grid:
    """A north-up UTM grid centred on the site centroid."""
    crs = utm_crs(site.centroid_lon, site.centroid_lat)
    xs, ys = warp_transform("EPSG:4326", crs, [site.centroid_lon], [site.centroid_lat])
    x0 = round(float(xs[0]) - width * gsd / 2.0, 3)
    y0 = round(float(ys[0]) + height * gsd / 2.0, 3)
    return Grid(crs=crs, transform=Affine(gsd, 0.0, x0, 0.0, -gsd, y0), width=width, height=height, gsd=gsd)


def fractal_field(shape: tuple[int, int], rng: np.random.Generator, beta: float = 3.0) -> F32:
    """A random field with power spectrum ∝ 1/f^beta, scaled to 0…1 (float32)."""
    h, w = shape
    fy = np.fft.fftfreq(h).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(w).astype(np.float32)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    amp = f ** np.float32(-beta / 2.0)
    amp[0, 0] = 0.0
    spec = (rng.standard_normal((h, fx.shape[1]), dtype=np.float32)
            + 1j * rng.standard_normal((h, fx.shape[1]), dtype=np.float32)).astype(np.complex64)
    spec *= amp
    field = np.fft.irfft2(spec, s=(h, w)).astype(np.float32)
    lo, hi = np.percentile(field[:: max(1, h // 256), :: max(1, w // 256)], [0.5, 99.5])
    field -= np.float32(lo)
    field *= np.float32(1.0 / max(float(hi - lo), 1e-12))
    np.clip(field, 0.0, 1.0, out=field)
    return field


@dataclass
class Scene:
    """Components on the padded ground grid and the per-band mixing weights (radiance = Σ w_c · C_c)."""

    components: list[F32]
    weights: dict[str, tuple[float, ...]]
    description: str

    def band_rows(self, band: str, r0: int, r1: int) -> F32:
        """TOA radiance of ``band`` on padded rows ``r0:r1`` (all padded columns), float32."""
        w = self.weights[band]
        out = self.components[0][r0:r1] * np.float32(w[0])
        for comp, wc in zip(self.components[1:], w[1 : len(self.components)], strict=True):
            if wc != 0.0:
                out += comp[r0:r1] * np.float32(wc)
        if len(w) > len(self.components):
            out += np.float32(w[len(self.components)])
        return out


def _band_reflectance_weights(band: str) -> tuple[float, float, float]:
    """Mix of (blue, green, red) for a VENµS band; NIR bands brighten a vegetation-like mix."""
    idx = int(band[1:])
    if idx <= 3:
        return (1.0, 0.0, 0.0)
    if idx == 4:
        return (0.0, 1.0, 0.0)
    if idx <= 8:
        return (0.0, 0.0, 1.0)
    return (0.0, 1.1, 0.4)


def synthetic_scene(cfg: InstrumentConfig, bands: tuple[str, ...], shape: tuple[int, int], seed: int) -> Scene:
    """Two fractal components mixed per band: a textured, spectrally varied synthetic landscape."""
    rng = np.random.default_rng([seed, 0x5CE4E])
    c1 = fractal_field(shape, rng, 3.0)
    c2 = fractal_field(shape, rng, 2.4)
    weights: dict[str, tuple[float, ...]] = {}
    for band in bands:
        e = cfg.band(band).reference_radiance / 0.35  # radiance of a unit reflectance
        mix = 0.25 + 0.5 * (cfg.band(band).centre_nm - 424.0) / 485.0  # by wavelength: B5 and B6 see one scene
        weights[band] = (e * 0.45 * (1 - mix), e * 0.45 * mix, e * 0.05)
    return Scene([c1, c2], weights, "synthetic fractal (two components)")


def _normalise(arr: npt.NDArray[np.float64]) -> F32:
    valid = arr[np.isfinite(arr)]
    lo, hi = np.percentile(valid, [2.0, 98.0]) if valid.size else (0.0, 1.0)
    out = np.clip((arr - lo) / max(float(hi - lo), 1e-9), 0.0, 1.0)
    return np.nan_to_num(out, nan=0.5).astype(np.float32)


def _fit(arr: npt.NDArray[np.float64], shape: tuple[int, int]) -> npt.NDArray[np.float64]:
    """Centre-crop or mirror-pad a 2-D array to ``shape``."""
    h, w = shape
    ph, pw = max(0, h - arr.shape[0]), max(0, w - arr.shape[1])
    if ph or pw:
        arr = np.pad(arr, ((ph // 2 + 1, ph - ph // 2 + 1), (pw // 2 + 1, pw - pw // 2 + 1)), mode="symmetric")
    r0 = (arr.shape[0] - h) // 2
    c0 = (arr.shape[1] - w) // 2
    return arr[r0 : r0 + h, c0 : c0 + w]


def geotiff_scene(
    path: str, cfg: InstrumentConfig, bands: tuple[str, ...], shape: tuple[int, int], gsd: float, mode: str
) -> tuple[Scene, Grid | None]:
    """Scene from a GeoTIFF (1 or 3+ bands as B, G, R… order of the file: R, G, B for RGB files).

    ``pixel`` mode takes one source pixel per VENµS pixel around the image centre (the grid is placed at
    the source centre with the VENµS GSD); ``native`` resamples by georeferencing around the centre.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingInputError(f"scene_path: {path} does not exist")
    h, w = shape
    try:
        with rasterio.open(p) as src:
            cx, cy = src.xy(src.height // 2, src.width // 2)
            crs = src.crs.to_string() if src.crs else None
            if mode == "native" and crs:
                half_w, half_h = w * gsd / 2.0, h * gsd / 2.0
                win = from_bounds(cx - half_w, cy - half_h, cx + half_w, cy + half_h, src.transform)
                data = src.read(out_shape=(src.count, h, w), window=win, resampling=Resampling.bilinear,
                                boundless=True, fill_value=0).astype(np.float64)
            else:
                r0 = max(0, src.height // 2 - h // 2)
                c0 = max(0, src.width // 2 - w // 2)
                win = Window(c0, r0, min(w, src.width - c0), min(h, src.height - r0))
                data = np.stack([_fit(b.astype(np.float64), shape) for b in src.read(window=win)])
    except RasterioError as err:
        raise MissingInputError(f"scene_path: cannot read {path}: {err}") from err
    if data.shape[0] >= 3:
        red, green, blue = data[0], data[1], data[2]
    else:
        red = green = blue = data[0]
    comps = [_normalise(blue), _normalise(green), _normalise(red)]
    weights: dict[str, tuple[float, ...]] = {}
    for band in bands:
        e = cfg.band(band).reference_radiance / 0.35
        wb, wg, wr = _band_reflectance_weights(band)
        weights[band] = (e * 0.5 * wb, e * 0.5 * wg, e * 0.5 * wr, e * 0.03)
    grid = None
    if crs:
        x0 = round(float(cx) - w * gsd / 2.0, 3)
        y0 = round(float(cy) + h * gsd / 2.0, 3)
        grid = Grid(crs=crs, transform=Affine(gsd, 0.0, x0, 0.0, -gsd, y0), width=w, height=h, gsd=gsd)
    return Scene(comps, weights, f"GeoTIFF {p.name} ({mode})"), grid


def synthetic_dem(shape: tuple[int, int], relief_m: float, seed: int) -> npt.NDArray[np.float32]:
    """A fractal DEM with heights 0…relief_m."""
    rng = np.random.default_rng([seed, 0xDE3])
    return fractal_field(shape, rng, 3.6) * np.float32(relief_m)


def dem_from_file(path: str, shape: tuple[int, int], gsd: float) -> npt.NDArray[np.float32]:
    """Heights (m) around the centre of a DEM GeoTIFF, resampled to ``shape`` at ``gsd`` metres; voids filled."""
    p = Path(path)
    if not p.is_file():
        raise MissingInputError(f"dem_path: {path} does not exist")
    h, w = shape
    try:
        with rasterio.open(p) as src:
            cx, cy = src.xy(src.height // 2, src.width // 2)
            geographic = bool(src.crs and src.crs.is_geographic)
            sx = gsd / (111320.0 * math.cos(math.radians(cy))) if geographic else gsd
            sy = gsd / 110540.0 if geographic else gsd
            win = from_bounds(cx - w * sx / 2, cy - h * sy / 2, cx + w * sx / 2, cy + h * sy / 2, src.transform)
            data = src.read(1, out_shape=(h, w), window=win, resampling=Resampling.bilinear, masked=True)
    except RasterioError as err:
        raise MissingInputError(f"dem_path: cannot read {path}: {err}") from err
    arr = np.ma.filled(data.astype(np.float64), np.nan)
    arr[arr < -1000] = np.nan
    fill = float(np.nanmean(arr)) if np.isfinite(arr).any() else 0.0
    return np.nan_to_num(arr, nan=fill).astype(np.float32)


def check_positive(value: float, field: str) -> None:
    """ConfigurationError naming ``field`` when ``value`` is negative."""
    if value < 0:
        raise ConfigurationError(f"{field}: {value} must not be negative")
