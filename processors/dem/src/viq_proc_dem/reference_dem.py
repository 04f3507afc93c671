"""Processor ``reference-dem``: the L1 reference DEM (AUX_REFDE1) of a site from source DEM tiles."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pyproj
from affine import Affine
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from pyproj import Transformer
from rasterio.crs import CRS

from viq_interfaces import (
    InputPort,
    InputProduct,
    Measurement,
    OutputPort,
    OutputProduct,
    Processor,
    ProcessorDeclaration,
    ProcessorResult,
    Resources,
    RunContext,
    RunStatus,
)
from viq_interfaces.errors import ParameterError
from viq_proc_dem import __version__, refde1, report, sites
from viq_proc_dem.errors import AllVoidError, CoverageError, DemInputError, SiteError
from viq_proc_dem.geoid import GeoidGrid, read_gtx
from viq_proc_dem.mosaic import GridSpec, Mosaic, empty_mosaic, paste
from viq_proc_dem.rasterio_io import (
    TileInfo,
    bounds_in,
    crs_equivalent,
    lonlat_of,
    open_tile,
    parse_crs,
    read_on_grid,
    snap_grid,
    warp,
    write_cog,
)
from viq_proc_dem.stats import describe, metric_pixel_size, slope_aspect
from viq_proc_dem.voids import FROM_SECONDARY, INTERPOLATED, fill_voids, find_voids

PRODUCT_TYPE = "AUX_REFDE1"
REPORT_TYPE = "IMQ_DEMQLT"
TILE_TYPES = ("AUX_SRTM3_", "AUX_SRTM1_", "AUX_COPDEM", "AUX_DEMTIL")
GEOID_TYPE = "AUX_GEOID_"
DEFAULT_DATUM = {"AUX_SRTM3_": "EGM96", "AUX_SRTM1_": "EGM96", "AUX_COPDEM": "EGM2008"}
ELLIPSOID = "ellipsoid"
SOURCE_PAD_PX = 3
"""Source cells kept around the output extent so the resampling stencil never runs off the mosaic."""


class ReferenceDemParameters(BaseModel):
    """Parameters of ``reference-dem``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str = Field(default="", description="Site name; looked up in site_list when footprint_wkt is empty.")
    site_list: str = Field(default="", description="GeoJSON site list (VENµS venus_sites.geojson) for site names.")
    footprint_wkt: str = Field(default="", description="Site footprint, lon/lat WKT polygon (EPSG:4326).")
    crs: str = Field(default="auto", description="Output CRS ('EPSG:32631', WKT) or 'auto' for the site's UTM zone.")
    resolution: float = Field(default=5.0, gt=0, description="Output pixel size in output CRS units.")
    origin_x: float = Field(default=0.0, description="Grid origin x: pixel corners lie at origin_x + k·resolution.")
    origin_y: float = Field(default=0.0, description="Grid origin y: pixel corners lie at origin_y + k·resolution.")
    bounds: tuple[float, float, float, float] | None = Field(
        default=None, description="Explicit output extent (left, bottom, right, top) in the output CRS; "
        "default: the footprint's extent plus margin_m."
    )
    margin_m: float = Field(default=0.0, ge=0, description="Margin added around the footprint (output CRS units).")
    resampling: Literal["bilinear", "cubic", "cubic_spline", "lanczos", "nearest"] = Field(
        default="bilinear", description="Resampling onto the site grid."
    )
    require_full_coverage: bool = Field(
        default=True, description="Refuse the run when the tiles leave part of the output grid uncovered; when "
        "False those cells are nodata and the run ends with a warning."
    )
    fill_voids: bool = Field(default=True, description="Fill voids (secondary source first, then Laplace).")
    max_void_fraction: float = Field(
        default=0.5, gt=0, le=1, description="Refuse the run when more of the working area than this is void."
    )
    output_heights: Literal["ellipsoid", "geoid"] = Field(
        default="ellipsoid", description="Heights above the WGS 84 ellipsoid, or kept above the source's geoid."
    )
    source_vertical_datum: str = Field(
        default="", description="Vertical datum of the 'tiles' port (EGM96, EGM2008, ellipsoid); default from "
        "the product type (AUX_SRTM*: EGM96, AUX_COPDEM: EGM2008) or the product metadata 'vertical_datum'."
    )
    secondary_vertical_datum: str = Field(default="", description="Vertical datum of the 'secondary' port.")
    geoid_grid: str = Field(default="", description="EGM96 undulation grid (.gtx); the 'geoid' port wins.")
    geoid_grids: dict[str, str] = Field(
        default_factory=dict, description="Further geoid grids by datum name, e.g. {'EGM2008': '/path/egm08.gtx'}."
    )
    slope_aspect: bool = Field(default=True, description="Also write slope and aspect COGs.")
    compress: Literal["DEFLATE", "ZSTD", "LZW"] = Field(default="DEFLATE", description="COG compression.")
    warp_tolerance_px: float = Field(
        default=0.125, ge=0, le=1, description="GDAL's approximation error of the warp transformation in source "
        "pixels (gdalwarp -et; 0 = exact per pixel, slower)."
    )
    num_threads: int = Field(default=1, ge=1, le=64, description="GDAL threads for warping and compression.")
    file_class: str = Field(default="TEST", pattern=r"^[A-Z0-9_]{4}$", description="Earth Explorer file class.")
    file_version: int = Field(default=1, ge=0, le=9999, description="File version (4 digits in the name).")
    validity_start: date | None = Field(default=None, description="First day of validity (header); None = "
                                        "beginning of mission.")
    validity_stop: date | None = Field(default=None, description="End of validity (exclusive); None = end of "
                                       "mission.")


