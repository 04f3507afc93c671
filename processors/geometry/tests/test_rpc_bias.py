"""``rpc-bias`` on the shared Pléiades Gizeh pair: injected row biases recovered; readers; bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from geom_helpers import make_ctx, write_tif

from viq_interfaces import MissingInputError, ProcessingError
from viq_proc_geometry.processors.rpc_bias import RpcBiasProcessor
from viq_proc_geometry.rpc import RpcError, read_rpc, write_dimap, write_geom


def _ctx(tmp: Path, d: Path, sec_model: Path, **params: Any) -> Any:
    return make_ctx(RpcBiasProcessor, tmp, {
        "reference_image": [(d / "img1.tif", "EXT_SENSOR")], "reference_model": [(d / "img1.geom", "EXT_RPCMOD")],
        "secondary_image": [(d / "img2.tif", "EXT_SENSOR")], "secondary_model": [(sec_model, "EXT_RPCMOD")],
    } | params.pop("extra", {}), **params)


def _corr(res: Any) -> tuple[float, float]:
    m = {x.key: x.value for x in res.measurements}
    return m["line_offset_correction"], m["sample_offset_correction"]


def test_injected_row_bias_recovered_and_corrected_pair_reports_zero(tmp_path: Path, gizeh_dir: Path) -> None:
    """A +1.7 line / −0.6 sample offset added to a copy of img2.geom comes back to 0.1 px; the pair corrected
    with the processor's own model then reports ≈ 0 (< 0.1 px)."""
    base = _corr(RpcBiasProcessor().run(_ctx(tmp_path / "a", gizeh_dir, gizeh_dir / "img2.geom")))
    biased = tmp_path / "img2_biased.geom"
    write_geom(biased, read_rpc(gizeh_dir / "img2.geom").with_offsets(1.7, -0.6), gizeh_dir / "img2.geom")
    res = RpcBiasProcessor().run(_ctx(tmp_path / "b", gizeh_dir, biased))
    got = _corr(res)
    print(f"\nbase correction {base}, with injected (+1.7, −0.6): {got}")
    assert abs((got[0] - base[0]) + 1.7) < 0.1
    assert abs((got[1] - base[1]) - 0.6) < 0.1
    corrected = next(o.path for o in res.outputs if o.port == "corrected_model")
    again = _corr(RpcBiasProcessor().run(_ctx(tmp_path / "c", gizeh_dir, corrected)))
    assert abs(again[0]) < 0.1 and abs(again[1]) < 0.1


def test_constant_dem_equals_constant_height(tmp_path: Path, gizeh_dir: Path) -> None:
    """A flat DEM tile at 62 m (EPSG:4326) gives the same correction as the constant height 62 m."""
    dem = write_tif(tmp_path / "dem.tif", np.full((60, 60), 62.0), x0=31.0, y0=30.05, res=0.005, crs="EPSG:4326")
    a = _corr(RpcBiasProcessor().run(_ctx(tmp_path / "a", gizeh_dir, gizeh_dir / "img2.geom", height=62.0)))
    b = _corr(RpcBiasProcessor().run(_ctx(tmp_path / "b", gizeh_dir, gizeh_dir / "img2.geom",
                                          extra={"dem": [(dem, "AUX_REFDE1")]})))
    assert abs(a[0] - b[0]) < 0.02 and abs(a[1] - b[1]) < 0.02


def test_dem_not_covering_is_an_error(tmp_path: Path, gizeh_dir: Path) -> None:
    """A DEM tile elsewhere ends the run with ProcessingError naming the coverage."""
    dem = write_tif(tmp_path / "far.tif", np.full((10, 10), 5.0), x0=5.0, y0=44.0, res=0.01, crs="EPSG:4326")
    with pytest.raises(ProcessingError, match="does not cover"):
        RpcBiasProcessor().run(_ctx(tmp_path, gizeh_dir, gizeh_dir / "img2.geom",
                                    extra={"dem": [(dem, "AUX_REFDE1")]}))


def test_corrupt_rpc_file_is_refused(tmp_path: Path, gizeh_dir: Path) -> None:
    """A .geom with a coefficient missing or garbled is a MissingInputError naming the field."""
    text = (gizeh_dir / "img2.geom").read_text(encoding="utf-8")
    bad = tmp_path / "bad.geom"
    bad.write_text("\n".join(x for x in text.splitlines() if not x.startswith("line_num_coeff_07")), encoding="utf-8")
    with pytest.raises(RpcError, match="line_num needs 20"):
        read_rpc(bad)
    bad.write_text(text.replace("samp_scale:  19999.5", "samp_scale:  abc"), encoding="utf-8")
    with pytest.raises(MissingInputError, match="samp_scale"):
        RpcBiasProcessor().run(_ctx(tmp_path, gizeh_dir, bad))


def test_dimap_round_trip_and_one_based_offsets(tmp_path: Path, gizeh_dir: Path) -> None:
    """DIMAP XML written 1-based reads back to the same 0-based model (same projections)."""
    rpc = read_rpc(gizeh_dir / "img1.geom")
    xml = tmp_path / "RPC_img1.XML"
    write_dimap(xml, rpc)
    assert "<LINE_OFF>6822.5</LINE_OFF>" in xml.read_text()
    back = read_rpc(xml)
    lon = np.array([31.12, 31.13])
    lat = np.array([29.97, 29.98])
    h = np.array([60.0, 90.0])
    assert np.allclose(rpc.project(lon, lat, h), back.project(lon, lat, h), atol=1e-9)
    lo, la = rpc.localize(*rpc.project(lon, lat, h), h)
    assert np.allclose(lo, lon, atol=1e-9) and np.allclose(la, lat, atol=1e-9)
