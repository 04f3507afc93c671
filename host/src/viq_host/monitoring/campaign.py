"""Campaign report: what one calibration campaign measured, its candidate GIPPs and their evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from viq_host.gipp.store import GippStore
from viq_host.monitoring.html import HtmlReport
from viq_host.service import JobService

MAX_FIGURES = 24


@dataclass(frozen=True)
class PlanNote:
    """A planned step that did not run, with the reason (shown so nothing is silently missing)."""

    processor: str
    title: str
    reason: str


def dem_quicklook(path: Path) -> Any:
    """A shaded-relief figure of a DEM raster (first band), or None if it cannot be read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import rasterio
    from matplotlib.colors import LightSource

    with rasterio.open(path) as src:
        step = max(1, max(src.width, src.height) // 800)
        data = src.read(1, out_shape=(src.height // step, src.width // step), masked=True).astype("float64")
        res = abs(src.transform.a) * step
    filled = data.filled(np.nan)
    fig, ax = plt.subplots(figsize=(7, 5.5))
    shade = LightSource(azdeg=315, altdeg=45).hillshade(np.nan_to_num(filled, nan=float(np.nanmean(filled))),
                                                        dx=res, dy=res, vert_exag=2.0)
    ax.imshow(shade, cmap="gray")
    img = ax.imshow(filled, cmap="terrain", alpha=0.55)
    fig.colorbar(img, ax=ax, label="height [m]")
    ax.set_title(path.name, fontsize=9)
    ax.set_axis_off()
    return fig


def campaign_report(
    service: JobService,
    gipps: GippStore,
    job_ids: Sequence[str],
    *,
    title: str = "VENµS calibration campaign",
    notes: Sequence[PlanNote] = (),
    intro: str = "",
    links: Sequence[tuple[str, str]] = (),
    gipp_ids: Sequence[int] = (),
) -> str:
    """The self-contained HTML page for the campaign made of ``job_ids``."""
    rep = HtmlReport(title)
    if intro:
        rep.paragraph(intro)
    for label, href in links:
        rep.link(label, href)
    statuses = [service.status(j) for j in job_ids]
    rep.heading("Processor runs")
    rep.table(
        ["processor", "version", "job", "state", "exit", "outputs", "measures", "summary / reason"],
        [
            (
                s.job.processor,
                s.job.version,
                s.job.id,
                s.job.state.value,
                s.job.exit_code if s.job.exit_code is not None else "",
                len(s.result.outputs) if s.result else 0,
                len(s.result.measurements) if s.result else 0,
                (s.result.summary if s.result and s.result.summary else s.job.reason)[:160],
            )
            for s in statuses
        ],
        css_rows=["" if s.job.state.value in ("SUCCEEDED", "WARNING") else "alert" for s in statuses],
    )
    if notes:
        rep.heading("Steps not run")
        rep.table(["processor", "step", "reason"], [(n.processor, n.title, n.reason) for n in notes])

    rep.heading("Measurements")
    rows = []
    for s in statuses:
        if s.result is None:
            continue
        for m in s.result.measurements:
            if m.name.startswith("truth_"):
                continue
            unc = f"± {m.uncertainty:.3g}" if m.uncertainty is not None else ""
            rows.append((s.job.processor, m.name, m.band or "", m.tdi or "", m.direction or "", m.value, m.unit, unc))
    if rows:
        rep.table(["processor", "measure", "band", "TDI", "direction", "value", "unit", "uncertainty"], rows)
    else:
        rep.paragraph("No measurement was reported.")

    rep.heading("Candidate GIPPs and their evidence")
    ids = set(job_ids)
    wanted = set(gipp_ids)
    records = [r for r in gipps.find() if r.producing_job in ids or r.id in wanted]
    if records:
        grows = []
        for rec in records:
            vals = gipps.validations(rec.id)
            evidence = "; ".join(
                f"{v.metric} = {v.value:.4g}"
                + (f" (limit {v.threshold:.4g})" if v.threshold is not None else "")
                + (" pass" if v.passed else " FAIL" if v.passed is False else "")
                for v in vals
            ) or "none attached"
            grows.append((rec.gipp_type, rec.band or "all", rec.file_name, rec.status.value, evidence))
        rep.table(["type", "band", "file", "status", "validation evidence"], grows)
    else:
        rep.paragraph("No candidate GIPP was produced by these runs.")

    figures = 0
    for s in statuses:
        if s.result is None:
            continue
        for out in s.result.outputs:
            path = Path(out.path)
            if out.product_type == "AUX_REFDE1" and path.suffix.lower() in (".tif", ".tiff"):
                if "mask" in path.name.lower():
                    continue
                rep.heading(f"Reference DEM: {path.name}")
                rep.figure(dem_quicklook(path), f"{s.job.processor}: shaded relief of the reference DEM")
            elif path.suffix.lower() == ".png" and figures < MAX_FIGURES:
                figures += 1
                rep.image_file(path, f"{s.job.processor} ({out.product_type}): {path.name}")
    return rep.render()