@dataclass
class SourceStack:
    """One source (port) mosaicked on the working grid."""

    mosaic: Mosaic
    tiles: list[TileInfo]
    datum: str | None
    crs: CRS


@dataclass
class ReferenceDem:
    """Everything computed for a site; written by :func:`write_product`."""

    heights: NDArray[np.float32]
    fill_code: NDArray[np.uint8]
    grid: GridSpec
    crs: CRS
    site: sites.Site
    working_grid: GridSpec
    working_crs: CRS
    void_cells: int
    void_regions: int
    void_largest: int
    working_cells: int
    filled_secondary: int
    filled_interpolated: int
    source_datum: str | None
    output_datum: str
    geoid_name: str | None
    tiles: list[str]
    secondary_tiles: list[str]
    secondary_difference: dict[str, float] | None
    timings: dict[str, float] = field(default_factory=dict)


def resolve_site(p: ReferenceDemParameters) -> sites.Site:
    """The site from the parameters: WKT footprint first, else a name in the site list."""
    if p.footprint_wkt:
        return sites.from_wkt(p.site, p.footprint_wkt)
    if not p.site:
        raise SiteError("give footprint_wkt or a site name")
    if not p.site_list:
        raise SiteError(f"site {p.site!r}: no footprint_wkt and no site_list to look the name up in")
    return sites.from_site_list(p.site, Path(p.site_list))


def output_grid(site: sites.Site, p: ReferenceDemParameters) -> tuple[GridSpec, CRS]:
    """Output CRS and grid: the footprint (or explicit bounds) snapped to origin + k·resolution."""
    if p.crs == "auto":
        c = site.footprint.centroid
        crs = CRS.from_epsg(sites.utm_epsg(float(c.x), float(c.y)))
    else:
        crs = parse_crs(p.crs)
    b = p.bounds if p.bounds is not None else bounds_in(CRS.from_epsg(4326), crs, site.bounds)
    b = (b[0] - p.margin_m, b[1] - p.margin_m, b[2] + p.margin_m, b[3] + p.margin_m)
    return snap_grid(b, p.resolution, p.resolution, p.origin_x, p.origin_y), crs


def _datum(product: InputProduct, declared: str) -> str | None:
    meta = product.metadata.get("vertical_datum") if product.metadata else None
    if meta:
        return str(meta)
    if declared:
        return declared
    return DEFAULT_DATUM.get(product.product_type)


def _norm_datum(d: str | None) -> str | None:
    if d is None:
        return None
    u = d.strip().upper()
    return ELLIPSOID if u in ("ELLIPSOID", "WGS84", "WGS 84", "EPSG:4979") else u


def source_datum(products: Sequence[InputProduct], declared: str, port: str) -> str | None:
    """The one vertical datum of a port's tiles; DemInputError when the tiles disagree."""
    datums = {_norm_datum(_datum(pr, declared)) for pr in products}
    if len(datums) > 1:
        raise DemInputError(f"port {port!r}: tiles on different vertical datums {sorted(map(str, datums))}")
    return datums.pop() if datums else None


