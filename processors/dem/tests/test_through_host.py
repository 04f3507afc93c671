"""dem-compare and reference-dem through the real host (job order → job service → viq-task worker)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from affine import Affine

from viq_dem_testlib import terrain, write_tile
from viq_host.testing import harness


def test_dem_compare_through_the_host(tmp_path: Path) -> None:
    """A synthetic pair shifted by (2, −1) px with a +1.5 m bias: the host job succeeds and records dx_px, dy_px
    and dz_m within 0.05."""
    rr, cc = np.mgrid[0:220, 0:220].astype(float)
    t = Affine(30.0, 0, 600000.0, 0, -30.0, 4800000.0)
    surface = 300 + 50 * np.sin(cc / 8.0) * np.cos(rr / 11.0) + 30 * np.cos((cc + 2 * rr) / 15.0)
    ref = write_tile(tmp_path / "ref.tif", surface.astype("float32"), t, crs="EPSG:32631", nodata=None)
    r2, c2 = np.mgrid[0:180, 0:180].astype(float)
    cm, rm = c2 + 22, r2 + 19
    moved = 300 + 50 * np.sin(cm / 8.0) * np.cos(rm / 11.0) + 30 * np.cos((cm + 2 * rm) / 15.0)
    t_dem = t @ Affine.translation(20, 20)
    dem = write_tile(tmp_path / "dem.tif", (moved - 1.5).astype("float32"), t_dem, crs="EPSG:32631", nodata=None)
    out = harness.run_processor("dem-compare", inputs={"reference": [ref], "secondary": [dem]}, tmp_path=tmp_path)
    out.assert_success()
    m = out.measurements
    assert abs(m["dx_px"] - 2.0) < 0.05 and abs(m["dy_px"] + 1.0) < 0.05
    assert abs(m["dz_m"] - 1.5) < 0.05


def test_reference_dem_through_the_host(tmp_path: Path) -> None:
    """reference-dem from one synthetic tile, geoid heights kept: the host job succeeds and lists the COG."""
    n = 60
    res = 1.0 / n
    lon, lat = np.meshgrid(5 + np.arange(n + 1) * res, 45 - np.arange(n + 1) * res)
    tile = write_tile(tmp_path / "N44E005.tif", terrain(lon, lat).astype("float32"),
                      Affine(res, 0, 5 - res / 2, 0, -res, 45 + res / 2))
    out = harness.run_processor(
        "reference-dem", inputs={"tiles": [tile]}, tmp_path=tmp_path,
        params={"footprint_wkt": "POLYGON((5.2 44.2,5.4 44.2,5.4 44.4,5.2 44.4,5.2 44.2))", "site": "SYN",
                "output_heights": "geoid", "resolution": 200.0},
    )
    out.assert_success()
    assert len(out.output_paths("dem")) == 1 and out.output_paths("dem")[0].exists()
    assert "filled_fraction" in out.measurements
