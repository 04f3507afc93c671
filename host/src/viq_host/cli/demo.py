"""``viq demo``: the main job end to end on embedded defaults (see :mod:`viq_host.demo`)."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from viq_host.cli._common import err_console, out_console
from viq_host.cli.job import wait_for
from viq_host.config import load_settings
from viq_host.demo import SHARED_DATA, Demo, DemoRun, default_plan
from viq_host.host import Host, open_host
from viq_host.monitoring.campaign import PlanNote, campaign_report
from viq_host.monitoring.report import PerformanceReport
from viq_host.monitoring.sources import catalog_points, gipp_changes
from viq_host.monitoring.specs import load_specs
from viq_interfaces.exitcodes import ExitCode


def _runner(host: Host, job_ids: list[str]) -> None:
    wait_for(host.service, job_ids)


def _write_outputs(host: Host, run: DemoRun, out: Path) -> list[Path]:
    written: list[Path] = []
    gipp_dir = out / "gipps"
    for g in run.gipps:
        rec = host.gipps.get(g.gipp_id)
        written.append(host.gipps.export(rec.id, gipp_dir))
    dem_dir = out / "dem"
    for res in run.steps:
        for o in res.outputs:
            if o.product_type == "AUX_REFDE1" and res.ok:
                dem_dir.mkdir(parents=True, exist_ok=True)
                dest = dem_dir / Path(o.path).name
                shutil.copy2(o.path, dest)
                written.append(dest)
    return written


def _reports(host: Host, run: DemoRun, out: Path) -> list[Path]:
    names = sorted({n for r in run.steps for n in r.measurement_names if not n.startswith("truth_")})
    perf = PerformanceReport(
        catalog_points(host.catalog, names),
        load_specs(host.settings.home),
        gipp_changes(host.gipps),
        title="VENµS instrument performance (demo campaign)",
    )
    paths = perf.write(out)
    job_ids = [r.job_id for r in run.steps if r.job_id]
    notes = [PlanNote(r.step.processor, r.step.title, r.reason) for r in run.steps if r.state == "skipped"]
    intro = (
        "A simulated VENµS calibration campaign run end to end through the VIQ host on embedded defaults "
        "(SQLite catalog and GIPP store, local executor). Every figure below was measured by a processor run "
        "listed in the first table; the simulator's injected truth is kept beside each simulated product."
    )
    page = campaign_report(
        host.service, host.gipps, job_ids, notes=notes, intro=intro,
        links=[("performance trends and alerts", "performance.html"), ("candidate GIPP files", "gipps/")],
        gipp_ids=[g.gipp_id for g in run.gipps],
    )
    report = out / "report.html"
    report.write_text(page, encoding="utf-8")
    return [report, *paths]


def register(app: typer.Typer) -> None:
    """Add ``viq demo`` to the root command."""

    @app.command("demo")
    def demo(
        out: Annotated[Path, typer.Option("--out", help="Directory for the report, GIPPs and DEM.")] = Path("demo-out"),
        size: Annotated[int, typer.Option("--size", min=64, max=2048, help="Pixels/lines of the simulated scenes.")]
        = 256,
        shared_data: Annotated[
            str, typer.Option("--shared-data", help="Reference data directory (SRTM tiles, DEM pair); 'none' "
                              "uses simulated terrain instead. Default: ../shared/data beside the checkout.")
        ] = "",
    ) -> None:
        """Simulate a calibration campaign, run the processors through the host, update GIPPs, write reports."""
        out = out.resolve()
        out.mkdir(parents=True, exist_ok=True)
        overrides = {} if os.environ.get("VIQ_HOME") else {"home": out / "home"}
        settings = load_settings(**overrides)
        err_console.print(f"VIQ_HOME = {settings.home}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            host = open_host(settings)
        with host:
            shared = SHARED_DATA if not shared_data else None if shared_data == "none" else Path(shared_data)
            demo_run = Demo(host, out, shared_data=shared, progress=lambda m: err_console.print(f"  {m}", markup=False),
                            runner=_runner)
            run = demo_run.execute(default_plan(size))
            err_console.print("importing candidate GIPPs with their evidence")
            demo_run.import_candidates()
            written = _write_outputs(host, run, out)
            reports = _reports(host, run, out)
        table = Table(title="VIQ demo campaign")
        for col in ("step", "processor", "state", "detail"):
            table.add_column(col)
        for r in run.steps:
            detail = r.reason if r.state != "SUCCEEDED" else f"{len(r.outputs)} outputs, {len(r.measurements)} measures"
            table.add_row(r.step.key, r.step.processor, r.state, detail[:90])
        out_console.print(table)
        for g in run.gipps:
            verdict = "no evidence" if g.passed is None else ("pass" if g.passed else "FAIL")
            val = f"{g.value:.4g}" if g.value is not None else "-"
            out_console.print(f"GIPP {g.file_name}: {g.metric} = {val} ({verdict}) → {g.status}")
        for note in run.notes:
            out_console.print(f"note: {note}")
        out_console.print(f"report: {reports[0]}")
        out_console.print(f"{len(written)} files in {out / 'gipps'} and {out / 'dem'}")
        failed = [r for r in run.steps if r.state in ("FAILED", "CANCELLED")]
        if failed:
            err_console.print(f"viq demo: {len(failed)} step(s) failed: {', '.join(r.step.key for r in failed)}")
            raise SystemExit(int(ExitCode.PROCESSING_ERROR))
