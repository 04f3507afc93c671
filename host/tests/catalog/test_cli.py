"""``viq catalog`` commands: search (GeoJSON), show, lineage, ingest through reader plugins, verify, migrate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from typer.testing import CliRunner

from viq_host.catalog import Catalog, InvalidProduct, InvalidQuery, NewProduct, open_catalog
from viq_host.catalog import builtin as catalog_builtin
from viq_host.catalog.migrations import latest_version
from viq_host.cli.catalog import app
from viq_host.plugins import Plugins, load_plugins
from viq_interfaces import hookimpl
from viq_interfaces.hookspecs import ComponentRegistry

runner = CliRunner()


def _sidecar_reader(path: Path) -> dict[str, Any]:
    """Test reader: metadata in ``<file>.json`` beside the product."""
    meta: dict[str, Any] = json.loads(Path(str(path) + ".json").read_text())
    return meta


class _Readers:
    @hookimpl
    def viq_add_product_readers(self, registry: ComponentRegistry) -> None:
        registry.add("VSC_L1VALD", _sidecar_reader)


@pytest.fixture(autouse=True)
def only_test_plugins(monkeypatch: pytest.MonkeyPatch) -> Plugins:
    """The CLI loads plugins itself: give it the built-in backends and the test reader only."""
    plugins = load_plugins([catalog_builtin, _Readers()], entry_points_enabled=False)
    monkeypatch.setattr("viq_host.plugins.load_plugins", lambda *a, **k: plugins)
    return plugins


def _product(tmp_path: Path, name: str, meta: dict[str, Any]) -> Path:
    f = tmp_path / "data" / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(name.encode() * 100)
    Path(str(f) + ".json").write_text(json.dumps(meta))
    return f


def _meta(lon: float, day: int) -> dict[str, Any]:
    return {
        "site": "SUDOUE",
        "bands": ["B3", "B4"],
        "sensing_start": f"2020-03-{day:02d}T10:30:00Z",
        "sensing_stop": f"2020-03-{day:02d}T10:30:08Z",
        "footprint_wkt": f"POLYGON(({lon} 43, {lon + 0.5} 43, {lon + 0.5} 43.5, {lon} 43.5, {lon} 43))",
    }


def test_ingest_search_geojson_show(catalog_url: str, tmp_path: Path) -> None:
    """Files go in through the type's reader; search --json is a GeoJSON FeatureCollection of the matches."""
    a = _product(tmp_path, "a.tif", _meta(1.0, 3))
    b = _product(tmp_path, "b.tif", _meta(5.0, 20))
    res = runner.invoke(app, ["ingest", str(a), str(b), "--type", "VSC_L1VALD", "--url", catalog_url])
    assert res.exit_code == 0, res.output
    again = runner.invoke(app, ["ingest", str(a), "--type", "VSC_L1VALD", "--url", catalog_url])
    assert again.output.split("\t")[0] == res.output.split("\t")[0]  # idempotent: same id
    res = runner.invoke(
        app,
        [
            "search",
            "--bbox",
            "0.9,42.9,1.2,43.2",
            "--from",
            "2020-03-01",
            "--to",
            "2020-04-01",
            "--band",
            "B3",
            "--json",
            "--url",
            catalog_url,
        ],
    )
    assert res.exit_code == 0, res.output
    fc = json.loads(res.output)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 1
    feat = fc["features"][0]
    assert feat["properties"]["path"] == str(a) and feat["properties"]["bands"] == ["B3", "B4"]
    assert shapely.geometry.shape(feat["geometry"]).equals(shapely.from_wkt(_meta(1.0, 3)["footprint_wkt"]))
    shown = runner.invoke(app, ["show", str(feat["id"]), "--json", "--url", catalog_url])
    data = json.loads(shown.output)
    assert data["sensing_start"] == "2020-03-03T10:30:00Z" and data["history"][0]["action"] == "ingested"
    table = runner.invoke(app, ["search", "--site", "SUDOUE", "--url", catalog_url])
    assert table.exit_code == 0 and table.output.count("VSC_L1VALD") == 2


