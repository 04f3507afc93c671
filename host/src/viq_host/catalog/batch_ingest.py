"""Ingest of many files in one call (``viq catalog ingest PATH…``): new files go in through one bulk import.

The outcome is the one of ingesting the paths one after the other with :func:`viq_host.catalog.ops.ingest_path`:

- a file already catalogued at the same path with the same sha256 is a no-op that reports the existing row;
- the paths are taken in the order given and the first bad one (unreadable or invalid metadata, invalid footprint,
  the same path catalogued with another checksum, a missing file) stops the run with its own error; the files
  before it are catalogued, the files after it are not read;
- a path given twice is catalogued once.

How it gets there differs when more than ``bulk_above`` paths are given: every file is first read through its
product reader (the same reader lookup as ``ingest_path``), checked and hashed, and looked up by path, with no
transaction open; the new files before the first bad one are then written by :meth:`Catalog.bulk_load` in batches,
all in ONE transaction: either all of them are catalogued or none (a database failure mid-load leaves the catalog as
it was). When another writer catalogues one of these paths between the look-up and the load, the load fails as a
whole and the new files are catalogued one by one instead, which gives the per-file outcome again (the same content:
the other writer's row is reported; other content: a conflict error naming the file). Fewer new files than
``bulk_above`` are catalogued one by one (:meth:`Catalog.ingest`) without reading them again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from viq_host.catalog.base import (
    Catalog,
    CatalogConflict,
    InvalidProduct,
    NewProduct,
    ProductQuery,
    ProductRecord,
    ProductState,
    file_digest,
    now_utc,
    validate_product,
)
from viq_host.catalog.ops import ingest_path, read_product

BULK_ABOVE = 1_000
"""More paths than this in one call are read first and their new files loaded through one bulk import."""
BATCH_SIZE = 5_000
"""Products per :meth:`BulkLoad.add` call (all batches belong to the same transaction)."""

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: phase ``"reading"`` (files read and hashed) then ``"loading"`` (rows)."""


@dataclass(frozen=True)
class Ingested:
    """One path of the call: the product row it is catalogued as, and whether this call added the row."""

    id: int
    product_type: str
    path: str
    new: bool
    """The row was created during this call (by it, or by a concurrent writer of the same file)."""


@dataclass
class _Plan:
    """The outcome of reading the paths: per path either an existing row or an index into ``new``."""

    slots: list[ProductRecord | int] = dataclasses.field(default_factory=list)
    new: list[NewProduct] = dataclasses.field(default_factory=list)
    failure: Exception | None = None


