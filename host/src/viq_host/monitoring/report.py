"""Performance and campaign reports: trend plots per band with limits, GIPP changes marked, alerts."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from viq_host.monitoring.alerts import Alert, evaluate
from viq_host.monitoring.html import HtmlReport
from viq_host.monitoring.specs import Spec
from viq_host.monitoring.types import GippChange, SeriesPoint


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def trend_figure(
    name: str, points: Sequence[SeriesPoint], specs: Sequence[Spec], changes: Sequence[GippChange]
) -> Any:
    """One trend plot of ``name``: a line per band, limits as dashed lines, GIPP changes as vertical lines."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    by_band: dict[str, list[SeriesPoint]] = defaultdict(list)
    for p in points:
        by_band[p.band or "all"].append(p)
    for band in sorted(by_band, key=_band_order):
        pts = sorted(by_band[band], key=lambda q: q.time)
        ax.plot([q.time for q in pts], [q.value for q in pts], marker="o", ms=3, lw=1, label=band)
    for spec in specs:
        if spec.measurement != name:
            continue
        label = f"limit {spec.band}" if spec.band else "limit"
        for value in (spec.min, spec.max):
            if value is not None:
                ax.axhline(value, color="#a40000", ls="--", lw=1, label=label)
                label = "_nolegend_"
    by_day: dict[datetime, list[GippChange]] = defaultdict(list)
    for change in changes:  # one marker per day: same-day changes share a label
        by_day[change.time.replace(hour=0, minute=0, second=0, microsecond=0)].append(change)
    for when, group in sorted(by_day.items()):
        ax.axvline(when, color="#555", ls=":", lw=1)
        types = sorted({c.gipp_type for c in group})
        label = ", ".join(types) if len(types) <= 2 else f"{len(group)} GIPPs ({len(types)} types)"
        ax.annotate(label, (when, 1.0), xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right",
                    fontsize=7, color="#555")
    unit = next((p.unit for p in points if p.unit), "")
    ax.set_ylabel(f"{name} [{unit}]" if unit else name)
    ax.grid(alpha=0.3)
    if by_band:
        ax.legend(fontsize=7, ncol=min(6, len(by_band) + 1), loc="best")
    fig.autofmt_xdate()
    return fig


def _band_order(band: str) -> tuple[int, str]:
    digits = "".join(c for c in band if c.isdigit())
    return (int(digits) if digits else 999, band)


@dataclass
class PerformanceReport:
    """Inputs of a performance report."""

    points: list[SeriesPoint]
    specs: list[Spec]
    changes: list[GippChange] = field(default_factory=list)
    start: datetime | None = None
    stop: datetime | None = None
    title: str = "VENµS instrument performance"

    @cached_property
    def _alerts(self) -> list[Alert]:
        return evaluate(self.points, self.specs)

    def alerts(self) -> list[Alert]:
        """Alerts over the report's points (evaluated once; the HTML and the PDF share them)."""
        return self._alerts

    def names(self) -> list[str]:
        """Measurement names present, sorted."""
        return sorted({p.name for p in self.points})

    def render_html(self) -> str:
        """The self-contained HTML page."""
        rep = HtmlReport(self.title)
        span = f"{self.start:%Y-%m-%d}" if self.start else "start"
        span += f" to {self.stop:%Y-%m-%d}" if self.stop else " to now"
        rep.paragraph(f"Period: {span}. {len(self.points)} measurement values, {len(self.names())} measures.")
        alerts = self.alerts()
        rep.heading("Alerts")
        if alerts:
            rep.table(
                ["date", "measure", "band", "site", "value", "limit", "job", "product"],
                [
                    (
                        f"{a.point.time:%Y-%m-%d}",
                        a.point.name,
                        a.point.band or "",
                        a.point.site or "",
                        a.point.value,
                        f"{a.kind} {a.limit:.4g}",
                        a.point.job_id or "",
                        str(a.point.product_id or ""),
                    )
                    for a in alerts
                ],
                css_rows=["alert"] * len(alerts),
            )
        else:
            rep.paragraph("No value outside its specification.", css="ok")
        if self.changes:
            rep.heading("GIPP changes")
            rep.table(
                ["date", "type", "version", "status", "band"],
                [(f"{c.time:%Y-%m-%d}", c.gipp_type, c.version, c.status, c.band or "") for c in self.changes],
            )
        single = [n for n in self.names() if len({p.time for p in self.points if p.name == n}) < 2]
        if single:
            rep.heading("Measures with a single date")
            rep.paragraph("No trend yet for these measures; their values:")
            rows_single = [
                (p.name, p.band or "", p.site or "", f"{p.time:%Y-%m-%d}", p.value, p.unit)
                for p in sorted(self.points, key=lambda q: (q.name, _band_order(q.band or "")))
                if p.name in single
            ]
            rep.table(["measure", "band", "site", "date", "value", "unit"], rows_single)
        for name in self.names():
            if name in single:
                continue
            pts = [p for p in self.points if p.name == name]
            rep.heading(name)
            rep.figure(trend_figure(name, pts, self.specs, self.changes), f"Trend of {name} per band")
            rows = []
            by_band: dict[str, list[float]] = defaultdict(list)
            for p in pts:
                by_band[p.band or "all"].append(p.value)
            for band in sorted(by_band, key=_band_order):
                vals = by_band[band]
                rows.append(
                    (band, len(vals), statistics.fmean(vals), min(vals), max(vals),
                     statistics.stdev(vals) if len(vals) > 1 else 0.0)
                )
            rep.table(["band", "n", "mean", "min", "max", "std"], rows)
        return rep.render()

    def write(self, out_dir: Path) -> list[Path]:
        """Write ``performance.html`` and ``performance.pdf`` (trend plots, one per page) in ``out_dir``."""
        out_dir.mkdir(parents=True, exist_ok=True)
        html_path = out_dir / "performance.html"
        html_path.write_text(self.render_html(), encoding="utf-8")
        pdf_path = out_dir / "performance.pdf"
        plt = _plt()
        from matplotlib.backends.backend_pdf import PdfPages

        with PdfPages(pdf_path) as pdf:
            fig, ax = plt.subplots(figsize=(8.3, 11.7))
            ax.axis("off")
            alert_lines = [a.describe() for a in self.alerts()[:60]] or ["no alerts"]
            lines = [self.title, "", *alert_lines]
            ax.text(0.02, 0.98, "\n".join(lines), va="top", family="monospace", fontsize=7)
            pdf.savefig(fig)
            plt.close(fig)
            for name in self.names():
                pts = [p for p in self.points if p.name == name]
                if len({p.time for p in pts}) < 2:
                    continue
                fig = trend_figure(name, pts, self.specs, self.changes)
                pdf.savefig(fig)
                plt.close(fig)
        return [html_path, pdf_path]


def filter_points(
    points: Iterable[SeriesPoint], start: datetime | None = None, stop: datetime | None = None
) -> list[SeriesPoint]:
    """Points inside [start, stop]."""
    return [p for p in points if (start is None or p.time >= start) and (stop is None or p.time <= stop)]
