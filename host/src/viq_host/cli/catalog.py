"""``viq catalog``: search, show, lineage, ingest, verify, stats and migrate the product catalog."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from viq_host.catalog import Catalog, InvalidQuery, ProductQuery, ProductRecord, ProductState, open_catalog
from viq_host.catalog.base import feature_collection, item_collection
from viq_host.cli._common import err_console, out_console, settings

if TYPE_CHECKING:
    from rich.progress import TaskID

app = typer.Typer(help="Search and maintain the product catalog.", no_args_is_help=True)

URL_OPTION = typer.Option(None, "--url", help="Catalog URL (default: the configured database_url).")
STATE_OPTION = typer.Option(["active"], "--state", help="active, superseded, deleted (repeatable).")
PATHS_ARGUMENT = typer.Argument(..., help="Files or directories (one product each).")
RETENTION_TYPES_OPTION = typer.Option(..., "--type", help="Intermediate product type to retire (repeatable).")
ROOTS_OPTION = typer.Option([], "--root", help="Storage roots to scan for orphans (default: data roots).")


def _open(url: str | None, *, migrate: bool = True) -> Catalog:
    return open_catalog(url or settings().database_url, migrate=migrate)


def _time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as err:
        raise InvalidQuery(f"--{name}: not an ISO-8601 time: {value!r} (e.g. 2020-03-01 or 2020-03-01T10:00Z)") from err


def _states(values: list[str]) -> tuple[ProductState, ...]:
    try:
        return tuple(ProductState(s) for s in values)
    except ValueError as err:
        raise InvalidQuery(f"--state: {err}") from err


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    parts = value.replace(" ", "").split(",")
    if len(parts) != 4:
        raise InvalidQuery(f"--bbox: expected min_lon,min_lat,max_lon,max_lat, got {value!r}")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError as err:
        raise InvalidQuery(f"--bbox: not numbers: {value!r}") from err
    return (x0, y0, x1, y1)


def _record_json(rec: ProductRecord) -> dict[str, Any]:
    feature = rec.to_geojson()
    return {"id": rec.id, **feature["properties"], "footprint_wkt": rec.footprint_wkt}


@app.command("search")
def search(
    product_type: str | None = typer.Option(None, "--type", help="Product type code, e.g. VSC_L1VALD."),
    site: str | None = typer.Option(None, "--site", help="Site name."),
    band: str | None = typer.Option(None, "--band", help="Band name, e.g. B3."),
    start: str | None = typer.Option(None, "--from", help="Sensing start at or after this ISO time (UTC)."),
    stop: str | None = typer.Option(None, "--to", help="Sensing start before this ISO time (UTC)."),
    bbox: str | None = typer.Option(None, "--bbox", help="min_lon,min_lat,max_lon,max_lat (EPSG:4326)."),
    polygon: str | None = typer.Option(None, "--polygon", help="Area as a WKT polygon (EPSG:4326)."),
    job: str | None = typer.Option(None, "--job", help="Producing job id."),
    processor: str | None = typer.Option(None, "--processor", help="Producing processor name."),
    version: str | None = typer.Option(None, "--processor-version", help="Producing processor version."),
    derived_from: int | None = typer.Option(None, "--derived-from", help="Products made (recursively) from ID."),
    inputs_of: int | None = typer.Option(None, "--inputs-of", help="Products ID was made from (recursively)."),
    state: list[str] = STATE_OPTION,
    limit: int = typer.Option(50, "--limit", help="Page size."),
    after: int | None = typer.Option(None, "--after", help="Cursor: the last id of the previous page."),
    as_json: bool = typer.Option(False, "--json", "--geojson", help="Print a GeoJSON FeatureCollection."),
    as_stac: bool = typer.Option(False, "--stac", help="Print a STAC 1.0 ItemCollection."),
    url: str | None = URL_OPTION,
) -> None:
    """Find products by type, site, band, sensing time, area, producer and lineage."""
    states = _states(state)
    query = ProductQuery(
        product_type=product_type,
        site=site,
        band=band,
        start=_time("from", start),
        stop=_time("to", stop),
        bbox=_bbox(bbox),
        polygon_wkt=polygon,
        job_id=job,
        processor=processor,
        processor_version=version,
        derived_from=derived_from,
        inputs_of=inputs_of,
        states=states,
        limit=limit,
        after=after,
    ).validated()
    cat = _open(url)
    try:
        page = cat.search(query)
    finally:
        cat.close()
    if as_stac:
        ic = item_collection(page.items)
        if page.next_after is not None:
            ic["viq:next_after"] = page.next_after
        print(json.dumps(ic, indent=1))
        return
    if as_json:
        fc = feature_collection(page.items)
        fc["next_after"] = page.next_after
        print(json.dumps(fc, indent=1))
        return
    table = Table("id", "type", "site", "bands", "sensing start", "state", "path")
    for r in page.items:
        table.add_row(
            str(r.id),
            r.product_type,
            r.site or "",
            ",".join(r.bands),
            r.sensing_start.isoformat() if r.sensing_start else "",
            str(r.state),
            r.path,
        )
    out_console.print(table)
    if page.next_after is not None:
        out_console.print(f"more: --after {page.next_after}")


@app.command("show")
def show(
    product_id: int = typer.Argument(..., help="Product id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    url: str | None = URL_OPTION,
) -> None:
    """Everything the catalog knows about one product, with its history."""
    cat = _open(url)
    try:
        rec = cat.get(product_id)
        events = cat.history(product_id)
    finally:
        cat.close()
    data = _record_json(rec)
    data["history"] = [{"at": e.at.isoformat(), "action": e.action, "detail": e.detail} for e in events]
    if as_json:
        print(json.dumps(data, indent=1, default=str))
        return
    for key, value in data.items():
        out_console.print(f"[bold]{key}[/bold]: {value}", highlight=False)


@app.command("lineage")
def lineage(
    product_id: int = typer.Argument(..., help="Product id."),
    up: bool = typer.Option(True, "--up/--down", help="--up: what it came from; --down: what derives from it."),
    depth: int | None = typer.Option(None, "--depth", help="Hops to follow (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the edges as JSON."),
    url: str | None = URL_OPTION,
) -> None:
    """The lineage tree of a product, recursively, in either direction."""
    cat = _open(url)
    try:
        root = cat.get(product_id)
        edges = cat.lineage(product_id, "up" if up else "down", depth)
        ids = {e.input_id if up else e.product_id for e in edges}
        recs = {i: cat.get(i) for i in ids}
    finally:
        cat.close()
    if as_json:
        print(json.dumps([{"product_id": e.product_id, "input_id": e.input_id, "depth": e.depth} for e in edges]))
        return
    children: dict[int, list[int]] = {}
    for e in edges:
        parent, child = (e.product_id, e.input_id) if up else (e.input_id, e.product_id)
        children.setdefault(parent, []).append(child)

    def label(r: ProductRecord) -> str:
        return f"{r.id} {r.product_type} {r.site or ''} {r.path}"

    out_console.print(label(root), highlight=False)
    seen: set[int] = set()

    def walk(node: int, indent: str) -> None:
        kids = sorted(set(children.get(node, [])))
        for i, k in enumerate(kids):
            last = i == len(kids) - 1
            mark = "└─ " if last else "├─ "
            again = " (see above)" if k in seen else ""
            out_console.print(indent + mark + label(recs[k]) + again, highlight=False)
            if k not in seen:
                seen.add(k)
                walk(k, indent + ("   " if last else "│  "))

    walk(product_id, "")


@app.command("ingest")
def ingest(
    paths: list[Path] = PATHS_ARGUMENT,
    product_type: str | None = typer.Option(
        None, "--type", help="Product type code; selects the product reader (default: detected from the file)."
    ),
    bulk_above: int = typer.Option(
        1_000,
        "--bulk-above",
        min=0,
        help="More paths than this: read them all first, then load the new ones in one bulk import "
        "(0: always; fewer new files than this are still catalogued one by one).",
    ),
    url: str | None = URL_OPTION,
) -> None:
    """Catalogue files through the product reader of their type (given or detected); idempotent, in the order
    given, stopping at the first bad file (the files before it stay catalogued).

    Prints one line per path: product id, type, path. A file already catalogued at the same path with the same
    sha256 is a no-op that prints the existing row; the same path with another sha256 is a conflict error naming
    the file. The first file that cannot be catalogued (unreadable or invalid metadata, an invalid footprint, a
    conflict, a missing file) ends the command with its error and exit code: the files before it are catalogued,
    the files after it are not read.

    With more paths than --bulk-above every file is read and hashed first (a progress bar on a terminal), then the
    new files before the first bad one go in through one bulk import: one transaction, all of them or none (a
    database failure leaves the catalog as it was). See docs/catalog-ingest.md.
    """
    from viq_host.catalog.batch_ingest import Ingested, ingest_files
    from viq_host.plugins import load_plugins

    readers = load_plugins().product_readers
    counts = {True: 0, False: 0}

    def emit(item: Ingested) -> None:
        counts[item.new] += 1
        typer.echo(f"{item.id}\t{item.product_type}\t{item.path}")

    cat = _open(url)
    try:
        with _progress(len(paths) > bulk_above) as progress:
            ingest_files(cat, paths, product_type, readers, emit=emit, bulk_above=bulk_above, progress=progress)
    finally:
        cat.close()
    if len(paths) > bulk_above:
        err_console.print(f"{counts[True]} products added, {counts[False]} already in the catalog", highlight=False)


@contextmanager
def _progress(wanted: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress callback drawing rich bars on stderr, when ``wanted`` and stderr is a terminal."""
    if not wanted or not err_console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    tasks: dict[str, TaskID] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console) as bars:

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bars.add_task(phase, total=total)
            bars.update(tasks[phase], completed=done, total=total)

        yield update


