"""The ``gipp_resolver`` used by job validation: GIPP requirement + job order → the GIPPs in force.

Rules: the time is the job's sensing start (else now), the site is the job's site (a job without a site
gets ALLSITES GIPPs only). An OPER job uses OPER GIPPs; any other file class (TEST, …) prefers a TEST GIPP
and falls back to OPER, per band/TDI set. A ``per_band`` requirement returns one GIPP per band/TDI set in
force; otherwise exactly one GIPP must apply. Each GIPP is exported once to an ``.EEF`` file whose path goes
into :class:`~viq_interfaces.context.GippInForce`, with the exact version in ``version``/``gipp_id``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from viq_host.gipp.models import GippAmbiguous, GippNotFound, GippRecord, GippStatus, now_utc
from viq_host.gipp.store import GippStore, sha256_file
from viq_host.jobs.model import JobOrder
from viq_interfaces.context import GippInForce
from viq_interfaces.declaration import GippRequirement

GippResolver = Callable[[GippRequirement, JobOrder], tuple[GippInForce, ...]]


def make_gipp_resolver(
    store: GippStore, *, export_dir: Path | None = None, clock: Callable[[], datetime] = now_utc
) -> GippResolver:
    """A resolver bound to ``store``; GIPP files are exported under ``export_dir`` (default store dir/export)."""
    out_dir = export_dir if export_dir is not None else store.directory / "export"

    def statuses(job: JobOrder) -> tuple[GippStatus, ...]:
        return (GippStatus.OPER,) if job.file_class == "OPER" else (GippStatus.TEST, GippStatus.OPER)

    def in_force(record: GippRecord) -> GippInForce:
        path = store.export(record.id, out_dir)
        configs = record.tdi_configurations
        return GippInForce(
            gipp_type=record.gipp_type,
            version=record.serial,
            path=path,
            band=record.band,
            tdi=configs[0] if len(configs) == 1 else None,
            gipp_id=record.id,
            metadata={
                "file_name": record.file_name,
                "status": record.status.value,
                "tdi_set": record.tdi_set,
                "tdi_configurations": configs,
                "validity": record.validity.model_dump(mode="json"),
                "content_sha256": record.content_sha256,
                "file_sha256": sha256_file(path),
            },
        )

    def resolve(requirement: GippRequirement, job: JobOrder) -> tuple[GippInForce, ...]:
        at = job.sensing_start or clock()
        site = job.site
        gtype = requirement.gipp_type
        chosen: dict[tuple[str | None, str | None], GippRecord] = {}
        if requirement.per_band:
            for status in reversed(statuses(job)):  # OPER first, TEST overrides per band/TDI set
                found = store.all_in_force(gtype, site=site, at=at, status=status)
                keys: dict[tuple[str | None, str | None], list[GippRecord]] = {}
                for rec in found:
                    keys.setdefault((rec.band, rec.tdi_set), []).append(rec)
                for key, recs in keys.items():
                    if len(recs) > 1:
                        names = "; ".join(f"#{r.id} {r.file_name}" for r in recs)
                        raise GippAmbiguous(f"{len(recs)} {status.value} {gtype} GIPPs for band/TDI {key}: {names}")
                    chosen[key] = recs[0]
            if not chosen and requirement.mandatory:
                raise GippNotFound(
                    f"no {'/'.join(s.value for s in statuses(job))} {gtype} in force at {at.isoformat()} "
                    f"for site {site or '(none)'}"
                )
            return tuple(in_force(chosen[k]) for k in sorted(chosen, key=lambda k: (k[0] or "", k[1] or "")))
        last: GippNotFound | None = None
        for status in statuses(job):
            try:
                return (in_force(store.in_force(gtype, site=site, at=at, status=status)),)
            except GippNotFound as err:
                last = err
        if requirement.mandatory:
            assert last is not None
            raise last
        return ()

    return resolve
