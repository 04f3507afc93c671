"""The assembled host: settings, plugins, catalog, GIPP store and job service on one database.

``open_host()`` is what the CLI, the daemon and the demo use; tests build the same object on a temporary
``VIQ_HOME`` (and a PostGIS URL when they test that backend).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from viq_host.catalog import Catalog, NewProduct, ProductRecord, open_catalog
from viq_host.config import Settings, load_settings
from viq_host.gipp.resolver import make_gipp_resolver
from viq_host.gipp.store import GippStore, open_gipp_store
from viq_host.jobs.store import AttemptRecord, JobRecord
from viq_host.jobs.validate import ValidatedJob
from viq_host.plugins import Plugins
from viq_host.service import JobService, quiet_plugins
from viq_interfaces.result import ProcessorResult

if TYPE_CHECKING:
    from viq_host.executors.base import Executor


class CatalogIngest:
    """The service's ``ingest`` callback: outputs, lineage, GIPP versions and measurements in one transaction."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def input_records(self, validated: ValidatedJob) -> list[ProductRecord]:
        """Catalog rows of the run's inputs; inputs not yet catalogued are catalogued first (as external)."""
        records: list[ProductRecord] = []
        for items in validated.inputs.values():
            for item in items:
                if item.product_id is not None:
                    records.append(self.catalog.get(item.product_id))
                    continue
                found = self.catalog.find_by_path(item.path)
                if found is None and item.path.is_file():
                    meta = dict(item.metadata)
                    found = self.catalog.ingest(
                        NewProduct(product_type=item.product_type, path=str(item.path), metadata=meta)
                    )
                if found is not None:
                    records.append(found)
        return records

    def __call__(
        self, job: JobRecord, attempt: AttemptRecord, validated: ValidatedJob, result: ProcessorResult
    ) -> None:
        order = validated.order
        gipp_versions = {
            f"{g.gipp_type}{'_' + g.band if g.band else ''}": str(g.version)
            for items in validated.gipps.values()
            for g in items
        }
        inputs = self.input_records(validated)
        # a measurement belongs to the time the instrument saw the scene: the job's window, else the outputs',
        # else the inputs' sensing time; the processing time only when nothing says better
        starts = [o.sensing_start for o in result.outputs if o.sensing_start is not None]
        in_starts = [p.sensing_start for p in inputs if p.sensing_start is not None]
        sensing = (
            order.sensing_start
            or (min(starts) if starts else None)
            or (min(in_starts) if in_starts else None)
            or datetime.now(UTC)
        )
        sites = [o.site for o in result.outputs if o.site] + [p.site for p in inputs if p.site]
        self.catalog.ingest_outputs(
            result.outputs,
            job_id=job.id,
            attempt_id=attempt.id,
            processor=job.processor,
            processor_version=job.version,
            input_ids=[p.id for p in inputs],
            gipp_versions=gipp_versions,
            base_dir=Path(attempt.work_dir),
            measurements=result.measurements,
            sensing_time=sensing,
            site=order.site or (sites[0] if sites else None),
        )


@dataclass
class Host:
    """Everything one VIQ installation is made of."""

    settings: Settings
    plugins: Plugins
    catalog: Catalog
    gipps: GippStore
    service: JobService

    def close(self) -> None:
        """Close the service, then (through its closers) the catalog and the GIPP store."""
        self.service.close()

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_host(
    settings: Settings | None = None, *, plugins: Plugins | None = None, executor: Executor | None = None
) -> Host:
    """Open the catalog and GIPP store on ``settings.database_url`` and a job service that ingests into them."""
    settings = settings or load_settings()
    settings.ensure_dirs()
    plugins = plugins or quiet_plugins()
    catalog = open_catalog(settings.database_url, plugins)
    gipps = open_gipp_store(settings.database_url, plugins, directory=settings.home / "gipp")
    service = JobService(
        settings,
        plugins=plugins,
        executor=executor,
        ingest=CatalogIngest(catalog),
        gipp_resolver=make_gipp_resolver(gipps, export_dir=settings.home / "gipp" / "in-force"),
        closers=[catalog.close, gipps.close],
    )
    return Host(settings, plugins, catalog, gipps, service)


def open_service(settings: Settings | None = None, *, plugins: Plugins | None = None) -> JobService:
    """A job service that catalogues outputs and resolves GIPPs in force; closing it closes everything."""
    return open_host(settings, plugins=plugins).service
