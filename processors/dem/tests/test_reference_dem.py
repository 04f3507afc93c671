"""reference-dem end to end: synthetic tiles with known heights, shared-data agreement, bad input."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pyproj
import pytest
import rasterio

from viq_dem_testlib import VENTOUX, make_context, terrain, write_tile
from viq_interfaces import InputProduct, ProcessorResult, RunStatus
from viq_interfaces.errors import MissingInputError, ParameterError
from viq_proc_dem.errors import AllVoidError, CoverageError, DemInputError, SiteError
from viq_proc_dem.geoid import GeoidGrid, read_gtx, write_gtx
from viq_proc_dem.reference_dem import ReferenceDemProcessor

SITE = "POLYGON((5.8 44.3,6.2 44.3,6.2 44.6,5.8 44.6,5.8 44.3))"


def _geoid(tmp_path: Path) -> Path:
    lat = 40 + np.arange(11) * 1.0
    lon = 0 + np.arange(11) * 1.0
    lo, la = np.meshgrid(lon, lat)
    path = tmp_path / "geoid.gtx"
    write_gtx(path, GeoidGrid(40.0, 0.0, 1.0, 1.0, 48 + 0.8 * lo - 0.5 * (la - 44) ** 2))
    return path


def _run(tmp_path: Path, inputs: dict[str, list[InputProduct]], **params: object) -> ProcessorResult:
    ctx = make_context(ReferenceDemProcessor, tmp_path / "out", inputs, **params)
    return ReferenceDemProcessor().run(ctx)


def _by_port(res: ProcessorResult) -> dict[str, Path]:
    return {o.port: o.path for o in res.outputs}


def _srtm(p: Path) -> InputProduct:
    return InputProduct(p, "AUX_SRTM3_")


def test_synthetic_two_tiles_void_fill_geoid_and_grid(tmp_path: Path, tile_factory: Callable[..., Path]) -> None:
    """Two adjacent tiles (seam at 6° E) with voids, a secondary source biased by +5 m and a synthetic geoid:
    the site grid holds terrain + N within the bilinear interpolation bound of each source grid (h²·|f''|/8),
    so no seam and no step at the secondary fill; the fill mask flags exactly the cells whose bilinear
    stencil touches a filled source cell."""
    n = 120
    void_a = np.zeros((n + 1, n + 1), bool)
    void_a[60:66, 100:110] = True  # filled from the secondary
    void_b = np.zeros((n + 1, n + 1), bool)
    void_b[50:53, 10:13] = True  # the secondary is void there too: interpolated
    west = tile_factory(5, 44, n, void=void_a)
    east = tile_factory(6, 44, n, void=void_b)
    sec_void = np.zeros((61, 61), bool)
    sec_void[24:28, 3:9] = True
    secondary = tile_factory(6, 44, 60, name="sec_east.tif", offset=5.0, void=sec_void)
    secondary_w = tile_factory(5, 44, 60, name="sec_west.tif", offset=5.0)
    geoid = _geoid(tmp_path)
    res = _run(
        tmp_path, {"tiles": [_srtm(west), _srtm(east)], "secondary": [_srtm(secondary_w), _srtm(secondary)]},
        site="SYN", footprint_wkt=SITE, resolution=250.0, geoid_grid=str(geoid), warp_tolerance_px=0.0,
    )
    assert res.status is RunStatus.OK
    out = _by_port(res)
    with rasterio.open(out["dem"]) as ds:
        z = ds.read(1).astype(float)
        t, crs = ds.transform, ds.crs
        assert ds.tags()["VIQ_VERTICAL_DATUM"] == "ellipsoid"
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert crs.to_epsg() == 32632  # UTM zone of the footprint's centroid (6.0° E)
    assert t.c % 250 == 0 and t.f % 250 == 0
    with rasterio.open(out["fill_mask"]) as ds:
        code = ds.read(1)
    rows, cols = np.mgrid[0 : z.shape[0], 0 : z.shape[1]]
    x, y = t @ (cols + 0.5, rows + 0.5)
    lon, lat = pyproj.Transformer.from_crs(32632, 4326, always_xy=True).transform(x, y)
    g = read_gtx(geoid)
    expected = terrain(lon, lat) + g.undulation(lon, lat)
    assert np.isfinite(z).all()
    # |f_lon lon| ≤ 300·9 + 120·49, |f_lat lat| ≤ 300·4 + 120·25 (m/deg²) for conftest.terrain
    def bound(h: float) -> float:
        return float((300 * 9 + 120 * 49) * h**2 / 8 + (300 * 4 + 120 * 25) * h**2 / 8)

    err = np.abs(z - expected)
    assert err[code == 0].max() < bound(1 / n) + 1e-3
    assert err[code == 1].max() < bound(1 / 60) + 1e-3  # from the secondary's coarser grid
    assert err[code == 2].max() < 5.0  # a small void, interpolated
    # the fill mask against the bilinear stencil of every output cell in the source grids
    res_deg = 1.0 / n
    fc, fr = (lon - (5 - res_deg / 2)) / res_deg - 0.5, (44 + 1 + res_deg / 2 - lat) / res_deg - 0.5
    c0, r0 = np.floor(fc).astype(int), np.floor(fr).astype(int)
    filled_src = np.zeros((n + 1, 2 * n + 1), bool)
    filled_src[:, : n + 1] |= void_a
    filled_src[:, n:] |= void_b
    touch = np.zeros(z.shape, bool)
    for dr in (0, 1):
        for dc in (0, 1):
            w = (fr - r0 if dr else 1 - (fr - r0)) * (fc - c0 if dc else 1 - (fc - c0))
            touch |= filled_src[r0 + dr, c0 + dc] & (w > 1e-6)
    np.testing.assert_array_equal(code > 0, touch)
    rep = json.loads(out["report"].read_text())
    assert rep["source_voids"]["cells"] == int(void_a[:, :].sum() + void_b.sum())
    assert rep["source_filled"]["from_secondary"] == int(void_a.sum())
    assert abs(rep["primary_minus_secondary"]["mean"] + 5.0) < bound(1 / 60)
    hdr = ET.parse(out["header"]).getroot()
    ns = {"ee": "http://eop-cfi.esa.int/CFI"}
    assert hdr.findtext("ee:Fixed_Header/ee:File_Type", namespaces=ns) == "AUX_REFDE1"
    sph = "ee:Variable_Header/ee:Specific_Product_Header/"
    assert hdr.findtext(sph + "ee:DEM_Information/ee:Size/ee:Lines", namespaces=ns) == str(z.shape[0])
    assert hdr.findtext(sph + "ee:VIQ_Information/ee:Vertical_Datum", namespaces=ns) == "ellipsoid"
    assert hdr.findtext(sph + "ee:VIQ_Information/ee:Sources", namespaces=ns) == f"{west.name},{east.name}"
    assert float(hdr.findtext(sph + "ee:VIQ_Information/ee:Filled_Fraction", namespaces=ns) or "nan") == \
        pytest.approx(float((code > 0).mean()), abs=1e-6)
    # the packaged files are the COGs beside the header, with their checksums
    files = hdr.findall(sph + "ee:DBL_Organization/ee:List_of_Packaged_DBL_Files/ee:Packaged_DBL_File", ns)
    listed = {f.findtext("ee:Relative_File_Path", namespaces=ns): f.get("sha256") for f in files}
    assert listed == {str(out[k].relative_to(out["header"].parent)): hashlib.sha256(out[k].read_bytes()).hexdigest()
                      for k in ("dem", "fill_mask", "slope", "aspect")}
    assert out["report_plot"].stat().st_size > 0 and out["slope"].exists() and out["aspect"].exists()
    assert {m.name for m in res.measurements} >= {"void_fraction", "filled_fraction"}


def test_geoid_heights_kept_when_asked(tmp_path: Path, tile_factory: Callable[..., Path]) -> None:
    """output_heights='geoid' needs no geoid grid and keeps the source heights (EPSG:4326 grid, no resampling
    error at the source nodes)."""
    tile = tile_factory(5, 44, 120)
    site = "POLYGON((5.2 44.2,5.4 44.2,5.4 44.4,5.2 44.4,5.2 44.2))"
    res = _run(tmp_path, {"tiles": [_srtm(tile)]}, footprint_wkt=site,
               crs="EPSG:4326", resolution=1 / 120, origin_x=5 - 1 / 240, origin_y=45 + 1 / 240,
               output_heights="geoid")
    with rasterio.open(_by_port(res)["dem"]) as ds:
        z = ds.read(1)
        t = ds.transform
    lon = t.c + t.a * (np.arange(z.shape[1]) + 0.5)
    lat = t.f + t.e * (np.arange(z.shape[0]) + 0.5)
    lo, la = np.meshgrid(lon, lat)
    assert np.abs(z - terrain(lo, la)).max() < 1e-3


def test_tiles_not_covering_the_site(tmp_path: Path, tile_factory: Callable[..., Path]) -> None:
    """A tile far from the site, and a site half off its only tile, are coverage errors naming the area."""
    far = tile_factory(10, 44, 60)
    with pytest.raises(CoverageError, match=r"no tile covers the site grid \(lon 5\.78"):
        _run(tmp_path, {"tiles": [_srtm(far)]}, footprint_wkt=SITE, output_heights="geoid")
    west = tile_factory(5, 44, 60)
    with pytest.raises(CoverageError, match=r"do not cover the site grid; missing .* lon 6\.0"):
        _run(tmp_path, {"tiles": [_srtm(west)]}, footprint_wkt=SITE, output_heights="geoid")
    assert issubclass(CoverageError, MissingInputError)


def test_crs_mismatch_between_tiles(tmp_path: Path, tile_factory: Callable[..., Path]) -> None:
    """A second tile in another CRS is refused with both CRSs named."""
    west = tile_factory(5, 44, 60)
    with rasterio.open(west) as ds:
        data, t = ds.read(1), ds.transform
    odd = write_tile(tmp_path / "odd.tif", data, t, crs="EPSG:4230")
    with pytest.raises(DemInputError, match="CRS mismatch"):
        _run(tmp_path, {"tiles": [_srtm(west), _srtm(odd)]}, footprint_wkt=SITE.replace("6.2", "5.9"),
             output_heights="geoid")


def test_all_void_and_corrupt_and_unknown_crs(tmp_path: Path, tile_factory: Callable[..., Path]) -> None:
    """All-void input, a corrupt tile and an unknown output CRS end with their own clear errors."""
    all_void = tile_factory(5, 44, 60, void=np.ones((61, 61), bool))
    site = "POLYGON((5.2 44.2,5.4 44.2,5.4 44.4,5.2 44.4,5.2 44.2))"
    with pytest.raises(AllVoidError, match="void"):
        _run(tmp_path, {"tiles": [_srtm(all_void)]}, footprint_wkt=site, output_heights="geoid")
    bad = tmp_path / "N44E005.hgt"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(DemInputError, match="GDAL cannot read"):
        _run(tmp_path, {"tiles": [_srtm(bad)]}, footprint_wkt=site, output_heights="geoid")
    good = tile_factory(5, 44, 60)
    with pytest.raises(SiteError, match="unknown CRS"):
        _run(tmp_path, {"tiles": [_srtm(good)]}, footprint_wkt=site, crs="EPSG:999999")
    with pytest.raises(ParameterError, match="no EGM96 geoid grid"):
        _run(tmp_path, {"tiles": [_srtm(good)]}, footprint_wkt=site)


def test_mixed_vertical_datums_need_a_declaration(tmp_path: Path, tile_factory: Callable[..., Path]) -> None:
    """An undeclared secondary (AUX_DEMTIL) next to EGM96 tiles is refused; declared, the run goes through."""
    tile = tile_factory(5, 44, 60)
    other = tile_factory(5, 44, 30, name="other.tif")
    site = "POLYGON((5.2 44.2,5.4 44.2,5.4 44.4,5.2 44.4,5.2 44.2))"
    inputs = {"tiles": [_srtm(tile)], "secondary": [InputProduct(other, "AUX_DEMTIL")]}
    with pytest.raises(DemInputError, match="mixed vertical datums without a declaration"):
        _run(tmp_path, inputs, footprint_wkt=site, output_heights="geoid", resolution=200.0)
    res = _run(tmp_path, inputs, footprint_wkt=site, output_heights="geoid", secondary_vertical_datum="EGM96",
               resolution=200.0)
    assert res.status is RunStatus.OK


def test_site_from_the_site_list(tmp_path: Path, tile_factory: Callable[..., Path]) -> None:
    """A site name is looked up in a GeoJSON site list; an unknown name is a SiteError."""
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "TINY"},
           "geometry": {"type": "Polygon", "coordinates": [[[5.2, 44.2], [5.3, 44.2], [5.3, 44.3], [5.2, 44.3],
                                                              [5.2, 44.2]]]}}]}
    sites = tmp_path / "sites.geojson"
    sites.write_text(json.dumps(doc))
    tile = tile_factory(5, 44, 60)
    res = _run(tmp_path, {"tiles": [_srtm(tile)]}, site="tiny", site_list=str(sites), output_heights="geoid",
               resolution=100)
    assert res.outputs[0].site == "TINY"
    with pytest.raises(SiteError, match="not in the site list"):
        _run(tmp_path, {"tiles": [_srtm(tile)]}, site="NOPE", site_list=str(sites), output_heights="geoid")


@pytest.mark.skipif(not VENTOUX.exists(), reason="shared data absent")
def test_ventoux_against_cnes_utm31_reprojection(tmp_path: Path) -> None:
    """N44E005 on the CNES UTM 31N 90 m grid, bilinear, geoid heights, voids left open: on the 1,089,436 cells
    valid in both, mean and median |diff| ≤ 1e-3 m, RMSE = pure Int16 rounding (≤ 0.2887 m = 1/√12), max 0.5 m,
    and rounding our heights gives the CNES values except exact .5 ties; void count 4822 in the report."""
    with rasterio.open(VENTOUX / "reference" / "N44E005_UTM.tif") as ds:
        cnes, t = ds.read(1), ds.transform
    bounds = (t.c, t.f - 90 * cnes.shape[0], t.c + 90 * cnes.shape[1], t.f)
    res = _run(tmp_path, {"tiles": [_srtm(VENTOUX / "N44E005.hgt")]}, site="VENTOUX",
               footprint_wkt="POLYGON((5 44,6 44,6 45,5 45,5 44))", crs="EPSG:32631", resolution=90.0,
               origin_x=t.c, origin_y=t.f, bounds=bounds, fill_voids=False, output_heights="geoid",
               require_full_coverage=False, slope_aspect=False)
    out = _by_port(res)
    with rasterio.open(out["dem"]) as ds:
        z = ds.read(1)
        assert ds.transform == t and z.shape == cnes.shape
    both = (cnes != -32768) & np.isfinite(z)
    assert int(both.sum()) == 1_089_436
    d = z[both].astype(float) - cnes[both]
    assert abs(d.mean()) < 1e-3 and abs(np.median(d)) < 1e-3
    assert np.sqrt(np.mean(d**2)) <= 1 / np.sqrt(12) + 1e-3
    assert np.abs(d).max() <= 0.5 + 1e-4
    differs = np.rint(z[both]) != cnes[both]
    assert np.all(np.abs(np.abs(d[differs]) - 0.5) < 1e-3)
    rep = json.loads(out["report"].read_text())
    assert rep["source_voids"]["cells"] == 4822 and rep["source_voids"]["regions"] == 328
    assert res.status is RunStatus.WARNING  # the UTM rectangle reaches past the tile


@pytest.mark.skipif(not VENTOUX.exists(), reason="shared data absent")
def test_ventoux_site_filled_on_ellipsoid(tmp_path: Path) -> None:
    """A 20 km site over Mont Ventoux: no void left, EGM96 → ellipsoid adds PROJ's undulation (≈ +50 m)."""
    site = "POLYGON((5.15 44.12,5.4 44.12,5.4 44.3,5.15 44.3,5.15 44.12))"
    common = {"site": "VENTOUX", "footprint_wkt": site, "resolution": 30.0, "slope_aspect": False}
    res = _run(tmp_path / "a", {"tiles": [_srtm(VENTOUX / "N44E005.hgt")]}, **common,
               geoid_grid=str(VENTOUX / "egm96_15.gtx"))
    res_g = _run(tmp_path / "b", {"tiles": [_srtm(VENTOUX / "N44E005.hgt")]}, **common, output_heights="geoid")
    with rasterio.open(_by_port(res)["dem"]) as a, rasterio.open(_by_port(res_g)["dem"]) as b:
        h, hg, t = a.read(1), b.read(1), a.transform
    assert np.isfinite(h).all()
    rows, cols = np.mgrid[0 : h.shape[0] : 50, 0 : h.shape[1] : 50]
    x, y = t @ (cols + 0.5, rows + 0.5)
    lon, lat = pyproj.Transformer.from_crs(32631, 4326, always_xy=True).transform(x, y)
    pipe = ("+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad +step +proj=vgridshift "
            f"+grids={VENTOUX / 'egm96_15.gtx'} +multiplier=1 +step +proj=unitconvert +xy_in=rad +xy_out=deg")
    _, _, n = pyproj.Transformer.from_pipeline(pipe).transform(lon, lat, np.zeros_like(lon))
    assert np.abs((h - hg)[rows, cols] - n).max() < 1e-3
