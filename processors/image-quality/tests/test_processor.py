"""The processor's ``run`` with a hand-built RunContext: ports, measurements, outputs, errors."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from iq_helpers import write_tiff
from PIL import Image

from viq_host.testing.context import ListLogger as _Log
from viq_interfaces import (
    ExitCode,
    InputProduct,
    MissingInputError,
    ParameterError,
    ProcessingError,
    RunContext,
    RunStatus,
    exit_code_for,
)
from viq_proc_iq.processor import MtfParameters, SlantedEdgeMtf
from viq_proc_iq.sfr import crossing
from viq_proc_iq.synthetic import gaussian_edge, gaussian_edge_mtf


def _ctx(tmp_path: Path, image: Path, product_type: str = "AUX_IMAGE_", **params: Any) -> RunContext[MtfParameters]:
    return RunContext(
        job_id="job-1",
        attempt_id="job-1-a1",
        processor="slanted-edge-mtf",
        version="01.00",
        inputs={"image": (InputProduct(path=image, product_type=product_type),)},
        params=MtfParameters.model_validate(params),
        gipps={},
        work_dir=tmp_path / "work",
        output_dir=tmp_path / "out",
        logger=_Log(),
        is_cancelled=lambda: False,
    )


def _by_key(result: Any) -> Mapping[str, float]:
    return {m.key: m.value for m in result.measurements}


def _scene(tmp_path: Path, sigma: float = 0.5) -> Path:
    """A 12-bit two-band frame with a vertical and a horizontal slanted edge on a noisy background."""
    rng = np.random.default_rng(7)
    bands = []
    for k in range(2):
        img = np.full((260, 320), 400.0)
        img[20:120, 30:130] = gaussian_edge((100, 100), 5.0, sigma, low=400, high=2400, aperture_samples=8)
        img[140:240, 180:280] = gaussian_edge(
            (100, 100), 7.0 + k, sigma, low=400, high=2400, aperture_samples=8, horizontal=True
        )
        bands.append(img + rng.normal(0.0, 2.0, img.shape))
    return write_tiff(tmp_path / "scene.tif", np.stack(bands), descriptions=["B3", "B4"])


def test_declaration_and_parameters() -> None:
    """The declaration names the ports and product types of the brief; string parameters parse."""
    decl = SlantedEdgeMtf.declaration
    assert decl.name == "slanted-edge-mtf" and decl.version == "01.00"
    assert set(decl.input("image").product_types) >= {"VSC_L1VALD", "VSC_RAWDAT", "IMQ_EDGEIM", "AUX_IMAGE_"}
    assert decl.output("curves").product_type == "IMQ_MTFMES"
    assert decl.output("plot").product_type == "IMQ_MTFPLT"
    p = MtfParameters.model_validate({"roi": "10,20,30,40", "bands": "1 3", "oversampling": "8"})
    assert p.roi == (10, 20, 30, 40) and p.bands == (1, 3) and p.oversampling == 8
    with pytest.raises(ValueError, match="extra"):
        MtfParameters.model_validate({"unknown": 1})


def test_auto_search_measures_both_directions_per_band(tmp_path: Path) -> None:
    """Without a roi both edges are found; every band gets along/across MTF within 0.01 of the truth."""
    result = SlantedEdgeMtf().run(_ctx(tmp_path, _scene(tmp_path), "IMQ_EDGEIM"))
    got = _by_key(result)
    assert result.status is RunStatus.OK
    truth_nyq = float(gaussian_edge_mtf(0.5, 0.5, 6.0, 8))
    for band in ("B3", "B4"):
        for direction in ("along", "across"):
            assert abs(got[f"mtf_nyquist_{band}_{direction}"] - truth_nyq) < 0.01
            assert 0.0 < got[f"mtf50_{band}_{direction}"] < 0.5
            assert f"mtf_at_0_25_{band}_{direction}" in got
    assert abs(got["edge_angle_deg_B3_across"] - 5.0) < 0.1
    assert abs(got["edge_angle_deg_B4_along"] - 8.0) < 0.1
    units = {m.name: m.unit for m in result.measurements}
    assert units["mtf50"] == "cy/px" and units["edge_angle_deg"] == "deg"
    curves = next(o for o in result.outputs if o.port == "curves")
    with curves.path.open() as fh:
        rows = list(csv.DictReader(fh))
    kinds = {(r["direction"], r["band"], r["curve"]) for r in rows}
    assert ("across", "B3", "mtf") in kinds and ("along", "B4", "esf") in kinds and ("along", "B3", "lsf") in kinds
    plot = next(o for o in result.outputs if o.port == "plot")
    with Image.open(plot.path) as im:
        assert im.format == "PNG" and im.size[0] > 800 and im.size[1] > 500
        assert np.asarray(im.convert("L")).std() > 10  # not a blank canvas


def test_explicit_roi_and_band_selection(tmp_path: Path) -> None:
    """A roi around the vertical edge and bands=2 measure that band only, across-track."""
    result = SlantedEdgeMtf().run(_ctx(tmp_path, _scene(tmp_path), roi="40,25,80,90", bands="2"))
    got = _by_key(result)
    assert set(got) == {f"{n}_B4_across" for n in ("mtf50", "mtf_nyquist", "mtf_at_0_25", "edge_angle_deg")}


def test_colour_image_reports_luminance_and_channels(tmp_path: Path, sfrmat3_dir: Path) -> None:
    """sfrmat3's colour edge through the processor: luminance MTF50 (band None) and R, G, B channel values."""
    image = shutil.copy(sfrmat3_dir / "h_edge.tif", tmp_path / "h_edge.tif")
    result = SlantedEdgeMtf().run(_ctx(tmp_path, Path(image)))
    got = _by_key(result)
    ref = np.loadtxt(sfrmat3_dir / "reference" / "sfrmat3_h_edge_sfr.csv", delimiter=",")
    assert abs(got["mtf50_along"] - crossing(ref[:, 0], ref[:, 4], 0.5)) < 0.005
    for j, ch in enumerate("RGB", start=1):
        assert abs(got[f"mtf50_{ch}_along"] - crossing(ref[:, 0], ref[:, j], 0.5)) < 0.005
    assert abs(got["edge_angle_deg_along"] - 5.39) < 0.02