@app.command("verify")
def verify(
    roots: list[Path] = ROOTS_OPTION,
    quick: bool = typer.Option(False, "--quick", help="Compare sizes only, no checksums."),
    url: str | None = URL_OPTION,
) -> None:
    """Files against rows: missing, changed and orphaned files. Exit code 1 if anything is off."""
    from viq_host.catalog.ops import verify as run_verify

    scan = roots or [r for r in settings().data_roots if r.exists()]
    cat = _open(url)
    try:
        report = run_verify(cat, scan, checksums=not quick)
    finally:
        cat.close()
    for rec in report.missing:
        typer.echo(f"missing\t{rec.id}\t{rec.path}")
    for rec, why in report.changed:
        typer.echo(f"changed\t{rec.id}\t{rec.path}\t{why}")
    for path in report.orphaned:
        typer.echo(f"orphaned\t-\t{path}")
    out_console.print(
        f"{report.checked} products checked: {len(report.missing)} missing, {len(report.changed)} changed, "
        f"{len(report.orphaned)} orphaned files",
        highlight=False,
    )
    if not report.ok:
        raise typer.Exit(1)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@app.command("stats")
def stats(
    site: str | None = typer.Option(None, "--site", help="Only this site."),
    product_type: str | None = typer.Option(None, "--type", help="Only this product type."),
    state: list[str] = STATE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the usage rows as JSON."),
    url: str | None = URL_OPTION,
) -> None:
    """Storage used: products and bytes per product type, site and year (sensing year), with totals."""
    states = _states(state)
    q = ProductQuery(site=site, product_type=product_type, states=states).validated()
    cat = _open(url)
    try:
        rows = cat.usage(q)
    finally:
        cat.close()
    if as_json:
        print(json.dumps([dataclasses.asdict(r) for r in rows], indent=1))
        return
    table = Table("product type", "site", "year", "products", "size", "bytes")
    for r in rows:
        table.add_row(r.product_type, r.site or "-", str(r.year), str(r.products), _size(r.bytes), str(r.bytes))
    out_console.print(table)
    for title, key in (("product type", "product_type"), ("site", "site"), ("year", "year")):
        totals: dict[str, list[int]] = {}
        for r in rows:
            t = totals.setdefault(str(getattr(r, key) or "-"), [0, 0])
            t[0] += r.products
            t[1] += r.bytes
        sub = Table(title, "products", "size")
        for k, (n, b) in sorted(totals.items()):
            sub.add_row(k, str(n), _size(b))
        out_console.print(sub)
    total_n, total_b = sum(r.products for r in rows), sum(r.bytes for r in rows)
    out_console.print(f"total: {total_n} products, {_size(total_b)}", highlight=False)


