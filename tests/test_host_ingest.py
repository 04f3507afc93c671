"""A run through the assembled host lands in the catalog: outputs, footprint, lineage, measurements."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

import viq_e2e_procs
from viq_host.catalog import ProductQuery
from viq_host.config import Settings
from viq_host.host import CatalogIngest, open_host
from viq_host.testing.factories import write_geotiff
from viq_host.testing.harness import harness_settings, run_processor


@pytest.fixture(params=["sqlite", "postgis"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Isolated settings on SQLite, or on a fresh PostGIS database."""
    if request.param == "postgis":
        url = request.getfixturevalue("postgis_url")
        return harness_settings(tmp_path, database_url=url)
    return harness_settings(tmp_path)


def test_outputs_lineage_and_measurements_are_catalogued(settings: Settings, tmp_path: Path) -> None:
    """The output row has the footprint and site; lineage goes back to the input; the measurement is stored."""
    image = write_geotiff(settings.home / "data" / "scene.tif", np.full((16, 16), 42, dtype=np.uint16))
    with open_host(settings) as host:
        outcome = run_processor(
            viq_e2e_procs.MeanDn, {"image": [image]}, settings=settings, ingest=CatalogIngest(host.catalog)
        )
        outcome.assert_success()
        page = host.catalog.search(ProductQuery(product_type="IMQ_MEANDN", bbox=(5.1, 44.1, 5.2, 44.15)))
        assert len(page.items) == 1
        product = page.items[0]
        assert product.site == "VENTOUX"
        assert product.job_id == outcome.job_id
        assert product.processor == "t-mean-dn"
        assert Path(product.path).read_text().strip().endswith("42.0")
        outside = host.catalog.search(ProductQuery(product_type="IMQ_MEANDN", bbox=(6.0, 45.0, 6.1, 45.1)))
        assert outside.items == []
        up = host.catalog.lineage(product.id, "up")
        parents = {host.catalog.get(e.input_id).path for e in up}
        assert str(image) in parents
        series = host.catalog.series("mean_dn", band="B3")
        assert [p.value for p in series] == [42.0]


def test_gipp_in_force_reaches_the_processor_and_is_recorded(tmp_path: Path) -> None:
    """A job needing GIP_DARKCU gets the OPER version in force; the catalog records that exact version.

    Without any GIPP in force, the same job order is refused before it runs (exit code 135).
    """
    import warnings

    from viq_host.jobs.build import build_job_order
    from viq_host.testing.harness import processor_env
    from viq_interfaces import InvalidJobOrder
    from viq_proc_simulator import simulate

    settings = harness_settings(tmp_path)
    image = write_geotiff(settings.home / "data" / "scene.tif", np.full((8, 8), 7, dtype=np.uint16))
    sim = simulate(tmp_path / "sim", acquisition="dark", bands=("B3",), lines=16, pixels=32, seed=1)
    dark = next(g for g in sim.gipps if g.gipp_type == "GIP_DARKCU")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from viq_host.plugins import load_plugins

        plugins = load_plugins([viq_e2e_procs])
    with open_host(settings, plugins=plugins) as host:
        host.service.extra_env = processor_env(viq_e2e_procs.DarkUser)
        when = datetime(2018, 6, 1, 10, 30, tzinfo=UTC)  # inside the simulated GIPP's validity
        order = build_job_order(viq_e2e_procs.DarkUser.declaration, inputs={"image": [image]}, sensing=(when, when))
        with pytest.raises(InvalidJobOrder) as refused:
            host.service.submit(order.model_copy(update={"file_class": "OPER"}))
        assert refused.value.exit_code == 135
        host.gipps.grant_role("ops", by="admin")
        rec = host.gipps.import_file(dark.path, actor="ops", reason="pre-flight dark")
        host.gipps.attach_validation(rec.id, metric="dark_rms_diff_dn", value=0.02, actor="ops", passed=True)
        host.gipps.promote(rec.id, "TEST", operator="ops", reason="validated")
        host.gipps.promote(rec.id, "OPER", operator="ops", reason="validated")
        job_id = host.service.submit(order.model_copy(update={"file_class": "OPER"}))
        host.service.run_until_done([job_id])
        status = host.service.status(job_id)
        assert status.job.state.value == "SUCCEEDED", status.job.reason
        assert status.result is not None
        used = {m.name: m.value for m in status.result.measurements}
        assert used["dark_gipp_version"] == float(rec.serial)
        product = host.catalog.search(ProductQuery(product_type="IMQ_MEANDN")).items[0]
        assert product.gipp_versions == {"GIP_DARKCU_B03": str(rec.serial)}
