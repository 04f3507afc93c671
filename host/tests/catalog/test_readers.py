"""Built-in product readers: simulator products, GIPPs, MUSCATE, GeoTIFF + sidecar, SRTM and Copernicus DEM tiles.

Truth comes from the writers (the simulator's own record of what it wrote, the fixture's XML read with the
standard library, rasterio's transform of the raster bounds), never from the reader under test.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds
from typer.testing import CliRunner

from viq_host.catalog import Catalog, InvalidProduct, ProductQuery, readers
from viq_host.catalog import builtin as catalog_builtin
from viq_host.catalog.ops import detect_type, ingest_path
from viq_host.cli.catalog import app
from viq_host.plugins import Plugins, load_plugins

runner = CliRunner()
DATA = Path(__file__).parent / "data"
MUSCATE_ID = "VENUS-XS_20180601-105448-000_L1C_SUDOUE-1_C_V1-0"


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Plugins:
    """The built-in backends and the built-in readers only (as the CLI loads them from entry points)."""
    loaded = load_plugins([catalog_builtin, readers], entry_points_enabled=False)
    monkeypatch.setattr("viq_host.plugins.load_plugins", lambda *a, **k: loaded)
    return loaded


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A small simulated scene: raw, L1 and reference products plus the truth GIPPs."""
    from viq_proc_simulator import simulate

    out = tmp_path_factory.mktemp("sim")
    return simulate(out, acquisition="scene", bands=("B3", "B4"), tdi=8, lines=32, pixels=32,
                    products=("raw", "l1", "reference"), site="SUDOUE-1", seed=3)


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def test_simulator_products_by_detection(catalog: Catalog, plugins: Plugins, simulated: object,
                                         catalog_url: str) -> None:
    """Every simulator header is detected and catalogued with the simulator's own site, bands, TDI, times, footprint."""
    run = simulated
    products = run.products  # type: ignore[attr-defined]
    assert {p.product_type for p in products} == {"VSC_RAWDAT", "VSC_L1VALD", "AUX_REFIMG"}
    res = runner.invoke(app, ["ingest", *[str(p.header) for p in products], "--url", catalog_url])
    assert res.exit_code == 0, res.output
    for p in products:
        rec = catalog.find_by_path(p.header)
        assert rec is not None, p.header
        assert rec.product_type == p.product_type
        assert rec.site == p.site
        assert rec.bands == tuple(p.bands)
        assert rec.tdi == p.tdi
        assert rec.sensing_start == _utc(p.sensing_start).replace(microsecond=0)
        assert rec.sensing_stop is not None and abs((rec.sensing_stop - _utc(p.sensing_stop)).total_seconds()) < 1
        assert rec.footprint_wkt is not None
        assert shapely.from_wkt(rec.footprint_wkt).equals_exact(shapely.from_wkt(p.footprint_wkt), 1e-9)
        assert set(rec.metadata["band_files"]) == set(p.bands)
    # a band query over the scene finds the three products, not more
    q = ProductQuery(band="B3", bbox=shapely.from_wkt(products[0].footprint_wkt).bounds)
    assert catalog.count(q) == 3


def test_simulator_gipps(catalog: Catalog, plugins: Plugins, simulated: object) -> None:
    """Truth GIPPs go in through the GIP_* reader: type, validity, band and TDI as the simulator wrote them."""
    gipps = simulated.gipps  # type: ignore[attr-defined]
    assert gipps
    for g in gipps:
        rec = ingest_path(catalog, g.path, None, plugins.product_readers)
        assert rec.product_type == g.gipp_type
        assert rec.sensing_start == _utc(g.validity_start)
        assert rec.bands == ((g.band,) if g.band else ())
        assert rec.tdi == g.tdi
        assert rec.metadata["validity_start"] == _utc(g.validity_start).isoformat()
        assert rec.footprint_wkt is None