@app.command("retention")
def retention(
    older_than: str = typer.Option(..., "--older-than", help="Age (90d, 12w, 2y) or ISO date: retire what is older."),
    product_types: list[str] = RETENTION_TYPES_OPTION,
    age_of: str = typer.Option("created", "--age-of", help="created (catalogued) or sensing (sensing start)."),
    site: str | None = typer.Option(None, "--site", help="Only this site."),
    apply: bool = typer.Option(False, "--apply", help="Act: mark the candidates deleted (default: dry run)."),
    delete_files: bool = typer.Option(
        False, "--delete-files", help="With --apply: also remove their files (under the storage roots only)."
    ),
    reason: str = typer.Option("retention policy", "--reason", help="Recorded in each product's history."),
    roots: list[Path] = ROOTS_OPTION,
    url: str | None = URL_OPTION,
) -> None:
    """Retire old intermediate products: a dry run unless --apply; GIPPs and what they derive from are kept."""
    from viq_host.catalog.ops import parse_age, remove_files

    if delete_files and not apply:
        raise InvalidQuery("--delete-files needs --apply (run without both first: it is a dry run)")
    if age_of not in ("created", "sensing"):
        raise InvalidQuery(f"--age-of {age_of!r}: expected created or sensing")
    cutoff = parse_age(older_than)
    cat = _open(url)
    try:
        plan = cat.retention_plan(
            product_types, cutoff, age_of="sensing" if age_of == "sensing" else "created", site=site
        )
        for rec, why in plan.protected:
            typer.echo(f"keep\t{rec.id}\t{rec.product_type}\t{rec.path}\t{why}")
        if not apply:
            for rec in plan.candidates:
                typer.echo(f"would delete\t{rec.id}\t{rec.product_type}\t{rec.path}")
            out_console.print(
                f"dry run: {len(plan.candidates)} products ({_size(plan.bytes)}) older than "
                f"{cutoff.isoformat()} would be marked deleted, {len(plan.protected)} kept; --apply to act",
                highlight=False,
            )
            return
        detail = f"{reason}: {age_of} before {cutoff.isoformat()}"
        done = cat.apply_retention(plan, detail)
        for rec in done:
            typer.echo(f"deleted\t{rec.id}\t{rec.product_type}\t{rec.path}")
        removed: list[ProductRecord] = []
        if delete_files:
            scan = roots or settings().data_roots
            removed, skipped = remove_files(cat, done, scan)
            for rec, why in skipped:
                typer.echo(f"file kept\t{rec.id}\t{rec.path}\t{why}")
    finally:
        cat.close()
    out_console.print(
        f"{len(done)} products marked deleted, {len(plan.protected)} kept"
        + (f", files of {len(removed)} removed" if delete_files else " (files left in place)"),
        highlight=False,
    )


@app.command("migrate")
def migrate(url: str | None = URL_OPTION) -> None:
    """Bring the catalog schema to the version of this VIQ (forward migrations)."""
    cat = _open(url, migrate=False)
    try:
        before = cat.schema_version()
        applied = cat.migrate()
        after = cat.schema_version()
    finally:
        cat.close()
    if applied:
        out_console.print(f"schema version {before} → {after} (applied {applied})", highlight=False)
    else:
        out_console.print(f"schema version {after}: up to date", highlight=False)
