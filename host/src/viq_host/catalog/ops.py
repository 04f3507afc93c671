"""Catalog operations above the query API: ingest of files through product-reader plugins, integrity check."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from viq_host.catalog.base import (
    PRODUCT_TYPE_RE,
    Catalog,
    InvalidProduct,
    NewProduct,
    ProductRecord,
    VerifyReport,
    file_digest,
)
from viq_interfaces.errors import RegistryError

READER_KEYS = frozenset(
    {
        "site",
        "bands",
        "tdi",
        "sensing_start",
        "sensing_stop",
        "footprint_wkt",
        "mission",
        "metadata",
        "quality_flags",
        "gipp_versions",
    }
)


def _time(field: str, value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError as err:
            raise InvalidProduct(f"{field}: not an ISO time: {value!r}") from err
    raise InvalidProduct(f"{field}: expected a time, got {type(value).__name__}")


def product_from_metadata(path: Path, product_type: str, meta: Mapping[str, Any]) -> NewProduct:
    """Build a :class:`NewProduct` from what a reader returned; unknown keys are refused by name."""
    if not isinstance(meta, Mapping):
        raise InvalidProduct(f"{path}: the {product_type} reader returned {type(meta).__name__}, not a mapping")
    unknown = sorted(set(meta) - READER_KEYS)
    if unknown:
        raise InvalidProduct(f"{path}: reader returned unknown keys {unknown} (known: {sorted(READER_KEYS)})")
    bands = meta.get("bands") or ()
    if isinstance(bands, str):
        bands = (bands,)
    tdi = meta.get("tdi")
    return NewProduct(
        product_type=product_type,
        path=str(path),
        site=meta.get("site"),
        bands=tuple(str(b) for b in bands),
        tdi=None if tdi is None else int(tdi),
        sensing_start=_time("sensing_start", meta.get("sensing_start")),
        sensing_stop=_time("sensing_stop", meta.get("sensing_stop")),
        footprint_wkt=meta.get("footprint_wkt"),
        mission=str(meta.get("mission") or "VENUS"),
        gipp_versions=dict(meta.get("gipp_versions") or {}),
        quality_flags=tuple(meta.get("quality_flags") or ()),
        metadata=dict(meta.get("metadata") or {}),
    )


def find_reader(readers: Any, product_type: str) -> Any | None:
    """The reader for ``product_type``: the exact type, else ``AAA_*`` (e.g. ``GIP_*``), else ``*``; None if none."""
    for key in (product_type, product_type[:4] + "*", "*"):
        try:
            return readers.get(key)
        except RegistryError:
            continue
    return None


def _call(path: Path, what: str, fn: Any) -> Any:
    try:
        return fn(path)
    except InvalidProduct:
        raise
    except Exception as err:  # a reader plugin's failure is the file's problem, reported with its cause
        raise InvalidProduct(f"{path}: unreadable or invalid metadata ({what}): {type(err).__name__}: {err}") from err


def detect_type(path: Path, readers: Any) -> tuple[str, Any]:
    """(product type, reader) for ``path`` from the readers that can detect (an optional ``detect(path)``).

    A reader that claims the file but cannot read its metadata raises :class:`InvalidProduct` naming the file.
    """
    seen: set[int] = set()
    found: dict[str, Any] = {}
    for name in readers.names():
        reader = readers.get(name)
        detect = getattr(reader, "detect", None)
        if detect is None or id(reader) in seen:
            continue
        seen.add(id(reader))
        ptype = _call(path, "type detection", detect)
        if ptype is not None:
            found.setdefault(str(ptype), reader)
    if not found:
        raise InvalidProduct(f"{path}: no product reader recognises this file; give its type with --type")
    if len(found) > 1:
        raise InvalidProduct(f"{path}: ambiguous product type {sorted(found)}; give its type with --type")
    ((ptype, reader),) = found.items()
    if not PRODUCT_TYPE_RE.match(ptype):
        raise InvalidProduct(f"{path}: detected product type {ptype!r} is not a 10-character code")
    return ptype, reader


def ingest_path(catalog: Catalog, path: Path, product_type: str | None, readers: Any) -> ProductRecord:
    """Read ``path`` with the reader for ``product_type`` (detected when None) and catalogue it idempotently.

    Reader lookup: the exact type, then ``AAA_*``, then ``*``; a type nobody registered is still accepted when a
    detecting reader recognises the file as that type. A reader that detects types must agree with
    ``product_type`` (a VSC_RAWDAT header ingested as VSC_L1VALD is refused).
    """
    return catalog.ingest(read_product(path, product_type, readers))


def read_product(path: Path, product_type: str | None, readers: Any) -> NewProduct:
    """What :func:`ingest_path` catalogues for ``path``: its metadata through the reader of ``product_type``
    (detected when None), the path made absolute; nothing is checked against the catalog."""
    if product_type is not None and not PRODUCT_TYPE_RE.match(product_type):
        raise InvalidProduct(f"product_type {product_type!r}: expected a 10-character code like VSC_L1VALD")
    path = path.expanduser().absolute()
    if not path.exists():
        raise InvalidProduct(f"{path}: no such file or directory")
    if product_type is None:
        product_type, reader = detect_type(path, readers)
    else:
        reader = find_reader(readers, product_type)
        if reader is None:
            try:
                detected, reader = detect_type(path, readers)
            except InvalidProduct:
                detected = None
            if detected != product_type:
                raise InvalidProduct(
                    f"{path}: no product reader for type {product_type} (install the plugin that reads it)"
                )
        detect = getattr(reader, "detect", None)
        if detect is not None:
            declared = _call(path, "type detection", detect)
            if declared is not None and declared != product_type:
                raise InvalidProduct(f"{path}: the file is a {declared} product, not {product_type}")
    meta = _call(path, f"{product_type} reader", reader)
    return product_from_metadata(path, product_type, meta)


def _walk(roots: Iterable[Path]) -> Iterable[Path]:
    for root in roots:
        if root.is_file():
            yield root.absolute()
            continue
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                yield (Path(dirpath) / name).absolute()


def verify(catalog: Catalog, roots: Iterable[Path] = (), *, checksums: bool = True) -> VerifyReport:
    """Compare active rows with the files: missing, changed (size, or sha256 with ``checksums``), orphaned.

    Orphans are files under ``roots`` that no active row names (a file inside a catalogued directory
    product is not an orphan).
    """
    rows = catalog.active_paths()
    missing: list[ProductRecord] = []
    changed: list[tuple[ProductRecord, str]] = []
    known: set[str] = set()
    for pid, path_s, size, sha in rows:
        known.add(path_s)
        path = Path(path_s)
        if not path.exists():
            missing.append(catalog.get(pid))
            continue
        if checksums:
            now_size, now_sha = file_digest(path)
        else:
            now_size = path.stat().st_size if path.is_file() else size
            now_sha = sha
        if now_size != size:
            changed.append((catalog.get(pid), f"size {size} → {now_size}"))
        elif now_sha != sha:
            changed.append((catalog.get(pid), f"sha256 {sha[:12]}… → {now_sha[:12]}…"))
    orphaned = []
    for f in _walk(roots):
        if str(f) in known or any(str(parent) in known for parent in f.parents):
            continue
        orphaned.append(f)
    return VerifyReport(checked=len(rows), missing=missing, changed=changed, orphaned=sorted(orphaned))


def parse_age(value: str, now: datetime | None = None) -> datetime:
    """``--older-than``: an age (``90d``, ``12w``, ``2y`` = 730 days) before ``now``, or an ISO date/time (UTC)."""
    from datetime import UTC, timedelta

    from viq_host.catalog.base import InvalidQuery

    text = value.strip()
    m = re.fullmatch(r"(\d+)\s*([dwy])", text, flags=re.IGNORECASE)
    if m:
        days = int(m.group(1)) * {"d": 1, "w": 7, "y": 365}[m.group(2).lower()]
        return (now or datetime.now(UTC)) - timedelta(days=days)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise InvalidQuery(f"--older-than {value!r}: expected an age like 90d, 12w, 2y or an ISO date") from err
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def remove_files(
    catalog: Catalog, records: Iterable[ProductRecord], roots: Iterable[Path]
) -> tuple[list[ProductRecord], list[tuple[ProductRecord, str]]]:
    """Remove the files of deleted products that lie under a storage root; (removed, skipped with reason).

    Only rows already marked ``deleted`` are touched; each removal is recorded in the product's history.
    """
    import shutil

    from viq_host.catalog.base import ProductState

    bases = [r.expanduser().resolve() for r in roots]
    removed: list[ProductRecord] = []
    skipped: list[tuple[ProductRecord, str]] = []
    for rec in records:
        if catalog.get(rec.id).state != ProductState.DELETED:
            skipped.append((rec, "not marked deleted"))
            continue
        path = Path(rec.path)
        real = path.resolve()
        if not any(real.is_relative_to(b) and real != b for b in bases):
            skipped.append((rec, "outside the storage roots"))
            continue
        if not path.exists():
            skipped.append((rec, "already gone"))
            continue
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as err:
            skipped.append((rec, f"cannot remove: {err.strerror}"))
            continue
        catalog.add_event(rec.id, "files_removed", str(path))
        removed.append(rec)
    return removed, skipped