def test_type_given_must_match_the_file(catalog: Catalog, plugins: Plugins, simulated: object) -> None:
    """--type selects the reader; a header declaring another type is refused, naming the file."""
    raw = simulated.of_type("VSC_RAWDAT")[0]  # type: ignore[attr-defined]
    with pytest.raises(InvalidProduct, match=r"VSC_RAWDAT product, not VSC_L1VALD") as err:
        ingest_path(catalog, raw.header, "VSC_L1VALD", plugins.product_readers)
    assert str(raw.header) in str(err.value)
    rec = ingest_path(catalog, raw.header, "VSC_RAWDAT", plugins.product_readers)
    assert rec.product_type == "VSC_RAWDAT"


def _muscate(tmp_path: Path) -> Path:
    """The MUSCATE fixture as a product directory with its 12 (tiny) TOA band files."""
    prod = tmp_path / MUSCATE_ID
    prod.mkdir()
    mtd = prod / f"{MUSCATE_ID}_MTD_ALL.xml"
    shutil.copy(DATA / "muscate" / mtd.name, mtd)
    for b in range(1, 13):
        with rasterio.open(prod / f"{MUSCATE_ID}_TOA_B{b}.tif", "w", driver="GTiff", width=4, height=4, count=1,
                           dtype="int16", crs="EPSG:32631", transform=from_origin(345000, 4813000, 5, 5)) as ds:
            ds.write(np.full((1, 4, 4), 100 * b, dtype=np.int16))
    return prod


def test_muscate_l1(catalog: Catalog, plugins: Plugins, tmp_path: Path) -> None:
    """A MUSCATE L1C directory is a VSC_L1VALD product: site, 12 bands, time and corners from MTD_ALL.xml."""
    prod = _muscate(tmp_path)
    tree = ET.parse(next(prod.glob("*_MTD_ALL.xml"))).getroot()
    pts = {p.get("name"): (float(p.findtext("LON", "")), float(p.findtext("LAT", ""))) for p in tree.iter("Point")}
    want = shapely.Polygon([pts[n] for n in ("upperLeft", "upperRight", "lowerRight", "lowerLeft")])
    rec = ingest_path(catalog, prod, None, plugins.product_readers)
    assert rec.product_type == "VSC_L1VALD"
    assert rec.site == tree.findtext(".//GEOGRAPHICAL_ZONE")
    assert rec.bands == tuple(b.text for b in tree.iter("BAND_ID"))
    assert rec.sensing_start == datetime.fromisoformat(tree.findtext(".//ACQUISITION_DATE", "").replace("Z", "+00:00"))
    assert rec.footprint_wkt is not None and shapely.from_wkt(rec.footprint_wkt).equals(want)
    assert rec.metadata["quality"]["CloudPercent"] == "12"
    assert rec.size == sum(f.stat().st_size for f in prod.iterdir())  # the directory is the product
    # a missing band file is an error naming the metadata file
    next(prod.glob("*_TOA_B7.tif")).unlink()
    with pytest.raises(InvalidProduct, match=r"_MTD_ALL\.xml: file .*TOA_B7\.tif named in the metadata is missing"):
        ingest_path(catalog, prod, "VSC_L1VALD", plugins.product_readers)


