"""dem-compare through its processor: demcompare's shared pair, a synthetic pair on another grid, registration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from viq_dem_testlib import DEMCOMPARE, make_context, write_tile
from viq_interfaces import InputProduct
from viq_proc_dem.dem_compare import DemCompareProcessor
from viq_proc_dem.errors import AllVoidError


def _measure(res: object) -> dict[str, float]:
    return {m.name: m.value for m in res.measurements}  # type: ignore[attr-defined]


@pytest.mark.skipif(not DEMCOMPARE.exists(), reason="shared data absent")
def test_shared_pair_through_the_processor(tmp_path: Path) -> None:
    """Processor on demcompare's pair: dx 3.0, dy 5.0 px (±0.05), dz −0.01765 m (±0.01), map shifts in degrees
    matching demcompare's gdal_translate bounds, every output written."""
    inputs = {"reference": [InputProduct(DEMCOMPARE / "input" / "srtm_ref.tif", "AUX_SRTM3_")],
              "secondary": [InputProduct(DEMCOMPARE / "input" / "srtm_blurred_and_shifted.tif", "AUX_SRTM3_")]}
    ctx = make_context(DemCompareProcessor, tmp_path, inputs, slope_unit="demcompare")
    res = DemCompareProcessor().run(ctx)
    m = _measure(res)
    assert abs(m["dx_px"] - 3.0) < 0.05 and abs(m["dy_px"] - 5.0) < 0.05
    assert abs(m["dz_m"] - (-0.01765)) < 0.01
    up = json.loads((DEMCOMPARE / "reference_upstream" / "coregistration_results.json").read_text())
    bounds = up["coregistration_results"]["gdal_translate_bounds"]
    doc = json.loads((tmp_path / "dem_compare.json").read_text())
    for key in ("ulx", "uly", "lrx", "lry"):
        assert doc["coregistration"]["gdal_translate_ullr"][key] == pytest.approx(bounds[key], abs=5e-5)
    assert m["nmad_m"] > 0 and m["rmse_m"] >= m["nmad_m"] * 0.5
    for o in res.outputs:
        assert o.path.exists() and o.path.stat().st_size > 0
    assert len(doc["slope_classes"]) == 5


def test_synthetic_pair_on_another_grid(tmp_path: Path) -> None:
    """A DEM on a grid offset by (1.25, −0.5) px from the reference's, biased by −2 m: recovered within 0.05 px
    and 0.05 m; a DEM without valid heights is refused."""
    def surface(c: np.ndarray, r: np.ndarray) -> np.ndarray:
        return 300 + 50 * np.sin(c / 8.0) * np.cos(r / 11.0) + 30 * np.cos((c + 2 * r) / 15.0)

    rr, cc = np.mgrid[0:260, 0:260].astype(float)
    t_ref = Affine(30.0, 0, 500000.0, 0, -30.0, 4900000.0)
    ref = write_tile(tmp_path / "ref.tif", surface(cc, rr).astype("float32"), t_ref, crs="EPSG:32631", nodata=None)
    dx, dy = 1.25, -0.5
    r2, c2 = np.mgrid[0:200, 0:200].astype(float)
    t_dem = Affine(30.0, 0, 500000.0 + 30 * 20, 0, -30.0, 4900000.0 - 30 * 25)
    # georeferenced at (20, 25) of the reference but holding the surface displaced by (dx, dy)
    dem = write_tile(tmp_path / "dem.tif", (surface(c2 + 20 + dx, r2 + 25 + dy) + 2.0).astype("float32"), t_dem,
                     crs="EPSG:32631", nodata=None)
    inputs = {"reference": [InputProduct(ref, "AUX_DEMTIL")], "secondary": [InputProduct(dem, "AUX_DEMTIL")]}
    res = DemCompareProcessor().run(make_context(DemCompareProcessor, tmp_path / "o", inputs))
    m = _measure(res)
    assert abs(m["dx_px"] - dx) < 0.05 and abs(m["dy_px"] - dy) < 0.05
    assert abs(m["dz_m"] - (-2.0)) < 0.05
    assert m["dx_map"] == pytest.approx(30 * m["dx_px"]) and m["dy_map"] == pytest.approx(-30 * m["dy_px"])
    void = write_tile(tmp_path / "void.tif", np.full((50, 50), -32768, "int16"), t_dem, crs="EPSG:32631")
    with pytest.raises(AllVoidError):
        DemCompareProcessor().run(make_context(
            DemCompareProcessor, tmp_path / "v", {"reference": inputs["reference"],
                                                  "secondary": [InputProduct(void, "AUX_DEMTIL")]}))


def test_entry_point_registers_both_processors() -> None:
    """The viq.processors entry point 'dem' registers reference-dem, dem-compare and stereo-dem-check."""
    from importlib.metadata import entry_points

    eps = [ep for ep in entry_points(group="viq.processors") if ep.name == "dem"]
    assert len(eps) == 1
    added: list[str] = []

    class Reg:
        def add(self, processor: type) -> None:
            added.append(processor.declaration.name)  # type: ignore[attr-defined]

    eps[0].load().viq_add_processors(Reg())
    assert added == ["reference-dem", "dem-compare", "stereo-dem-check"]


def test_dem_compare_ports_are_reference_and_secondary() -> None:
    """dem-compare's input ports are named as in issue #11: 'reference' and 'secondary', both mandatory."""
    ports = DemCompareProcessor.declaration.inputs
    assert [p.name for p in ports] == ["reference", "secondary"]
    assert all(p.mandatory for p in ports)
