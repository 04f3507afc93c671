"""The testing kit: harness through the real host, GeoTIFF builder, job-order factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio

import viq_exec_procs as procs
from viq_host.jobs.store import JobState
from viq_host.testing.factories import write_geotiff
from viq_host.testing.harness import Outcome, run_processor


def test_harness_runs_a_test_processor_on_a_tiny_geotiff(tmp_path: Path) -> None:
    """run_processor(class, inputs, params, tmp_path) runs the worker subprocess; the outcome carries everything."""
    data = np.arange(12 * 10, dtype=np.uint16).reshape(12, 10)
    tif = write_geotiff(tmp_path / "scene_VIQ_TSTDAT.tif", data, pixel_size=5.0)
    with rasterio.open(tif) as src:
        assert (src.width, src.height, src.res) == (10, 12, (5.0, 5.0))
        assert np.array_equal(src.read(1), data)
    outcome = run_processor(procs.Summer, {"data": [tif]}, {"scale": 3, "steps": 2}, tmp_path).assert_success()
    size = tif.stat().st_size
    assert outcome.measurements == {"nbytes": 3.0 * size, "nbytes_B1_along": float(size)}
    (report,) = outcome.output_paths("report")
    assert report.read_text() == f"{size}\n"
    assert "[P] 100.0% step 2" in outcome.log
    assert [e.message for e in outcome.events if e.level == "P"] == ["50.0% step 1", "100.0% step 2"]
    assert any(p.kind == "state" and p.state == "SUCCEEDED" for p in outcome.progress)


def test_assert_success_explains_a_failure(viq_run: Callable[..., Outcome]) -> None:
    """A failed run makes assert_success() fail with the state, exit code and reason."""
    outcome = viq_run(procs.Liar)
    assert outcome.state is JobState.FAILED and outcome.exit_code == 149
    with pytest.raises(AssertionError, match=r"FAILED \(exit 149\).*'report'"):
        outcome.assert_success()
