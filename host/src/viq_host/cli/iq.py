"""``viq iq``: measurement time series and alerts (instrument performance monitoring)."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from viq_host.catalog import Catalog, open_catalog
from viq_host.cli._common import out_console, settings
from viq_host.monitoring import evaluate, load_specs
from viq_host.monitoring.sources import catalog_points
from viq_interfaces.errors import ConfigurationError

app = typer.Typer(help="Measurement time series and alerts.", no_args_is_help=True)


def parse_time(value: str | None, what: str) -> datetime | None:
    """ISO date or date-time (UTC when no zone is given)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise ConfigurationError(f"{what}: {value!r} is not an ISO date (YYYY-MM-DD[THH:MM:SS])") from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _catalog() -> Catalog:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return open_catalog(settings().database_url)


@app.command("names")
def names() -> None:
    """List the measurement names present in the time series."""
    catalog = _catalog()
    try:
        for name in catalog.measurement_names():
            out_console.print(name, markup=False, highlight=False)
    finally:
        catalog.close()


@app.command("series")
def series(
    name: Annotated[str, typer.Argument(help="Measurement name, e.g. mtf50, snr, dark_mean_dn.")],
    band: Annotated[str | None, typer.Option("--band", help="Band, e.g. B3.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Site name.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Start (ISO date), inclusive.")] = None,
    stop: Annotated[str | None, typer.Option("--to", help="Stop (ISO date), exclusive.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Print the time series of one measurement (sensing time, band, site, value, job)."""
    catalog = _catalog()
    try:
        rows = catalog.series(name, band=band, site=site, start=parse_time(start, "--from"),
                              stop=parse_time(stop, "--to"))
    finally:
        catalog.close()
    if as_json:
        for r in rows:
            print(json.dumps({"time": r.sensing_time.isoformat(), "name": r.name, "value": r.value, "unit": r.unit,
                              "band": r.band, "tdi": r.tdi, "site": r.site, "job_id": r.job_id,
                              "product_id": r.product_id, "processor": r.processor}))
        return
    table = Table(title=f"{name} ({len(rows)} values)")
    for col in ("sensing time", "band", "TDI", "site", "value", "unit", "job"):
        table.add_column(col)
    for r in rows:
        table.add_row(f"{r.sensing_time:%Y-%m-%d %H:%M}", r.band or "", str(r.tdi or ""), r.site or "",
                      f"{r.value:.6g}", r.unit, r.job_id or "")
    out_console.print(table)


@app.command("alerts")
def alerts(
    start: Annotated[str | None, typer.Option("--from", help="Start (ISO date).")] = None,
    stop: Annotated[str | None, typer.Option("--to", help="Stop (ISO date).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List every value outside its specification ($VIQ_HOME/specs.toml or the shipped defaults)."""
    s = settings()
    specs = load_specs(s.home)
    catalog = _catalog()
    try:
        wanted = {spec.measurement for spec in specs}
        names_present = [n for n in catalog.measurement_names() if n in wanted]
        points = catalog_points(catalog, names_present, start=parse_time(start, "--from"),
                                stop=parse_time(stop, "--to"))
    finally:
        catalog.close()
    found = evaluate(points, specs)
    if as_json:
        for a in found:
            print(json.dumps({"time": a.point.time.isoformat(), "name": a.point.name, "band": a.point.band,
                              "value": a.point.value, "kind": a.kind, "limit": a.limit, "job_id": a.point.job_id,
                              "product_id": a.point.product_id}))
        return
    if not found:
        out_console.print(f"no alert ({len(points)} values checked against {len(specs)} limits)")
        return
    for a in found:
        out_console.print(a.describe(), markup=False, highlight=False)
