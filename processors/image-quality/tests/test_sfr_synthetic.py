"""The core on synthetic edges with an analytic MTF (Gaussian PSF, square pixel aperture), and bad edges."""

from __future__ import annotations

import numpy as np
import pytest

from viq_proc_iq import sfr
from viq_proc_iq.synthetic import gaussian_edge, gaussian_edge_mtf

NYQ = 0.5


@pytest.mark.parametrize("angle", [3.0, 5.0, 8.0, 15.0, 25.0])
@pytest.mark.parametrize("horizontal", [False, True])
@pytest.mark.parametrize("sigma", [0.4, 0.6])
def test_gaussian_psf_with_pixel_aperture(angle: float, horizontal: bool, sigma: float) -> None:
    """Default (sfrmat3) settings recover the analytic MTF at Nyquist within 0.01, and MTF50 within 2 %."""
    img = gaussian_edge((100, 100), angle, sigma, horizontal=horizontal, aperture_samples=8)
    curve = sfr.edge_sfr(img)[0]
    assert curve.rotated == horizontal
    assert abs(curve.edge_angle_deg - angle) < 0.05
    truth_nyq = float(gaussian_edge_mtf(NYQ, sigma, angle, 8))
    assert abs(curve.mtf_nyquist - truth_nyq) < 0.01
    f = np.linspace(0.0, 1.0, 2001)
    truth50 = sfr.crossing(f, gaussian_edge_mtf(f, sigma, angle, 8), 0.5)
    assert abs(curve.mtf50 - truth50) < 0.02 * truth50


@pytest.mark.parametrize("angle", [3.0, 5.0, 15.0, 25.0])
def test_bin_correction_on_point_sampled_edges(angle: float) -> None:
    """With the ESF-bin correction the whole curve up to Nyquist matches the Gaussian MTF within 0.005.

    Without it the 1/4-px bins pull a sharp (σ = 0.4 px) point-sampled edge ≈ 2.6 % low at Nyquist; the
    test pins that the correction removes that bias (and that it was there).
    """
    sigma = 0.4
    img = gaussian_edge((100, 100), angle, sigma)
    plain = sfr.edge_sfr(img)[0]
    fixed = sfr.edge_sfr(img, correct_binning=True)[0]
    m = fixed.frequency <= NYQ
    truth = gaussian_edge_mtf(fixed.frequency, sigma)
    assert np.max(np.abs(fixed.mtf - truth)[m]) < 0.005
    assert plain.mtf_nyquist < fixed.mtf_nyquist - 0.005


@pytest.mark.parametrize(("noise", "seed"), [(0.5, 1), (1.0, 2), (2.0, 3)])
def test_noise_levels(noise: float, seed: int) -> None:
    """With additive noise (0.3–1.3 % of the 150-DN step), a 128×128 edge still gives MTF@Nyquist within 0.01."""
    sigma, angle = 0.5, 5.0
    img = gaussian_edge((128, 128), angle, sigma, aperture_samples=8, noise_std=noise, seed=seed)
    curve = sfr.edge_sfr(img)[0]
    assert abs(curve.mtf_nyquist - float(gaussian_edge_mtf(NYQ, sigma, angle, 8))) < 0.01


def test_polynomial_fit_follows_a_bent_edge() -> None:
    """A bowed edge (1.5 px sagitta, e.g. lens distortion) is fitted by order 2; order 1 smears the ESF."""
    sigma, angle = 0.5, 5.0
    img = gaussian_edge((120, 100), angle, sigma, aperture_samples=8, bend_px=1.5)
    straight = sfr.edge_sfr(img, fit_order=1)[0]
    curved = sfr.edge_sfr(img, fit_order=2)[0]
    truth = float(gaussian_edge_mtf(NYQ, sigma, angle, 8))
    assert abs(curved.mtf_nyquist - truth) < 0.01
    assert straight.mtf_nyquist < truth - 0.03
    assert len(curved.fit.coefficients) == 3 and curved.fit.residual_rms < 0.1 < straight.fit.residual_rms


