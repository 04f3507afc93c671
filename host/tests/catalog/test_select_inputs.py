"""Input selection by the ports' rules, against the catalog on both backends (SQLite and PostGIS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from viq_host.catalog import Catalog, NewProduct
from viq_host.jobs.select import SelectionError, select_inputs
from viq_interfaces import InputPort, ProcessorDeclaration
from viq_interfaces.declaration import SelectionRule

T0 = datetime(2021, 6, 1, tzinfo=UTC)
T1 = datetime(2021, 6, 2, tzinfo=UTC)


class _Add:
    def __init__(self, catalog: Catalog, root: Path) -> None:
        self.catalog, self.root, self.n = catalog, root, 0

    def __call__(self, product_type: str, start: datetime | None, *, site: str | None = "ARM",
                 stop: datetime | None = None, band: str = "B3") -> int:
        self.n += 1
        path = self.root / f"p{self.n}_{product_type}.dat"
        path.write_bytes(b"x" * self.n)
        return self.catalog.ingest(NewProduct(product_type=product_type, path=str(path), site=site, bands=(band,),
                                              sensing_start=start, sensing_stop=stop)).id


def _decl(*ports: InputPort) -> ProcessorDeclaration:
    return ProcessorDeclaration(name="t-select", version="01.00", description="selection test", inputs=ports)


def _port(name: str, types: tuple[str, ...], rule: SelectionRule, *, max_count: int | None = None,
          min_count: int = 1, mandatory: bool = True) -> InputPort:
    return InputPort(name=name, product_types=types, selection=rule, max_count=max_count, min_count=min_count,
                     mandatory=mandatory)


def test_each_rule_picks_what_it_promises(catalog: Catalog, tmp_path: Path) -> None:
    """ValIntersect: every product of the site intersecting the window (one that started the evening before and
    ends inside counts; other sites, outside times, other bands and superseded ones do not);
    LatestValIntersect: the last catalogued of the intersecting versions; LatestValidity: the latest start at or
    before the window end, falling back to products without a site; LatestValidityClosest: nearest to the middle."""
    add = _Add(catalog, tmp_path)
    inside = [add("VSC_L1VALD", T0 + timedelta(hours=h)) for h in (3, 9)]
    straddling = add("VSC_L1VALD", T0 - timedelta(hours=2), stop=T0 + timedelta(minutes=5))
    add("VSC_L1VALD", T0 - timedelta(hours=30), stop=T0 - timedelta(hours=29))  # ended before the window
    add("VSC_L1VALD", T1 + timedelta(hours=1))  # after
    add("VSC_L1VALD", T0 + timedelta(hours=4), site="OTHER")
    add("VSC_L1VALD", T0 + timedelta(hours=5), band="B7")
    old = add("VSC_L1VALD", T0 + timedelta(hours=6))
    new = add("VSC_L1VALD", T0 + timedelta(hours=6, seconds=1))
    catalog.supersede(old, new, "reprocessed")
    first_ref = add("AUX_REFIMG", T0 - timedelta(days=400), stop=T1 + timedelta(days=400))
    second_ref = add("AUX_REFIMG", T0 - timedelta(days=300), stop=T1 + timedelta(days=300))
    add("GIP_PHGAIN", datetime(2018, 1, 1, tzinfo=UTC), site=None)
    gain_2019 = add("GIP_PHGAIN", datetime(2019, 1, 1, tzinfo=UTC), site=None)
    add("GIP_PHGAIN", datetime(2030, 1, 1, tzinfo=UTC), site=None)  # not yet valid
    add("VSC_RAWDAT", T0 + timedelta(hours=12) - timedelta(days=10))
    near = add("VSC_RAWDAT", T0 + timedelta(hours=12) + timedelta(days=3))

    decl = _decl(
        _port("l1", ("VSC_L1VALD",), SelectionRule.VAL_INTERSECT),
        _port("ref", ("AUX_REFIMG",), SelectionRule.LATEST_VAL_INTERSECT),
        _port("gain", ("GIP_PHGAIN",), SelectionRule.LATEST_VALIDITY),
        _port("raw", ("VSC_RAWDAT",), SelectionRule.LATEST_VALIDITY_CLOSEST),
    )
    sel = select_inputs(catalog, decl, start=T0, stop=T1, site="ARM", band="B3",
                        lookback=timedelta(days=500))
    got = {s.port: [p.id for p in s.products] for s in sel.ports}
    assert got["l1"] == [straddling, inside[0], new, inside[1]]
    assert got["ref"] == [second_ref] and first_ref < second_ref
    assert got["gain"] == [gain_2019]
    assert got["raw"] == [near]
    assert set(sel.inputs()) == {"l1", "ref", "gain", "raw"}


def test_preferred_type_first_then_alternatives(catalog: Catalog, tmp_path: Path) -> None:
    """A port accepting (L2, L1) takes L2 products when there are some, L1 otherwise."""
    add = _Add(catalog, tmp_path)
    l1 = add("VSC_L1VALD", T0 + timedelta(hours=1))
    decl = _decl(_port("img", ("VSC_L2VALD", "VSC_L1VALD"), SelectionRule.VAL_INTERSECT))
    assert [p.id for p in select_inputs(catalog, decl, start=T0, stop=T1, site="ARM").ports[0].products] == [l1]
    l2 = add("VSC_L2VALD", T0 + timedelta(hours=2))
    assert [p.id for p in select_inputs(catalog, decl, start=T0, stop=T1, site="ARM").ports[0].products] == [l2]


def test_counts_are_enforced_with_the_port_named(catalog: Catalog, tmp_path: Path) -> None:
    """More products than max_count, or fewer than a mandatory port's min_count, is an error naming the port and
    the rule; an optional port with nothing is left out; a port the caller names is not selected at all; an
    Explicit port is never filled from the catalog."""
    add = _Add(catalog, tmp_path)
    for h in (1, 2):
        add("VSC_L1VALD", T0 + timedelta(hours=h))
    one = _decl(_port("l1", ("VSC_L1VALD",), SelectionRule.VAL_INTERSECT, max_count=1))
    with pytest.raises(SelectionError, match=r"port 'l1' \(ValIntersect\): 2 products match, at most 1"):
        select_inputs(catalog, one, start=T0, stop=T1, site="ARM")
    assert select_inputs(catalog, one, start=T0, stop=T1, site="ARM",
                         explicit={"l1": [tmp_path / "mine.dat"]}).ports == []
    need = _decl(_port("dark", ("VSC_RAWDAT",), SelectionRule.VAL_INTERSECT))
    with pytest.raises(SelectionError, match=r"port 'dark' \(ValIntersect\): 0 product\(s\) of site ARM"):
        select_inputs(catalog, need, start=T0, stop=T1, site="ARM")
    optional = _decl(_port("dark", ("VSC_RAWDAT",), SelectionRule.VAL_INTERSECT, min_count=0, mandatory=False),
                     _port("l1", ("VSC_L1VALD",), SelectionRule.EXPLICIT, max_count=None, min_count=0,
                           mandatory=False))
    sel = select_inputs(catalog, optional, start=T0, stop=T1, site="ARM")
    assert [(s.port, len(s.products)) for s in sel.ports] == [("dark", 0), ("l1", 0)]
    assert sel.inputs() == {}
    explicit = _decl(_port("l1", ("VSC_L1VALD",), SelectionRule.EXPLICIT))
    with pytest.raises(SelectionError, match=r"port 'l1' is Explicit: .*--input l1=PATH"):
        select_inputs(catalog, explicit, start=T0, stop=T1, site="ARM")
    with pytest.raises(SelectionError, match="is not after start"):
        select_inputs(catalog, optional, start=T1, stop=T0)
    with pytest.raises(SelectionError, match="outside 1950–2200"):
        select_inputs(catalog, optional, start=datetime(1, 1, 1, tzinfo=UTC), stop=T0)


def test_a_small_area_search_is_driven_by_the_spatial_index_on_sqlite(catalog: Catalog, tmp_path: Path) -> None:
    """SQLite: with a bbox of a few square degrees the other filters carry the unary-plus hint (the R*Tree drives
    the search: ~8 k candidates instead of a whole product type's index range at 1 M products); a continent-sized
    bbox and PostGIS keep plain filters (the spatial tests of the suite check the answers)."""
    from viq_host.catalog.base import ProductQuery

    add = _Add(catalog, tmp_path)
    for k in range(3):
        pid = add("VSC_L1VALD", T0 + timedelta(hours=k))
        assert pid > 0
    small = ProductQuery(product_type="VSC_L1VALD", bbox=(5.0, 44.0, 5.5, 44.5))
    large = ProductQuery(product_type="VSC_L1VALD", bbox=(-20.0, 30.0, 40.0, 70.0))
    _, where_small, _ = catalog._where(small)  # type: ignore[attr-defined]
    _, where_large, _ = catalog._where(large)  # type: ignore[attr-defined]
    sqlite = type(catalog).__name__.startswith("Sqlite")
    assert ("+p.product_type = ?" in where_small) is sqlite
    assert "+p." not in where_large
