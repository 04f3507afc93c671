"""Input selection from the catalog: the host picks each port's products by the port's selection rule.

A processor declares, per input port, how its products are chosen when a job order does not name them
(:class:`viq_interfaces.SelectionRule`, the retrieval modes of ESA task tables). Given a sensing window, a
site and optionally a band, :func:`select_inputs` turns those rules into catalog queries:

* ``ValIntersect`` — every active product whose period ``[sensing_start, sensing_stop]`` (a point when it has
  no stop) intersects the window; products that started up to ``lookback`` before the window are considered.
* ``LatestValIntersect`` — of those, the one catalogued last (the newest version of the data).
* ``LatestValidityClosest`` — the product whose sensing start is closest to the middle of the window,
  searched in growing windows around it.
* ``LatestValidity`` — the product with the latest sensing start at or before the end of the window.
* ``Explicit`` — never selected: the job order must name the files.

Product types are tried in the port's order (the first is preferred); the site filter keeps products of the
site, or products without a site (GIPPs, auxiliary data) when none of the site matches. A port that ends up
with fewer products than its ``min_count`` is an error when the port is mandatory and left out otherwise; more
than ``max_count`` is an error naming the products (narrow the window) — the host never drops data silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from viq_host.catalog.base import Catalog, ProductQuery, ProductRecord
from viq_interfaces.declaration import InputPort, ProcessorDeclaration, SelectionRule
from viq_interfaces.errors import MissingInputError

DEFAULT_LOOKBACK = timedelta(days=1)
"""How long before the window a product may have started and still intersect it (acquisitions last seconds)."""
EARLIEST = datetime(1950, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Sensing windows outside these years are refused (the searches reach a century around the window)."""
_SEARCH_SPANS = (timedelta(days=1), timedelta(days=16), timedelta(days=183), timedelta(days=3660),
                 timedelta(days=36600))
"""Growing half-widths of the windows the closest/latest rules search in."""


class SelectionError(MissingInputError):
    """The catalog cannot satisfy a port's selection rule (too few or too many products)."""


@dataclass(frozen=True)
class PortSelection:
    """What was chosen for one port, and why."""

    port: str
    rule: SelectionRule
    products: tuple[ProductRecord, ...]
    note: str = ""

    @property
    def paths(self) -> list[Path]:
        """Paths of the chosen products, in sensing order."""
        return [Path(p.path) for p in self.products]


@dataclass
class Selection:
    """Inputs chosen for one job: per port, plus the ports the job order names itself."""

    start: datetime
    stop: datetime
    site: str | None
    ports: list[PortSelection] = field(default_factory=list)

    def inputs(self, explicit: Mapping[str, Sequence[Path]] | None = None) -> dict[str, list[Path]]:
        """Input files per port for :func:`viq_host.jobs.build.build_job_order` (explicit files win)."""
        chosen = {s.port: s.paths for s in self.ports if s.products}
        return {**chosen, **{k: list(v) for k, v in (explicit or {}).items()}}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _period(p: ProductRecord) -> tuple[datetime, datetime] | None:
    if p.sensing_start is None:
        return None
    start = _utc(p.sensing_start)
    return start, _utc(p.sensing_stop) if p.sensing_stop is not None else start


def _by_site(found: Iterable[ProductRecord], site: str | None) -> list[ProductRecord]:
    """Products of ``site``; when there are none, those without a site (GIPPs, auxiliary data)."""
    items = list(found)
    if site is None:
        return items
    own = [p for p in items if p.site == site]
    return own or [p for p in items if p.site is None]


