"""Options added for the processor engineers: focal homothety, shared campaign ground, truth DEM GeoTIFF,
TDI per band, COG output, the OUTORD interpolation rule, and the SBPARS name the host GIPP store accepts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from lxml import etree

from viq_proc_simulator import simulate
from viq_sim_testlib import all_files, band_array, phase_shift, truth_gipp_array
from viq_venus.gipp import OutOfOrderContent, SteeringBiasContent, read_gipp

NS = {"e": "http://eop-cfi.esa.int/CFI"}


def test_focal_homothety_scales_the_image_about_the_focal_plane_centre(tmp_path: Path) -> None:
    """With m injected, local B4 shifts against the reference follow dx_line + m·(j − c) across the swath and
    dy_line (which holds m·x_b) along it; the truth JSON and the truth IMQ_SBPARS record m."""
    m = 6e-4
    run = simulate(tmp_path, acquisition="scene", bands=("B4",), lines=288, pixels=1024, focal_homothety=m,
                   products=("l1", "reference"), seed=3)
    truth = run.truth()
    info = truth["bands"]["B4"]
    assert truth["attitude"]["focal_homothety"] == m
    disp = np.load(tmp_path / info["displacement_file"])
    l1 = band_array(run.of_type("VSC_L1VALD")[0], "B4")
    ref = band_array(run.of_type("AUX_REFIMG")[0], "B4")
    centre = info["centre_column"]
    measured = []
    rows = slice(16, 272)
    for c0 in (16, 752):
        win = (rows, slice(c0, c0 + 256))
        rx, ry = phase_shift(ref[win], l1[win])
        jc = c0 + 127.5
        assert rx == pytest.approx(-(disp[rows, 0].mean() + m * (jc - centre)), abs=0.05)
        expected_y = -(disp[rows, 1].mean() - disp[rows, 2].mean() * (jc - centre))
        assert ry == pytest.approx(expected_y, abs=0.05)
        assert abs(ry - (expected_y + m * info["focal_plane_position_px"])) > 1.0  # the m·x_b term is seen
        measured.append(rx)
    assert measured[0] - measured[1] == pytest.approx(m * 736, abs=0.05)  # ≈ 0.44 px of scale across the swath
    sb = read_gipp(next(g.path for g in run.gipps if g.gipp_type == "IMQ_SBPARS")).content
    assert isinstance(sb, SteeringBiasContent) and sb.focal_homothety == m


def test_without_homothety_the_truth_and_sbpars_say_zero_and_nothing(tmp_path: Path) -> None:
    """By default m = 0: the truth records 0 and the SBPARS truth has no Focal_Homothety element."""
    run = simulate(tmp_path, acquisition="dark", bands=("B4",), lines=16, pixels=32)
    assert run.truth()["attitude"]["focal_homothety"] == 0.0
    path = next(g.path for g in run.gipps if g.gipp_type == "IMQ_SBPARS")
    assert "Focal_Homothety" not in path.read_text()


def _campaign(tmp: Path, **kw: object) -> list[np.ndarray]:
    run = simulate(tmp, acquisition="campaign", campaign_acquisition="scene", campaign_dates=3,
                   campaign_sites=("SUDOUE-1",), bands=("B4",), lines=48, pixels=48,
                   products=("l1", "reference"), truth_gipps=False, **kw)
    refs = [band_array(p, "B4") for p in run.of_type("AUX_REFIMG")]
    assert len(refs) == 3
    return refs


def test_campaign_scene_seed_gives_every_date_the_same_ground(tmp_path: Path) -> None:
    """With campaign_scene_seed the reference ground of every date is identical (noise and jitter still differ);
    without it each date draws its own scene."""
    shared = _campaign(tmp_path / "shared", campaign_scene_seed=7)
    assert all(np.array_equal(shared[0], r) for r in shared[1:])
    own = _campaign(tmp_path / "own")
    assert not np.array_equal(own[0], own[1])
    l1 = sorted((tmp_path / "shared").glob("*L1VALD*/*.TIF"))
    with rasterio.open(l1[0]) as a, rasterio.open(l1[1]) as b:
        assert not np.array_equal(a.read(1), b.read(1))


def test_terrain_truth_dem_is_a_geotiff_on_the_product_grid(tmp_path: Path) -> None:
    """A terrain acquisition writes its truth DEM as a GeoTIFF referenced in the truth JSON: product grid CRS and
    transform, heights equal to the .npy truth, same bytes for the same seed."""
    for name in ("a", "b"):
        run = simulate(tmp_path / name, acquisition="terrain", bands=("B5", "B6"), lines=48, pixels=48,
                       products=("raw",), truth_gipps=False, seed=4)
    truth = run.truth()
    tif = tmp_path / "b" / truth["files"]["dem_geotiff"]
    with rasterio.open(tif) as ds:
        assert ds.crs.to_string() == truth["grid"]["crs"]
        assert list(ds.transform)[:6] == truth["grid"]["transform"]
        assert (ds.height, ds.width) == (48, 48)
        heights = ds.read(1)
    np.testing.assert_array_equal(heights, np.load(tmp_path / "b" / truth["files"]["dem_m"]))
    assert float(np.ptp(heights)) > 100.0
    assert all_files(tmp_path / "a") == all_files(tmp_path / "b")


def test_tdi_per_band_sets_each_band_radiometry_and_truth(tmp_path: Path) -> None:
    """B5 at TDI 16 beside B4 at TDI 8: dark-corrected flat DN / a1 recovers A_k(TDI)·L per band, the truth GIPPs
    are named and filled for each band's TDI, the header lists the TDI set and each band's TDI."""
    level = 40.0
    run = simulate(tmp_path, acquisition="flat", bands=("B4", "B5"), tdi=8, tdi_per_band={"B5": 16},
                   levels=(level,), lines=512, pixels=48, products=("raw",))
    truth = run.truth()
    assert truth["tdi"] is None and truth["bands"]["B4"]["tdi"] == 8 and truth["bands"]["B5"]["tdi"] == 16
    raw = run.of_type("VSC_RAWDAT")[0]
    assert raw.tdi is None and raw.metadata["tdi_per_band"] == {"B4": 8, "B5": 16}
    for band, tdi in (("B4", 8), ("B5", 16)):
        gain = truth["bands"][band]["absolute_gain"]
        cfg_gain = truth["instrument_config"]["bands"][band]["absolute_gain"]
        assert gain == pytest.approx(cfg_gain * tdi, rel=0.05)  # drift < 2 % over 10 months
        dark = truth_gipp_array(run, "GIP_DARKCU", band, "dark_currents")
        a1 = truth_gipp_array(run, "GIP_RELSEN", band, "a1")
        dn = band_array(raw, band)
        good = a1 > 0.5 * np.median(a1)
        estimate = ((dn.mean(axis=0) - dark) / a1)[good].mean()
        assert estimate == pytest.approx(gain * level, rel=0.003)
        names = [g.path.name for g in run.gipps if g.band == band and g.gipp_type == "GIP_DARKCU"]
        assert names and names[0].endswith({8: "_001000.EEF", 16: "_010000.EEF"}[tdi])
    root = etree.parse(str(raw.header)).getroot()
    assert root.findtext(".//e:TDI_Configuration_Values", namespaces=NS) == "16 08"
    assert [f.get("tdi") for f in root.findall(".//e:Image_File", namespaces=NS)] == ["08", "16"]


def test_cog_output_is_cloud_optimized_and_holds_the_same_pixels(tmp_path: Path) -> None:
    """cog=True writes tiled COGs with overviews whose pixels equal the plain GeoTIFF's; bytes are repeatable."""
    kw: dict[str, object] = {"acquisition": "desert", "bands": ("B4",), "lines": 600, "pixels": 600,
                             "products": ("raw",), "truth_gipps": False}
    plain = simulate(tmp_path / "plain", **kw).of_type("VSC_RAWDAT")[0]
    cogs = [simulate(tmp_path / n, cog=True, compress=True, **kw).of_type("VSC_RAWDAT")[0] for n in ("c1", "c2")]
    with rasterio.open(cogs[0].band_files["B4"]) as ds, rasterio.open(plain.band_files["B4"]) as ref:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.block_shapes == [(512, 512)] and ds.overviews(1) == [2]
        assert ds.compression is not None and ds.compression.name == "deflate"
        np.testing.assert_array_equal(ds.read(1), ref.read(1))
    assert all_files(tmp_path / "c1") == all_files(tmp_path / "c2")
    with rasterio.open(plain.band_files["B4"]) as ref:
        assert not ref.profile.get("tiled")  # the default stays a strip GeoTIFF


