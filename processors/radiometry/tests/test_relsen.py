"""relative-sensitivity and radiometric-correction: two-slope recovery, out-of-order detectors, striping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from viq_interfaces import ExitCode, GippError, exit_code_for
from viq_proc_radiometry.errors import BadInputError
from viq_proc_radiometry.processors import RadiometricCorrection, RelativeSensitivity
from viq_proc_radiometry.relsen import detect_out_of_order
from viq_proc_simulator import SimulationRun, simulate
from viq_rad_testlib import in_force, make_ctx
from viq_venus import default_config
from viq_venus.gipp import read_gipp
from viq_venus.radiometry import pixel_maps

BANDS = ("B2", "B10")


@pytest.fixture(scope="module")
def relsen_run(sims: dict[str, SimulationRun], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """The processor on nine flat levels + a dark (B2, B10, 512 detectors, 1000 lines each)."""
    tmp = tmp_path_factory.mktemp("relsen")
    ctx = make_ctx(RelativeSensitivity, tmp, {"flat": [p.header for p in sims["flats"].products],
                                              "dark": [sims["dark2"].products[0].header]})
    return tmp, RelativeSensitivity().run(ctx)


def test_two_slope_and_defects_recovered(relsen_run: tuple[Path, object]) -> None:
    """a1 within 1.5× its bound and ≤ 0.05 % RMS, knee within 1.5× its bound, exact out-of-order set."""
    _, result = relsen_run
    cfg = default_config()
    meas = {m.key: m.value for m in result.measurements}  # type: ignore[attr-defined]
    outs = result.outputs  # type: ignore[attr-defined]
    for band in BANDS:
        maps = pixel_maps(cfg, band, 8, 512)
        rs = read_gipp(next(o.path for o in outs if o.port == "relsen" and o.bands == (band,)), "GIP_RELSEN")
        oo = read_gipp(next(o.path for o in outs if o.port == "outord" and o.bands == (band,)), "GIP_OUTORD")
        found = {d.col_range.first: d.defect_type for d in oo.content.tdi_defects[0].defects}  # type: ignore[attr-defined]
        assert found == {d.column: d.defect_type for d in maps.defects}
        valid = np.ones(512, dtype=bool)
        valid[list(found)] = False
        a1, a2, knee = (np.asarray(rs.array(f), dtype=np.float64) for f in ("a1", "a2", "knee"))
        t = float(np.mean(maps.a1[valid]))  # relative sensitivities are defined up to the factor in A_k
        err_a1 = np.sqrt(np.mean((a1[valid] - maps.a1[valid] / t) ** 2))
        assert err_a1 <= 1.5 * meas[f"a1_sigma_rms_{band}_tdi8"]
        assert err_a1 <= 5e-4
        err_knee = np.sqrt(np.mean((knee[valid] - maps.knee[valid] * t) ** 2))
        assert err_knee < float(np.std(maps.knee))  # better than the pixel-to-pixel spread of the truth
        assert abs(np.median(a2[valid] / a1[valid]) - np.median(maps.a2[valid] / maps.a1[valid])) < 2e-3
        assert meas[f"striping_before_pct_{band}_tdi8"] > 0.5
        assert meas[f"striping_after_pct_{band}_tdi8"] <= 1.5 * meas[f"striping_noise_pct_{band}_tdi8"]


def test_knee_error_within_its_bound(relsen_run: tuple[Path, object], sims: dict[str, SimulationRun]) -> None:
    """The knee's RMS error is within 1.5× its propagated noise bound (numerics on the same flats)."""
    from viq_proc_radiometry.processors.common import block_source
    from viq_proc_radiometry.rawio import read_raw_product
    from viq_proc_radiometry.relsen import LevelMeans, fit_relative_sensitivity
    from viq_proc_radiometry.stats import column_stats

    cfg = default_config()
    dark_p = read_raw_product(sims["dark2"].products[0].header)
    dst = column_stats(block_source([dark_p], "B10"), dark_p.lines, 512)
    rows = []
    for p in sims["flats"].products:
        prod = read_raw_product(p.header)
        st = column_stats(block_source([prod], "B10"), prod.lines, 512, clip_sigma=5.0)
        rows.append((prod.flat_radiance, st.mean - dst.mean, st.mean_uncertainty**2, st.std, st.count))
    lv = LevelMeans(*(np.array([r[i] for r in rows]) for i in range(5)))
    fit = fit_relative_sensitivity(lv, dst.mean_uncertainty**2)
    maps = pixel_maps(cfg, "B10", 8, 512)
    v = fit.valid & fit.two_slope
    t = float(np.mean(maps.a1[fit.valid]))
    err = np.sqrt(np.mean((fit.knee[v] - maps.knee[v] * t) ** 2))
    assert err <= 1.5 * np.sqrt(np.mean(fit.sigma_knee[v] ** 2))
    assert v.sum() >= 500


