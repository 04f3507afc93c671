"""The same API flow on both catalog backends: search with filters and bbox, lineage, measurements, a GIPP
promotion with evidence, tokens and the audit trail in the installation database (SQLite or PostGIS)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from viq_api_support import Api, seed
from viq_host.config import Settings
from viq_host.testing.harness import harness_settings


@pytest.fixture(params=["sqlite", "postgis"])
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Isolated settings on SQLite, or on a fresh PostGIS database (``postgis_url``)."""
    if request.param == "postgis":
        return harness_settings(tmp_path, database_url=request.getfixturevalue("postgis_url"))
    return harness_settings(tmp_path)


def test_flow_on_both_backends(make_api: Any, backend_settings: Settings) -> None:
    """Search, lineage, series, promotion and audit give the same answers on SQLite and PostGIS; with a request
    pool of 2 connections (a ``viq serve --workers`` share), 12 concurrent searches all succeed (throttled)."""
    api: Api = make_api(backend_settings, pool_size=2)
    s = seed(api)
    bbox = (-8.0, 33.0, -4.0, 35.0)
    expected = sorted(
        p["id"] for p in s.products
        if p["type"] == "VSC_L2VALD" and not (p["bbox"][2] < bbox[0] or p["bbox"][0] > bbox[2]
                                              or p["bbox"][3] < bbox[1] or p["bbox"][1] > bbox[3])
    )
    body = api.get("/api/products", params={"type": "VSC_L2VALD", "bbox": ",".join(map(str, bbox))}).json()
    assert [f["id"] for f in body["features"]] == expected and expected
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda _: api.get("/api/products", params={"type": "VSC_L2VALD"}).status_code,
                                 range(12)))
    assert statuses == [200] * 12
    if backend_settings.database_url.startswith("postgres"):
        assert api.runtime.catalog._catalog is not api.runtime.host.catalog  # type: ignore[attr-defined]
    injected = api.get("/api/products", params={"site": "' OR '1'='1"}).json()
    assert injected["features"] == []
    up = api.get(f"/api/products/{s.derived_id}/lineage").json()
    assert [e["input_id"] for e in up["edges"]] == [s.scene_id]
    snr = api.get("/api/measurements/snr", params={"band": "B03"}).json()
    assert [p["value"] for p in snr["points"]] == [v for n, b, _, v in s.measurements if n == "snr" and b == "B03"]
    r = api.post(f"/api/gipps/{s.gipp_ids[1]}/promote", json={"to": "TEST", "reason": "campaign"})
    assert r.status_code == 200 and r.json()["status"] == "TEST"
    assert api.post(f"/api/gipps/{s.gipp_ids[2]}/promote", json={"to": "TEST", "reason": "x"}).status_code == 409
    trail = [(a["action"], a["outcome"]) for a in api.get("/api/audit").json()]
    assert trail[:2] == [("gipp.promote", "refused"), ("gipp.promote", "ok")]
    assert api.runtime.store.schema_version() == 1