def test_tukey_window_and_oversampling_options() -> None:
    """Tukey window and 8× bins give the same MTF at Nyquist as the defaults within 0.01 on a clean edge."""
    img = gaussian_edge((100, 100), 6.0, 0.5, aperture_samples=8)
    base = sfr.edge_sfr(img)[0]
    tukey = sfr.edge_sfr(img, window="tukey")[0]
    eight = sfr.edge_sfr(img, oversampling=8)[0]
    assert abs(tukey.mtf_nyquist - base.mtf_nyquist) < 0.01
    assert abs(eight.mtf_nyquist - base.mtf_nyquist) < 0.01
    assert eight.esf.size == 2 * base.esf.size


def test_polarity_does_not_matter() -> None:
    """A bright-to-dark edge gives the same MTF as the dark-to-bright one (the derivative sign flips)."""
    img = gaussian_edge((100, 100), 5.0, 0.5, aperture_samples=8)
    up = sfr.edge_sfr(img)[0]
    down = sfr.edge_sfr(250.0 - img)[0]
    assert np.max(np.abs(up.mtf - down.mtf)) < 1e-9


# ----------------------------------------------------------------------------------------- bad input
def test_no_edge_is_rejected() -> None:
    """Pure noise has no edge: a clear EdgeError, never an MTF."""
    noise = np.random.default_rng(4).normal(100.0, 3.0, (80, 80))
    with pytest.raises(sfr.EdgeError, match="no edge"):
        sfr.edge_sfr(noise)


def test_two_edges_are_rejected() -> None:
    """Two parallel edges (a bright bar) in the region are reported as a second edge."""
    a = gaussian_edge((100, 100), 5.0, 0.5, aperture_samples=4)
    b = gaussian_edge((100, 100), 5.0, 0.5, aperture_samples=4, offset_px=25.0)
    img = a + (b - 50.0)  # two rising steps 25 px apart
    with pytest.raises(sfr.EdgeError, match="second edge|not one straight edge"):
        sfr.edge_sfr(img)


def test_bar_with_opposite_edges_is_rejected() -> None:
    """A dark bar (a falling then a rising edge) is rejected."""
    a = gaussian_edge((100, 100), 5.0, 0.5, aperture_samples=4, offset_px=-12.0)
    b = gaussian_edge((100, 100), 5.0, 0.5, aperture_samples=4, offset_px=12.0)
    img = 200.0 - (a - 50.0) + (b - 50.0)
    with pytest.raises(sfr.EdgeError):
        sfr.edge_sfr(img)


@pytest.mark.parametrize("angle", [0.3, 43.0])
def test_angle_limits(angle: float) -> None:
    """Edges too close to the axis or to 45° are refused with the angle in the message."""
    img = gaussian_edge((100, 100), angle, 0.5, aperture_samples=4)
    with pytest.raises(sfr.EdgeError, match="edge angle|phase cycle"):
        sfr.edge_sfr(img)


def test_saturated_edge_is_rejected() -> None:
    """An edge whose bright side is clipped at the saturation level is refused."""
    img = np.minimum(gaussian_edge((100, 100), 5.0, 0.5, low=50, high=300, aperture_samples=4), 255.0)
    with pytest.raises(sfr.EdgeError, match="saturated"):
        sfr.edge_sfr(img, saturation_level=255.0)
    assert sfr.edge_sfr(img)[0].mtf50 > 0  # without a saturation level the same data is measured


def test_low_angle_warns() -> None:
    """An edge between the hard limit and 3.5° is measured with sfrmat3's low-angle warning."""
    img = gaussian_edge((200, 100), 2.5, 0.5, aperture_samples=4)
    curve = sfr.edge_sfr(img)[0]
    assert any("below 3.5" in w for w in curve.warnings)


def test_curve_positions_are_centred_on_the_edge() -> None:
    """The ESF crosses its mid level, and the LSF peaks, within 0.1 px of position 0."""
    curve = sfr.edge_sfr(gaussian_edge((100, 100), 6.0, 0.6, aperture_samples=8))[0]
    mid_level = 0.5 * (curve.esf[:20].mean() + curve.esf[-20:].mean())
    assert abs(sfr.crossing(curve.esf_position, -curve.esf, -mid_level)) < 0.1
    assert abs(curve.lsf_position[int(np.argmax(curve.lsf))]) < 0.15
