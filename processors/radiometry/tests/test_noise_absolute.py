"""noise-model and absolute-calibration: A, B, SNR and A_k (with trend and SBAF) against simulator truth."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from viq_interfaces import ExitCode, exit_code_for
from viq_proc_radiometry.absolute import estimate_gain
from viq_proc_radiometry.errors import BadInputError
from viq_proc_radiometry.processors import AbsoluteCalibration, NoiseModel
from viq_proc_radiometry.spectral import VENUS_TO_S2, sbaf
from viq_proc_simulator import SimulationRun, simulate
from viq_rad_testlib import in_force, make_ctx
from viq_venus import default_config
from viq_venus.gipp import read_gipp
from viq_venus.radiometry import absolute_gain, noise_coefficients, pixel_maps, two_slope


def test_noise_model_and_snr(sims: dict[str, SimulationRun], tmp_path: Path) -> None:
    """A and B within 5 % and within their 2σ intervals; SNR at the reference radiance within 2 % of truth."""
    flats = sims["flats"]
    ctx = make_ctx(NoiseModel, tmp_path, {"flat": [p.header for p in flats.products[:5]],
                                          "dark": [sims["dark2"].products[0].header]})
    result = NoiseModel().run(ctx)
    meas = {m.key: m for m in result.measurements}
    gf = read_gipp(next(o.path for o in result.outputs if o.port == "noismo"), "GIP_NOISMO")
    cfg = default_config()
    when = flats.products[0].sensing_start
    for band in ("B2", "B10"):
        a_true, b_true = noise_coefficients(cfg, band, 8, when)
        a, b = gf.content.coefficients(band, 8)  # type: ignore[attr-defined]
        assert abs(a - a_true) <= 0.05 * a_true and abs(a - a_true) <= 2 * meas[f"noise_a_{band}_tdi8"].uncertainty
        assert abs(b - b_true) <= 0.05 * b_true and abs(b - b_true) <= 2 * meas[f"noise_b_{band}_tdi8"].uncertainty
        maps = pixel_maps(cfg, band, 8, 512)
        good = ~maps.defect_mask()
        l_ref = cfg.band(band).reference_radiance
        signal = float(np.mean(two_slope(np.full(512, absolute_gain(cfg, band, 8, when) * l_ref), maps.a1, maps.a2,
                                         maps.knee)[good]))
        snr_true = signal / np.sqrt(a_true + b_true * l_ref)
        assert meas[f"snr_{band}_tdi8"].value == pytest.approx(snr_true, rel=0.02)


def test_noise_needs_two_levels(sims: dict[str, SimulationRun], tmp_path: Path) -> None:
    """One flat and no dark: one level only → exit 134."""
    ctx = make_ctx(NoiseModel, tmp_path, {"flat": [sims["check"].products[0].header]})
    with pytest.raises(BadInputError, match="needs 2 at least") as err:
        NoiseModel().run(ctx)
    assert exit_code_for(err.value) == ExitCode.MISSING_INPUT


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> SimulationRun:
    """Desert acquisitions over one site at four dates 90 days apart (gain drifting), B4 and B11."""
    return simulate(tmp_path_factory.mktemp("camp"), acquisition="campaign", campaign_acquisition="desert",
                    campaign_dates=4, campaign_sites=("SUDOUE-1",), bands=("B4", "B11"), lines=128, pixels=256,
                    products=("raw",), seed=21)


def test_absolute_gain_and_trend(campaign: SimulationRun, tmp_path: Path) -> None:
    """Exact reference + truth dark/RELSEN in force: A_k within 0.5 % of truth at every date, drift recovered."""
    raws = campaign.of_type("VSC_RAWDAT")
    cfg = default_config()
    gipps = {t: [in_force(campaign, t, b) for b in ("B4", "B11")] for t in ("GIP_DARKCU", "GIP_RELSEN", "GIP_OUTORD")}
    gipps["GIP_PHGAIN"] = [in_force(campaign, "GIP_PHGAIN")]
    ctx = make_ctx(AbsoluteCalibration, tmp_path, {"site": [p.header for p in raws], "reference": campaign.truths},
                   params={"reference_uncertainty_pct": 0.0}, gipps=gipps)
    result = AbsoluteCalibration().run(ctx)
    meas = {m.key: m for m in result.measurements}
    per_acq = next(o for o in result.outputs if o.port == "phgain").metadata
    for band in ("B4", "B11"):
        for item in per_acq[band]:
            truth = absolute_gain(cfg, band, 8, datetime.fromisoformat(item["when"]))
            assert item["gain"] == pytest.approx(truth, rel=0.005)
        drift_true = 100.0 * cfg.band(band).gain_drift_per_year
        m = meas[f"gain_drift_pct_per_year_{band}_tdi8"]
        assert abs(m.value - drift_true) <= max(3 * (m.uncertainty or 0.0), 0.05)
        # the PHGAIN in force is the first date's truth: the campaign mean has drifted below it
        assert meas[f"gain_change_pct_{band}_tdi8"].value < 0


def test_reference_uncertainty_covers_error() -> None:
    """With a noisy reference (2 %), the one-sigma interval covers the true gain in ≈ 68 % of 400 draws."""
    rng = np.random.default_rng(5)
    true_gain, radiance = 3.5, 100.0
    hits = 0
    for _ in range(400):
        signal = true_gain * radiance * (1 + rng.normal(0, 0.002, 256))
        ref = radiance * (1 + rng.normal(0, 0.02))
        est = estimate_gain("B4", 8, None, signal, ref, 0.02 * ref)
        hits += abs(est.gain - true_gain) <= est.uncertainty
    assert 0.62 <= hits / 400 <= 0.74


def test_cross_calibration_with_sbaf(campaign: SimulationRun, tmp_path: Path) -> None:
    """An S2A reference radiance converted with the SBAF gives the same gain as the VENµS-band reference."""
    raw = campaign.of_type("VSC_RAWDAT")[0]
    truth = campaign.truth(0)
    bands = {}
    for band in ("B4", "B11"):
        s2 = VENUS_TO_S2[band]
        bands[s2] = {"radiance": truth["bands"][band]["reference_radiance"] / sbaf(band, s2), "uncertainty": 0.0}
    ref = tmp_path / "s2_reference.json"
    ref.write_text(json.dumps({"sensor": "S2A", "bands": bands}), encoding="utf-8")
    gipps = {t: [in_force(campaign, t, b) for b in ("B4", "B11")] for t in ("GIP_DARKCU", "GIP_RELSEN")}
    ctx = make_ctx(AbsoluteCalibration, tmp_path, {"site": [raw.header], "reference": [ref]}, gipps=gipps)
    result = AbsoluteCalibration().run(ctx)
    meas = {m.key: m.value for m in result.measurements}
    cfg = default_config()
    for band in ("B4", "B11"):
        assert meas[f"absolute_gain_{band}_tdi8"] == pytest.approx(absolute_gain(cfg, band, 8, raw.sensing_start),
                                                                   rel=0.005)
        assert 0.8 < meas[f"sbaf_{band}_tdi8"] < 1.2 and meas[f"sbaf_{band}_tdi8"] != 1.0
