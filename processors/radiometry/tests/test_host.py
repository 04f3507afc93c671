"""One run per processor through the real host (job service, local executor, viq-task subprocess)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from viq_host.testing.harness import harness_settings, run_processor
from viq_interfaces.exitcodes import ExitCode
from viq_proc_simulator import simulate
from viq_venus import default_config
from viq_venus.gipp import read_gipp
from viq_venus.radiometry import absolute_gain, pixel_maps


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dark, flats (3 levels) and desert products of B4 (256 lines × 128 detectors) with truth GIPPs."""
    root = tmp_path_factory.mktemp("hostsim")
    for kind, extra in (("dark", {}), ("flat", {"levels": (40.0, 90.0, 140.0)}), ("desert", {})):
        simulate(root / kind, acquisition=kind, bands=("B4",), lines=256, pixels=128, products=("raw",), **extra)
    return root


@pytest.fixture
def sim(simulated: Path, tmp_path: Path) -> Path:
    """The simulated products copied under this test's data root."""
    return Path(shutil.copytree(simulated, tmp_path / "data"))


def _raw(root: Path, kind: str) -> list[Path]:
    return sorted((root / kind).glob("*_VSC_RAWDAT_*.HDR"))


def test_dark_signal_through_host(sim: Path, tmp_path: Path) -> None:
    """dark-signal succeeds through the host and its candidate matches the truth within 1.5× its bound."""
    out = run_processor("dark-signal", inputs={"dark": _raw(sim, "dark")}, tmp_path=tmp_path).assert_success()
    path = out.output_paths("darkcu")[0]
    dark = np.asarray(read_gipp(path, "GIP_DARKCU").array("dark_currents"), dtype=np.float64)
    rms = np.sqrt(np.mean((dark - pixel_maps(default_config(), "B4", 8, 128).dark) ** 2))
    assert rms <= 1.5 * out.measurements["dark_bound_rms_dn_B4_tdi8"]
    assert out.output_paths("plot")[0].suffix == ".png"


def test_relative_sensitivity_through_host(sim: Path, tmp_path: Path) -> None:
    """relative-sensitivity writes RELSEN + OUTORD and lowers striping; a single level exits 134."""
    settings = harness_settings(tmp_path)
    out = run_processor("relative-sensitivity", inputs={"flat": _raw(sim, "flat"), "dark": _raw(sim, "dark")},
                        settings=settings).assert_success(allow_warning=True)
    assert out.output_paths("relsen") and out.output_paths("outord")
    m = out.measurements
    assert m["striping_after_pct_B4_tdi8"] < m["striping_before_pct_B4_tdi8"] / 10
    bad = run_processor("relative-sensitivity", inputs={"flat": _raw(sim, "flat")[:1], "dark": _raw(sim, "dark")},
                        settings=settings)
    assert bad.exit_code == ExitCode.MISSING_INPUT
    assert "2 distinct levels" in bad.log


def test_noise_model_through_host(sim: Path, tmp_path: Path) -> None:
    """noise-model writes a GIP_NOISMO whose B is within 5 % of truth."""
    out = run_processor("noise-model", inputs={"flat": _raw(sim, "flat"), "dark": _raw(sim, "dark")},
                        tmp_path=tmp_path).assert_success()
    b = out.measurements["noise_b_B4_tdi8"]
    from viq_venus.radiometry import noise_coefficients

    hdr = _raw(sim, "flat")[0]
    from viq_proc_radiometry.rawio import read_raw_product

    b_true = noise_coefficients(default_config(), "B4", 8, read_raw_product(hdr).sensing_start)[1]
    assert b == pytest.approx(b_true, rel=0.05)


def test_absolute_calibration_through_host(sim: Path, tmp_path: Path) -> None:
    """Without RELSEN the gain is A_k·mean(a1) (the mean-a1 = 1 convention), within 0.5 %; status warning."""
    truth = sorted((sim / "desert").glob("*_TRUTH.json"))
    out = run_processor("absolute-calibration", inputs={"site": _raw(sim, "desert"), "reference": truth,
                                                        "dark": _raw(sim, "dark")},
                        params={"reference_uncertainty_pct": 1.0}, tmp_path=tmp_path).assert_success(allow_warning=True)
    from viq_proc_radiometry.rawio import read_raw_product

    when = read_raw_product(_raw(sim, "desert")[0]).sensing_start
    maps = pixel_maps(default_config(), "B4", 8, 128)
    good = ~maps.defect_mask()
    expected = absolute_gain(default_config(), "B4", 8, when) * float(np.mean(maps.a1[good]))
    assert out.measurements["absolute_gain_B4_tdi8"] == pytest.approx(expected, rel=0.005)


def test_radiometric_correction_through_host(sim: Path, tmp_path: Path) -> None:
    """radiometric-correction applies the simulator's truth GIPPs as named candidates and writes the evidence."""
    gipps = sim / "flat" / "gipps"

    def one(t: str) -> list[Path]:
        return sorted(gipps.glob(f"*_{t}_*.EEF"))[:1]

    out = run_processor("radiometric-correction", inputs={"raw": _raw(sim, "flat")[1:2], "darkcu": one("GIP_DARKCU"),
                                                          "relsen": one("GIP_RELSEN"), "outord": one("GIP_OUTORD")},
                        tmp_path=tmp_path).assert_success()
    m = out.measurements
    assert m["striping_after_pct_B4_tdi8"] <= 1.5 * m["striping_noise_pct_B4_tdi8"]
    assert out.output_paths("corrected")[0].suffix == ".TIF"
