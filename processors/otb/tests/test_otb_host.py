"""Real OTB applications through the real host (job service, local executor, viq-task worker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from viq_host.jobs.store import JobState
from viq_host.testing.harness import Outcome, run_processor
from viq_interfaces.exitcodes import ExitCode
from viq_proc_otb.helpparse import OtbApp, OtbParam
from viq_proc_otb.processor import processor_class
from viq_proc_otb.samples import tiny_geotiff

pytestmark = pytest.mark.usefixtures("otb")


def _image(tmp_path: Path, seed: int) -> tuple[Path, np.ndarray[Any, Any]]:
    values = np.random.default_rng(seed).uniform(0, 1000, size=(24, 20)).astype(np.float32)
    return tiny_geotiff(tmp_path / f"img{seed}_OTB_IMAGE_.tif", values), values


def _run(tmp_path: Path, processor: Any, inputs: Any, params: Any = None, **kw: Any) -> Outcome:
    return run_processor(processor, inputs, params, tmp_path, timeout=120, **kw)


def test_bandmath_computes_the_expression_on_every_pixel(tmp_path: Path) -> None:
    """otb-bandmath with 'im1b1 * 2 + im2b1': the output equals the same expression in numpy, pixel for pixel."""
    a_path, a = _image(tmp_path, 1)
    b_path, b = _image(tmp_path, 2)
    calls: list[object] = []
    outcome = _run(tmp_path, "otb-bandmath", {"il": [a_path, b_path]}, {"exp": "im1b1 * 2 + im2b1"},
                   ingest=lambda *args: calls.append(args)).assert_success()
    (out,) = outcome.output_paths("out")
    with rasterio.open(out) as src:
        result = src.read(1)
        assert src.crs.to_epsg() == 32633
    np.testing.assert_allclose(result, a * 2 + b, rtol=1e-6)
    assert len(calls) == 1
    assert any(e.level == "P" for e in outcome.events)


def test_compute_images_statistics_measures_mean_and_std(tmp_path: Path) -> None:
    """otb-computeimagesstatistics: mean and (sample) std measurements and its XML output match numpy;
    OTB prints 5–6 significant digits, hence the 1e-4 relative tolerance."""
    path, values = _image(tmp_path, 3)
    outcome = _run(tmp_path, "otb-computeimagesstatistics", {"il": [path]}).assert_success()
    m = outcome.measurements
    assert m["out_mean_b1"] == pytest.approx(values.mean(dtype=np.float64), rel=1e-4)
    assert m["out_std_b1"] == pytest.approx(values.std(ddof=1, dtype=np.float64), rel=1e-4)
    assert m["out_min_b1"] == pytest.approx(values.min(), rel=1e-4)
    (xml,) = outcome.output_paths("out_xml")
    assert "FeatureStatistics" in xml.read_text()


def test_otb_refusing_an_expression_fails_the_job(tmp_path: Path) -> None:
    """A BandMath expression OTB cannot parse: FAILED with 148 and OTB's message, nothing ingested."""
    path, _ = _image(tmp_path, 4)
    calls: list[object] = []
    outcome = _run(tmp_path, "otb-bandmath", {"il": [path]}, {"exp": "foo("}, ingest=lambda *a: calls.append(a))
    assert outcome.state is JobState.FAILED and outcome.exit_code == ExitCode.PROCESSING_ERROR
    assert "otbcli_BandMath failed" in outcome.reason and calls == []


def _missing_app() -> type[Any]:
    """A processor for an application no OTB has (its description written here, as -help would give it)."""
    params = (
        OtbParam(key="il", type="string list", label="Input image list", mandatory=True, default=None,
                 choices=(), pixel_types=(), pixel_default=None, role="input"),
        OtbParam(key="out", type="string", label="Output Image", mandatory=True, default=None,
                 choices=(), pixel_types=("float",), pixel_default="float", role="output"),
    )
    cls = processor_class(OtbApp(name="NoSuchApp", version="8.1.1", summary="Does not exist.", params=params))
    cls.__module__, cls.__qualname__ = __name__, "NoSuchApp"
    return cls


NoSuchApp = _missing_app()


def test_application_missing_from_the_installed_otb_fails_clearly(tmp_path: Path) -> None:
    """Running a processor whose application OTB lacks: FAILED with 160, the reason names it; nothing ingested."""
    path, _ = _image(tmp_path, 5)
    calls: list[object] = []
    outcome = _run(tmp_path, NoSuchApp, {"il": [path]}, ingest=lambda *a: calls.append(a))
    assert outcome.state is JobState.FAILED and outcome.exit_code == ExitCode.CONFIGURATION_ERROR
    assert "'NoSuchApp' is not in the installed Orfeo Toolbox" in outcome.reason
    assert calls == [] and outcome.outputs == ()


