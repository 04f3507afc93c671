"""ISO 12233 slanted-edge SFR / MTF: the numerical core (numpy only, no I/O, no VIQ types).

The method follows the ISO 12233 e-SFR algorithm as implemented by P. D. Burns's sfrmat3 (v2.0), so that
results agree with that reference on its example edges:

1. the region of interest (ROI) is turned so that the edge runs roughly vertically (the test compares the
   mean level of the first and last rows with that of the first and last columns);
2. per line, the edge is located as the centroid of the 2-tap derivative ``[0.5, -0.5]`` weighted by a
   Hamming window (first centred on the ROI, then centred on the first fit), with the half-sample shift of
   the 2-tap filter removed;
3. a polynomial ``x = p(y)`` (order 1 as in sfrmat3; higher orders as in ISO 12233:2017) is fitted to the
   per-line locations;
4. the number of lines is cut to a whole number of phase cycles ``round(floor(n·|s|)/|s|)``;
5. every pixel is projected along the fitted edge onto ``x - (p(y) - p(0))`` and accumulated into bins of
   ``1/oversampling`` pixel (the edge spread function, ESF);
6. the line spread function (LSF) is the 3-tap derivative ``[0.5, 0, -0.5]`` of the ESF, shifted so its
   centroid sits in the middle of the array and multiplied by a window (Hamming as sfrmat3, or Tukey as
   sfrmat4);
7. the MTF is ``|DFT(LSF)|`` normalised at zero frequency and divided by the response of the 3-tap
   derivative (sfrmat3's ``fir2fix`` formula, limited to 10);
8. frequencies are in cycles per pixel along the edge normal: bin ``k`` is ``oversampling·k / (N·cos θ)``
   where ``N`` is the ESF length and θ the edge angle from the sampling axis.

Colour images are processed per channel plus a luminance record ``0.213 R + 0.715 G + 0.072 B`` (Rec. 709
weights, sfrmat3's default); as in sfrmat3 the first channel's edge slope sets the line count and the
frequency scale of every channel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Window = Literal["hamming", "tukey", "none"]

LUMINANCE_WEIGHTS: tuple[float, float, float] = (0.213, 0.715, 0.072)
"""Rec. 709 luminance weights used by sfrmat3 for colour images."""


class EdgeError(ValueError):
    """The region does not hold one usable slanted edge; the message says why."""


@dataclass(frozen=True)
class EdgeLimits:
    """Acceptance limits of an edge region (violations raise :class:`EdgeError`)."""

    min_angle_deg: float = 1.0
    """Smallest edge angle from the sampling axis; closer edges give too few phases."""
    max_angle_deg: float = 40.0
    """Largest edge angle from the sampling axis; near 45° the projection phases collapse."""
    warn_angle_deg: float = 3.5
    """Below this angle sfrmat3 warns ("high slope warning")."""
    min_size_px: int = 16
    """Smallest ROI side (pixels across and along the edge)."""
    min_contrast_to_noise: float = 8.0
    """Smallest ratio of the step height to the noise of the flat sides."""
    max_fit_rms_px: float = 1.0
    """Largest RMS residual of the per-line edge locations around the fit."""
    max_secondary_lobe: float = 0.3
    """Largest LSF value outside the main lobe, relative to the LSF peak (a second edge)."""
    max_saturated_fraction: float = 0.005
    """Largest fraction of ROI pixels at or above the saturation level (sfrmat3's clipping test)."""
    max_empty_bin_fraction: float = 0.05
    """Largest fraction of empty ESF bins (filled by interpolation below this)."""


@dataclass(frozen=True)
class EdgeFit:
    """Edge location fit ``x = p(y)`` in the (rotated) ROI, pixel units, 0-based line index ``y``."""

    coefficients: tuple[float, ...]
    """Polynomial coefficients, highest power first (``numpy.polyval`` order), x in 0-based pixels."""
    slope: float
    """Mean slope dx/dy of the edge over the lines."""
    residual_rms: float
    """RMS of the per-line centroid residuals around the fit, px."""
    n_lines: int
    """Lines used in the fit."""

    @property
    def angle_deg(self) -> float:
        """Edge angle from the line (column) axis, degrees."""
        return math.degrees(math.atan(abs(self.slope)))

    def x_at(self, y: float) -> float:
        """Edge position (0-based px) on line ``y``."""
        return float(np.polyval(self.coefficients, y))


@dataclass(frozen=True)
class SfrCurve:
    """Result for one channel: the curves and the derived figures."""

    frequency: FloatArray
    """cycles/pixel along the edge normal (up to the sampling frequency, 1 cy/px)."""
    mtf: FloatArray
    """MTF (SFR) normalised to 1 at zero frequency, derivative-corrected."""
    esf_position: FloatArray
    """ESF sample positions along the edge normal, px, 0 at the edge (the LSF centroid)."""
    esf: FloatArray
    """Oversampled edge spread function (input units)."""
    lsf: FloatArray
    """Line spread function (derivative of the ESF, before windowing, positive peak)."""
    lsf_position: FloatArray
    """LSF sample positions, px (the 3-tap derivative at index k belongs to ESF sample k - 1)."""
    fit: EdgeFit
    rotated: bool
    """True when the ROI was turned 90° (a horizontal edge in the image)."""
    oversampling: int
    lines_used: int
    """Lines kept for the projection (whole number of phase cycles)."""
    empty_bins: int
    warnings: tuple[str, ...] = field(default=())

    @property
    def mtf50(self) -> float:
        """Frequency where the MTF first falls to 0.5 (linear interpolation), cy/px; NaN if it never does."""
        return crossing(self.frequency, self.mtf, 0.5)

    def mtf_at(self, freq: float) -> float:
        """MTF at ``freq`` cy/px (linear interpolation)."""
        return float(np.interp(freq, self.frequency, self.mtf))

    @property
    def mtf_nyquist(self) -> float:
        """MTF at the Nyquist frequency, 0.5 cy/px."""
        return self.mtf_at(0.5)

    @property
    def edge_angle_deg(self) -> float:
        """Edge angle from the nearest sampling axis, degrees."""
        return self.fit.angle_deg


def crossing(freq: FloatArray, mtf: FloatArray, level: float) -> float:
    """First frequency where ``mtf`` drops below ``level`` (linear interpolation); NaN if it never does."""
    below = np.flatnonzero(mtf < level)
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(freq[0])
    f0, f1, m0, m1 = float(freq[i - 1]), float(freq[i]), float(mtf[i - 1]), float(mtf[i])
    return f0 + (m0 - level) * (f1 - f0) / (m0 - m1)


def mround(x: float) -> int:
    """Round half away from zero (MATLAB's ``round``), unlike Python's banker's rounding."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def hamming_window(n: int, mid: float) -> FloatArray:
    """Hamming-type window of ``n`` samples peaking at 1-based position ``mid`` (asymmetric if off-centre).

    The half-width is the larger distance from ``mid`` to either end, as in sfrmat3's ``ahamming``.
    """
    i = np.arange(1, n + 1, dtype=np.float64)
    wid = max(mid - 1.0, n - mid)
    if wid <= 0:
        return np.ones(n)
    return 0.54 + 0.46 * np.cos(np.pi * (i - mid) / wid)


def tukey_window(n: int, mid: float, alpha: float = 1.0) -> FloatArray:
    """Tukey (tapered cosine) window of ``n`` samples centred on 1-based ``mid``; ``alpha=1`` is a Hann window.

    Like sfrmat4's asymmetric Tukey, the half-width is the larger distance from ``mid`` to either end; the
    outer ``alpha`` fraction of each half is tapered.
    """
    i = np.arange(1, n + 1, dtype=np.float64)
    half = max(mid - 1.0, n - mid)
    if half <= 0 or alpha <= 0:
        return np.ones(n)
    r = np.abs(i - mid) / half  # 0 at the centre, 1 at the far end
    flat = 1.0 - alpha
    w = np.ones(n)
    taper = r > flat
    w[taper] = 0.5 * (1.0 + np.cos(np.pi * (r[taper] - flat) / alpha))
    return w


def derivative_correction(n: int) -> FloatArray:
    """sfrmat3's correction for the MTF of the 3-tap derivative, for ``n`` frequencies (limited to 10).

    ``c(i) = x / sin x`` with ``x = π·i/(n+1)`` for the 1-based index ``i ≥ 2``, and ``c(1) = 1``.
    """
    i = np.arange(1, n + 1, dtype=np.float64)
    x = np.pi * i / (n + 1)
    corr = np.abs(x / np.sin(x))
    corr[0] = 1.0
    return np.minimum(corr, 10.0)


def _centroid_rows(values: FloatArray) -> FloatArray:
    """1-based centroid of every row; NaN where the row sum is below 1e-4 (sfrmat3 returns 0 there)."""
    idx = np.arange(1, values.shape[-1] + 1, dtype=np.float64)
    total = values.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        loc = (values * idx).sum(axis=-1) / total
    return np.where(total < 1e-4, np.nan, loc)


def orient(stack: FloatArray) -> tuple[FloatArray, bool]:
    """Turn a ``(channels, rows, cols)`` ROI so that its edge runs vertically; return it and whether it turned.

    As sfrmat3's ``rotatev2``: compare the level change between rows 3 and -4 with the one between
    columns 3 and -4 (on the green channel of a colour ROI) and turn 90° counter-clockwise if the rows differ
    more (a horizontal edge).
    """
    probe = stack[1] if stack.shape[0] >= 3 else stack[0]
    nn = 3
    testv = abs(float(probe[-nn - 1, :].mean()) - float(probe[nn - 1, :].mean()))
    testh = abs(float(probe[:, -nn - 1].mean()) - float(probe[:, nn - 1].mean()))
    if testv > testh:
        return np.ascontiguousarray(np.rot90(stack, axes=(1, 2))), True
    return stack, False


def polarity(channel: FloatArray) -> float:
    """+1 when the vertical edge rises from left to right, -1 otherwise (sfrmat3's 5/6-column test)."""
    npix = channel.shape[1]
    left = float(channel[:, :5].sum())
    right = float(channel[:, npix - 6 :].sum())
    return -1.0 if left > right else 1.0


def locate_edge(channel: FloatArray, sign: float, order: int = 1) -> tuple[EdgeFit, FloatArray]:
    """Fit ``x = p(y)`` to the per-line derivative centroids of a vertical-edge ROI.

    Returns the fit and the per-line locations (0-based px, NaN for lines without signal).
    """
    nlin, npix = channel.shape
    if nlin < order + 2:
        raise EdgeError(f"{nlin} lines are too few for an order-{order} edge fit")
    deriv = np.empty_like(channel)
    deriv[:, 1:] = sign * 0.5 * (channel[:, 1:] - channel[:, :-1])
    deriv[:, 0] = deriv[:, 1]
    y = np.arange(nlin, dtype=np.float64)
    loc = _centroid_rows(deriv * hamming_window(npix, (npix + 1) / 2.0)) - 0.5
    coeffs = _fit(y, loc, order)
    # second pass: window centred on the first fit (1-based positions, as the centroid). sfrmat3 evaluates
    # the fit at the 1-based line number, i.e. one line further; kept for bit-level agreement (the window
    # spans the whole line, so the 0.1 px offset is immaterial).
    place = np.polyval(coeffs, y + 1.0)
    i = np.arange(1, npix + 1, dtype=np.float64)
    wid = np.maximum(place - 1.0, npix - place)[:, None]
    win2 = 0.54 + 0.46 * np.cos(np.pi * (i[None, :] - place[:, None]) / wid)
    loc = _centroid_rows(deriv * win2) - 0.5
    coeffs = _fit(y, loc, order)
    good = np.isfinite(loc)
    resid = loc[good] - np.polyval(coeffs, y[good])
    rms = float(np.sqrt(np.mean(resid**2))) if resid.size else float("inf")
    slope = float((np.polyval(coeffs, nlin - 1.0) - np.polyval(coeffs, 0.0)) / max(nlin - 1, 1))
    # shift to 0-based pixel positions for the public fit (the 1-based form is kept internally by callers)
    public = coeffs.copy()
    public[-1] -= 1.0
    fit = EdgeFit(tuple(float(c) for c in public), slope, rms, int(good.sum()))
    return fit, loc - 1.0


def _fit(y: FloatArray, loc: FloatArray, order: int) -> FloatArray:
    good = np.isfinite(loc)
    if good.sum() < order + 2:
        raise EdgeError("no edge: the derivative vanishes on almost every line")
    return np.polyfit(y[good], loc[good], order)


def project(channel: FloatArray, fit: EdgeFit, oversampling: int) -> tuple[FloatArray, int]:
    """Project the ROI along the fitted edge into ``npix·oversampling`` bins; return the ESF and empty bins.

    The coordinate is ``x - (p(y) - p(0))`` (for a straight edge ``x - s·y`` as sfrmat3); bin ``k`` holds
    ``ceil(coordinate·oversampling)``, and the kept bins are centred on the span of the shifts. Empty bins
    are filled by linear interpolation of their neighbours.
    """
    nlin, npix = channel.shape
    fac = oversampling
    y = np.arange(nlin, dtype=np.float64)
    shift = np.polyval(np.asarray(fit.coefficients), y) - np.polyval(np.asarray(fit.coefficients), 0.0)
    lo, hi = min(0.0, float(shift.min())), max(0.0, float(shift.max()))
    base = mround(fac * hi)  # bins needed left of x = 0
    spread = mround(fac * (hi - lo))
    coord = np.arange(npix, dtype=np.float64)[None, :] - shift[:, None]
    idx = (np.ceil(coord * fac) + base).astype(np.int64).ravel()
    idx = np.maximum(idx, 0)
    counts = np.bincount(idx, minlength=npix * fac + spread + 2)
    sums = np.bincount(idx, weights=channel.ravel(), minlength=npix * fac + spread + 2)
    start = mround(0.5 * spread)
    nn = npix * fac
    counts = counts[start : start + nn].astype(np.float64)
    sums = sums[start : start + nn]
    if counts.size < nn:
        raise EdgeError("projection ran out of bins; the ROI is too small for its edge angle")
    filled = counts > 0
    empty = int(nn - filled.sum())
    if empty == nn:
        raise EdgeError("projection produced no data")
    esf = np.zeros(nn)
    esf[filled] = sums[filled] / counts[filled]
    if empty:
        k = np.arange(nn, dtype=np.float64)
        esf[~filled] = np.interp(k[~filled], k[filled], esf[filled])
    return esf, empty


def esf_to_mtf(
    esf: FloatArray,
    sign: float,
    oversampling: int,
    cos_angle: float,
    window: Window = "hamming",
    tukey_alpha: float = 1.0,
    correct_derivative: bool = True,
    correct_binning: bool = False,
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """LSF, MTF and frequencies from an oversampled ESF; also the LSF centroid (0-based bin).

    ``correct_binning`` divides the MTF by the response of the ESF bins themselves, a box
    ``cos θ / oversampling`` px wide along the edge normal (``sinc(f cos θ / oversampling)``); sfrmat3 and
    ISO 12233 leave it in (≈ 2.6 % low at Nyquist with 4× bins).

    Returns ``(frequency, mtf, lsf, centroid)`` with the MTF up to 1 cy/px.
    """
    nn = esf.size
    lsf = np.zeros(nn)
    lsf[2:] = sign * 0.5 * (esf[2:] - esf[:-2])
    lsf[1] = lsf[2]
    total = float(lsf.sum())
    if total <= 0:
        raise EdgeError("the line spread function has no positive area (no edge)")
    mid = float((lsf * np.arange(1, nn + 1)).sum() / total)  # 1-based centroid
    shifted = np.zeros(nn)
    delta = mround(mround(mid) - mround((nn + 1) / 2.0))
    if delta > 0:
        shifted[: nn - delta] = lsf[delta:]
    else:
        shifted[-delta:] = lsf[: nn + delta]
    if window == "hamming":
        shifted = shifted * hamming_window(nn, (nn + 1) / 2.0)
    elif window == "tukey":
        shifted = shifted * tukey_window(nn, (nn + 1) / 2.0, tukey_alpha)
    spectrum = np.abs(np.fft.fft(shifted))
    if not spectrum[0] > 0:
        raise EdgeError("the windowed line spread function has no area (no edge)")
    nn2 = nn // 2 + 1
    mtf = spectrum[:nn2] / spectrum[0]
    if correct_derivative:
        mtf = mtf * derivative_correction(nn2)
    freq = oversampling * np.arange(nn, dtype=np.float64) / (cos_angle * nn)
    if correct_binning:
        mtf = mtf / np.sinc(freq[:nn2] * cos_angle / oversampling)
    freqlim = 2 if oversampling == 1 else 1
    nout = mround(nn2 * freqlim / 2.0)
    return freq[:nout], mtf[:nout], lsf, mid - 1.0


def edge_sfr(
    stack: npt.ArrayLike,
    *,
    oversampling: int = 4,
    fit_order: int = 1,
    window: Window = "hamming",
    tukey_alpha: float = 1.0,
    correct_derivative: bool = True,
    correct_binning: bool = False,
    limits: EdgeLimits | None = None,
    saturation_level: float | None = None,
    check: bool = True,
) -> list[SfrCurve]:
    """SFR of every channel of a slanted-edge ROI.

    :param stack: ``(rows, cols)`` or ``(channels, rows, cols)`` array, the edge region only.
    :param oversampling: ESF bins per pixel (ISO 12233: 4).
    :param fit_order: order of the edge-location polynomial (1: straight edge, as sfrmat3).
    :param window: LSF window: ``hamming`` (sfrmat3), ``tukey`` (sfrmat4-like) or ``none``.
    :param correct_derivative: divide by the 3-tap derivative's response (sfrmat3's ``fir2fix``).
    :param correct_binning: also divide by the response of the ESF bins (not done by sfrmat3).
    :param saturation_level: pixels at or above it count as clipped (none counted when None).
    :param check: apply :class:`EdgeLimits` (angle, contrast, straightness, second edge, clipping).
    :returns: one :class:`SfrCurve` per channel, in input order.
    :raises EdgeError: when the region is unusable and ``check`` is set (or when nothing can be computed).
    """
    lim = limits or EdgeLimits()
    data = np.asarray(stack, dtype=np.float64)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3:
        raise EdgeError(f"expected a 2-D or 3-D array, got shape {data.shape}")
    if oversampling < 1:
        raise EdgeError("oversampling must be at least 1")
    if not np.all(np.isfinite(data)):
        raise EdgeError("the region holds non-finite values (no-data or NaN pixels)")
    if check and min(data.shape[1:]) < lim.min_size_px:
        raise EdgeError(f"region {data.shape[2]}×{data.shape[1]} px is smaller than {lim.min_size_px} px")
    if check and saturation_level is not None:
        frac = float((data >= saturation_level).mean())
        if frac > lim.max_saturated_fraction:
            raise EdgeError(
                f"saturated edge: {100 * frac:.1f} % of the region is at or above {saturation_level:g} "
                f"(limit {100 * lim.max_saturated_fraction:.1f} %)"
            )
    data, rotated = orient(data)
    sign = polarity(data[0])
    fits = [locate_edge(ch, sign, fit_order)[0] for ch in data]
    ref = fits[0]
    if not math.isfinite(ref.slope) or ref.slope == 0.0:
        raise EdgeError("edge is exactly aligned with the sampling axis")
    nlin = data.shape[1]
    warnings: list[str] = []
    angle = ref.angle_deg
    if check:
        for ch, fit in zip(data, fits, strict=True):
            _check_region(ch, fit, lim)
        if angle < lim.min_angle_deg:
            raise EdgeError(f"edge angle {angle:.2f}° is closer to the axis than {lim.min_angle_deg:g}°")
        if angle > lim.max_angle_deg:
            raise EdgeError(f"edge angle {angle:.2f}° is closer to 45° than the {lim.max_angle_deg:g}° limit")
    if angle < lim.warn_angle_deg:
        warnings.append(f"edge angle {angle:.2f}° is below {lim.warn_angle_deg:g}° (few phases per cycle)")
    cycles = math.floor(nlin * abs(ref.slope))
    if cycles < 1:
        raise EdgeError(
            f"edge drifts {nlin * abs(ref.slope):.2f} px over {nlin} lines: less than one phase cycle "
            f"(edge too close to the axis for this region)"
        )
    nlin1 = min(nlin, mround(cycles / abs(ref.slope)))
    cos_angle = math.cos(math.atan(ref.slope))
    curves: list[SfrCurve] = []
    for ch, fit in zip(data, fits, strict=True):
        esf, empty = project(ch[:nlin1], fit, oversampling)
        if check and empty > lim.max_empty_bin_fraction * esf.size:
            raise EdgeError(f"{empty} of {esf.size} ESF bins are empty: the edge angle gives too few phases")
        freq, mtf, lsf, centre = esf_to_mtf(
            esf, sign, oversampling, cos_angle, window, tukey_alpha, correct_derivative, correct_binning
        )
        if check:
            _check_lsf(lsf, oversampling, lim)
        ch_warn = list(warnings)
        if empty:
            ch_warn.append(f"{empty} empty ESF bin(s) filled by interpolation")
        # ``centre`` is the LSF centroid (0-based LSF index); LSF sample k sits at ESF sample k - 1
        pos = (np.arange(esf.size) - centre) * cos_angle / oversampling
        curves.append(
            SfrCurve(
                frequency=freq,
                mtf=mtf,
                esf_position=pos + cos_angle / oversampling,
                esf=esf,
                lsf=lsf,
                lsf_position=pos,
                fit=fit,
                rotated=rotated,
                oversampling=oversampling,
                lines_used=nlin1,
                empty_bins=empty,
                warnings=tuple(ch_warn),
            )
        )
    return curves


def _check_region(ch: FloatArray, fit: EdgeFit, lim: EdgeLimits) -> None:
    """Contrast-to-noise and straightness of one vertical-edge channel."""
    nlin, npix = ch.shape
    # noise from line-to-line differences (the edge runs along the lines, so they hold little signal)
    noise = 1.4826 * float(np.median(np.abs(np.diff(ch, axis=0)))) / math.sqrt(2.0)
    quarter = max(npix // 4, 1)
    step = abs(float(np.median(ch[:, -quarter:])) - float(np.median(ch[:, :quarter])))
    if step < lim.min_contrast_to_noise * max(noise, 1e-12):
        raise EdgeError(f"no edge: step {step:.3g} is below {lim.min_contrast_to_noise:g}× the noise {noise:.3g}")
    if fit.n_lines < max(lim.min_size_px // 2, 4):
        raise EdgeError(f"no edge: only {fit.n_lines} of {nlin} lines show a step")
    # flat sides: at least 3 px on each side of the edge on every line
    y = np.arange(nlin, dtype=np.float64)
    xe = np.polyval(np.asarray(fit.coefficients), y)
    if float(xe.min()) < 3.0 or float(xe.max()) > npix - 4.0:
        raise EdgeError(
            "the edge is not inside the region with at least 3 px of flat field on each side "
            f"(edge at x≈{fit.x_at((nlin - 1) / 2):.1f} of {npix} px)"
        )
    if fit.residual_rms > lim.max_fit_rms_px:
        raise EdgeError(
            f"edge locations scatter {fit.residual_rms:.2f} px RMS around the fit (limit {lim.max_fit_rms_px:g}"
            " px): not one straight edge"
        )


def _check_lsf(lsf: FloatArray, oversampling: int, lim: EdgeLimits) -> None:
    """Reject an LSF with a second lobe (a second edge) or a dominant negative lobe."""
    kernel = np.ones(oversampling) / oversampling
    smooth = np.convolve(lsf, kernel, mode="same")
    peak_i = int(np.argmax(smooth))
    peak = float(smooth[peak_i])
    if peak <= 0:
        raise EdgeError("the line spread function has no positive peak (no edge)")
    # main lobe: contiguous run around the peak above 10 % of the peak
    above = np.abs(smooth) > 0.1 * peak
    lo = peak_i
    while lo > 0 and above[lo - 1] and smooth[lo - 1] > 0:
        lo -= 1
    hi = peak_i
    while hi < smooth.size - 1 and above[hi + 1] and smooth[hi + 1] > 0:
        hi += 1
    guard = 2 * oversampling  # skip derivative ringing next to the lobe
    outside = np.concatenate([smooth[: max(lo - guard, 0)], smooth[hi + guard + 1 :]])
    # ignore the ends of the array where the 3-tap derivative is undefined
    if outside.size:
        worst = float(np.max(np.abs(outside[2:-2]))) if outside.size > 4 else 0.0
        if worst > lim.max_secondary_lobe * peak:
            raise EdgeError(
                f"second edge: the line spread function has a lobe at {100 * worst / peak:.0f} % of its peak "
                f"outside the main edge (limit {100 * lim.max_secondary_lobe:.0f} %)"
            )


def luminance(rgb: FloatArray, weights: Sequence[float] = LUMINANCE_WEIGHTS) -> FloatArray:
    """Weighted sum of the first three channels of a ``(3, rows, cols)`` array."""
    lum = weights[0] * rgb[0] + weights[1] * rgb[1] + weights[2] * rgb[2]
    return np.asarray(lum, dtype=np.float64)
