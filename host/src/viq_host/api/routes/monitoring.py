"""Monitoring routes: measurement series with their limits, trend plots, alerts, the performance report."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response

from viq_host.api.auth import Viewer
from viq_host.api.errors import ERRORS
from viq_host.api.runtime import Runtime
from viq_host.catalog.base import MeasurementRow
from viq_host.monitoring.alerts import Alert, evaluate
from viq_host.monitoring.report import PerformanceReport, trend_figure
from viq_host.monitoring.specs import Spec
from viq_host.monitoring.types import GippChange, SeriesPoint

router = APIRouter(prefix="/api", tags=["monitoring"], responses=ERRORS)

MeasurementName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")]
Band = Annotated[str | None, Query(max_length=64)]
Site = Annotated[str | None, Query(max_length=64)]
MAX_POINTS = 100_000


def point(row: MeasurementRow) -> SeriesPoint:
    """A catalog measurement row as a monitoring point."""
    return SeriesPoint(
        name=row.name,
        value=row.value,
        time=row.sensing_time,
        band=row.band,
        tdi=row.tdi,
        site=row.site,
        unit=row.unit,
        direction=row.direction,
        job_id=row.job_id,
        product_id=row.product_id,
        processor=row.processor,
        version=row.processor_version,
    )


def measurement_names(rt: Runtime) -> list[str]:
    """Names with stored values, plus those with a limit in the specs."""
    names = {s.measurement for s in rt.specs}
    tx_factory = getattr(rt.host.catalog, "_tx", None)  # both built-in backends are SQL catalogs
    if callable(tx_factory):
        with tx_factory() as tx:
            names |= {str(r[0]) for r in tx.q("SELECT DISTINCT name FROM measurement")}
    return sorted(names)


def all_points(rt: Runtime, start: datetime | None, stop: datetime | None) -> list[SeriesPoint]:
    """Every stored value in ``[start, stop)``, name by name."""
    points: list[SeriesPoint] = []
    for name in measurement_names(rt):
        points += [point(r) for r in rt.catalog.series(name, start=start, stop=stop)[:MAX_POINTS]]
    return points


def gipp_changes(rt: Runtime) -> list[GippChange]:
    """Promotions to OPER recorded by the GIPP store, at the start of their validity (markers on trend plots)."""
    changes = []
    store = rt.host.gipps
    for entry in store.audit():
        if entry.action == "promote" and entry.detail.get("to_status") == "OPER" and entry.gipp_id is not None:
            record = store.get(entry.gipp_id)
            when = record.validity.start or entry.at  # when it took effect for the data
            changes.append(GippChange(when, record.gipp_type, record.serial, "OPER", record.band))
    return changes


def _spec(s: Spec) -> dict[str, Any]:
    data: dict[str, Any] = s.model_dump()
    return data


def _alert(a: Alert) -> dict[str, Any]:
    p = a.point
    return {
        "time": p.time.isoformat(),
        "name": p.name,
        "band": p.band,
        "site": p.site,
        "value": p.value,
        "kind": a.kind,
        "limit": a.limit,
        "job_id": p.job_id,
        "product_id": p.product_id,
        "description": a.describe(),
    }


@router.get("/specs", summary="Performance specifications (limits)", tags=["monitoring"])
def specs(caller: Viewer) -> list[dict[str, Any]]:
    """The limits alerts are raised against (HOME/specs.toml or the shipped defaults)."""
    return [_spec(s) for s in caller.runtime.specs]


@router.get("/measurements", summary="Measurement names")
def names(caller: Viewer) -> list[str]:
    """Names of measurements stored in the catalog or limited by a spec."""
    return measurement_names(caller.runtime)


@router.get("/measurements/{name}", summary="A measurement series with its limits and alerts")
def series(
    caller: Viewer,
    name: MeasurementName,
    band: Band = None,
    site: Site = None,
    start: datetime | None = None,
    stop: datetime | None = None,
    tdi: Annotated[int | None, Query(ge=1, le=64)] = None,
    direction: Annotated[str | None, Query(max_length=16)] = None,
) -> dict[str, Any]:
    """Time-ordered values, the specs that apply, and the values out of them."""
    rt = caller.runtime
    rows = rt.catalog.series(name, band=band, site=site, start=start, stop=stop, tdi=tdi, direction=direction)
    points = [point(r) for r in rows[:MAX_POINTS]]
    applying = [s for s in rt.specs if s.measurement == name]
    return {
        "name": name,
        "points": [
            {
                "time": p.time.isoformat(),
                "value": p.value,
                "unit": p.unit,
                "band": p.band,
                "tdi": p.tdi,
                "site": p.site,
                "direction": p.direction,
                "job_id": p.job_id,
                "product_id": p.product_id,
            }
            for p in points
        ],
        "specs": [_spec(s) for s in applying],
        "alerts": [_alert(a) for a in evaluate(points, applying)],
    }


@router.get(
    "/measurements/{name}/trend.png",
    summary="Trend plot of a measurement with limits and GIPP changes",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def trend(
    caller: Viewer,
    name: MeasurementName,
    band: Band = None,
    site: Site = None,
    start: datetime | None = None,
    stop: datetime | None = None,
) -> Response:
    """A PNG: a line per band, limits dashed, OPER promotions as vertical lines."""
    rt = caller.runtime
    rows = rt.catalog.series(name, band=band, site=site, start=start, stop=stop)
    points = [point(r) for r in rows[:MAX_POINTS]]
    plt_fig = trend_figure(name, points, rt.specs, gipp_changes(rt))
    from viq_host.monitoring.report import _plt

    buf = io.BytesIO()
    plt_fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(plt_fig)
    return Response(buf.getvalue(), media_type="image/png")


@router.get("/alerts", summary="Values outside their specification")
def alerts(caller: Viewer, start: datetime | None = None, stop: datetime | None = None) -> list[dict[str, Any]]:
    """Every stored value out of its limits in ``[start, stop)``, in time order."""
    rt = caller.runtime
    return [_alert(a) for a in evaluate(all_points(rt, start, stop), rt.specs)]


@router.get("/reports/performance", summary="Performance report (HTML)", response_class=HTMLResponse)
def performance_report(caller: Viewer, start: datetime | None = None, stop: datetime | None = None) -> HTMLResponse:
    """The self-contained HTML performance report (trend plots per measure, alerts, GIPP changes)."""
    rt = caller.runtime
    report = PerformanceReport(
        points=all_points(rt, start, stop), specs=rt.specs, changes=gipp_changes(rt), start=start, stop=stop
    )
    return HTMLResponse(report.render_html(), headers={"Content-Security-Policy": "default-src 'none'; "
                                                        "img-src data:; style-src 'unsafe-inline'"})