def test_jpeg_chart_auto_search(tmp_path: Path, sfrmat3_dir: Path) -> None:
    """On the ISO 12233 chart photograph the search finds the ≈5.4° slanted square's edges in both directions."""
    image = shutil.copy(sfrmat3_dir / "ISO_DSC_300_mono.jpg", tmp_path / "chart.jpg")
    result = SlantedEdgeMtf().run(_ctx(tmp_path, Path(image)))
    got = _by_key(result)
    for direction in ("along", "across"):
        assert 4.5 < got[f"edge_angle_deg_{direction}"] < 6.5
        assert 0.1 < got[f"mtf50_{direction}"] < 0.5


def test_roi_outside_image_is_a_parameter_error(tmp_path: Path) -> None:
    """A roi outside the image ends the run with ParameterError (exit 147)."""
    with pytest.raises(ParameterError, match="not inside") as info:
        SlantedEdgeMtf().run(_ctx(tmp_path, _scene(tmp_path), roi="300,200,100,100"))
    assert exit_code_for(info.value) is ExitCode.PARAMETER_ERROR


def test_image_without_edge_is_a_processing_error(tmp_path: Path) -> None:
    """A flat noisy image: no usable edge, ProcessingError (exit 148) with the reasons, no outputs."""
    img = np.random.default_rng(3).normal(1000.0, 5.0, (150, 150))
    path = write_tiff(tmp_path / "flat.tif", img)
    with pytest.raises(ProcessingError, match="no usable slanted edge") as info:
        SlantedEdgeMtf().run(_ctx(tmp_path, path))
    assert exit_code_for(info.value) is ExitCode.PROCESSING_ERROR
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_saturated_raw_edge_is_refused(tmp_path: Path) -> None:
    """A raw (10-bit) edge clipped at 1023 is refused as saturated (saturation from the product type)."""
    img = np.minimum(gaussian_edge((100, 100), 5.0, 0.5, low=100, high=1400, aperture_samples=4), 1023.0)
    path = write_tiff(tmp_path / "raw.tif", img)
    with pytest.raises(ProcessingError, match="saturated"):
        SlantedEdgeMtf().run(_ctx(tmp_path, path, "VSC_RAWDAT", roi="0,0,100,100"))


def test_missing_file_is_a_missing_input(tmp_path: Path) -> None:
    """An input path that does not exist ends with MissingInputError (exit 134)."""
    with pytest.raises(MissingInputError):
        SlantedEdgeMtf().run(_ctx(tmp_path, tmp_path / "nope.tif"))


def test_band_failure_is_a_warning(tmp_path: Path) -> None:
    """When one band of a roi holds no edge the others are reported and the run ends with a warning."""
    edge = gaussian_edge((100, 100), 5.0, 0.5, low=400, high=2400, aperture_samples=8)
    flat = np.random.default_rng(5).normal(800.0, 4.0, edge.shape)
    path = write_tiff(tmp_path / "two.tif", np.stack([edge, flat]), descriptions=["B1", "B2"])
    result = SlantedEdgeMtf().run(_ctx(tmp_path, path, roi="0,0,100,100"))
    assert result.status is RunStatus.WARNING
    assert any("B2" in w and "no edge" in w for w in result.warnings)
    assert {m.band for m in result.measurements} == {"B1"}
