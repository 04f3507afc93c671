"""Storage for years: usage per type/site/year and the retention policy (dry run, protection, apply, files)."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from viq_host.catalog import Catalog, InvalidQuery, NewProduct, ProductQuery, ProductState
from viq_host.catalog import builtin as catalog_builtin
from viq_host.catalog.ops import parse_age
from viq_host.cli.catalog import app
from viq_host.plugins import Plugins, load_plugins

runner = CliRunner()
OLD = datetime(2018, 3, 1, 10, 0, tzinfo=UTC)
NEW = datetime(2023, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def only_builtin(monkeypatch: pytest.MonkeyPatch) -> Plugins:
    """The CLI gets the built-in catalog backends only."""
    plugins = load_plugins([catalog_builtin], entry_points_enabled=False)
    monkeypatch.setattr("viq_host.plugins.load_plugins", lambda *a, **k: plugins)
    return plugins


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_usage_per_type_site_year(catalog: Catalog, catalog_url: str) -> None:
    """Products and bytes per (type, site, year) equal the sums over what was loaded; filters apply; CLI agrees."""
    rng = random.Random(5)
    products = []
    for i in range(300):
        when = datetime(2017 + rng.randrange(7), 1 + rng.randrange(12), 1 + rng.randrange(28), 10, tzinfo=UTC)
        products.append(
            NewProduct(
                rng.choice(["VSC_L1VALD", "VSC_RAWDAT", "IMQ_MTFMES"]),
                f"/archive/u{i}",
                site=rng.choice(["SUDOUE-1", "ARM", "KHUMBU", None]),
                sensing_start=when,
                size=rng.randrange(1, 10**9),
                sha256=_sha(f"u{i}"),
            )
        )
    catalog.add_products(products)
    catalog.delete(1, "test")
    expected: dict[tuple[str, str | None, int], list[int]] = defaultdict(lambda: [0, 0])
    for i, p in enumerate(products, start=1):
        if i == 1:
            continue
        assert p.sensing_start is not None and p.size is not None
        e = expected[(p.product_type, p.site, p.sensing_start.year)]
        e[0] += 1
        e[1] += p.size
    rows = catalog.usage(ProductQuery())
    assert {(r.product_type, r.site, r.year): [r.products, r.bytes] for r in rows} == dict(expected)
    arm = catalog.usage(ProductQuery(site="ARM", product_type="VSC_RAWDAT"))
    assert {(r.site, r.product_type) for r in arm} == {("ARM", "VSC_RAWDAT")}
    assert sum(r.bytes for r in arm) == sum(v[1] for k, v in expected.items() if k[:2] == ("VSC_RAWDAT", "ARM"))
    # a product without sensing time counts in the year it was catalogued
    catalog.ingest(NewProduct("IMQ_REPORT", "/archive/report", size=7, sha256=_sha("r")))
    (row,) = catalog.usage(ProductQuery(product_type="IMQ_REPORT"))
    assert (row.year, row.products, row.bytes) == (datetime.now(UTC).year, 1, 7)
    res = runner.invoke(app, ["stats", "--json", "--url", catalog_url])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == [r.__dict__ for r in catalog.usage(ProductQuery())]
    table = runner.invoke(app, ["stats", "--url", catalog_url])
    total = sum(v[0] for v in expected.values()) + 1
    assert f"total: {total} products" in table.output


def _lineage_world(catalog: Catalog, root: Path) -> dict[str, int]:
    """Raw products with different descendants (files under ``root``), returns name → id."""
    ids: dict[str, int] = {}

    def add(name: str, ptype: str, when: datetime, inputs: tuple[str, ...] = ()) -> None:
        f = root / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(name)
        rec = catalog.ingest(
            NewProduct(ptype, str(f), site="ARM", sensing_start=when, inputs=tuple(ids[i] for i in inputs))
        )
        ids[name] = rec.id

    add("raw_plain", "VSC_RAWDAT", OLD)
    add("l1_plain", "VSC_L1VALD", OLD, ("raw_plain",))  # an ordinary descendant does not protect
    add("raw_gipp", "VSC_RAWDAT", OLD)
    add("dark_stats", "IMQ_DARKST", OLD, ("raw_gipp",))
    add("gipp", "GIP_DARKCU", OLD, ("dark_stats",))  # in force, two hops below raw_gipp
    add("raw_aux", "VSC_RAWDAT", OLD)
    add("refimg", "AUX_REFIMG", OLD, ("raw_aux",))
    add("raw_old_gipp", "VSC_RAWDAT", OLD)
    add("gipp_retired", "GIP_DARKCU", OLD, ("raw_old_gipp",))
    catalog.delete(ids["gipp_retired"], "replaced")  # no longer in force: does not protect
    add("raw_recent", "VSC_RAWDAT", NEW)
    return ids


def test_retention_plan_protects_what_is_in_force(catalog: Catalog, tmp_path: Path) -> None:
    """Old raw products go, except those an active GIPP/AUX derives from (recursively); GIPPs are never retired."""
    ids = _lineage_world(catalog, tmp_path)
    plan = catalog.retention_plan(["VSC_RAWDAT", "GIP_DARKCU"], datetime(2020, 1, 1, tzinfo=UTC), age_of="sensing")
    assert sorted(r.id for r in plan.candidates) == sorted(ids[n] for n in ("raw_plain", "raw_old_gipp"))
    why = {r.id: reason for r, reason in plan.protected}
    assert why[ids["raw_gipp"]] == f"product {ids['gipp']} (GIP_DARKCU, active) derives from it"
    assert why[ids["raw_aux"]] == f"product {ids['refimg']} (AUX_REFIMG, active) derives from it"
    assert why[ids["gipp"]] == "is a GIPP"
    assert ids["raw_recent"] not in why and ids["gipp_retired"] not in why  # too new / not active
    # the plan is a dry run: nothing changed
    assert all(catalog.get(i).state == ProductState.ACTIVE for n, i in ids.items() if n != "gipp_retired")
    # by catalogue time every product is new (all ingested now) until the cutoff is in the future
    assert catalog.retention_plan(["VSC_RAWDAT"], datetime(2020, 1, 1, tzinfo=UTC)).candidates == []
    later = catalog.retention_plan(["VSC_RAWDAT"], datetime.now(UTC) + timedelta(days=1))
    assert ids["raw_recent"] in {r.id for r in later.candidates}
    with pytest.raises(InvalidQuery, match="product type"):
        catalog.retention_plan(["VSC_RAWDAT'; DROP TABLE product; --"], OLD)
    with pytest.raises(InvalidQuery, match="at least one"):
        catalog.retention_plan([], OLD)


def test_apply_rechecks_protection(catalog: Catalog, tmp_path: Path) -> None:
    """A GIPP derived from a candidate between plan and apply keeps it; the others are deleted with history."""
    ids = _lineage_world(catalog, tmp_path)
    plan = catalog.retention_plan(["VSC_RAWDAT"], datetime(2020, 1, 1, tzinfo=UTC), age_of="sensing")
    late = catalog.ingest(
        NewProduct("GIP_RELSEN", str(tmp_path / "late.EEF"), size=1, sha256=_sha("late"), inputs=(ids["raw_plain"],))
    )
    done = catalog.apply_retention(plan, "retention test")
    assert [r.id for r in done] == [ids["raw_old_gipp"]]
    assert catalog.get(ids["raw_plain"]).state == ProductState.ACTIVE
    assert catalog.get(ids["raw_old_gipp"]).state == ProductState.DELETED
    assert [(e.action, e.detail) for e in catalog.history(ids["raw_old_gipp"])][-1] == ("deleted", "retention test")
    assert catalog.get(late.id).state == ProductState.ACTIVE
    # applying the same plan again changes nothing
    assert catalog.apply_retention(plan, "again") == []


def test_retention_cli_dry_run_apply_delete_files(catalog: Catalog, catalog_url: str, tmp_path: Path) -> None:
    """Dry run by default; --apply marks deleted and keeps files; --apply --delete-files removes files under roots."""
    root = tmp_path / "data"
    ids = _lineage_world(catalog, root)
    outside = tmp_path / "elsewhere" / "raw_outside"
    outside.parent.mkdir()
    outside.write_text("x")
    ids["raw_outside"] = catalog.ingest(NewProduct("VSC_RAWDAT", str(outside), sensing_start=OLD)).id
    base = ["retention", "--older-than", "2020-01-01", "--type", "VSC_RAWDAT", "--age-of", "sensing",
            "--root", str(root), "--url", catalog_url]
    bad = runner.invoke(app, [*base, "--delete-files"])
    assert isinstance(bad.exception, InvalidQuery) and "--delete-files needs --apply" in str(bad.exception)
    dry = runner.invoke(app, base)
    assert dry.exit_code == 0, dry.output
    would = {int(line.split("\t")[1]) for line in dry.output.splitlines() if line.startswith("would delete")}
    assert would == {ids["raw_plain"], ids["raw_old_gipp"], ids["raw_outside"]}
    assert "dry run: 3 products" in dry.output
    assert all(catalog.get(i).state == ProductState.ACTIVE for i in would)
    applied = runner.invoke(app, [*base, "--apply", "--delete-files", "--reason", "ops ticket 42"])
    assert applied.exit_code == 0, applied.output
    for name in ("raw_plain", "raw_old_gipp", "raw_outside"):
        rec = catalog.get(ids[name])
        assert rec.state == ProductState.DELETED
        actions = [(e.action, e.detail) for e in catalog.history(rec.id)]
        assert actions[1][0] == "deleted" and actions[1][1].startswith("ops ticket 42: sensing before 2020-01-01")
        inside = name != "raw_outside"
        assert Path(rec.path).exists() is not inside
        assert (("files_removed", rec.path) in actions) is inside
    assert f"file kept\t{ids['raw_outside']}\t{outside}\toutside the storage roots" in applied.output
    for name in ("raw_gipp", "raw_aux", "raw_recent", "gipp", "l1_plain"):
        assert catalog.get(ids[name]).state == ProductState.ACTIVE
        assert (root / name).exists()


def test_parse_age() -> None:
    """Ages count back from now; ISO dates are UTC; anything else is a clear error."""
    now = datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_age("90d", now) == now - timedelta(days=90)
    assert parse_age("2y", now) == now - timedelta(days=730)
    assert parse_age("3w", now) == now - timedelta(days=21)
    assert parse_age("2020-01-01") == datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidQuery, match="--older-than"):
        parse_age("soon")
