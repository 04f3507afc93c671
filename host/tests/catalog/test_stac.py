"""``viq catalog search --stac``: an ItemCollection of STAC 1.0.0 Items (fields checked against the spec)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
import shapely
from typer.testing import CliRunner

from viq_host.catalog import Catalog, NewProduct
from viq_host.catalog import builtin as catalog_builtin
from viq_host.cli.catalog import app
from viq_host.plugins import Plugins, load_plugins

runner = CliRunner()
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


@pytest.fixture(autouse=True)
def only_builtin(monkeypatch: pytest.MonkeyPatch) -> Plugins:
    """The CLI gets the built-in catalog backends only."""
    plugins = load_plugins([catalog_builtin], entry_points_enabled=False)
    monkeypatch.setattr("viq_host.plugins.load_plugins", lambda *a, **k: plugins)
    return plugins


def _check_item(item: dict[str, Any]) -> None:
    """The STAC 1.0.0 Item rules this exporter must meet (required fields, types, bbox/geometry, datetime)."""
    for key in ("type", "stac_version", "id", "geometry", "properties", "links", "assets"):
        assert key in item, key
    assert item["type"] == "Feature" and item["stac_version"] == "1.0.0"
    assert isinstance(item["id"], str) and item["id"]
    assert isinstance(item["links"], list) and isinstance(item["assets"], dict)
    assert all(isinstance(e, str) and e.startswith("https://") for e in item.get("stac_extensions", []))
    props = item["properties"]
    assert "datetime" in props
    if props["datetime"] is None:
        assert "start_datetime" in props and "end_datetime" in props
    for key in ("datetime", "start_datetime", "end_datetime", "created"):
        if props.get(key) is not None:
            assert RFC3339_Z.match(props[key]), props[key]
    if "start_datetime" in props:
        assert props["start_datetime"] <= props["end_datetime"]
    if item["geometry"] is None:
        assert "bbox" not in item
    else:
        geom = shapely.geometry.shape(item["geometry"])
        assert item["bbox"] == list(geom.bounds)
    for asset in item["assets"].values():
        assert isinstance(asset["href"], str) and asset["href"]


def test_search_stac_item_collection(catalog: Catalog, catalog_url: str, tmp_path: Path) -> None:
    """Each product becomes a valid Item: footprint geometry and bbox, sensing window, asset size and checksum."""
    t0 = datetime(2020, 6, 1, 10, 30, 15, 500000, tzinfo=UTC)
    files = []
    for i in range(3):
        f = tmp_path / "data dir" / f"p{i}.tif"
        f.parent.mkdir(exist_ok=True)
        f.write_bytes(bytes([i]) * (100 + i))
        files.append(f)
        catalog.ingest(
            NewProduct(
                "VSC_L1VALD",
                str(f),
                site="ARM",
                bands=("B3", "B11"),
                tdi=8,
                sensing_start=t0 + timedelta(days=i),
                sensing_stop=t0 + timedelta(days=i, seconds=8),
                footprint_wkt=f"POLYGON (({i} 43, {i + 0.25} 43, {i + 0.25} 43.5, {i} 43.5, {i} 43))",
            )
        )
    report = tmp_path / "data dir" / "report.json"
    report.write_text("{}")
    catalog.ingest(NewProduct("IMQ_REPORT", str(report)))
    res = runner.invoke(app, ["search", "--stac", "--limit", "2", "--type", "VSC_L1VALD", "--url", catalog_url])
    assert res.exit_code == 0, res.output
    ic = json.loads(res.output)
    assert ic["type"] == "FeatureCollection" and isinstance(ic["links"], list)
    assert len(ic["features"]) == 2 and ic["viq:next_after"] is not None
    rest = json.loads(runner.invoke(app, ["search", "--stac", "--type", "VSC_L1VALD", "--after",
                                          str(ic["viq:next_after"]), "--url", catalog_url]).output)
    items = ic["features"] + rest["features"]
    assert len({it["id"] for it in items}) == 3
    for i, (item, f) in enumerate(zip(items, files, strict=True)):
        _check_item(item)
        assert shapely.geometry.shape(item["geometry"]).equals(shapely.box(i, 43, i + 0.25, 43.5))
        assert datetime.fromisoformat(item["properties"]["datetime"].replace("Z", "+00:00")) == t0 + timedelta(days=i)
        end = datetime.fromisoformat(item["properties"]["end_datetime"].replace("Z", "+00:00"))
        assert end == t0 + timedelta(days=i, seconds=8)
        assert item["properties"]["viq:bands"] == ["B3", "B11"] and item["properties"]["viq:site"] == "ARM"
        asset = item["assets"]["data"]
        assert Path(unquote(urlparse(asset["href"]).path)) == f
        assert asset["file:size"] == f.stat().st_size
        assert asset["file:checksum"] == "1220" + hashlib.sha256(f.read_bytes()).hexdigest()
    other = json.loads(runner.invoke(app, ["search", "--stac", "--type", "IMQ_REPORT", "--url", catalog_url]).output)
    (item,) = other["features"]
    _check_item(item)
    assert item["geometry"] is None and "bbox" not in item
    assert item["properties"]["datetime"] == item["properties"]["created"]  # no sensing time: catalogued time
