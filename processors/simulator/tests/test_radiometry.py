"""Radiometric truth: noise model, dark and PRNU maps, saturation, out-of-order pixels, gain drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from viq_proc_simulator import simulate
from viq_sim_testlib import band_array, truth_gipp_array
from viq_venus.gipp import NoiseModelContent, read_gipp

QUANTISATION_VAR = 1.0 / 12.0
"""Rounding to integer DN adds 1/12 DN² to the variance (Sheppard)."""


def _clean_columns(truth: dict[str, object], band: str, n: int) -> np.ndarray:
    info = truth["bands"][band]  # type: ignore[index]
    bad = {d["column"] for d in info["defects"]} | set(info["spike_columns"])
    return np.array([j for j in range(n) if j not in bad])


def test_noise_variance_matches_the_noise_model(tmp_path: Path) -> None:
    """Per-column temporal variance at each flat level equals A + B·L (+1/12 quantisation) within its 99.9 % CI."""
    levels = (0.0, 40.0, 120.0)
    run = simulate(tmp_path, acquisition="flat", bands=("B4",), tdi=8, lines=1024, pixels=96, levels=levels,
                   products=("raw",))
    noismo = read_gipp(next(g.path for g in run.gipps if g.gipp_type == "GIP_NOISMO")).content
    assert isinstance(noismo, NoiseModelContent)
    a, b = noismo.coefficients("B4", 8)
    for k, level in enumerate(levels):
        raw = band_array(run.of_type("VSC_RAWDAT")[k], "B4")
        cols = _clean_columns(run.truth(k), "B4", raw.shape[1])
        var = raw[:, cols].var(axis=0, ddof=1)
        expected = a + b * level + QUANTISATION_VAR
        se = var.std(ddof=1) / np.sqrt(var.size)
        assert abs(var.mean() - expected) < 3.3 * se, (level, var.mean(), expected, se)
    # the level dependence is real: B·L dominates A at the top level
    assert b * levels[-1] > 3 * a


def test_dark_and_prnu_maps_equal_the_truth_gipps(tmp_path: Path) -> None:
    """Column means of a dark acquisition give GIP_DARKCU; of a flat one (below the knee) give GIP_RELSEN a1."""
    dark_run = simulate(tmp_path / "dark", acquisition="dark", bands=("B2",), tdi=16, lines=2048, pixels=128,
                        products=("raw",))
    raw = band_array(dark_run.of_type("VSC_RAWDAT")[0], "B2")
    truth = dark_run.truth()
    dark_truth = truth_gipp_array(dark_run, "GIP_DARKCU", "B2", "dark_currents")
    cols = _clean_columns(truth, "B2", raw.shape[1])
    resid = raw[:, cols].mean(axis=0) - dark_truth[cols]
    sigma_mean = np.sqrt(truth["bands"]["B2"]["noise_a"] + QUANTISATION_VAR) / np.sqrt(raw.shape[0])
    assert np.sqrt(np.mean(resid**2)) < 1.5 * sigma_mean
    assert dark_truth.std() > 10 * sigma_mean  # the map has real structure to recover
    hot = truth["bands"]["B2"]["hot_pixels"]
    level = 50.0
    flat_run = simulate(tmp_path / "flat", acquisition="flat", bands=("B2",), tdi=16, lines=1024, pixels=128,
                        levels=(level,), products=("raw",))
    flat = band_array(flat_run.of_type("VSC_RAWDAT")[0], "B2")
    gain = flat_run.truth()["bands"]["B2"]["absolute_gain"]
    assert gain * level < 560  # below every knee: linear part only
    a1_est = (flat.mean(axis=0) - dark_truth) / (gain * level)
    a1_truth = truth_gipp_array(flat_run, "GIP_RELSEN", "B2", "a1")
    np.testing.assert_allclose(a1_est[cols], a1_truth[cols], atol=4e-3)
    assert a1_truth[cols].std() > 5e-3
    assert all(np.isin(hot, np.arange(128)))


def test_saturation_and_dead_pixels_where_injected(tmp_path: Path) -> None:
    """Pixels saturate at 1023 exactly where the noise-free DN exceeds it; BLIND columns stay at dark level."""
    levels = (60.0, 75.0)
    run = simulate(tmp_path, acquisition="flat", bands=("B9",), tdi=32, lines=256, pixels=5200, levels=levels,
                   products=("raw",))
    dark = truth_gipp_array(run, "GIP_DARKCU", "B9", "dark_currents")
    a1 = truth_gipp_array(run, "GIP_RELSEN", "B9", "a1")
    a2 = truth_gipp_array(run, "GIP_RELSEN", "B9", "a2")
    knee = truth_gipp_array(run, "GIP_RELSEN", "B9", "knee")
    for k, level in enumerate(levels):
        raw = band_array(run.of_type("VSC_RAWDAT")[k], "B9")
        truth = run.truth(k)
        info = truth["bands"]["B9"]
        x = info["absolute_gain"] * level
        expected = dark + np.where(x <= knee, a1 * x, a1 * knee + a2 * (x - knee))
        sigma = np.sqrt(info["noise_a"] + info["noise_b"] * level)
        normal = np.zeros(raw.shape[1], dtype=bool)
        normal[_clean_columns(truth, "B9", raw.shape[1])] = True
        surely_sat = normal & (expected > 1023 + 6 * sigma)
        surely_not = normal & (expected < 1023 - 6 * sigma)
        assert surely_sat.sum() + surely_not.sum() > 0.99 * normal.sum()  # nearly every pixel is clear-cut
        assert np.all(raw[:, surely_sat] == 1023)
        assert np.all(raw[:, surely_not] < 1023)
        assert info["saturated_pixels"] == int((raw >= 1023).sum())
        kinds = {d["column"]: d["type"] for d in info["defects"]}
        assert sorted(kinds.values()) == ["BLIND", "BLIND", "FILTER_HOLE", "NOISY", "NOISY"]
        for col, kind in kinds.items():
            if kind == "BLIND":
                assert abs(raw[:, col].mean() - dark[col]) < 1.0
            elif kind == "FILTER_HOLE":
                assert np.all(raw[:, col] == 1023)
            elif not surely_sat.any():  # NOISY, unsaturated
                assert raw[:, col].std() > 3 * sigma
    assert run.truth(0)["bands"]["B9"]["saturated_pixels"] < 256 * 10
    assert run.truth(1)["bands"]["B9"]["saturated_pixels"] > 256 * 5000


def test_campaign_drifts_gains_over_the_real_sites(tmp_path: Path) -> None:
    """A desert campaign over several dates shows L1/TOA falling as exp(drift·t) on VENµS site footprints."""
    run = simulate(tmp_path, acquisition="campaign", campaign_acquisition="desert", bands=("B1",), lines=64,
                   pixels=64, campaign_dates=3, campaign_interval_days=365.25, campaign_site_count=2,
                   truth_gipps=False)
    l1 = run.of_type("VSC_L1VALD")
    assert len(l1) == 6 and len({p.site for p in l1}) == 2
    ratios = []
    for k, prod in enumerate(l1):
        truth = run.truth(k)
        info = truth["bands"]["B1"]
        value = np.median(band_array(prod, "B1"))
        ratios.append(value / info["reference_radiance"])
        assert value / info["reference_radiance"] == pytest.approx(info["absolute_gain"] / info["absolute_gain_l1"],
                                                                   rel=3e-3)
    yearly = ratios[2] / ratios[0]
    drift = run.truth(0)["instrument_config"]["bands"]["B1"]["gain_drift_per_year"]
    assert yearly == pytest.approx(np.exp(drift), rel=4e-3)
    from shapely import wkt
    from shapely.geometry import Polygon

    from viq_proc_simulator.sites import get_site

    for prod in l1:
        site = Polygon(get_site(prod.site).footprint)
        assert site.contains(wkt.loads(prod.footprint_wkt).centroid)