def ingest_files(
    catalog: Catalog,
    paths: Sequence[Path],
    product_type: str | None,
    readers: Any,
    *,
    emit: Callable[[Ingested], None] | None = None,
    bulk_above: int = BULK_ABOVE,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> list[Ingested]:
    """Catalogue ``paths`` with the semantics of the module docstring; ``emit`` is called for each path in order
    as soon as its row is known (and before the error of the first bad path is raised)."""
    done: list[Ingested] = []

    def report(item: Ingested) -> None:
        done.append(item)
        if emit is not None:
            emit(item)

    started = now_utc()
    if len(paths) <= bulk_above:
        for path in paths:
            try:
                rec = ingest_path(catalog, path, product_type, readers)
            except InvalidProduct as err:
                raise _named(path, err)  # noqa: B904 - the cause is set when the error is a new one
            report(Ingested(rec.id, rec.product_type, rec.path, rec.created >= started))
        return done

    plan = _read_all(catalog, paths, product_type, readers, progress)
    ids = _bulk(catalog, plan.new, batch_size, progress) if len(plan.new) > bulk_above else None
    if ids is None:  # few new files, or the bulk import met a concurrent writer: one by one, in order
        ids, failure = _one_by_one(catalog, plan.new, started)
        if failure is not None:  # earlier in the order than a failure met while reading
            plan.failure = failure
    for slot in plan.slots:
        if isinstance(slot, int):
            if slot >= len(ids):  # after a conflict met while loading one by one
                break
            new_id, fresh = ids[slot]
            p = plan.new[slot]
            report(Ingested(new_id, p.product_type, p.path, fresh))
        else:
            report(Ingested(slot.id, slot.product_type, slot.path, False))
    if plan.failure is not None:
        raise plan.failure
    return done


def _named(path: Path, err: Exception) -> Exception:
    """``err``, or when it is an :class:`InvalidProduct` that does not name the file (the catalog's own checks of a
    plugin reader's metadata do not), the same error prefixed with the path."""
    if not isinstance(err, InvalidProduct):
        return err
    given, full = str(path), str(path.expanduser().absolute())
    text = str(err)
    if given in text or full in text:
        return err
    named = InvalidProduct(f"{full}: {text}")
    named.__cause__ = err
    return named


def _checked(path: Path, product_type: str | None, readers: Any) -> NewProduct:
    """The product of ``path`` as :meth:`Catalog.ingest` would store it: read, checked (same checks and messages as
    the catalog's), its size and sha256 computed."""
    product = read_product(path, product_type, readers)
    validate_product(product)
    size, sha = file_digest(Path(product.path))
    return dataclasses.replace(product, size=size, sha256=sha)


def _read_all(
    catalog: Catalog, paths: Sequence[Path], product_type: str | None, readers: Any, progress: Progress | None
) -> _Plan:
    """Read, check and hash every path in order up to the first bad one; look each up by path."""
    plan = _Plan()
    first: dict[str, int] = {}  # path → slot of its first occurrence
    for k, path in enumerate(paths):
        if progress is not None:
            progress("reading", k, len(paths))
        key = str(path.expanduser().absolute())
        if key in first:
            plan.slots.append(plan.slots[first[key]])
            continue
        try:
            product = _checked(path, product_type, readers)
        except Exception as err:  # the file's fault (reader plugins raise anything): it ends the run, see above
            plan.failure = _named(path, err)
            break
        existing = catalog.find_by_path(product.path)  # a database error is not the file's: nothing is loaded
        if existing is not None and existing.sha256 != product.sha256:
            try:  # the catalog's own conflict error, naming the file and the row (nothing is written)
                existing = catalog.ingest(product)
            except CatalogConflict as err:
                plan.failure = err
                break
        first[key] = len(plan.slots)
        if existing is not None:
            plan.slots.append(existing)
        else:
            plan.slots.append(len(plan.new))
            plan.new.append(product)
    if progress is not None:
        progress("reading", len(paths), len(paths))
    return plan


def _rebuild_indexes(catalog: Catalog, adding: int) -> bool:
    """Rebuild the indexes after the load only when it at least doubles the table.

    Ids start at 1 and only grow, so a table with no id above ``adding`` holds at most ``adding`` rows; the check is
    one index probe, where a count would scan. Otherwise the indexes are maintained row by row: cheaper for a few
    thousand rows added to a large table, and PostgreSQL readers are not locked out for a rebuild.
    """
    states = tuple(ProductState)
    return not catalog.search(ProductQuery(states=states, after=adding, limit=1)).items


def _bulk(
    catalog: Catalog, products: list[NewProduct], batch_size: int, progress: Progress | None
) -> list[tuple[int, bool]] | None:
    """Load ``products`` (new paths, checked, hashed) through one bulk import; their ids, or None when a concurrent
    writer catalogued one of the paths meanwhile (the import is then rolled back as a whole)."""
    ids: list[int] = []
    try:
        with catalog.bulk_load(rebuild_indexes=_rebuild_indexes(catalog, len(products))) as loader:
            for start in range(0, len(products), batch_size):
                if progress is not None:
                    progress("loading", start, len(products))
                ids.extend(loader.add(products[start : start + batch_size]))
            loader.flush()
    except CatalogConflict:
        return None
    if progress is not None:
        progress("loading", len(products), len(products))
    return [(i, True) for i in ids]


def _one_by_one(
    catalog: Catalog, products: list[NewProduct], started: datetime
) -> tuple[list[tuple[int, bool]], Exception | None]:
    """:meth:`Catalog.ingest` of each product in order (idempotent); the ids up to the first conflict, and it."""
    ids: list[tuple[int, bool]] = []
    for p in products:
        try:
            rec = catalog.ingest(p)
        except CatalogConflict as err:
            return ids, err
        ids.append((rec.id, rec.created >= started))
    return ids, None
