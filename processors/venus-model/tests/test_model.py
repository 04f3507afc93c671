"""Instrument model: configuration, geometry, radiometry and MTF against DESIGN §7."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from viq_interfaces.errors import ConfigurationError
from viq_venus import geometry, mtf, radiometry
from viq_venus.bands import tdi_code, tdis_from_code
from viq_venus.config import default_config, load_instrument_config

REPO = Path(__file__).resolve().parents[3]


def test_gsd_and_swath_follow_altitude() -> None:
    """GSD = H·p/f: 5.35 m at 720 km (swath ≈ 27.8 km) and ≈ 4.16 m at 560 km."""
    cfg = default_config()
    assert geometry.gsd_m(cfg) == pytest.approx(5.35, abs=0.01)
    assert geometry.swath_km(cfg) == pytest.approx(27.8, abs=0.1)
    low = default_config(orbit={"altitude_km": 560.0})
    assert geometry.gsd_m(low) == pytest.approx(4.16, abs=0.01)


def test_b5_b6_are_two_degrees_and_seconds_apart() -> None:
    """B5 and B6 sit at the two ends of the focal plane, ≈2° apart, so a line is acquired seconds apart."""
    cfg = default_config()
    assert geometry.band_separation_deg(cfg, "B5", "B6") == pytest.approx(2.0, abs=0.05)
    dt = geometry.time_offset_s(cfg, "B6") - geometry.time_offset_s(cfg, "B5")
    assert 2.0 < dt < 5.0
    offsets = [abs(geometry.view_angle_rad(cfg, b)) for b in cfg.bands]
    assert max(offsets) == pytest.approx(abs(geometry.view_angle_rad(cfg, "B5")))


def test_config_file_equals_defaults() -> None:
    """config/instrument.toml restates the built-in defaults exactly."""
    assert load_instrument_config(REPO / "config" / "instrument.toml") == default_config()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"bands": {"B13": {"centre_nm": 1000.0}}}, "bands"),
        ({"bands": {"B3": {"absolute_gain": -0.4}}}, "bands.B3.absolute_gain"),
        ({"tdi_settings": [1, 2, 8]}, "tdi_settings"),
        ({"orbit": {"altitude_km": -5}}, "orbit.altitude_km"),
        ({"focal_plane": {"units": [{"name": "X", "bands": ["B1"], "along_track_mm": 0, "array_offsets_mm": [0]}]}},
         "focal_plane.units"),
    ],
)
def test_bad_configuration_names_the_field(data: dict[str, object], field: str) -> None:
    """Each inconsistent configuration raises ConfigurationError whose message starts with the field path."""
    with pytest.raises(ConfigurationError) as err:
        load_instrument_config(data)
    assert str(err.value).startswith(field), str(err.value)


def test_tdi_codes_follow_the_icd() -> None:
    """TDI-set codes flag 32,16,08,04,(02),01: {32,16,8,4} → 111100; TDI 2 is refused."""
    assert tdi_code((32, 16, 8, 4)) == "111100"
    assert tdi_code(8) == "001000"
    assert tdis_from_code("111101") == (1, 4, 8, 16, 32)
    with pytest.raises(ValueError, match="TDI 2"):
        tdi_code(2)


def test_two_slope_and_inverse_are_consistent() -> None:
    """Z(x) is continuous at the knee with slopes a1 below and a2 above, and the inverse recovers x."""
    a1, a2, knee = np.array([1.02]), np.array([0.97]), np.array([600.0])
    x = np.array([0.0, 300.0, 600.0, 900.0])
    z = radiometry.two_slope(x, a1, a2, knee)
    assert z[1] == pytest.approx(306.0)
    assert z[3] - z[2] == pytest.approx(0.97 * 300.0)
    np.testing.assert_allclose(radiometry.inverse_two_slope(z, a1, a2, knee), x, atol=1e-9)


def test_gain_drifts_and_scales_with_tdi() -> None:
    """A_k ∝ TDI and decays by exp(drift·years) after launch; B of the noise model follows A_k."""
    cfg = default_config()
    g8 = radiometry.absolute_gain(cfg, "B4", 8)
    assert radiometry.absolute_gain(cfg, "B4", 32) == pytest.approx(4 * g8)
    later = radiometry.absolute_gain(cfg, "B4", 8, cfg.launch_date.replace(year=cfg.launch_date.year + 2))
    assert later / g8 == pytest.approx(math.exp(2 * cfg.bands["B4"].gain_drift_per_year), rel=2e-3)
    a, b = radiometry.noise_coefficients(cfg, "B4", 8)
    assert a == pytest.approx(cfg.bands["B4"].read_noise_dn ** 2)
    assert b == pytest.approx(g8 * cfg.bands["B4"].conversion_gain_dn_per_e)


def test_pixel_maps_inject_the_configured_defects() -> None:
    """Each band gets the configured numbers of BLIND/NOISY/FILTER_HOLE detectors; BLIND ones have no gain."""
    cfg = default_config()
    maps = radiometry.pixel_maps(cfg, "B7", 16)
    kinds = [d.defect_type for d in maps.defects]
    assert kinds.count("BLIND") == cfg.pixels.blind_count
    assert kinds.count("NOISY") == cfg.pixels.noisy_count
    assert kinds.count("FILTER_HOLE") == cfg.pixels.filter_hole_count
    assert np.all(maps.a1[maps.defect_mask("BLIND")] == 0.0)
    assert maps.hot.size == round(cfg.pixels.hot_pixel_fraction * cfg.pixels_per_array)
    dark4 = radiometry.pixel_maps(cfg, "B7", 4).dark
    # dark = offset + odd/even + TDI × current: doubling TDI adds the per-stage current once more
    per_stage = (maps.dark - dark4) / 12.0
    assert np.median(per_stage) == pytest.approx(cfg.bands["B7"].dark_current_dn_per_stage, abs=0.05)


def test_system_mtf_is_the_product_of_its_terms() -> None:
    """MTF = optics × detector sinc (× motion sinc along track); 1 at f = 0; along below across at Nyquist."""
    cfg = default_config()
    f = np.linspace(0.0, 0.5, 11)
    across = mtf.system_mtf(f, cfg, "B4", "across")
    along = mtf.system_mtf(f, cfg, "B4", "along")
    assert across[0] == pytest.approx(1.0) and along[0] == pytest.approx(1.0)
    expected = mtf.optics_mtf(f, cfg, "B4", "across") * np.abs(np.sinc(f))
    np.testing.assert_allclose(across, expected, rtol=1e-12)
    assert along[-1] < across[-1]
    assert mtf.system_mtf(0.5, cfg, "B1", "across") > mtf.system_mtf(0.5, cfg, "B12", "across")


def test_edge_spread_function_has_the_edge_mtf() -> None:
    """The tabulated ESF's derivative transforms back to the analytic edge MTF."""
    cfg = default_config()
    d = np.arange(-12, 12, 1 / 64)
    esf = mtf.edge_spread(d, cfg, "B4", "across", 5.0)
    lsf = np.gradient(esf, d)
    f = np.array([0.1, 0.25, 0.4])
    measured = np.abs(np.exp(-2j * np.pi * np.outer(f, d)) @ lsf) * (1 / 64)
    np.testing.assert_allclose(measured, mtf.edge_mtf(f, cfg, "B4", "across", 5.0), atol=3e-3)


def test_resampling_weights_shift_a_sinusoid() -> None:
    """The blur-and-shift kernel shifts a low-frequency sinusoid by r and attenuates it by the MTF."""
    cfg = default_config()
    f0 = 0.1
    n = np.arange(-40, 41)
    s = np.cos(2 * np.pi * f0 * n)
    taps = np.arange(-4, 6)
    for r in (0.0, 0.3, 0.77):
        w = mtf.resampling_weights(np.array([r]), taps, cfg, "B4", "across")[0]
        value = float(w @ s[40 + taps])
        expected = float(mtf.system_mtf(f0, cfg, "B4", "across")) * math.cos(2 * math.pi * f0 * r)
        assert value == pytest.approx(expected, abs=0.01)