def test_srtm_tile(catalog: Catalog, plugins: Plugins, tmp_path: Path) -> None:
    """A real SRTM 3″ tile: type from its size, footprint the 1°×1° cell its name gives; a truncated one is refused."""
    tile = tmp_path / "N44E005.hgt"  # an SRTM 3" tile is 1201 x 1201 big-endian int16 samples
    tile.write_bytes(b"\0" * (2 * 1201 * 1201))
    rec = ingest_path(catalog, tile, None, plugins.product_readers)
    assert rec.product_type == ("AUX_SRTM3_" if tile.stat().st_size == 2 * 1201**2 else "AUX_SRTM1_")
    assert rec.footprint_wkt is not None
    assert shapely.from_wkt(rec.footprint_wkt).bounds == (5.0, 44.0, 6.0, 45.0)
    south_west = tmp_path / "S12W077.hgt"
    south_west.write_bytes(b"\0" * (2 * 3601 * 3601))
    rec = ingest_path(catalog, south_west, None, plugins.product_readers)
    assert rec.product_type == "AUX_SRTM1_"
    assert rec.footprint_wkt is not None and shapely.from_wkt(rec.footprint_wkt).bounds == (-77.0, -12.0, -76.0, -11.0)
    bad = tmp_path / "N44E006.hgt"
    bad.write_bytes(tile.read_bytes()[:1000])
    with pytest.raises(InvalidProduct, match=r"N44E006\.hgt: 1000 bytes is neither"):
        ingest_path(catalog, bad, None, plugins.product_readers)


def test_copernicus_dem_tile(catalog: Catalog, plugins: Plugins, tmp_path: Path) -> None:
    """A Copernicus GLO-30 tile name gives AUX_COPDEM and its cell; a non-TIFF with that name is refused."""
    name = "Copernicus_DSM_COG_10_N43_00_W002_00_DEM.tif"
    f = tmp_path / name
    with rasterio.open(f, "w", driver="GTiff", width=8, height=8, count=1, dtype="float32", crs="EPSG:4326",
                       transform=from_origin(-2.0, 44.0, 1 / 8, 1 / 8)) as ds:
        ds.write(np.zeros((1, 8, 8), dtype=np.float32))
    rec = ingest_path(catalog, f, None, plugins.product_readers)
    assert rec.product_type == "AUX_COPDEM"
    with rasterio.open(f) as ds:
        b = ds.bounds
    assert rec.footprint_wkt is not None
    assert shapely.from_wkt(rec.footprint_wkt).bounds == (b.left, b.bottom, b.right, b.top)
    assert rec.metadata["grid"] == "GLO-30"
    fake = tmp_path / "Copernicus_DSM_COG_30_N10_00_E010_00_DEM.tif"
    fake.write_text("not a tiff")
    with pytest.raises(InvalidProduct, match=r"Copernicus_DSM_COG_30_N10_00_E010_00_DEM\.tif: not a TIFF"):
        ingest_path(catalog, fake, None, plugins.product_readers)


SIDECAR = """<?xml version="1.0" encoding="UTF-8"?>
<Earth_Explorer_Header xmlns="http://eop-cfi.esa.int/CFI">
  <Fixed_Header>
    <File_Name>{name}</File_Name><Mission>VENuS</Mission><File_Class>TEST</File_Class>
    <File_Type>{ftype}</File_Type>
    <Validity_Period><Validity_Start>UTC=2019-04-02T10:41:07</Validity_Start>
      <Validity_Stop>UTC=2019-04-02T10:41:12</Validity_Stop></Validity_Period>
  </Fixed_Header>
  <Variable_Header><Specific_Product_Header><Product_Information>
    <Site>{site}</Site>
    <List_of_Bands count="2"><Band band_id="B07"/><Band band_id="B11"/></List_of_Bands>
  </Product_Information></Specific_Product_Header></Variable_Header>
</Earth_Explorer_Header>
"""


