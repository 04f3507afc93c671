"""Catalog operations above the query API: ingest of files through product-reader plugins, integrity check."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from viq_host.catalog.base import (
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


def ingest_path(catalog: Catalog, path: Path, product_type: str, readers: Any) -> ProductRecord:
    """Read ``path`` with the reader registered for ``product_type`` (or ``*``) and catalogue it idempotently."""
    from viq_host.catalog.base import PRODUCT_TYPE_RE

    if not PRODUCT_TYPE_RE.match(product_type):
        raise InvalidProduct(f"product_type {product_type!r}: expected a 10-character code like VSC_L1VALD")
    path = path.expanduser().absolute()
    if not path.exists():
        raise InvalidProduct(f"{path}: no such file or directory")
    try:
        reader = readers.get(product_type)
    except RegistryError:
        try:
            reader = readers.get("*")
        except RegistryError as err:
            raise InvalidProduct(
                f"{path}: no product reader for type {product_type} (install the plugin that reads it)"
            ) from err
    try:
        meta = reader(path)
    except InvalidProduct:
        raise
    except Exception as err:  # a reader plugin's failure is the file's problem, reported with its cause
        raise InvalidProduct(f"{path}: unreadable or invalid metadata: {type(err).__name__}: {err}") from err
    return catalog.ingest(product_from_metadata(path, product_type, meta))


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