def test_outord_truth_states_the_rule_the_l1_applies(tmp_path: Path) -> None:
    """The truth GIP_OUTORD says linear-neighbours, and the L1 at each defect column is that interpolation."""
    run = simulate(tmp_path, acquisition="flat", bands=("B4",), levels=(60.0,), lines=32, pixels=5200,
                   products=("l1",))
    outord = read_gipp(next(g.path for g in run.gipps if g.gipp_type == "GIP_OUTORD")).content
    assert isinstance(outord, OutOfOrderContent) and outord.interpolation_rule == "linear-neighbours"
    bad = sorted(d.col_range.first for d in outord.tdi_defects[0].defects)
    assert bad
    l1 = band_array(run.of_type("VSC_L1VALD")[0], "B4")
    for col in bad:
        left = max(c for c in range(col) if c not in bad)
        right = min(c for c in range(col + 1, 5200) if c not in bad)
        f = (col - left) / (right - left)
        np.testing.assert_allclose(l1[:, col], (1 - f) * l1[:, left] + f * l1[:, right], rtol=1e-5)


def test_truth_sbpars_name_is_accepted_by_the_host_gipp_store(tmp_path: Path) -> None:
    """The truth IMQ_SBPARS keeps the ICD name VE_<class>_IMQ_SBPARS_<yyyymmddThhmmss>; the host's GIPP store
    parses it and imports the file as typed content."""
    from viq_host.gipp import eexml

    run = simulate(tmp_path / "sim", acquisition="dark", bands=("B3",), lines=16, pixels=32, seed=2,
                   sensing_time="2019-03-04T05:06:07")
    path = next(g.path for g in run.gipps if g.gipp_type == "IMQ_SBPARS")
    assert path.name == "VE_TEST_IMQ_SBPARS_20190304T050607.EEF"
    parsed = eexml.GippName.parse(path.name)
    assert parsed.gipp_type == "IMQ_SBPARS" and parsed.layout == "EMISSION" and str(parsed) == path.stem
    import warnings

    from viq_host.gipp.store import open_gipp_store
    from viq_host.plugins import load_plugins

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a plugin under development elsewhere must not fail this test
        plugins = load_plugins()
    store = open_gipp_store(f"sqlite:///{tmp_path / 'g.sqlite'}", plugins, directory=tmp_path / "gipp")
    rec = store.import_file(path, actor="engineer")
    assert rec.gipp_type == "IMQ_SBPARS" and rec.registered
