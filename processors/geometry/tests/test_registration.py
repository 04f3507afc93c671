"""``image-registration``: synthetic ground truth, bad input, through the real host."""

from __future__ import annotations

import csv
import sqlite3
import struct
from pathlib import Path

import numpy as np
import pytest
from geom_helpers import make_ctx, texture, warp_affine_shift, write_tif

from viq_host.jobs.store import JobState
from viq_host.testing.harness import run_processor
from viq_interfaces import ExitCode, ParameterError, RunStatus, exit_code_for
from viq_proc_geometry.grid import NoOverlapError
from viq_proc_geometry.processors.registration import ImageRegistration

CX = (0.35, 1.5e-4, -0.5e-4)
CY = (-1.25, 0.0, 1.0e-4)


def _pair(tmp_path: Path) -> tuple[Path, Path]:
    base = texture((760, 700), seed=11)
    tgt = warp_affine_shift(base, CX, CY)
    rng = np.random.default_rng(3)
    ref = write_tif(tmp_path / "ref.tif", 100 + 20 * base + 0.2 * rng.standard_normal(base.shape))
    # the target grid starts 30 columns / 20 lines into the reference grid
    tgt_arr = (100 + 20 * tgt + 0.2 * rng.standard_normal(base.shape))[20:, 30:]
    t = write_tif(tmp_path / "tgt.tif", tgt_arr, x0=600000.0 + 300.0, y0=4800000.0 - 200.0)
    return ref, t


def _run(tmp_path: Path, ref: Path, tgt: Path, **params: object):  # type: ignore[no-untyped-def]
    ctx = make_ctx(ImageRegistration, tmp_path, {"reference": [(ref, "EXT_GEOIMG")], "target": [(tgt, "EXT_GEOIMG")]},
                   **params)
    return ImageRegistration().run(ctx)


def test_affine_shift_field_recovered(tmp_path: Path) -> None:
    """An affine shift field injected by resampling comes back per point (< 0.03 px RMS) and in map units."""
    ref, tgt = _pair(tmp_path)
    res = _run(tmp_path, ref, tgt, grid_step=50, window=128, min_window=64)
    assert res.status == RunStatus.OK
    m = {x.key: x.value for x in res.measurements}
    csv_path = next(o.path for o in res.outputs if o.port == "tiepoints")
    with csv_path.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["valid"] == "True"]
    assert len(rows) >= 60
    # truth in the reference frame: target pixel (x, y) is reference pixel (x + 30, y + 20)
    xr = np.array([float(r["x_im"]) for r in rows]) + 30.0
    yr = np.array([float(r["y_im"]) for r in rows]) + 20.0
    tx = CX[0] + CX[1] * xr + CX[2] * yr
    ty = CY[0] + CY[1] * xr + CY[2] * yr
    err = np.concatenate([np.array([float(r["shift_x_px"]) for r in rows]) - tx,
                          np.array([float(r["shift_y_px"]) for r in rows]) - ty])
    assert float(np.sqrt(np.mean(err**2))) < 0.03
    # means within 0.02 px (0.2 m): the quintic-spline warp of the test image itself locks ≈ 0.005 px
    assert abs(m["shift_x_map"] - 10.0 * float(np.mean(tx))) < 0.2
    assert abs(m["shift_y_map"] + 10.0 * float(np.mean(ty))) < 0.2
    assert m["residual_rmse_px"] < 0.03
    assert m["correlation_rate"] > 0.9
    assert {o.port for o in res.outputs} == {"tiepoints", "plots", "shift_maps", "report"}


def test_no_overlap_is_an_error(tmp_path: Path) -> None:
    """Disjoint images end the run with NoOverlapError (exit code 148), not a shift."""
    a = texture((200, 200), seed=1)
    ref = write_tif(tmp_path / "a.tif", a)
    tgt = write_tif(tmp_path / "b.tif", a, x0=700000.0)
    with pytest.raises(NoOverlapError, match="do not overlap") as info:
        _run(tmp_path, ref, tgt, window=64)
    assert exit_code_for(info.value) == ExitCode.PROCESSING_ERROR


def test_crs_mismatch_is_refused(tmp_path: Path) -> None:
    """A target in another CRS is refused explicitly (ParameterError, exit code 147)."""
    a = texture((200, 200), seed=1)
    ref = write_tif(tmp_path / "a.tif", a)
    tgt = write_tif(tmp_path / "b.tif", a, crs="EPSG:32632")
    with pytest.raises(ParameterError, match="CRS mismatch") as info:
        _run(tmp_path, ref, tgt, window=64)
    assert exit_code_for(info.value) == ExitCode.PARAMETER_ERROR


