"""Agreement of OTB HomologousPointsExtraction with VIQ ``image-registration`` on the shared Sentinel-2 pair.

    uv run python processors/otb/compare.py [--keep DIR]

Both run through the real host (job service, local executor, ``viq-task``) on
``../shared/data/arosics_s2_t33uuu`` (converted once from JPEG 2000 to GeoTIFF, unchanged values). OTB's tie
points (map coordinates: reference x y, target x y) give one map shift per point, reference minus target (the
correction of the target, the convention of AROSICS and ``image-registration``); the
table shows their median and robust spread (1.4826 MAD) next to ``image-registration``'s mean and global shift
and the AROSICS 1.12.1 global shift of the shared reference results. ``image-registration`` runs only when it is
installed. Prints a Markdown table (the README keeps the figures of the last run).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "arosics_s2_t33uuu"


def _geotiff(src: Path, dst: Path) -> Path:
    with rasterio.open(src) as s:
        profile = {**s.profile, "driver": "GTiff", "compress": "lzw"}
        profile.pop("blockxsize", None)
        profile.pop("blockysize", None)
        profile.pop("tiled", None)
        with rasterio.open(dst, "w", **profile) as d:
            d.write(s.read())
    return dst


def _robust(values: np.ndarray[Any, Any]) -> tuple[float, float]:
    median = float(np.median(values))
    return median, float(1.4826 * np.median(np.abs(values - median)))


def main(argv: list[str] | None = None) -> int:
    """Run both, print the table."""
    from viq_host.service import quiet_plugins
    from viq_host.testing.harness import harness_settings, run_processor

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it (default: a temporary directory)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="viq-otb-compare-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        ref = _geotiff(DATA / "ref_S2A_20160608T153121_T33UUU_sub.jp2", root / "ref_EXT_GEOIMG.tif")
        tgt = _geotiff(DATA / "tgt_S2A_20160529T153631_T33UUU_sub.jp2", root / "tgt_EXT_GEOIMG.tif")
        rows: list[tuple[str, str, str, str, str]] = []
        settings = harness_settings(root)

        t0 = time.perf_counter()
        otb = run_processor(
            "otb-homologouspointsextraction", {"in1": [ref], "in2": [tgt]},
            {"mode": "geobins", "backmatching": True, "algorithm": "sift"}, root, settings=settings, timeout=1800,
        ).assert_success()
        otb_s = time.perf_counter() - t0
        points = np.loadtxt(otb.output_paths("out")[0], ndmin=2)
        dx, dy = points[:, 0] - points[:, 2], points[:, 1] - points[:, 3]  # reference − target
        (mx, sx), (my, sy) = _robust(dx), _robust(dy)
        keep = (np.abs(dx - mx) < 3 * max(sx, 1e-9)) & (np.abs(dy - my) < 3 * max(sy, 1e-9))
        rows.append(("OTB HomologousPointsExtraction (SIFT, geobins, back-matching), median", f"{mx:+.2f}",
                     f"{my:+.2f}", f"{len(points)} ({int(keep.sum())} within 3σ)", f"{otb_s:.0f}"))
        rows.append(("  same, robust spread 1.4826·MAD", f"{sx:.2f}", f"{sy:.2f}", "", ""))

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            installed = {e.name for e in quiet_plugins().processors.entries() if e.status == "enabled"}
        if "image-registration" in installed:
            t0 = time.perf_counter()
            reg = run_processor("image-registration", {"reference": [ref], "target": [tgt]}, {"nodata": 0},
                                root, settings=settings, timeout=1800).assert_success(allow_warning=True)
            reg_s = time.perf_counter() - t0
            m = reg.measurements
            nan = float("nan")
            rows.append(("VIQ image-registration, mean of valid tie points", f"{m.get('shift_x_map', nan):+.2f}",
                         f"{m.get('shift_y_map', nan):+.2f}", "", f"{reg_s:.0f}"))
            if "global_shift_x_map" in m:
                rows.append(("VIQ image-registration, global window", f"{m['global_shift_x_map']:+.2f}",
                             f"{m['global_shift_y_map']:+.2f}", "", ""))
            if "shift_x_map" in m:
                rows.append(("difference OTB median − VIQ mean", f"{mx - m['shift_x_map']:+.2f}",
                             f"{my - m['shift_y_map']:+.2f}", "", ""))
        else:
            rows.append(("VIQ image-registration", "not installed", "", "", ""))
        arosics = json.loads((DATA / "reference" / "arosics_1.12.1_global_results.json").read_text())["default_auto_wp"]
        rows.append(("AROSICS 1.12.1 global (shared reference results)", f"{arosics['x_shift_map']:+.2f}",
                     f"{arosics['y_shift_map']:+.2f}", "", ""))
    print("| method | shift X (m) | shift Y (m) | points | run (s) |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
