"""``viq report``: performance report over a period, campaign report over a set of jobs."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from viq_host.cli._common import out_console, settings
from viq_host.cli.iq import parse_time
from viq_host.host import open_host
from viq_host.monitoring.campaign import campaign_report
from viq_host.monitoring.report import PerformanceReport
from viq_host.monitoring.sources import catalog_points, gipp_changes
from viq_host.monitoring.specs import load_specs

app = typer.Typer(help="Write performance and campaign reports (self-contained HTML).", no_args_is_help=True)


@app.command("performance")
def performance(
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    start: Annotated[str | None, typer.Option("--from", help="Start (ISO date).")] = None,
    stop: Annotated[str | None, typer.Option("--to", help="Stop (ISO date).")] = None,
    measure: Annotated[list[str] | None, typer.Option("--measure", help="Measurement to include (repeatable).")]
    = None,
) -> None:
    """Trend plots per band with limits and GIPP changes, tables and alerts → performance.html and .pdf."""
    s = settings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        host = open_host(s)
    with host:
        names = measure or [n for n in host.catalog.measurement_names() if not n.startswith("truth_")]
        t0, t1 = parse_time(start, "--from"), parse_time(stop, "--to")
        report = PerformanceReport(
            catalog_points(host.catalog, names, start=t0, stop=t1), load_specs(s.home), gipp_changes(host.gipps),
            start=t0, stop=t1,
        )
        paths = report.write(out)
    for p in paths:
        out_console.print(f"wrote {p}")


@app.command("campaign")
def campaign(
    jobs: Annotated[list[str], typer.Argument(help="Job ids of the campaign.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    title: Annotated[str, typer.Option("--title", help="Report title.")] = "VENµS calibration campaign",
) -> None:
    """What the jobs measured, their candidate GIPPs and validation evidence → campaign.html."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        host = open_host(settings())
    with host:
        for job in jobs:
            host.service.status(job)  # unknown id → a clear error before anything is written
        page = campaign_report(host.service, host.gipps, jobs, title=title)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "campaign.html"
    path.write_text(page, encoding="utf-8")
    out_console.print(f"wrote {path}")