def test_candidate_validated_by_correction(relsen_run: tuple[Path, object], sims: dict[str, SimulationRun],
                                           tmp_path: Path) -> None:
    """On an independent flat, the candidate leaves striping within 1.5× √(noise² + candidate error²)."""
    _, result = relsen_run
    outs = result.outputs  # type: ignore[attr-defined]
    meas = {m.key: m.value for m in result.measurements}  # type: ignore[attr-defined]
    dark_run = sims["dark2"]
    ctx = make_ctx(RadiometricCorrection, tmp_path, {
        "raw": [sims["check"].products[0].header],
        "relsen": [o.path for o in outs if o.port == "relsen"],
        "outord": [o.path for o in outs if o.port == "outord"],
        "darkcu": [in_force(dark_run, "GIP_DARKCU", b).path for b in BANDS],
    })
    res = RadiometricCorrection().run(ctx)
    m = {x.key: x.value for x in res.measurements}
    for band in BANDS:
        bound = np.hypot(m[f"striping_noise_pct_{band}_tdi8"], 100 * meas[f"a1_sigma_rms_{band}_tdi8"])
        assert m[f"striping_after_pct_{band}_tdi8"] <= 1.5 * bound
        assert m[f"striping_before_pct_{band}_tdi8"] > 20 * m[f"striping_after_pct_{band}_tdi8"]
    tifs = [o for o in res.outputs if o.port == "corrected"]
    assert len(tifs) == 2 and all(o.product_type == "VSC_RADCOR" for o in tifs)


def test_side_slither_first_slopes(sims: dict[str, SimulationRun], tmp_path: Path) -> None:
    """Side-slither alone: relative a1 within 1.5× its bound of the truth, and the out-of-order set found."""
    ctx = make_ctx(RelativeSensitivity, tmp_path, {"slither": [sims["slither"].products[0].header]},
                   gipps={"GIP_DARKCU": [in_force(sims["dark2"], "GIP_DARKCU", "B10")]})
    result = RelativeSensitivity().run(ctx)
    maps = pixel_maps(default_config(), "B10", 8, 512)
    rs = read_gipp(next(o.path for o in result.outputs if o.port == "relsen"), "GIP_RELSEN")
    oo = read_gipp(next(o.path for o in result.outputs if o.port == "outord"), "GIP_OUTORD")
    found = {d.col_range.first: d.defect_type for d in oo.content.tdi_defects[0].defects}  # type: ignore[attr-defined]
    assert set(found) == {d.column for d in maps.defects}
    valid = np.ones(512, dtype=bool)
    valid[list(found)] = False
    a1 = np.asarray(rs.array("a1"), dtype=np.float64)
    err = np.sqrt(np.mean((a1[valid] - maps.a1[valid] / np.mean(maps.a1[valid])) ** 2))
    meas = {m.key: m.value for m in result.measurements}
    assert err <= 1.5 * meas["a1_sigma_rms_B10_tdi8"]
    assert result.status == "warning"  # a2 and the knee are not measured by side-slither alone


def test_stuck_detector_is_blind() -> None:
    """A detector stuck at a constant DN (zero slope, zero noise) is BLIND; its neighbours are not flagged."""
    rng = np.random.default_rng(3)
    a1 = 1.0 + rng.normal(0, 0.01, 300)
    a1[100] = 0.0
    noise = np.full((3, 300), 2.0) + rng.normal(0, 0.02, (3, 300))
    noise[:, 100] = 0.0
    assert detect_out_of_order(a1, noise) == {100: "BLIND"}


def test_single_level_is_refused(sims: dict[str, SimulationRun], tmp_path: Path) -> None:
    """One radiance level: exit 134 naming the file and asking for two levels; nothing written."""
    ctx = make_ctx(RelativeSensitivity, tmp_path, {"flat": [sims["check"].products[0].header],
                                                   "dark": [sims["dark2"].products[0].header]})
    with pytest.raises(BadInputError, match="at least 2 distinct levels") as err:
        RelativeSensitivity().run(ctx)
    assert exit_code_for(err.value) == ExitCode.MISSING_INPUT
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.EEF"))


def test_saturated_flat_is_refused(tmp_path: Path) -> None:
    """A flat far above the 10-bit range is refused (exit 134) with the file, band and saturated fraction."""
    run = simulate(tmp_path / "sat", acquisition="flat", bands=("B10",), lines=64, pixels=64, levels=(50.0, 400.0),
                   products=("raw",))
    dark = simulate(tmp_path / "d", acquisition="dark", bands=("B10",), lines=64, pixels=64, products=("raw",))
    ctx = make_ctx(RelativeSensitivity, tmp_path, {"flat": [p.header for p in run.products],
                                                   "dark": [dark.products[0].header]})
    with pytest.raises(BadInputError, match=r"B10 \(L=400\): 100.00 % of the detectors saturate") as err:
        RelativeSensitivity().run(ctx)
    assert exit_code_for(err.value) == ExitCode.MISSING_INPUT


def test_dark_gipp_of_other_tdi_is_refused(tmp_path: Path, sims: dict[str, SimulationRun]) -> None:
    """A GIP_DARKCU in force for TDI 16 against TDI 8 flats is a GIPP error (exit 135) naming the file."""
    other = simulate(tmp_path / "t16", acquisition="dark", bands=("B10",), lines=32, pixels=512, tdi=16,
                     products=("raw",))
    g = in_force(other, "GIP_DARKCU", "B10")
    g = type(g)(gipp_type=g.gipp_type, version=1, path=g.path, band="B10", tdi=None)
    ctx = make_ctx(RelativeSensitivity, tmp_path, {"flat": [p.header for p in sims["flats"].products[:3]]},
                   params={"bands": ["B10"]}, gipps={"GIP_DARKCU": [g]})
    with pytest.raises(GippError, match="TDI 16, data are TDI 8") as err:
        RelativeSensitivity().run(ctx)
    assert exit_code_for(err.value) == ExitCode.GIPP_ERROR
