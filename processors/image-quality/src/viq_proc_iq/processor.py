"""The ``slanted-edge-mtf`` processor: ISO 12233 slanted-edge MTF per band/channel and edge direction."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from viq_interfaces import (
    InputPort,
    Measurement,
    MissingInputError,
    OutputPort,
    OutputProduct,
    ParameterError,
    ProcessingError,
    Processor,
    ProcessorDeclaration,
    ProcessorResult,
    Resources,
    RunContext,
    RunStatus,
)
from viq_proc_iq import __version__
from viq_proc_iq.detect import EdgeRegion, find_edge_regions
from viq_proc_iq.imageio import EdgeImage, ImageReadError, open_image
from viq_proc_iq.sfr import LUMINANCE_WEIGHTS, EdgeError, EdgeLimits, SfrCurve, edge_sfr, luminance

INPUT_TYPES: tuple[str, ...] = ("VSC_L1VALD", "VSC_RAWDAT", "IMQ_EDGEIM", "AUX_IMAGE_")
"""Accepted input product types.

``VSC_L1VALD`` VENµS L1 product (GeoTIFF, one band per spectral band), ``VSC_RAWDAT`` raw 10-bit image data
(saturation at 1023), ``IMQ_EDGEIM`` an edge acquisition prepared for MTF (e.g. a simulated slanted-edge
scene), ``AUX_IMAGE_`` any other image file (GeoTIFF, TIFF, JPEG, PNG), e.g. a test-chart photograph.
"""

SATURATION_BY_TYPE: dict[str, float] = {"VSC_RAWDAT": 1023.0}
"""Saturation level by product type when neither the parameters nor the product metadata give one."""


def _split_numbers(value: object) -> object:
    """Accept ``"1,2,3"`` / ``"1 2 3"`` strings (job-order parameters are strings) for tuple fields."""
    if isinstance(value, str):
        text = value.strip().strip("()[]")
        return tuple(p for p in re.split(r"[\s,;]+", text) if p) if text else ()
    return value


class MtfParameters(BaseModel):
    """Parameters of ``slanted-edge-mtf``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roi: tuple[int, int, int, int] | None = Field(
        default=None,
        description="Region of interest 'x0,y0,w,h' in pixels (0-based, top-left corner); "
        "none = automatic search of the best vertical and horizontal edge.",
    )
    bands: tuple[int, ...] = Field(
        default=(), description="1-based band numbers to measure; empty = every band (R, G, B for colour)."
    )
    oversampling: int = Field(default=4, ge=1, le=16, description="ESF bins per pixel (ISO 12233: 4).")
    window: Literal["hamming", "tukey", "none"] = Field(
        default="hamming", description="LSF window: hamming (sfrmat3), tukey (sfrmat4-like) or none."
    )
    tukey_alpha: float = Field(default=1.0, gt=0.0, le=1.0, description="Tukey taper fraction (1 = Hann).")
    fit_order: int = Field(default=1, ge=1, le=5, description="Order of the edge-location polynomial (1 = line).")
    correct_binning: bool = Field(
        default=False,
        description="Also divide the MTF by the response of the 1/oversampling-px ESF bins (sfrmat3 does not).",
    )
    colour: Literal["auto", "rgb", "bands"] = Field(
        default="auto",
        description="rgb: bands 1-3 are R, G, B and a luminance record is measured too; bands: independent "
        "bands; auto: rgb when the file declares red/green/blue.",
    )
    luminance_weights: tuple[float, float, float] = Field(
        default=LUMINANCE_WEIGHTS, description="R, G, B weights of the luminance record (sfrmat3: Rec. 709)."
    )
    saturation_level: float | None = Field(
        default=None,
        description="Pixel value counted as saturated; none = product metadata, product type (raw: 1023), "
        "or the integer type's maximum.",
    )
    min_angle_deg: float = Field(default=2.0, ge=0.2, le=20.0, description="Smallest edge angle from the axis.")
    max_angle_deg: float = Field(default=40.0, ge=5.0, le=44.0, description="Largest edge angle from the axis.")
    min_contrast_to_noise: float = Field(default=8.0, gt=0.0, description="Smallest step height / noise ratio.")
    search_window_px: int | None = Field(
        default=None, ge=16, le=1024, description="Window side of the automatic edge search; none = 96…32 px."
    )

    _split = field_validator("roi", "bands", "luminance_weights", mode="before")(_split_numbers)

    @field_validator("roi", mode="before")
    @classmethod
    def _empty_roi(cls, value: object) -> object:
        return None if value in ((), "", "none", "None") else value

    @field_validator("bands")
    @classmethod
    def _bands(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(b < 1 for b in value):
            raise ValueError("band numbers start at 1")
        return value

    @model_validator(mode="after")
    def _angles(self) -> MtfParameters:
        if self.roi is not None and (self.roi[2] <= 0 or self.roi[3] <= 0):
            raise ValueError("roi width and height must be positive")
        if self.min_angle_deg >= self.max_angle_deg:
            raise ValueError("min_angle_deg must be below max_angle_deg")
        return self


@dataclass(frozen=True)
class _Channel:
    name: str | None
    """Measurement band: band name, 'R'/'G'/'B', or None for the luminance / a single unnamed band."""
    label: str
    curve: SfrCurve


@dataclass(frozen=True)
class _Edge:
    index: int
    region: EdgeRegion
    direction: str
    channels: tuple[_Channel, ...]


class SlantedEdgeMtf(Processor):
    """ISO 12233 slanted-edge MTF (sfrmat3-compatible) per band/channel and edge direction."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="slanted-edge-mtf",
        version=__version__,
        description=(
            "Measures the modulation transfer function from slanted edges (ISO 12233 e-SFR, sfrmat3-compatible): "
            "per-line edge location, polynomial edge fit, 4x oversampled ESF, windowed LSF, DFT normalised at "
            "zero frequency with derivative correction. Per band (R, G, B and luminance for colour images) and "
            "per direction: vertical edges give the across-track MTF, horizontal edges the along-track MTF. "
            "Reports MTF50, MTF at Nyquist and at 0.25 cy/px and the edge angle; writes ESF/LSF/MTF curves "
            "(CSV) and a plot (PNG)."
        ),
        inputs=(
            InputPort(
                name="image",
                product_types=INPUT_TYPES,
                description="Image holding slanted edges (VENµS L1/raw, simulated edge scene, or any "
                "GeoTIFF/TIFF/JPEG/PNG as AUX_IMAGE_).",
            ),
        ),
        outputs=(
            OutputPort(
                name="curves",
                product_type="IMQ_MTFMES",
                format="CSV",
                file_name_pattern="*_mtf_curves.csv",
                description="ESF, LSF and MTF curves per edge and band: edge,direction,band,curve,x,value.",
            ),
            OutputPort(
                name="plot",
                product_type="IMQ_MTFPLT",
                format="PNG",
                file_name_pattern="*_mtf_plot.png",
                description="ESF, LSF and MTF plot per edge, bands overlaid.",
            ),
        ),
        resources=Resources(cores=1, memory_mb=2048),
    )
    Parameters: ClassVar[type[BaseModel]] = MtfParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Find or take the edge region(s), measure every band, write curves and plot."""
        params = ctx.params
        if not isinstance(params, MtfParameters):
            params = MtfParameters.model_validate(params.model_dump())
        product = ctx.one("image")
        ctx.logger.info(f"slanted-edge MTF of {product.path.name} ({product.product_type})")
        try:
            with open_image(product.path) as image:
                edges, warns = self._measure(
                    ctx, params, image, product.product_type, dict(product.metadata), product.path
                )
        except ImageReadError as err:
            raise MissingInputError(str(err)) from err
        stem = product.path.stem
        curves_path = ctx.output_dir / f"{stem}_mtf_curves.csv"
        plot_path = ctx.output_dir / f"{stem}_mtf_plot.png"
        ctx.output_dir.mkdir(parents=True, exist_ok=True)
        _write_curves(curves_path, edges)
        _write_plot(plot_path, edges, product.path.name)
        ctx.logger.progress(100.0, "curves and plot written")
        measurements = _measurements(edges)
        bands = tuple(sorted({c.name for e in edges for c in e.channels if c.name}))
        meta: dict[str, Any] = {
            "source": product.path.name,
            "edges": [
                {
                    "direction": e.direction,
                    "roi": [e.region.x0, e.region.y0, e.region.w, e.region.h],
                    "edge_angle_deg": e.channels[-1].curve.edge_angle_deg,
                    "lines_used": e.channels[-1].curve.lines_used,
                }
                for e in edges
            ],
            "oversampling": params.oversampling,
            "window": params.window,
            "fit_order": params.fit_order,
        }
        outputs = (
            OutputProduct(port="curves", path=curves_path, product_type="IMQ_MTFMES", bands=bands, metadata=meta),
            OutputProduct(port="plot", path=plot_path, product_type="IMQ_MTFPLT", bands=bands, metadata=meta),
        )
        summary = "; ".join(
            f"{e.direction}: MTF50 {e.channels[-1].curve.mtf50:.4f} cy/px, "
            f"MTF@Nyq {e.channels[-1].curve.mtf_nyquist:.4f} ({e.channels[-1].label})"
            for e in edges
        )
        for w in warns:
            ctx.logger.warning(w)
        ctx.logger.info(summary)
        return ProcessorResult(
            outputs=outputs,
            measurements=measurements,
            status=RunStatus.WARNING if warns else RunStatus.OK,
            warnings=tuple(warns),
            summary=summary,
        )

    # --------------------------------------------------------------------------------------------------
    def _measure(
        self,
        ctx: RunContext[BaseModel],
        params: MtfParameters,
        image: EdgeImage,
        product_type: str,
        metadata: dict[str, Any],
        product_path: Path,
    ) -> tuple[list[_Edge], list[str]]:
        info = image.info
        rgb = params.colour == "rgb" or (params.colour == "auto" and info.is_rgb)
        if rgb and info.count < 3:
            raise ParameterError(f"colour=rgb needs 3 bands, the image has {info.count}")
        bands = params.bands or ((1, 2, 3) if rgb else tuple(range(1, info.count + 1)))
        bad = [b for b in bands if b > info.count]
        if bad:
            raise ParameterError(f"band(s) {bad} do not exist: the image has {info.count} band(s)")
        if rgb and tuple(sorted(bands)) != (1, 2, 3):
            rgb = False  # a subset of the colour bands is measured band by band
        saturation = _saturation(params, product_type, metadata, info.integer_max)
        limits = EdgeLimits(
            min_angle_deg=params.min_angle_deg,
            max_angle_deg=params.max_angle_deg,
            min_contrast_to_noise=params.min_contrast_to_noise,
        )
        names = _band_names(info.descriptions, bands, rgb, _single_band_name(product_path, metadata))
        regions = self._regions(ctx, params, image, bands, rgb, limits, saturation)
        warns: list[str] = []
        edges: list[_Edge] = []
        opts: dict[str, Any] = {
            "oversampling": params.oversampling,
            "fit_order": params.fit_order,
            "window": params.window,
            "tukey_alpha": params.tukey_alpha,
            "correct_binning": params.correct_binning,
            "limits": limits,
            "saturation_level": saturation,
        }
        for k, region in enumerate(regions):
            ctx.check_cancelled()
            direction = "across" if region.vertical else "along"
            where = f"edge {k + 1} ({direction}-track, roi {region.x0},{region.y0},{region.w},{region.h})"
            channels: list[_Channel] = []
            if rgb:
                stack = np.stack([image.read(b, region.x0, region.y0, region.w, region.h) for b in bands])
                stack = np.concatenate([stack, luminance(stack, params.luminance_weights)[None]])
                try:
                    curves = edge_sfr(stack, **opts)
                except EdgeError as err:
                    raise ProcessingError(f"{where}: {err}") from err
                for name, curve in zip(("R", "G", "B", None), curves, strict=True):
                    channels.append(_Channel(name, name or "luminance", curve))
            else:
                for band, name in zip(bands, names, strict=True):
                    ctx.check_cancelled()
                    data = image.read(band, region.x0, region.y0, region.w, region.h)
                    try:
                        curve = edge_sfr(data, **opts)[0]
                    except EdgeError as err:
                        warns.append(f"{where}, band {name or band}: {err}")
                        continue
                    channels.append(_Channel(name, name or f"band {band}", curve))
            if not channels:
                continue
            curve0 = channels[-1].curve
            if (not curve0.rotated) != region.vertical:
                region = EdgeRegion(region.x0, region.y0, region.w, region.h, not curve0.rotated, region.score)
                direction = "across" if region.vertical else "along"
            for ch in channels:
                warns.extend(f"{where}, {ch.label}: {w}" for w in ch.curve.warnings)
            edges.append(_Edge(k + 1, region, direction, tuple(channels)))
            ctx.logger.progress(100.0 * (k + 1) / (len(regions) + 1), f"{where} measured")
        if not edges:
            raise ProcessingError("no band gave a usable edge: " + " | ".join(warns))
        return edges, warns

    def _regions(
        self,
        ctx: RunContext[BaseModel],
        params: MtfParameters,
        image: EdgeImage,
        bands: Sequence[int],
        rgb: bool,
        limits: EdgeLimits,
        saturation: float | None,
    ) -> list[EdgeRegion]:
        info = image.info
        if params.roi is not None:
            x0, y0, w, h = params.roi
            if x0 < 0 or y0 < 0 or x0 + w > info.width or y0 + h > info.height:
                raise ParameterError(f"roi {x0},{y0},{w},{h} is not inside the {info.width}×{info.height} image")
            return [EdgeRegion(x0, y0, w, h, True, math.inf)]
        if rgb:
            probe = luminance(np.stack([image.read(b) for b in (1, 2, 3)]), params.luminance_weights)
        else:
            probe = image.read(bands[0])
        ctx.logger.info(f"searching edges in {info.width}×{info.height} px (no roi given)")
        try:
            report = find_edge_regions(probe, size=params.search_window_px, limits=limits, saturation_level=saturation)
        except EdgeError as err:
            raise ProcessingError(str(err)) from err
        if not report.regions:
            reasons = "; ".join(report.rejected) or "no window with a dominant edge direction"
            raise ProcessingError(
                f"no usable slanted edge found ({report.candidates_checked} candidate regions checked): {reasons}"
            )
        for r in report.regions:
            ctx.logger.info(f"edge region {r.x0},{r.y0},{r.w},{r.h} ({'vertical' if r.vertical else 'horizontal'})")
        return list(report.regions)


def _saturation(
    params: MtfParameters, product_type: str, metadata: dict[str, Any], integer_max: float | None
) -> float | None:
    if params.saturation_level is not None:
        return params.saturation_level
    meta = metadata.get("saturation_level")
    if isinstance(meta, int | float):
        return float(meta)
    if product_type in SATURATION_BY_TYPE:
        return SATURATION_BY_TYPE[product_type]
    return integer_max


_BAND_IN_NAME = re.compile(r"_B(\d{1,2})(?=[._])", re.IGNORECASE)


def _single_band_name(path: Path, metadata: dict[str, Any]) -> str | None:
    """Band of a one-band file: product metadata ``bands``/``band``, else ``…_B04.TIF`` in the name."""
    meta = metadata.get("bands", metadata.get("band"))
    if isinstance(meta, str):
        return meta
    if isinstance(meta, list | tuple) and len(meta) == 1 and isinstance(meta[0], str):
        return meta[0]
    m = _BAND_IN_NAME.search(path.name)
    return f"B{int(m.group(1))}" if m else None


def _band_names(
    descriptions: Sequence[str | None], bands: Sequence[int], rgb: bool, single: str | None = None
) -> list[str | None]:
    if rgb:
        return ["R", "G", "B"]
    if len(descriptions) == 1 and not descriptions[0]:
        return [single]
    return [descriptions[b - 1] or f"B{b}" for b in bands]


def _measurements(edges: Sequence[_Edge]) -> tuple[Measurement, ...]:
    out: list[Measurement] = []
    for edge in edges:
        for ch in edge.channels:
            c = ch.curve
            values = (
                ("mtf50", c.mtf50, "cy/px"),
                ("mtf_nyquist", c.mtf_nyquist, ""),
                ("mtf_at_0_25", c.mtf_at(0.25), ""),
                ("edge_angle_deg", c.edge_angle_deg, "deg"),
            )
            for name, value, unit in values:
                if math.isfinite(value):
                    out.append(Measurement(name=name, value=value, unit=unit, band=ch.name, direction=edge.direction))
    return tuple(out)


def _write_curves(path: Path, edges: Sequence[_Edge]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["edge", "direction", "band", "curve", "x", "value"])
        for edge in edges:
            for ch in edge.channels:
                c = ch.curve
                band = ch.name or ch.label
                for kind, xs, ys in (
                    ("esf", c.esf_position, c.esf),
                    ("lsf", c.lsf_position, c.lsf),
                    ("mtf", c.frequency, c.mtf),
                ):
                    for x, y in zip(xs, ys, strict=True):
                        writer.writerow([edge.index, edge.direction, band, kind, f"{x:.6g}", f"{y:.8g}"])


_COLOURS = {"R": "tab:red", "G": "tab:green", "B": "tab:blue"}


def _write_plot(path: Path, edges: Sequence[_Edge], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(edges), 3, figsize=(13, 3.6 * len(edges)), squeeze=False)
    for row, edge in zip(axes, edges, strict=True):
        ax_esf, ax_lsf, ax_mtf = row
        rgb = {ch.name for ch in edge.channels} >= {"R", "G", "B"}
        for k, ch in enumerate(edge.channels):
            c = ch.curve
            if rgb:  # colour channels dashed in their colour, luminance solid black
                colour, style = _COLOURS.get(ch.name or "", "black"), ("-" if ch.name is None else "--")
            else:
                colour, style = f"C{k % 10}", "-"
            ax_esf.plot(c.esf_position, c.esf, style, color=colour, lw=1, label=ch.label)
            ax_lsf.plot(c.lsf_position, c.lsf / max(float(np.max(c.lsf)), 1e-12), style, color=colour, lw=1)
            ax_mtf.plot(c.frequency, c.mtf, style, color=colour, lw=1.2, label=f"{ch.label}: MTF50 {c.mtf50:.3f}")
        c0 = edge.channels[-1].curve
        r = edge.region
        ax_esf.set_title(f"edge {edge.index} ESF ({edge.direction}-track, {c0.edge_angle_deg:.2f}°)")
        ax_esf.set_xlabel("distance across the edge (px)")
        ax_esf.set_xlim(-8, 8)
        ax_lsf.set_title(f"LSF (normalised), roi {r.x0},{r.y0},{r.w},{r.h}")
        ax_lsf.set_xlabel("distance across the edge (px)")
        ax_lsf.set_xlim(-5, 5)
        ax_mtf.set_title(f"MTF, {title}")
        ax_mtf.set_xlabel("spatial frequency (cy/px)")
        ax_mtf.set_xlim(0, 1.0)
        ax_mtf.set_ylim(0, 1.05)
        ax_mtf.axvline(0.5, color="grey", lw=0.8, ls=":")
        ax_mtf.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax_mtf.text(0.505, 0.95, "Nyquist", color="grey", fontsize=8)
        for ax in row:
            ax.grid(alpha=0.3)
        ax_esf.legend(fontsize=8)
        ax_mtf.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
