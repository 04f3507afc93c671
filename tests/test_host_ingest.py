"""A run through the assembled host lands in the catalog: outputs, footprint, lineage, measurements."""

from __future__ import annotations

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