def working_grid_for(tiles: Sequence[TileInfo], out_grid: GridSpec, out_crs: CRS, port: str) -> GridSpec:
    """The first tile's pixel grid over the output extent plus a few source cells, clipped to the tiles' extent.

    Clipping matters beyond saving reads: GDAL sizes its downsampling kernel from the source/destination window
    ratio, so the same source window as a whole-tile warp gives the same heights.
    """
    first = tiles[0]
    b = bounds_in(out_crs, first.crs, out_grid.bounds)
    rx, ry = first.transform.a, -first.transform.e
    b = (b[0] - SOURCE_PAD_PX * rx, b[1] - SOURCE_PAD_PX * ry, b[2] + SOURCE_PAD_PX * rx, b[3] + SOURCE_PAD_PX * ry)
    tb = [t.grid.bounds for t in tiles]
    u = (min(x[0] for x in tb), min(x[1] for x in tb), max(x[2] for x in tb), max(x[3] for x in tb))
    clipped = (max(b[0], u[0]), max(b[1], u[1]), min(b[2], u[2]), min(b[3], u[3]))
    if clipped[0] >= clipped[2] or clipped[1] >= clipped[3]:
        w = bounds_in(out_crs, CRS.from_epsg(4326), out_grid.bounds)
        raise CoverageError(
            f"port {port!r}: no tile covers the site grid (lon {w[0]:.4f}..{w[2]:.4f}, lat {w[1]:.4f}..{w[3]:.4f})"
        )
    return snap_grid(clipped, rx, ry, first.transform.c, first.transform.f)


def stack_source(
    products: Sequence[InputProduct], grid: GridSpec | None, out_grid: GridSpec, out_crs: CRS, port: str,
    datum: str | None,
) -> SourceStack:
    """Mosaic a port's tiles in priority order on ``grid`` (default: the first tile's grid over the output)."""
    tiles = [open_tile(pr.path) for pr in products]
    first = tiles[0]
    if grid is None:
        grid = working_grid_for(tiles, out_grid, out_crs, port)
    for t in tiles[1:]:
        if not crs_equivalent(t.crs, first.crs, t.grid.bounds, tolerance=1e-3 * abs(first.transform.a)):
            raise DemInputError(
                f"port {port!r}: CRS mismatch: {t.path.name} is in {t.crs.to_string()[:60]}, "
                f"{first.path.name} in {first.crs.to_string()[:60]}"
            )
    m = empty_mosaic(grid, 1, np.float32, np.nan)
    used: list[TileInfo] = []
    for i, t in enumerate(tiles):
        lay = read_on_grid(t, grid)
        if lay is None:
            continue
        paste(m, type(lay)(lay.data.astype(np.float32), lay.valid, lay.transform), i)
        used.append(t)
    return SourceStack(mosaic=m, tiles=used, datum=datum, crs=first.crs)