def test_geotiff_cog_with_sidecar(catalog: Catalog, plugins: Plugins, tmp_path: Path) -> None:
    """A COG in UTM with a sidecar XML: type/time/site/bands from the sidecar, footprint from the raster."""
    cog = tmp_path / "ortho.tif"
    transform = from_origin(350000, 4810000, 10, 10)
    with rasterio.open(cog, "w", driver="COG", width=512, height=384, count=2, dtype="uint16", crs="EPSG:32631",
                       transform=transform) as ds:
        ds.write(np.ones((2, 384, 512), dtype=np.uint16))
    (tmp_path / "ortho.xml").write_text(SIDECAR.format(name="ortho", ftype="EXT_GEOIMG", site="SUDOUE-1"))
    # nobody registered EXT_GEOIMG: detection (and --type EXT_GEOIMG) still find the sidecar reader
    assert detect_type(cog, plugins.product_readers)[0] == "EXT_GEOIMG"
    rec = ingest_path(catalog, cog, "EXT_GEOIMG", plugins.product_readers)
    assert (rec.site, rec.bands) == ("SUDOUE-1", ("B7", "B11"))
    assert rec.sensing_start == datetime(2019, 4, 2, 10, 41, 7, tzinfo=UTC)
    assert rec.metadata["cog"] is True and rec.metadata["crs"] == "EPSG:32631"
    want = transform_bounds("EPSG:32631", "EPSG:4326", 350000, 4810000 - 3840, 350000 + 5120, 4810000, densify_pts=21)
    assert rec.footprint_wkt is not None
    assert np.allclose(shapely.from_wkt(rec.footprint_wkt).bounds, want, atol=1e-9)
    alone = tmp_path / "alone.tif"
    shutil.copy(cog, alone)
    with pytest.raises(InvalidProduct, match=r"alone\.tif: no product reader recognises"):
        ingest_path(catalog, alone, None, plugins.product_readers)


def _header(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "VE_TEST_VSC_L1VALD_BAD.HDR"
    f.write_text(text)
    return f


def test_bad_metadata_is_named(catalog: Catalog, plugins: Plugins, simulated: object, tmp_path: Path) -> None:
    """Malformed XML, entity declarations, a missing band file, a bad footprint: InvalidProduct naming the file."""
    good = simulated.of_type("VSC_L1VALD")[0].header.read_text()  # type: ignore[attr-defined]
    cases = {
        "malformed XML": good[: len(good) // 2],
        "DOCTYPE/entity": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        + good.split("?>", 1)[1].replace("<Notes>", "<Notes>&b;"),
        "is missing": good,  # the band files are not next to this copy
        "Ring Self-intersection|invalid polygon": good.replace(
            good.split("<Footprint_WKT>")[1].split("</Footprint_WKT>")[0],
            "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))",
        ),
        "no sensing time": good.replace("Acquisition_Date_Time", "X").replace("Validity_Start", "Y"),
    }
    src = simulated.of_type("VSC_L1VALD")[0].header  # type: ignore[attr-defined]
    for why, text in cases.items():
        f = _header(tmp_path, text)
        if why != "is missing":
            shutil.copytree(src.with_suffix(".DBL.DIR"), tmp_path / src.with_suffix(".DBL.DIR").name)
        for ptype in (None, "VSC_L1VALD"):
            with pytest.raises(InvalidProduct, match=why) as err:
                ingest_path(catalog, f, ptype, plugins.product_readers)
            assert str(f) in str(err.value), (why, str(err.value))
        shutil.rmtree(tmp_path / src.with_suffix(".DBL.DIR").name, ignore_errors=True)
    bad_gipp = tmp_path / "VE_TEST_GIP_DARKCU_L_ALLSITES_00001_20180601_99999999_B03_001000.EEF"
    bad_gipp.write_text("<Earth_Explorer_File><Earth_Explorer_Header/></Earth_Explorer_File>")
    with pytest.raises(InvalidProduct, match="invalid GIPP file") as err:
        ingest_path(catalog, bad_gipp, None, plugins.product_readers)
    assert str(bad_gipp) in str(err.value)
    assert catalog.count(ProductQuery()) == 0


def test_cli_reports_bad_file(catalog_url: str, plugins: Plugins, tmp_path: Path) -> None:
    """``viq catalog ingest`` without --type on an unknown file fails with the file named, nothing stored."""
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    res = runner.invoke(app, ["ingest", str(f), "--url", catalog_url])
    assert res.exit_code != 0
    assert isinstance(res.exception, InvalidProduct) and str(f) in str(res.exception)