def test_resolution_mismatch_is_refused(tmp_path: Path) -> None:
    """A target with another pixel size is refused explicitly, naming both resolutions."""
    a = texture((200, 200), seed=1)
    ref = write_tif(tmp_path / "a.tif", a)
    tgt = write_tif(tmp_path / "b.tif", a, res=20.0)
    with pytest.raises(ParameterError, match="resolution mismatch"):
        _run(tmp_path, ref, tgt, window=64)


def test_featureless_target_warns_without_shift(tmp_path: Path) -> None:
    """A uniform (cloud-like) target gives a WARNING with the reason and no shift measurement."""
    a = texture((300, 300), seed=1)
    ref = write_tif(tmp_path / "a.tif", 100 + 20 * a)
    tgt = write_tif(tmp_path / "b.tif", np.full((300, 300), 250.0))
    res = _run(tmp_path, ref, tgt, window=64, grid_step=40)
    assert res.status == RunStatus.WARNING
    keys = {x.key for x in res.measurements}
    assert "shift_x_map" not in keys and "valid_points" in keys
    assert any("featureless" in w for w in res.warnings)


def test_through_real_host(tmp_path: Path) -> None:
    """The installed processor runs through the job service and the worker subprocess; tie points come back."""
    ref, tgt = _pair(tmp_path)
    out = run_processor("image-registration", inputs={"reference": [ref], "target": [tgt]},
                        params={"grid_step": 100, "window": 128}, tmp_path=tmp_path)
    out.assert_success()
    assert out.state == JobState.SUCCEEDED
    assert out.measurements["valid_points"] >= 10
    assert abs(out.measurements["shift_y_map"] + 10.0 * (CY[0] + CY[2] * 400)) < 1.0
    assert out.output_paths("tiepoints")[0].is_file()


def test_tiepoints_as_geopackage(tmp_path: Path) -> None:
    """format=gpkg writes a GeoPackage that plain sqlite3 reads: GPKG tables, the target's EPSG CRS, one point
    per node at its map position, the same shifts and flags as the CSV table."""
    ref, tgt = _pair(tmp_path)
    res_csv = _run(tmp_path / "c", ref, tgt, grid_step=100, window=128)
    res_gpkg = _run(tmp_path / "g", ref, tgt, grid_step=100, window=128, format="gpkg")
    gpkg = next(o.path for o in res_gpkg.outputs if o.port == "tiepoints")
    assert gpkg.suffix == ".gpkg"
    with next(o.path for o in res_csv.outputs if o.port == "tiepoints").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    con = sqlite3.connect(gpkg)
    try:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tname, dtype, srs, minx, maxy = con.execute(
            "SELECT table_name, data_type, srs_id, min_x, max_y FROM gpkg_contents").fetchone()
        assert (tname, dtype, srs) == ("tiepoints", "features", 32631)
        assert con.execute("SELECT geometry_type_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ? "
                           "AND column_name = 'geom'", (tname,)).fetchone() == ("POINT", 32631)
        org, code, wkt = con.execute("SELECT organization, organization_coordsys_id, definition FROM "
                                     "gpkg_spatial_ref_sys WHERE srs_id = 32631").fetchone()
        assert (org, code) == ("EPSG", 32631) and "UTM zone 31N" in wkt
        assert {r[0] for r in con.execute("SELECT srs_id FROM gpkg_spatial_ref_sys")} >= {4326, -1, 0}
        got = con.execute("SELECT geom, x_im, y_im, shift_x_px, shift_y_px, valid FROM tiepoints "
                          "ORDER BY fid").fetchall()
    finally:
        con.close()
    assert len(got) == len(rows) >= 20
    assert minx == pytest.approx(600300.0) and maxy == pytest.approx(4799800.0)
    for (blob, x_im, y_im, sx, sy, valid), r in zip(got, rows, strict=True):
        assert blob[:2] == b"GP" and blob[3] & 0x01
        srs_id, x, y = struct.unpack("<i", blob[4:8])[0], *struct.unpack("<dd", blob[13:29])
        assert srs_id == 32631 and struct.unpack("<BI", blob[8:13]) == (1, 1)
        # the target grid starts at (600300, 4799800), 10 m pixels, nodes at pixel corners
        assert (x, y) == (600300.0 + 10.0 * x_im, 4799800.0 - 10.0 * y_im)
        assert (x_im, y_im) == (int(r["x_im"]), int(r["y_im"]))
        assert bool(valid) == (r["valid"] == "True")
        if valid:
            assert abs(sx - float(r["shift_x_px"])) < 1e-5 and abs(sy - float(r["shift_y_px"])) < 1e-5