def _uncovered_output_points(m: Mosaic, wcrs: CRS, out_grid: GridSpec, out_crs: CRS) -> str:
    """Describe the output area no tile covers ('' when covered), from a lattice of output cell centres."""
    step_r = max(1, out_grid.height // 256)
    step_c = max(1, out_grid.width // 256)
    rows = np.unique(np.r_[np.arange(0, out_grid.height, step_r), out_grid.height - 1])
    cols = np.unique(np.r_[np.arange(0, out_grid.width, step_c), out_grid.width - 1])
    t = out_grid.transform
    xx, yy = np.meshgrid(t.c + t.a * (cols + 0.5), t.f + t.e * (rows + 0.5))
    if out_crs == wcrs:
        wx, wy = xx.ravel(), yy.ravel()
    else:
        tr = Transformer.from_crs(pyproj.CRS.from_wkt(out_crs.to_wkt()), pyproj.CRS.from_wkt(wcrs.to_wkt()),
                                  always_xy=True)
        wx, wy = tr.transform(xx.ravel(), yy.ravel())
    wt = ~m.grid.transform
    c, r = wt @ (np.asarray(wx), np.asarray(wy))
    ci, ri = np.floor(c).astype(np.int64), np.floor(r).astype(np.int64)
    inside = (ri >= 0) & (ri < m.grid.height) & (ci >= 0) & (ci < m.grid.width)
    ok = np.zeros(ri.shape, dtype=bool)
    ok[inside] = m.covered[ri[inside], ci[inside]]
    if ok.all():
        return ""
    lon, lat = lonlat_of(out_crs, xx.ravel()[~ok], yy.ravel()[~ok])
    return (f"{(~ok).mean():.1%} of the grid, lon {lon.min():.4f}..{lon.max():.4f}, "
            f"lat {lat.min():.4f}..{lat.max():.4f}")


def _geoid_for(datum: str, p: ReferenceDemParameters, geoid_products: Sequence[InputProduct]) -> GeoidGrid:
    for pr in geoid_products:
        if _norm_datum(str(pr.metadata.get("vertical_datum", "EGM96"))) == datum:
            return read_gtx(pr.path, name=datum)
    if datum == "EGM96" and p.geoid_grid:
        return read_gtx(p.geoid_grid, name=datum)
    for name, path in p.geoid_grids.items():
        if _norm_datum(name) == datum:
            return read_gtx(path, name=datum)
    raise ParameterError(
        f"heights are on {datum} and no {datum} geoid grid was given (input port 'geoid', parameter geoid_grid "
        "or geoid_grids); give one or set output_heights='geoid'"
    )


def _cell_lonlat(grid: GridSpec, crs: CRS) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    t = grid.transform
    xs = t.c + t.a * (np.arange(grid.width) + 0.5)
    ys = t.f + t.e * (np.arange(grid.height) + 0.5)
    if crs.is_geographic:
        lon, lat = np.meshgrid(xs, ys)
        return lon, lat
    xx, yy = np.meshgrid(xs, ys)
    lon, lat = lonlat_of(crs, xx.ravel(), yy.ravel())
    return lon.reshape(xx.shape), lat.reshape(xx.shape)


def build(
    p: ReferenceDemParameters,
    tiles: Sequence[InputProduct],
    secondary: Sequence[InputProduct] = (),
    geoid_products: Sequence[InputProduct] = (),
    log: Any = None,
) -> ReferenceDem:
    """Compute the reference DEM of the site in memory (no file written)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if not tiles:
        raise CoverageError("no source DEM tile was given (port 'tiles')")
    site = resolve_site(p)
    out_grid, out_crs = output_grid(site, p)
    datum1 = source_datum(tiles, p.source_vertical_datum, "tiles")
    datum2 = source_datum(secondary, p.secondary_vertical_datum, "secondary") if secondary else None
    if secondary and datum1 != datum2 and (datum1 is None or datum2 is None):
        raise DemInputError(
            f"mixed vertical datums without a declaration: tiles {datum1 or 'undeclared'}, secondary "
            f"{datum2 or 'undeclared'}; declare source_vertical_datum / secondary_vertical_datum"
        )
    if p.output_heights == "ellipsoid" and datum1 is None:
        raise DemInputError(
            "the vertical datum of the tiles is not declared (product type "
            f"{tiles[0].product_type}); set source_vertical_datum or output_heights='geoid'"
        )

    prim = stack_source(tiles, None, out_grid, out_crs, "tiles", datum1)
    wgrid, wcrs = prim.mosaic.grid, prim.crs
    m = prim.mosaic
    if p.require_full_coverage:
        missing = _uncovered_output_points(m, wcrs, out_grid, out_crs)
        if missing:
            raise CoverageError(f"site {site.name}: the tiles do not cover the site grid; missing {missing}")
    valid = m.valid[0]
    z = m.data[0].astype(np.float64)
    void = m.covered & ~valid
    summary = find_voids(void)
    n_cov = int(m.covered.sum())
    if not valid.any():
        raise AllVoidError(f"site {site.name}: every source cell over the site is void")
    if summary.cells > p.max_void_fraction * n_cov:
        raise AllVoidError(
            f"site {site.name}: {summary.cells / n_cov:.1%} of the source cells are void "
            f"(max_void_fraction {p.max_void_fraction:.0%})"
        )
    timings["mosaic"] = time.perf_counter() - t0

    geoids: dict[str, GeoidGrid] = {}

    def geoid(d: str) -> GeoidGrid:
        if d not in geoids:
            geoids[d] = _geoid_for(d, p, geoid_products)
        return geoids[d]

    lonlat: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
    sec_z: NDArray[np.float64] | None = None
    sec_valid: NDArray[np.bool_] | None = None
    sec_diff: dict[str, float] | None = None
    sec_names: list[str] = []
    if secondary:
        s = stack_source(secondary, None, out_grid, out_crs, "secondary", datum2)
        sec_names = [t.path.name for t in s.tiles]
        sm = s.mosaic
        sdata = np.where(sm.valid[0], sm.data[0], np.nan)
        sz = warp(sdata, sm.grid.transform, s.crs, wgrid, wcrs, "bilinear", p.num_threads).astype(np.float64)
        if datum2 != datum1 and datum1 is not None and datum2 is not None:
            lonlat = lonlat or _cell_lonlat(wgrid, wcrs)
            if datum2 != ELLIPSOID:
                sz = sz + geoid(datum2).undulation(*lonlat)
            if datum1 != ELLIPSOID:
                sz = sz - geoid(datum1).undulation(*lonlat)
        sec_valid = np.isfinite(sz)
        sec_z = sz
        both = valid & sec_valid
        if both.any():
            sec_diff = describe(z[both] - sz[both])
    t1 = time.perf_counter()
    if p.fill_voids and void.any():
        fill = fill_voids(np.where(valid, z, 0.0), valid | ~m.covered, sec_z, sec_valid)
        z, code = fill.z, fill.code
    else:
        code = np.zeros(z.shape, dtype=np.uint8)
        z = np.where(valid, z, np.nan)
    timings["fill"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    out_datum = datum1 or "unknown"
    if p.output_heights == "ellipsoid" and datum1 != ELLIPSOID:
        assert datum1 is not None
        lonlat = lonlat or _cell_lonlat(wgrid, wcrs)
        n = geoid(datum1).undulation(*lonlat)
        if np.isnan(n[np.isfinite(z)]).any():
            raise DemInputError(f"the {datum1} geoid grid does not cover the site")
        z = z + n
        out_datum = ELLIPSOID
    timings["geoid"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    heights = warp(z, wgrid.transform, wcrs, out_grid, out_crs, p.resampling, p.num_threads, p.warp_tolerance_px)
    # a cell is flagged when a filled source cell takes part in its interpolation (same kernel as the heights)
    out_code = np.zeros(heights.shape, dtype=np.uint8)
    for value in (FROM_SECONDARY, INTERPOLATED):
        hit = code == value
        if hit.any():
            # only the filled cells' neighbourhood: GDAL skips output chunks with no source data
            rr, cc = np.nonzero(hit)
            r0, r1 = max(int(rr.min()) - SOURCE_PAD_PX, 0), min(int(rr.max()) + SOURCE_PAD_PX + 1, hit.shape[0])
            c0, c1 = max(int(cc.min()) - SOURCE_PAD_PX, 0), min(int(cc.max()) + SOURCE_PAD_PX + 1, hit.shape[1])
            w = warp(hit[r0:r1, c0:c1].astype(np.float32), wgrid.transform @ Affine.translation(c0, r0), wcrs,
                     out_grid, out_crs, p.resampling, p.num_threads, p.warp_tolerance_px)
            out_code[np.abs(np.nan_to_num(w)) > 1e-6] = value
    timings["warp"] = time.perf_counter() - t3
    if log is not None:
        log.info(f"mosaic {wgrid.width}x{wgrid.height} from {len(prim.tiles)} tile(s), {summary.cells} void cells")
    return ReferenceDem(
        heights=heights, fill_code=out_code, grid=out_grid, crs=out_crs, site=site, working_grid=wgrid,
        working_crs=wcrs, void_cells=summary.cells, void_regions=summary.regions, void_largest=summary.largest,
        working_cells=n_cov, filled_secondary=int((code == FROM_SECONDARY).sum()),
        filled_interpolated=int((code == INTERPOLATED).sum()), source_datum=datum1, output_datum=out_datum,
        geoid_name=next(iter(geoids.values())).name if geoids else None,
        tiles=[t.path.name for t in prim.tiles], secondary_tiles=sec_names, secondary_difference=sec_diff,
        timings=timings,
    )


def product_name(dem: ReferenceDem, p: ReferenceDemParameters) -> str:
    """``VE_<class>_AUX_REFDE1_<upper-left>_<lower-right>_<vvvv>`` (FACTS.md §3.21)."""
    w, s, e, n = dem.site.bounds
    corners = f"{refde1.corner(w, n)}_{refde1.corner(e, s)}"
    return f"VE_{p.file_class}_{PRODUCT_TYPE}_{corners}_{p.file_version:04d}"


def write_product(dem: ReferenceDem, p: ReferenceDemParameters, out_dir: Path) -> dict[str, Path]:
    """Write the COGs, the XML header and the quality report; return the paths by output port."""
    t0 = time.perf_counter()
    name = product_name(dem, p)
    dbl = out_dir / f"{name}.DBL.DIR"
    dbl.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    now = created.strftime("%Y-%m-%dT%H:%M:%S")
    tags = {
        "VIQ_PRODUCT_TYPE": PRODUCT_TYPE, "VIQ_SITE": dem.site.name, "VIQ_PROCESSOR": f"reference-dem {__version__}",
        "VIQ_CREATION": now, "VIQ_SOURCES": ",".join(dem.tiles), "VIQ_SECONDARY_SOURCES": ",".join(dem.secondary_tiles),
        "VIQ_SOURCE_VERTICAL_DATUM": str(dem.source_datum), "VIQ_VERTICAL_DATUM": dem.output_datum,
        "VIQ_GEOID": str(dem.geoid_name), "VIQ_RESAMPLING": p.resampling,
        "VIQ_VOID_FRACTION": f"{dem.void_cells / dem.working_cells:.6f}",
        "VIQ_FILLED_FRACTION": f"{float((dem.fill_code > 0).mean()):.6f}", "AREA_OR_POINT": "Area",
    }
    paths: dict[str, Path] = {}
    paths["dem"] = dbl / f"{name}_ALT.TIF"
    write_cog(paths["dem"], dem.heights, dem.grid, dem.crs, float("nan"), tags, p.compress, predictor=3,
              num_threads=p.num_threads, description="height (m)")
    paths["fill_mask"] = dbl / f"{name}_MSK.TIF"
    write_cog(paths["fill_mask"], dem.fill_code, dem.grid, dem.crs, None,
              {**tags, "VIQ_MASK_CODES": "0=source,1=filled from secondary,2=interpolated"}, p.compress,
              overview_resampling="mode", num_threads=p.num_threads, description="fill code")
    slope: NDArray[np.float32] | None = None
    if p.slope_aspect:
        lat = None
        if dem.crs.is_geographic:
            t = dem.grid.transform
            lat = t.f + t.e * (np.arange(dem.grid.height) + 0.5)
        xres, yres = metric_pixel_size(dem.grid.transform.a, dem.grid.transform.e, lat)
        slope, aspect = slope_aspect(dem.heights, xres, yres)
        paths["slope"] = dbl / f"{name}_SLP.TIF"
        write_cog(paths["slope"], slope, dem.grid, dem.crs, float("nan"), tags, p.compress, predictor=3,
                  num_threads=p.num_threads, description="slope (degrees)")
        paths["aspect"] = dbl / f"{name}_ASP.TIF"
        write_cog(paths["aspect"], aspect, dem.grid, dem.crs, float("nan"), tags, p.compress, predictor=3,
                  num_threads=p.num_threads, description="aspect (degrees from north, clockwise)")
    dem.timings["write"] = time.perf_counter() - t0
    rep = quality(dem, slope)
    paths["report"] = out_dir / f"{name}_QLT.json"
    paths["report"].write_text(json.dumps(rep, indent=2, allow_nan=True), encoding="utf-8")
    paths["report_plot"] = out_dir / f"{name}_QLT.png"
    report.reference_dem_plot(dem.heights, dem.fill_code, slope, rep, paths["report_plot"])
    paths["header"] = out_dir / f"{name}.HDR"
    paths["header"].write_text(header(name, dem, p, rep, created, paths), encoding="utf-8")
    return paths


_DEFINITIONS = {"dem": "heights (m)", "fill_mask": "fill code (0 source, 1 secondary, 2 interpolated)",
                "slope": "slope (degrees)", "aspect": "aspect (degrees from north, clockwise)"}


def header(name: str, dem: ReferenceDem, p: ReferenceDemParameters, rep: dict[str, Any], created: datetime,
           paths: dict[str, Path]) -> str:
    """The AUX_REFDE1 header: fixed header, bounding box, site, grid, data-block files with sha256, VIQ block."""
    w, s, e, n = dem.site.bounds
    files = [(port, paths[port]) for port in _DEFINITIONS if port in paths]
    epsg = dem.crs.to_epsg()
    content = refde1.RefDe1Content.model_validate({
        "Instance_Id": {"Upper_Left_Point": {"Long": w, "Lat": n}, "Lower_Right_Point": {"Long": e, "Lat": s},
                        "File_Version": f"{p.file_version:04d}"},
        "DEM_Information": {
            "Coordinate_Reference_System": {"Code": f"EPSG:{epsg}" if epsg else "LOCAL",
                                            "Short_Description": pyproj.CRS.from_wkt(dem.crs.to_wkt()).name},
            "Sampling_Interval": {"By_Line": abs(dem.grid.transform.e), "By_Column": abs(dem.grid.transform.a)},
            "Size": {"Lines": dem.grid.height, "Columns": dem.grid.width},
            "Comment": f"{', '.join(dem.tiles)}; heights above {rep['vertical_datum']}, float32 m, "
                       f"{p.resampling} resampling",
        },
        "DBL_Organization": {"List_of_Packaged_DBL_Files": {"@count": len(files), "Packaged_DBL_File": [
            {"@sn": i, "@sha256": refde1.sha256_file(path), "Relative_File_Path": f"{name}.DBL.DIR/{path.name}",
             "File_Format": "COG", "File_Definition": _DEFINITIONS[port]}
            for i, (port, path) in enumerate(files, 1)]}},
        "VIQ_Information": {
            "Site": dem.site.name, "Sources": ",".join(dem.tiles), "Secondary_Sources": ",".join(dem.secondary_tiles),
            "Source_Vertical_Datum": str(dem.source_datum), "Vertical_Datum": str(rep["vertical_datum"]),
            "Geoid": dem.geoid_name or "", "Resampling": p.resampling,
            "Void_Fraction": round(float(rep["source_voids"]["fraction"]), 6),
            "Filled_Fraction": round(float(rep["output_filled_fraction"]), 6),
        },
    })
    return refde1.header_xml(
        name=name, file_class=p.file_class, file_version=p.file_version, site=dem.site.name,
        created=created, creator_version=__version__, validity=(p.validity_start, p.validity_stop), content=content,
        notes="Reference DEM for L1 processing, produced by VIQ reference-dem",
        input_products=[*dem.tiles, *dem.secondary_tiles],
    )


def quality(dem: ReferenceDem, slope: NDArray[np.float32] | None) -> dict[str, Any]:
    """The quality report's content."""
    fin = np.isfinite(dem.heights)
    # order statistics of very large grids on a regular sample of at most ~4 M cells (sorting dominates)
    step = max(1, int(np.ceil(np.sqrt(dem.heights.size / 4e6))))
    sample = dem.heights[::step, ::step]
    out: dict[str, Any] = {
        "site": dem.site.name,
        "grid": {"crs": dem.crs.to_string(), "transform": list(dem.grid.transform)[:6], "width": dem.grid.width,
                 "height": dem.grid.height},
        "sources": dem.tiles, "secondary_sources": dem.secondary_tiles,
        "source_vertical_datum": dem.source_datum, "vertical_datum": dem.output_datum, "geoid": dem.geoid_name,
        "source_voids": {"cells": dem.void_cells, "regions": dem.void_regions, "largest": dem.void_largest,
                         "fraction": dem.void_cells / dem.working_cells if dem.working_cells else 0.0},
        "source_filled": {"from_secondary": dem.filled_secondary, "interpolated": dem.filled_interpolated},
        "output_filled_fraction": float((dem.fill_code > 0).mean()),
        "output_filled_from_secondary_fraction": float((dem.fill_code == FROM_SECONDARY).mean()),
        "output_interpolated_fraction": float((dem.fill_code == INTERPOLATED).mean()),
        "output_nodata_fraction": float((~fin).mean()),
        "height": describe(sample[np.isfinite(sample)]),
        "statistics_sampling_step": step,
        "timings_s": dem.timings,
    }
    if slope is not None:
        ss = slope[::step, ::step]
        out["slope_deg"] = describe(ss[np.isfinite(ss)])
    if dem.secondary_difference is not None:
        out["primary_minus_secondary"] = dem.secondary_difference
    return out


class ReferenceDemProcessor(Processor):
    """Reference DEM (AUX_REFDE1) of a site: mosaic, void fill, geoid → ellipsoid, site grid, COG + report."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="reference-dem",
        version=__version__,
        description=(
            "Builds the L1 reference DEM of a site: selects the source tiles covering the site grid, mosaics them "
            "in priority order, fills voids from a secondary source (delta surface) or by Laplace interpolation, "
            "converts geoid heights to WGS 84 ellipsoid heights, resamples to the site grid and writes COGs "
            "(heights, fill mask, slope, aspect), an AUX_REFDE1 header and a quality report."
        ),
        inputs=(
            InputPort(name="tiles", product_types=TILE_TYPES, min_count=1, max_count=None,
                      description="Primary source tiles (SRTM .hgt, GeoTIFF, any GDAL raster), in priority order."),
            InputPort(name="secondary", product_types=TILE_TYPES, min_count=0, max_count=None, mandatory=False,
                      description="Secondary source tiles, used to fill the primary's voids."),
            InputPort(name="geoid", product_types=(GEOID_TYPE,), min_count=0, max_count=None, mandatory=False,
                      description="Geoid undulation grids (.gtx); metadata 'vertical_datum' (default EGM96)."),
        ),
        outputs=(
            OutputPort(name="dem", product_type=PRODUCT_TYPE, format="COG", file_name_pattern="*_ALT.TIF",
                       description="Heights on the site grid, float32 metres, NaN nodata."),
            OutputPort(name="header", product_type=PRODUCT_TYPE, format="XML", file_name_pattern="*.HDR",
                       description="AUX_REFDE1-style Earth Explorer header."),
            OutputPort(name="fill_mask", product_type=PRODUCT_TYPE, format="COG", file_name_pattern="*_MSK.TIF",
                       description="0 source, 1 filled from the secondary source, 2 interpolated."),
            OutputPort(name="slope", product_type=PRODUCT_TYPE, format="COG", min_count=0,
                       file_name_pattern="*_SLP.TIF", description="Slope in degrees."),
            OutputPort(name="aspect", product_type=PRODUCT_TYPE, format="COG", min_count=0,
                       file_name_pattern="*_ASP.TIF", description="Aspect in degrees clockwise from north."),
            OutputPort(name="report", product_type=REPORT_TYPE, format="JSON", file_name_pattern="*_QLT.json",
                       description="Quality report: voids, fill, heights, slope, difference to the secondary."),
            OutputPort(name="report_plot", product_type=REPORT_TYPE, format="PNG", file_name_pattern="*_QLT.png",
                       description="Quality report figure."),
        ),
        resources=Resources(cores=1, memory_mb=4096),
    )
    Parameters: ClassVar[type[BaseModel]] = ReferenceDemParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Build and write the reference DEM of the site given in the parameters."""
        p = ctx.params
        if not isinstance(p, ReferenceDemParameters):
            p = ReferenceDemParameters.model_validate(p.model_dump())
        ctx.logger.progress(0.0, "reference DEM")
        dem = build(p, ctx.all("tiles"), ctx.all("secondary"), ctx.all("geoid"), ctx.logger)
        ctx.check_cancelled()
        ctx.logger.progress(60.0, "writing")
        paths = write_product(dem, p, ctx.output_dir)
        rep = json.loads(paths["report"].read_text(encoding="utf-8"))
        meta = {"vertical_datum": dem.output_datum, "crs": dem.crs.to_string(), "resolution": p.resolution,
                "filled_fraction": rep["output_filled_fraction"], "void_fraction": rep["source_voids"]["fraction"]}
        outputs = tuple(
            OutputProduct(port=port, path=path, product_type=REPORT_TYPE if port.startswith("report") else PRODUCT_TYPE,
                          site=dem.site.name, footprint_wkt=dem.site.footprint.wkt,
                          metadata=meta)
            for port, path in paths.items()
        )
        measurements = (
            Measurement(name="void_fraction", value=rep["source_voids"]["fraction"], unit=""),
            Measurement(name="filled_fraction", value=rep["output_filled_fraction"], unit=""),
            Measurement(name="height_mean", value=rep["height"]["mean"], unit="m"),
            Measurement(name="height_min", value=rep["height"]["min"], unit="m"),
            Measurement(name="height_max", value=rep["height"]["max"], unit="m"),
        )
        warnings: tuple[str, ...] = ()
        if rep["output_nodata_fraction"] > 0:
            warnings = (f"{rep['output_nodata_fraction']:.2%} of the site grid has no height",)
        ctx.logger.progress(100.0, "done")
        return ProcessorResult(
            outputs=outputs, measurements=measurements, status=RunStatus.WARNING if warnings else RunStatus.OK,
            warnings=warnings,
            summary=(f"{dem.site.name}: {dem.grid.width}x{dem.grid.height} cells, {dem.void_cells} source voids, "
                     f"{rep['output_filled_fraction']:.2%} of the grid filled"),
        )
