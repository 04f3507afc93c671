"""Read monitoring records from the catalog (measurement series) and the GIPP store (changes)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from viq_host.catalog import Catalog
from viq_host.gipp.models import GippStatus
from viq_host.gipp.store import GippStore
from viq_host.monitoring.types import GippChange, SeriesPoint


def catalog_points(
    catalog: Catalog,
    names: Iterable[str],
    *,
    band: str | None = None,
    site: str | None = None,
    start: datetime | None = None,
    stop: datetime | None = None,
) -> list[SeriesPoint]:
    """Measurement points of every name in ``names`` from the catalog's time series."""
    points: list[SeriesPoint] = []
    for name in names:
        for row in catalog.series(name, band=band, site=site, start=start, stop=stop):
            points.append(
                SeriesPoint(
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
            )
    return points


def gipp_changes(store: GippStore, gipp_types: Iterable[str] | None = None) -> list[GippChange]:
    """GIPPs in TEST or OPER, as changes at the start of their validity (the time axis of the trends)."""
    wanted = set(gipp_types) if gipp_types is not None else None
    changes = []
    for status in (GippStatus.TEST, GippStatus.OPER):
        for rec in store.find(status=status):
            if (wanted is not None and rec.gipp_type not in wanted) or rec.validity.start is None:
                continue
            changes.append(
                GippChange(
                    time=rec.validity.start,
                    gipp_type=rec.gipp_type,
                    version=rec.serial,
                    status=rec.status.value,
                    band=rec.band,
                )
            )
    return sorted(changes, key=lambda c: (c.time, c.gipp_type))