@dataclass
class _Selector:
    catalog: Catalog
    start: datetime
    stop: datetime
    site: str | None
    band: str | None
    lookback: timedelta

    def window(self, product_type: str, start: datetime | None, stop: datetime | None) -> list[ProductRecord]:
        """Active products of one type whose sensing start lies in ``[start, stop)`` (band filter applied)."""
        query = ProductQuery(product_type=product_type, band=self.band, start=start, stop=stop, limit=1000)
        return _by_site(self.catalog.iter_search(query), self.site)

    def intersecting(self, product_type: str) -> list[ProductRecord]:
        found = self.window(product_type, self.start - self.lookback, self.stop)
        keep = []
        for p in found:
            period = _period(p)
            if period is not None and period[0] <= self.stop and period[1] >= self.start:
                keep.append(p)
        return sorted(keep, key=lambda p: (_period(p) or (self.start,))[0])

    def closest(self, product_type: str, middle: datetime) -> list[ProductRecord]:
        for span in _SEARCH_SPANS:
            found = [p for p in self.window(product_type, middle - span, middle + span) if p.sensing_start]
            if found:
                best = min(found, key=lambda p: (abs((_utc(p.sensing_start or middle) - middle).total_seconds()),
                                                 -p.id))
                return [best]
        return []

    def latest(self, product_type: str) -> list[ProductRecord]:
        end = self.stop + timedelta(microseconds=1)
        for span in _SEARCH_SPANS:
            found = [p for p in self.window(product_type, end - span, end) if p.sensing_start]
            if found:
                return [max(found, key=lambda p: (_utc(p.sensing_start or end), p.id))]
        return []

    def port(self, port: InputPort) -> PortSelection:
        rule = port.selection
        if rule is SelectionRule.EXPLICIT:
            return PortSelection(port.name, rule, (), "explicit: the job order names the files")
        for product_type in port.product_types:
            if rule is SelectionRule.VAL_INTERSECT:
                found = self.intersecting(product_type)
            elif rule is SelectionRule.LATEST_VAL_INTERSECT:
                found = self.intersecting(product_type)
                found = [max(found, key=lambda p: (p.created, p.id))] if found else []
            elif rule is SelectionRule.LATEST_VALIDITY_CLOSEST:
                found = self.closest(product_type, self.start + (self.stop - self.start) / 2)
            else:
                found = self.latest(product_type)
            if found:
                return PortSelection(port.name, rule, tuple(found), f"{len(found)} × {product_type}")
        return PortSelection(port.name, rule, (), f"nothing of {', '.join(port.product_types)}")


def select_inputs(
    catalog: Catalog,
    declaration: ProcessorDeclaration,
    *,
    start: datetime,
    stop: datetime,
    site: str | None = None,
    band: str | None = None,
    explicit: Mapping[str, Sequence[Path]] | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
) -> Selection:
    """Choose the products of every input port the job order does not name (see the module docstring).

    Raises :class:`SelectionError` naming the port when a mandatory port gets too few products or any port
    too many.
    """
    start, stop = _utc(start), _utc(stop)
    if stop <= start:
        raise SelectionError(f"sensing window: stop {stop.isoformat()} is not after start {start.isoformat()}")
    if start < EARLIEST or stop > LATEST:
        raise SelectionError(f"sensing window {start.isoformat()} – {stop.isoformat()} is outside "
                             f"{EARLIEST.year}–{LATEST.year}")
    selector = _Selector(catalog, start, stop, site, band, lookback)
    selection = Selection(start=start, stop=stop, site=site)
    named = set(explicit or {})
    for port in declaration.inputs:
        if port.name in named:
            continue
        chosen = selector.port(port)
        n = len(chosen.products)
        if port.max_count is not None and n > port.max_count:
            listed = ", ".join(f"{p.id}:{Path(p.path).name}" for p in chosen.products[:10])
            raise SelectionError(
                f"port {port.name!r} ({chosen.rule.value}): {n} products match, at most {port.max_count} allowed "
                f"— narrow the window or name the files ({listed}{' …' if n > 10 else ''})"
            )
        if n < port.min_count:
            if port.mandatory and chosen.rule is SelectionRule.EXPLICIT:
                raise SelectionError(f"port {port.name!r} is Explicit: the job order must name its files "
                                     f"(--input {port.name}=PATH)")
            if port.mandatory:
                where = f" of site {site}" if site else ""
                raise SelectionError(
                    f"port {port.name!r} ({chosen.rule.value}): {n} product(s){where} for "
                    f"{start.isoformat()} – {stop.isoformat()}, at least {port.min_count} needed ({chosen.note})"
                )
            chosen = PortSelection(port.name, chosen.rule, (), f"left out: {chosen.note}")
        selection.ports.append(chosen)
    return selection