def test_ingest_errors_are_clear(tmp_path: Path) -> None:
    """No reader for the type, a reader that fails on bad metadata, a bad time: InvalidProduct naming the file."""
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    a = _product(tmp_path, "a.tif", {**_meta(1.0, 3), "sensing_start": "yesterday"})
    res = runner.invoke(app, ["ingest", str(a), "--type", "VSC_L1VALD", "--url", url])
    assert isinstance(res.exception, InvalidProduct) and "sensing_start: not an ISO time" in str(res.exception)
    res = runner.invoke(app, ["ingest", str(a), "--type", "AUX_REFDE1", "--url", url])
    assert isinstance(res.exception, InvalidProduct) and "no product reader for type AUX_REFDE1" in str(res.exception)
    Path(str(a) + ".json").write_text("{not json")
    res = runner.invoke(app, ["ingest", str(a), "--type", "VSC_L1VALD", "--url", url])
    assert isinstance(res.exception, InvalidProduct) and "unreadable or invalid metadata" in str(res.exception)
    res = runner.invoke(app, ["search", "--bbox", "1,2,3", "--url", url])
    assert isinstance(res.exception, InvalidQuery) and "--bbox" in str(res.exception)
    res = runner.invoke(app, ["search", "--from", "2020-02-30", "--url", url])
    assert isinstance(res.exception, InvalidQuery) and "--from" in str(res.exception)


def test_lineage_tree_both_directions(tmp_path: Path, only_test_plugins: Plugins) -> None:
    """``lineage --up`` lists the inputs tree, ``--down`` the derived products."""
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    cat: Catalog = open_catalog(url, only_test_plugins)
    l1 = cat.ingest(NewProduct("VSC_L1VALD", "/x/l1", size=1, sha256="1" * 64)).id
    mtf = cat.ingest(NewProduct("IMQ_MTFMES", "/x/mtf", size=1, sha256="2" * 64, inputs=(l1,))).id
    gipp = cat.ingest(NewProduct("GIP_PHGAIN", "/x/gipp", size=1, sha256="3" * 64, inputs=(mtf,))).id
    cat.close()
    up = runner.invoke(app, ["lineage", str(gipp), "--up", "--url", url])
    lines = up.output.splitlines()
    assert lines[0].startswith(f"{gipp} GIP_PHGAIN") and "/x/mtf" in lines[1] and "/x/l1" in lines[2]
    down = runner.invoke(app, ["lineage", str(l1), "--down", "--json", "--url", url])
    assert json.loads(down.output) == [
        {"product_id": mtf, "input_id": l1, "depth": 1},
        {"product_id": gipp, "input_id": mtf, "depth": 2},
    ]


def test_verify_reports_missing_changed_orphaned(tmp_path: Path) -> None:
    """verify finds a deleted file, a modified file and an uncatalogued file; a clean store exits 0."""
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    files = [_product(tmp_path, f"p{i}.tif", _meta(1.0, i + 1)) for i in range(4)]
    assert runner.invoke(app, ["ingest", *map(str, files), "--type", "VSC_L1VALD", "--url", url]).exit_code == 0
    for f in files:  # sidecars are not products: keep them out of the orphan scan
        Path(str(f) + ".json").unlink()
    root = str(tmp_path / "data")
    clean = runner.invoke(app, ["verify", "--root", root, "--url", url])
    assert clean.exit_code == 0 and "4 products checked: 0 missing, 0 changed, 0 orphaned" in clean.output
    files[0].unlink()
    files[1].write_bytes(b"p1.tif" * 100 + b"!")
    files[2].write_bytes(b"P2.TIF" * 100)  # same size, other content
    (tmp_path / "data" / "stray.tif").write_bytes(b"?")
    res = runner.invoke(app, ["verify", "--root", root, "--url", url])
    assert res.exit_code == 1
    kinds = sorted((line.split("\t")[0], Path(line.split("\t")[2]).name) for line in res.output.splitlines()[:-1])
    assert kinds == [("changed", "p1.tif"), ("changed", "p2.tif"), ("missing", "p0.tif"), ("orphaned", "stray.tif")]
    quick = runner.invoke(app, ["verify", "--root", root, "--quick", "--url", url])
    assert "1 missing, 1 changed, 1 orphaned" in quick.output  # sizes only: p2 is not seen


def test_migrate_command(tmp_path: Path) -> None:
    """``catalog migrate`` on a new file creates the schema, then reports up to date."""
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    first = runner.invoke(app, ["migrate", "--url", url])
    latest = latest_version()
    assert first.exit_code == 0 and f"schema version 0 → {latest}" in first.output
    second = runner.invoke(app, ["migrate", "--url", url])
    assert f"schema version {latest}: up to date" in second.output
    stats = runner.invoke(app, ["stats", "--url", url])
    assert stats.exit_code == 0
