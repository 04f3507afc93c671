"""Products, determinism, bad configurations, and a run through the real host."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from viq_interfaces.errors import ConfigurationError
from viq_proc_simulator import simulate
from viq_proc_simulator.processor import VenusSimulator
from viq_sim_testlib import all_files
from viq_venus.gipp import read_gipp

SMALL = {"bands": ("B3", "B5"), "lines": 64, "pixels": 48}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    """Two runs with one seed write identical files (every byte); another seed changes the rasters."""
    kw = {**SMALL, "acquisition": "scene", "products": ("raw", "l1", "reference"), "seed": 11}
    simulate(tmp_path / "a", **kw)
    simulate(tmp_path / "b", **kw)
    simulate(tmp_path / "c", **{**kw, "seed": 12})
    a, b, c = all_files(tmp_path / "a"), all_files(tmp_path / "b"), all_files(tmp_path / "c")
    assert a == b
    assert len(a) > 20
    rasters = [k for k in a if k.endswith(".TIF")]
    assert any(a[k] != c[k] for k in rasters)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bands": ("B3", "B13")}, "bands"),
        ({"tdi": 2}, "tdi"),
        ({"lines": 4}, "lines"),
        ({"pixels": 6}, "pixels"),
        ({"site": "ATLANTIS"}, "site"),
        ({"levels": (-5.0,)}, "levels"),
        ({"nonsense": 1}, "nonsense"),
        ({"tdi_per_band": {"B7": 8}}, "tdi_per_band"),
        ({"tdi_per_band": {"B5": 2}}, "tdi_per_band.B5"),
    ],
)
def test_bad_parameters_name_the_field_and_write_nothing(tmp_path: Path, kwargs: dict[str, object],
                                                         field: str) -> None:
    """Each inconsistent request raises ConfigurationError naming the field, and the output folder stays empty."""
    out = tmp_path / "out"
    with pytest.raises(ConfigurationError) as err:
        simulate(out, **{**SMALL, **kwargs})
    assert str(err.value).startswith(field), str(err.value)
    assert not out.exists() or not any(out.iterdir())


def test_negative_gain_in_the_instrument_file_is_refused(tmp_path: Path) -> None:
    """A negative absolute gain in an instrument TOML fails naming bands.B3.absolute_gain, before any output."""
    toml = tmp_path / "instrument.toml"
    toml.write_text("[bands.B3]\nabsolute_gain = -0.4\n")
    out = tmp_path / "out"
    with pytest.raises(ConfigurationError, match=r"^bands\.B3\.absolute_gain"):
        simulate(out, instrument_config=str(toml), **SMALL)
    assert not out.exists()


def test_header_and_truth_gipps_describe_the_product(tmp_path: Path) -> None:
    """The HDR names type, site, TDI, bands and file checksums; truth GIPPs parse and match the truth JSON."""
    run = simulate(tmp_path, acquisition="desert", site="SUDOUE-2", tdi=16, **SMALL)
    raw = run.of_type("VSC_RAWDAT")[0]
    root = etree.parse(str(raw.header)).getroot()
    ns = {"e": "http://eop-cfi.esa.int/CFI"}
    assert root.findtext(".//e:File_Type", namespaces=ns) == "VSC_RAWDAT"
    assert root.findtext(".//e:Site", namespaces=ns) == "SUDOUE-2"
    assert root.findtext(".//e:TDI_Configuration_Values", namespaces=ns) == "16"
    files = root.findall(".//e:Image_File", namespaces=ns)
    assert [f.get("band_id") for f in files] == ["B03", "B05"]
    assert raw.footprint_wkt.startswith("POLYGON ((")
    truth = run.truth()
    types = sorted({g.gipp_type for g in run.gipps})
    assert types == ["GIP_DARKCU", "GIP_NOISMO", "GIP_OUTORD", "GIP_PHGAIN", "GIP_RELSEN", "IMQ_SBPARS"]
    phgain = read_gipp(next(g.path for g in run.gipps if g.gipp_type == "GIP_PHGAIN")).content
    assert phgain.gain("B5", 16) == pytest.approx(truth["bands"]["B5"]["absolute_gain"])  # type: ignore[attr-defined]
    sb = read_gipp(next(g.path for g in run.gipps if g.gipp_type == "IMQ_SBPARS")).content
    assert sb.yaw_bias == truth["attitude"]["yaw_bias_urad"]  # type: ignore[attr-defined]


def test_declaration_is_valid() -> None:
    """The processor declares the ports the products use and every parameter has a default."""
    decl = VenusSimulator.declaration
    assert decl.name == "venus-simulator" and decl.version == "01.00"
    assert {p.product_type for p in decl.outputs} >= {"VSC_RAWDAT", "VSC_L1VALD", "AUX_REFIMG", "GIP_DARKCU"}
    VenusSimulator.Parameters()


def test_runs_through_the_real_host(tmp_path: Path) -> None:
    """venus-simulator runs through the host harness (job order → worker → result) and declares its outputs."""
    from viq_host.testing import harness

    outcome = harness.run_processor("venus-simulator", params={"acquisition": "flat", "bands": ["B4"], "lines": 32,
                                                               "pixels": 32, "levels": [40.0, 90.0]},
                                    tmp_path=tmp_path)
    assert outcome.exit_code == 0, outcome.log
    raws = [o for o in outcome.outputs if o.product_type == "VSC_RAWDAT"]
    assert len(raws) == 2 and all(o.site == "SUDOUE-1" and o.tdi == 8 and o.footprint_wkt for o in raws)
    assert all(Path(o.path).is_file() for o in outcome.outputs)
    assert any(o.product_type == "GIP_DARKCU" for o in outcome.outputs)


def test_geotiff_scene_from_shared_data(tmp_path: Path) -> None:
    """A real GeoTIFF scene (shared Landsat RGB) drives the texture and the georeferencing of the products."""
    src = Path(__file__).resolve().parents[4] / "shared" / "data" / "landsat7_rgb_mosaic" / "reference" / "RGB.byte.tif"
    if not src.is_file():
        pytest.skip("shared data not present")
    import numpy as np
    import rasterio

    run = simulate(tmp_path, acquisition="scene", scene_path=str(src), bands=("B4",), lines=96, pixels=96,
                   products=("reference",), truth_gipps=False)
    ref = run.of_type("AUX_REFIMG")[0]
    with rasterio.open(ref.band_files["B4"]) as out, rasterio.open(src) as source:
        assert out.crs == source.crs
        left, bottom, right, top = source.bounds
        assert left < out.bounds.left < out.bounds.right < right and bottom < out.bounds.bottom < top
        green = source.read(2).astype(float)
        radiance = out.read(1).ravel()
    r0, c0 = source.height // 2 - 48, source.width // 2 - 48
    best = max(
        np.corrcoef(green[r0 + dr : r0 + dr + 96, c0 + dc : c0 + dc + 96].ravel(), radiance)[0, 1]
        for dr in range(-12, 13) for dc in range(-12, 13)
    )
    assert best > 0.99  # the texture is the source's green band, one source pixel per VENµS pixel
