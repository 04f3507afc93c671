"""The GIPP store: versioned calibration parameters with validity, applicability and audited promotion.

One class, :class:`GippStore`, on SQLite or PostgreSQL (the catalog's database, its own ``gipp*`` tables).
Open it with :func:`open_gipp_store`. Every change runs in one transaction and writes an audit row; a
refused action leaves the store unchanged. Nothing is ever deleted (database triggers refuse it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from lxml import etree
from pydantic import BaseModel, ValidationError

from viq_host.gipp._db import Database, Tx, migrate
from viq_host.gipp.eexml import (
    EXTENSION_PREFIX,
    EEGippDocument,
    GippName,
    block_to_dict,
    dict_to_block,
    parse_xml,
    read_gipp,
    write_gipp,
)
from viq_host.gipp.models import (
    BUILTIN_GIPP_TYPES,
    TRANSITIONS,
    Applicability,
    ArrayRef,
    AuditEntry,
    ChecksumMismatch,
    GippAmbiguous,
    GippContentError,
    GippDraft,
    GippFileError,
    GippNotFound,
    GippRecord,
    GippStatus,
    GippStoreError,
    InvalidTransition,
    OverlappingOper,
    PromotionConflict,
    PromotionRefused,
    ValidationResult,
    Validity,
    VersionConflict,
    now_utc,
    utc,
)
from viq_host.gipp.xsd import check_gipp_file
from viq_host.plugins import ComponentRegistry, Plugins

#: Numeric lists at least this long are stored as array files instead of inline JSON.
ARRAY_MIN_LENGTH = 256
OPERATOR_ROLE = "operator"
_OPEN_START = "0000-00-00T00:00:00"
_OPEN_STOP = "9999-99-99T99:99:99"

_COLUMNS = (
    "id, gipp_type, serial, valid_start, valid_stop, original_stop, appl_kind, appl_name, appl_sites, band, "
    "tdi_set, status, producing_job, processor_version, input_products, description, notes, creator, "
    "creator_version, creation_date, content_sha256, registered"
)

#: Types whose file name may hold an instance id only their content knows (the REFDE1/REFIMG corners).
_CONTENT_NAMED_TYPES = frozenset({"AUX_REFDE1", "AUX_REFIMG"})

SIDECAR_PREFIX = "sidecar:"
"""Name prefix of stored sidecar files (arrays a content model keeps in files beside its XML)."""


def _t(value: datetime | None, *, stop: bool) -> str:
    if value is None:
        return _OPEN_STOP if stop else _OPEN_START
    return utc(value).strftime("%Y-%m-%dT%H:%M:%S")


def _dt(text: str) -> datetime | None:
    if text in (_OPEN_START, _OPEN_STOP):
        return None
    return utc(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S"))


def sha256_file(path: Path) -> str:
    """sha256 of a file, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class GippStore:
    """Versioned GIPPs. Use :func:`open_gipp_store`; close with :meth:`close` (or ``with``)."""

    def __init__(self, url: str, directory: Path, plugins: Plugins | None = None) -> None:
        self.url = url
        self.directory = directory
        self._plugins = plugins
        self._db = Database(url)
        try:
            self.schema_version = migrate(self._db)
        except BaseException:
            self._db.close()
            raise

    # ------------------------------------------------------------------------------------------ basics

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> GippStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def types(self) -> ComponentRegistry:
        """Registered GIPP content models (loaded from plugins on first use)."""
        if self._plugins is None:
            from viq_host.plugins import load_plugins

            self._plugins = load_plugins()
        return self._plugins.gipp_types

    def known_types(self) -> list[str]:
        """Built-in type codes plus those registered by plugins."""
        return sorted({*BUILTIN_GIPP_TYPES, *self.types.names()})

    def model_for(self, gipp_type: str) -> type[BaseModel] | None:
        """The content model registered for ``gipp_type``, or None (raw Data_Block)."""
        if gipp_type not in self.types.names():
            return None
        model = self.types.get(gipp_type)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise GippStoreError(f"the content model registered for {gipp_type} is not a pydantic model")
        return model

    def _audit(self, tx: Tx, actor: str, action: str, gipp_id: int | None, reason: str = "", **detail: Any) -> None:
        tx.insert(
            "INSERT INTO gipp_audit (at, actor, action, gipp_id, reason, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (now_utc().isoformat(), actor, action, gipp_id, reason, _json(detail)),
        )

    # ------------------------------------------------------------------------------------------ content

    def _validate_content(self, gipp_type: str, content: Any, source: str | None) -> tuple[Any, bool]:
        """(JSON data, True) for registered types, (raw Data_Block XML, False) otherwise."""
        model = self.model_for(gipp_type)
        if isinstance(content, str | bytes):
            raw = content.encode() if isinstance(content, str) else content
            content = parse_xml(raw, source)
        if model is None:
            if content is None:
                content = {}
            if isinstance(content, BaseModel):
                content = content.model_dump(mode="json", by_alias=True)
            block = dict_to_block(content) if isinstance(content, dict) else _normalised_block(content)
            return etree.tostring(block, encoding="unicode"), False
        try:
            if isinstance(content, model):
                instance = content
            elif isinstance(content, etree._Element) and callable(getattr(model, "from_data_block", None)):
                instance = model.from_data_block(content)  # type: ignore[attr-defined]  # optional protocol
            elif isinstance(content, etree._Element):
                instance = model.model_validate(block_to_dict(content))
            else:
                instance = model.model_validate(content or {})
        except ValidationError as err:
            first = err.errors()[0]
            loc = "/".join(str(p) for p in first["loc"])
            line = _line_of(content, first["loc"]) if isinstance(content, etree._Element) else None
            raise GippContentError(
                f"{gipp_type} Data_Block {loc}: {first['msg']} ({err.error_count()} error(s))",
                source=source,
                line=line,
            ) from err
        return instance.model_dump(mode="json", by_alias=True), True

    def _store_arrays(self, data: Any) -> tuple[Any, list[tuple[str, str, str, int, str]]]:
        """Move long numeric lists into sha256-named .npy files; the content with references, and the refs."""
        refs: list[tuple[str, str, str, int, str]] = []

        def walk(node: Any, path: list[str]) -> Any:
            if isinstance(node, dict):
                return {k: walk(v, [*path, k]) for k, v in node.items()}
            if isinstance(node, list):
                if len(node) >= ARRAY_MIN_LENGTH and all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in node
                ):
                    name = "/".join(path)
                    arr = np.asarray(node, dtype=np.int64 if all(isinstance(v, int) for v in node) else np.float64)
                    sha, rel = self._write_blob(_npy_bytes(arr), ".npy", "arrays")
                    refs.append((name, sha, str(arr.dtype), int(arr.size), rel))
                    return {"$array": name, "sha256": sha}
                return [walk(v, [*path, str(i)]) for i, v in enumerate(node)]
            return node

        return walk(data, []), refs

    def _store_sidecars(self, gipp_type: str, data: Any, source: str | None) -> list[tuple[str, str, str, int, str]]:
        """Copy the sidecar files a content model refers to (``sidecars()``) into the store, checksum verified."""
        model = self.model_for(gipp_type)
        if model is None or not callable(getattr(model, "sidecars", None)):
            return []
        files: tuple[tuple[str, str], ...] = model.model_validate(data).sidecars()  # type: ignore[attr-defined]
        if not files:
            return []
        if source is None:
            raise GippStoreError(f"{gipp_type} content refers to sidecar files but has no source file to find them")
        folder = Path(source).parent
        refs = []
        for name, sha in files:
            path = (folder / name).resolve()
            if not path.is_relative_to(folder.resolve()):
                raise GippFileError(f"sidecar {name!r} points outside the GIPP's directory", source=source)
            if not path.is_file():
                raise ChecksumMismatch(f"{source}: sidecar file {name} is missing")
            blob = path.read_bytes()
            got, rel = self._write_blob(blob, path.suffix, "arrays")
            if got != sha:
                raise ChecksumMismatch(f"{source}: sidecar {name} has sha256 {got}, the header says {sha}")
            refs.append((f"{SIDECAR_PREFIX}{name}", got, "file", len(blob), rel))
        return refs

    def _write_blob(self, data: bytes, suffix: str, kind: str) -> tuple[str, str]:
        sha = hashlib.sha256(data).hexdigest()
        rel = f"{kind}/{sha[:2]}/{sha}{suffix}"
        target = self.directory / rel
        if target.is_file() and sha256_file(target) == sha:
            return sha, rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
        return sha, rel

    def _read_verified(self, rel: str, sha: str, what: str) -> Path:
        path = self.directory / rel
        if not path.is_file():
            raise ChecksumMismatch(f"{what}: file {path} is missing (expected sha256 {sha})")
        got = sha256_file(path)
        if got != sha:
            raise ChecksumMismatch(f"{what}: file {path} has sha256 {got}, recorded {sha}; the file was altered")
        return path

    def array(self, gipp_id: int, name: str) -> np.ndarray[Any, Any]:
        """One stored array of a GIPP, checksum verified (ChecksumMismatch otherwise)."""
        for ref in self.get(gipp_id).arrays:
            if ref.name == name:
                path = self._read_verified(ref.path, ref.sha256, f"GIPP #{gipp_id} array {name}")
                return np.asarray(np.load(path, allow_pickle=False))
        raise GippNotFound(f"GIPP #{gipp_id} has no array {name!r}")

    def stored_file(self, gipp_id: int, name: str) -> Path:
        """The store's file of one array or sidecar of a GIPP (e.g. ``sidecar:<path>``), checksum verified."""
        for ref in self.get(gipp_id).arrays:
            if ref.name == name:
                return self._read_verified(ref.path, ref.sha256, f"GIPP #{gipp_id} file {name}")
        raise GippNotFound(f"GIPP #{gipp_id} has no stored file {name!r}")

    def content_data(self, gipp_id: int) -> dict[str, Any] | str:
        """Content as JSON-like data with arrays restored (registered types) or the raw Data_Block XML."""
        with self._db.transaction() as tx:
            row = tx.one("SELECT content_json, raw_block FROM gipp WHERE id = ?", (gipp_id,))
        if row is None:
            raise GippNotFound(f"no GIPP #{gipp_id}")
        if row[0] is None:
            return str(row[1])
        content_json = str(row[0])
        arrays = {ref.name: ref for ref in self.get(gipp_id).arrays}

        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                if set(node) == {"$array", "sha256"}:
                    ref = arrays[node["$array"]]
                    path = self._read_verified(ref.path, ref.sha256, f"GIPP #{gipp_id} array {ref.name}")
                    return np.load(path, allow_pickle=False).tolist()
                return {k: walk(v) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node

        result = walk(json.loads(content_json))
        assert isinstance(result, dict)
        return result

    def content(self, gipp_id: int) -> BaseModel | dict[str, Any] | str:
        """Typed content: the registered model instance, else the raw Data_Block XML."""
        record = self.get(gipp_id)
        data = self.content_data(gipp_id)
        model = self.model_for(record.gipp_type)
        if model is None or isinstance(data, str):
            return data
        return model.model_validate(data)

    # ------------------------------------------------------------------------------------------ adding

    def add(
        self,
        draft: GippDraft,
        *,
        actor: str,
        status: GippStatus = GippStatus.CANDIDATE,
        reason: str = "",
        _doc: EEGippDocument | None = None,
    ) -> GippRecord:
        """Store a new GIPP version (CANDIDATE by default); the record. Serial None = next in its series.

        Refused with VersionConflict when the serial exists with different content (same content: the
        existing record is returned), with OverlappingOper for an OPER import overlapping another OPER.
        """
        if draft.gipp_type not in self.known_types():
            raise GippStoreError(f"unknown GIPP type {draft.gipp_type} (known: {', '.join(self.known_types())})")
        if status not in (GippStatus.CANDIDATE, GippStatus.OPER):
            raise InvalidTransition(f"a new GIPP starts as CANDIDATE (or OPER when imported), not {status}")
        if status == GippStatus.OPER:
            self._require_operator(actor, reason, "import an OPER GIPP")
        source = _doc.source if _doc is not None else None
        data, registered = self._validate_content(draft.gipp_type, draft.content, source)
        refs: list[tuple[str, str, str, int, str]] = []
        if registered and _doc is not None and _doc.name.instance and self._names_instance(draft.gipp_type):
            named = self._file_instance(draft.gipp_type, data)
            if named != _doc.name.instance:
                raise GippFileError(
                    f"File_Name instance {_doc.name.instance} disagrees with the content's {named}", source=source
                )
        if registered:
            refs = self._store_sidecars(draft.gipp_type, data, source)
            data, array_refs = self._store_arrays(data)
            refs += array_refs
            text = _json(data)
            content_json: str | None = text
            raw_block: str | None = None
        else:
            text = str(data)
            content_json, raw_block = None, text
        content_sha = hashlib.sha256(text.encode()).hexdigest()
        appl = draft.applicability
        series = "|".join((draft.gipp_type, draft.band or "-", draft.tdi_set or "-", appl.key))
        created = _doc.creation_date if _doc is not None else now_utc()
        with self._db.transaction() as tx:
            tx.execute("INSERT INTO gipp_series (series_key, revision) VALUES (?, 0) ON CONFLICT DO NOTHING", (series,))
            tx.one("SELECT revision FROM gipp_series WHERE series_key = ?" + tx.lock_for_update(), (series,))
            serial = draft.serial
            start_t, stop_t = _t(draft.validity.start, stop=False), _t(draft.validity.stop, stop=True)
            if serial is None:
                # a name without a serial (IMQ emission-time names): the same content and validity is the same
                # version, not a new one
                same = tx.one(
                    "SELECT serial FROM gipp WHERE series_key = ? AND content_sha256 = ? AND valid_start = ? "
                    "AND original_stop = ? ORDER BY id LIMIT 1",
                    (series, content_sha, start_t, stop_t),
                )
                if same is not None:
                    serial = int(same[0])
            if serial is None:
                row = tx.one("SELECT MAX(serial) FROM gipp WHERE series_key = ?", (series,))
                serial = (int(row[0]) + 1) if row and row[0] is not None else 1
            existing = tx.one(
                "SELECT id, content_sha256, valid_start, original_stop FROM gipp WHERE series_key = ? AND serial = ?",
                (series, serial),
            )
            if existing is not None:
                if (existing[1], existing[2], existing[3]) == (content_sha, start_t, stop_t):
                    self._audit(tx, actor, "import-duplicate", int(existing[0]), reason, source=source)
                    existing_id = int(existing[0])
                else:
                    raise VersionConflict(
                        f"{draft.gipp_type} serial {serial:05d} ({appl.key}, band {draft.band}, TDI {draft.tdi_set}) "
                        f"is already stored as GIPP #{existing[0]} with different content or validity"
                    )
            else:
                existing_id = 0
                if status == GippStatus.OPER:
                    probe = self._probe(draft, serial, status)
                    for other in self._rows(tx, "gipp_type = ? AND status = ?", (draft.gipp_type, "OPER")):
                        if _conflicts(probe, other):
                            raise OverlappingOper(
                                f"{probe.file_name} would overlap OPER GIPP #{other.id} {other.file_name} "
                                f"(validity {_span(other.validity)}); retire it or fix the validity first"
                            )
                gid = tx.insert(
                    "INSERT INTO gipp (gipp_type, serial, valid_start, valid_stop, original_stop, appl_kind, "
                    "appl_name, appl_sites, band, tdi_set, series_key, status, ever_oper, producing_job, "
                    "processor_version, input_products, description, notes, creator, creator_version, "
                    "creation_date, file_version, schema_version, root_type, content_json, raw_block, "
                    "content_sha256, registered, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        draft.gipp_type,
                        serial,
                        start_t,
                        stop_t,
                        stop_t,
                        appl.kind,
                        appl.name,
                        _json(list(appl.sites)),
                        draft.band,
                        draft.tdi_set,
                        series,
                        status.value,
                        1 if status == GippStatus.OPER else 0,
                        draft.producing_job,
                        draft.processor_version,
                        _json(list(draft.input_products)),
                        draft.description or draft.gipp_type,
                        draft.notes,
                        draft.creator,
                        draft.creator_version,
                        _t(created, stop=False),
                        _doc.file_version if _doc is not None else 1,
                        _doc.schema_version if _doc is not None else "1.0",
                        _doc.root_type if _doc is not None else "",
                        content_json,
                        raw_block,
                        content_sha,
                        1 if registered else 0,
                        now_utc().isoformat(),
                    ),
                )
                for name, sha, dtype, length, rel in refs:
                    tx.insert(
                        "INSERT INTO gipp_array (gipp_id, name, sha256, dtype, length, path) VALUES (?, ?, ?, ?, ?, ?)",
                        (gid, name, sha, dtype, length, rel),
                    )
                tx.execute("UPDATE gipp_series SET revision = revision + 1 WHERE series_key = ?", (series,))
                self._audit(
                    tx,
                    actor,
                    "import" if _doc is not None else "add",
                    gid,
                    reason,
                    status=status.value,
                    serial=serial,
                    source=source,
                    content_sha256=content_sha,
                )
                existing_id = gid
        return self.get(existing_id)

    def _probe(self, draft: GippDraft, serial: int, status: GippStatus) -> GippRecord:
        return GippRecord(
            id=0,
            gipp_type=draft.gipp_type,
            serial=serial,
            validity=draft.validity,
            original_stop=draft.validity.stop,
            applicability=draft.applicability,
            band=draft.band,
            tdi_set=draft.tdi_set,
            status=status,
            producing_job="",
            processor_version="",
            input_products=(),
            description="",
            notes="",
            creator="",
            creator_version="",
            creation_date=now_utc(),
            content_sha256="",
            registered=False,
        )

    def import_file(self, path: Path, *, actor: str, reason: str = "") -> GippRecord:
        """Import a GIPP ``.EEF`` file. File class OPER → OPER (operator role needed), any other → CANDIDATE.

        Importing the same version again returns the stored record; different content is a VersionConflict.
        """
        doc = read_gipp(path)
        check_gipp_file(path, registered=self.model_for(doc.file_type) is not None)  # schemas/gipp/
        name = doc.name
        ext = {k[len(EXTENSION_PREFIX) :]: v for k, v in doc.extensions if k.startswith(EXTENSION_PREFIX)}
        try:
            draft = GippDraft(
                gipp_type=doc.file_type,
                serial=name.serial if name.has_serial else None,
                validity=doc.validity,
                applicability=doc.applicability,
                band=name.band,
                tdi_set=name.tdi_set,
                producing_job=ext.get("PRODUCING_JOB", ""),
                processor_version=ext.get("PROCESSOR_VERSION", ""),
                input_products=tuple(doc.extension_values(EXTENSION_PREFIX + "INPUT_PRODUCT")),
                description=doc.description,
                notes=doc.notes,
                creator=doc.creator,
                creator_version=doc.creator_version,
                content=doc.data_block,
            )
        except ValidationError as err:
            raise GippFileError(f"header: {err.errors()[0]['msg']}", source=str(path), line=1) from err
        status = GippStatus.OPER if doc.file_class == "OPER" else GippStatus.CANDIDATE
        return self.add(draft, actor=actor, status=status, reason=reason, _doc=doc)

    # ------------------------------------------------------------------------------------------ reading

    def _rows(self, tx: Tx, where: str, params: tuple[Any, ...]) -> list[GippRecord]:
        rows = tx.rows(f"SELECT {_COLUMNS} FROM gipp WHERE {where} ORDER BY id", params)
        ids = [int(r[0]) for r in rows]
        arrays: dict[int, list[ArrayRef]] = {}
        if ids:
            marks = ", ".join("?" for _ in ids)
            for a in tx.rows(
                f"SELECT gipp_id, name, sha256, dtype, length, path FROM gipp_array WHERE gipp_id IN ({marks}) "
                "ORDER BY id",
                tuple(ids),
            ):
                arrays.setdefault(int(a[0]), []).append(
                    ArrayRef(name=a[1], sha256=a[2], dtype=a[3], length=int(a[4]), path=a[5])
                )
        instances: dict[int, str] = {}
        for r in rows:
            if r[1] in _CONTENT_NAMED_TYPES and self._names_instance(r[1]):
                found = tx.one("SELECT content_json FROM gipp WHERE id = ?", (int(r[0]),))
                if found is not None and found[0] is not None:
                    instances[int(r[0])] = self._file_instance(r[1], json.loads(str(found[0])))
        return [
            _record(r, tuple(arrays.get(int(r[0]), ())), instances.get(int(r[0]))) for r in rows
        ]

    def _names_instance(self, gipp_type: str) -> bool:
        """True when the content model of ``gipp_type`` names the file instance (``file_instance()``)."""
        model = self.model_for(gipp_type)
        return model is not None and callable(getattr(model, "file_instance", None))

    def _file_instance(self, gipp_type: str, data: Any) -> str:
        model = self.model_for(gipp_type)
        assert model is not None
        return str(model.model_validate(data).file_instance())  # type: ignore[attr-defined]  # optional protocol

    def get(self, gipp_id: int) -> GippRecord:
        """The GIPP with this id; GippNotFound otherwise."""
        with self._db.transaction() as tx:
            found = self._rows(tx, "id = ?", (gipp_id,))
        if not found:
            raise GippNotFound(f"no GIPP #{gipp_id}")
        return found[0]

    def find(
        self, gipp_type: str | None = None, status: GippStatus | str | None = None, band: str | None = None
    ) -> list[GippRecord]:
        """GIPPs filtered by type, status and band, oldest first."""
        clauses, params = ["1 = 1"], []
        if gipp_type:
            clauses.append("gipp_type = ?")
            params.append(gipp_type)
        if status:
            clauses.append("status = ?")
            params.append(GippStatus(status).value)
        if band:
            clauses.append("band = ?")
            params.append(band)
        with self._db.transaction() as tx:
            return self._rows(tx, " AND ".join(clauses), tuple(params))

    def all_in_force(
        self,
        gipp_type: str,
        *,
        band: str | None = None,
        tdi: int | None = None,
        site: str | None = None,
        at: datetime | None = None,
        status: GippStatus | str = GippStatus.OPER,
    ) -> list[GippRecord]:
        """Every GIPP of ``gipp_type`` in ``status`` applying to band/TDI/site at ``at`` (default now)."""
        when = utc(at) if at is not None else now_utc()
        st = GippStatus(status)
        if st not in (GippStatus.OPER, GippStatus.TEST):
            raise GippStoreError(f"lookups are for OPER or TEST GIPPs, not {st}")
        with self._db.transaction() as tx:
            rows = self._rows(tx, "gipp_type = ? AND status = ?", (gipp_type, st.value))
        return [
            r
            for r in rows
            if r.validity.contains(when)
            and r.applicability.applies_to(site)
            and (band is None or r.band in (None, band))
            and (tdi is None or r.tdi_set is None or tdi in r.tdi_configurations)
        ]

    def in_force(
        self,
        gipp_type: str,
        *,
        band: str | None = None,
        tdi: int | None = None,
        site: str | None = None,
        at: datetime | None = None,
        status: GippStatus | str = GippStatus.OPER,
    ) -> GippRecord:
        """The one GIPP of ``gipp_type`` in force; GippNotFound when none, GippAmbiguous when several."""
        found = self.all_in_force(gipp_type, band=band, tdi=tdi, site=site, at=at, status=status)
        what = (
            f"{GippStatus(status).value} {gipp_type} for band {band or 'any'}, TDI {tdi or 'any'}, "
            f"site {site or '(none: ALLSITES only)'} at {(utc(at) if at else now_utc()).isoformat()}"
        )
        if not found:
            raise GippNotFound(f"no {what}")
        if len(found) > 1:
            names = "; ".join(f"#{r.id} {r.file_name}" for r in found)
            raise GippAmbiguous(f"{len(found)} GIPPs apply for {what}: {names}")
        return found[0]

    def history(
        self, gipp_type: str, *, band: str | None = None, tdi: int | None = None, site: str | None = None
    ) -> list[GippRecord]:
        """The versions that were or are OPER for type/band/TDI/site, by validity start."""
        with self._db.transaction() as tx:
            rows = self._rows(tx, "gipp_type = ? AND ever_oper = 1", (gipp_type,))
        rows = [
            r
            for r in rows
            if (band is None or r.band in (None, band))
            and (tdi is None or r.tdi_set is None or tdi in r.tdi_configurations)
            and (site is None or r.applicability.applies_to(site))
        ]
        return sorted(rows, key=lambda r: (_t(r.validity.start, stop=False), r.serial, r.id))

    # ------------------------------------------------------------------------------------------ evidence

    def attach_validation(
        self,
        gipp_id: int,
        *,
        metric: str,
        value: float,
        actor: str,
        threshold: float | None = None,
        passed: bool | None = None,
        evidence_file: Path | None = None,
        note: str = "",
    ) -> ValidationResult:
        """Attach a validation result. With a threshold and no verdict, ``passed = value <= threshold``."""
        record = self.get(gipp_id)
        if record.status == GippStatus.RETIRED:
            raise InvalidTransition(f"GIPP #{gipp_id} is RETIRED; no more validation results")
        if not metric.strip():
            raise GippStoreError("a validation result needs a metric name")
        if not np.isfinite(value):
            raise GippStoreError(f"validation value {value} is not finite")
        if passed is None and threshold is not None:
            passed = bool(value <= threshold)
        ev_path = ev_sha = None
        if evidence_file is not None:
            try:
                data = evidence_file.read_bytes()
            except OSError as err:
                raise GippStoreError(f"cannot read evidence file {evidence_file}: {err.strerror}") from err
            ev_sha, ev_path = self._write_blob(data, evidence_file.suffix, "evidence")
        at = now_utc()
        with self._db.transaction() as tx:
            vid = tx.insert(
                "INSERT INTO gipp_evidence (gipp_id, metric, value, threshold, passed, evidence_path, evidence_sha256, "
                "recorded_by, recorded_at, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    gipp_id,
                    metric,
                    float(value),
                    threshold,
                    None if passed is None else int(passed),
                    ev_path,
                    ev_sha,
                    actor,
                    at.isoformat(),
                    note,
                ),
            )
            self._audit(
                tx,
                actor,
                "validate",
                gipp_id,
                note,
                metric=metric,
                value=value,
                threshold=threshold,
                passed=passed,
                evidence_sha256=ev_sha,
            )
        return ValidationResult(
            id=vid,
            gipp_id=gipp_id,
            metric=metric,
            value=float(value),
            threshold=threshold,
            passed=passed,
            evidence_path=ev_path,
            evidence_sha256=ev_sha,
            recorded_by=actor,
            recorded_at=at,
            note=note,
        )

    def validations(self, gipp_id: int) -> list[ValidationResult]:
        """Validation results attached to a GIPP, oldest first."""
        with self._db.transaction() as tx:
            rows = tx.rows(
                "SELECT id, gipp_id, metric, value, threshold, passed, evidence_path, evidence_sha256, recorded_by, "
                "recorded_at, note FROM gipp_evidence WHERE gipp_id = ? ORDER BY id",
                (gipp_id,),
            )
        return [
            ValidationResult(
                id=int(r[0]),
                gipp_id=int(r[1]),
                metric=r[2],
                value=float(r[3]),
                threshold=None if r[4] is None else float(r[4]),
                passed=None if r[5] is None else bool(r[5]),
                evidence_path=r[6],
                evidence_sha256=r[7],
                recorded_by=r[8],
                recorded_at=datetime.fromisoformat(r[9]),
                note=r[10],
            )
            for r in rows
        ]

    # ------------------------------------------------------------------------------------------ roles

    def grant_role(self, name: str, *, by: str, role: str = OPERATOR_ROLE, reason: str = "") -> None:
        """Give ``name`` a role (``operator`` may promote and retire). Recorded in the audit trail."""
        if not name.strip() or not by.strip():
            raise GippStoreError("granting a role needs the user name and who grants it")
        with self._db.transaction() as tx:
            if tx.one("SELECT 1 FROM gipp_role WHERE name = ? AND role = ?", (name, role)):
                return
            tx.execute(
                "INSERT INTO gipp_role (name, role, granted_by, granted_at) VALUES (?, ?, ?, ?)",
                (name, role, by, now_utc().isoformat()),
            )
            self._audit(tx, by, "grant", None, reason, user=name, role=role)

    def has_role(self, name: str, role: str = OPERATOR_ROLE) -> bool:
        """True when ``name`` holds ``role``."""
        with self._db.transaction() as tx:
            return tx.one("SELECT 1 FROM gipp_role WHERE name = ? AND role = ?", (name, role)) is not None

    def _require_operator(self, operator: str, reason: str, what: str) -> None:
        if not operator.strip():
            raise PromotionRefused(f"{what}: an operator name is required")
        if not reason.strip():
            raise PromotionRefused(f"{what}: a reason is required")
        if not self.has_role(operator):
            raise PromotionRefused(
                f"{what}: {operator!r} does not hold the operator role (grant it with `viq gipp grant {operator}`)"
            )

    # ------------------------------------------------------------------------------------------ life cycle

    def series_revision(self, gipp_id: int) -> int:
        """Revision counter of the GIPP's series; pass it to :meth:`promote` to detect concurrent changes."""
        record = self.get(gipp_id)
        with self._db.transaction() as tx:
            row = tx.one("SELECT revision FROM gipp_series WHERE series_key = ?", (record.series_key,))
        return int(row[0]) if row else 0

    def promote(
        self,
        gipp_id: int,
        to: GippStatus | str,
        *,
        operator: str,
        reason: str,
        expected_revision: int | None = None,
    ) -> GippRecord:
        """Move a GIPP one step up (CANDIDATE → TEST → OPER).

        Needs an operator holding the operator role, a reason, and at least one attached validation result,
        none failed. Promotion to OPER closes the validity of earlier OPER versions of the same series where
        they overlap; an OPER version that would be wholly replaced, or an overlapping OPER of another series
        covering the same band/TDI/sites, is refused (OverlappingOper). ``expected_revision`` (default: read
        now) is checked under the series lock: when another change of the series committed in between, the
        promotion fails with PromotionConflict and nothing changes.
        """
        target = GippStatus(to)
        record = self.get(gipp_id)
        if target == GippStatus.RETIRED:
            raise InvalidTransition("use retire() to retire a GIPP")
        if target not in TRANSITIONS[record.status]:
            allowed = ", ".join(sorted(s.value for s in TRANSITIONS[record.status])) or "none"
            raise InvalidTransition(
                f"GIPP #{gipp_id} is {record.status.value}; it cannot go to {target.value} (allowed: {allowed})"
            )
        what = f"promote GIPP #{gipp_id} to {target.value}"
        self._require_operator(operator, reason, what)
        results = self.validations(gipp_id)
        if not results:
            raise PromotionRefused(
                f"{what}: no validation result attached (attach one with `viq gipp validate {gipp_id} --metric ...`)"
            )
        failed = [v for v in results if v.passed is False]
        if failed:
            listed = ", ".join(f"{v.metric}={v.value:g} (threshold {v.threshold})" for v in failed)
            raise PromotionRefused(f"{what}: failed validation result(s): {listed}")
        if expected_revision is None:
            expected_revision = self.series_revision(gipp_id)
        closed: list[dict[str, Any]] = []
        with self._db.transaction() as tx:
            row = tx.one(
                "SELECT revision FROM gipp_series WHERE series_key = ?" + tx.lock_for_update(), (record.series_key,)
            )
            revision = int(row[0]) if row else 0
            current = self._rows(tx, "id = ?", (gipp_id,))[0]
            if revision != expected_revision or current.status != record.status:
                raise PromotionConflict(
                    f"{what}: the series {record.series_key} changed meanwhile (revision {revision}, expected "
                    f"{expected_revision}; GIPP now {current.status.value}); review the store and try again"
                )
            if target == GippStatus.OPER:
                closed = self._close_previous(tx, current, operator)
            tx.execute(
                "UPDATE gipp SET status = ?, ever_oper = ever_oper + ? WHERE id = ?",
                (target.value, 1 if target == GippStatus.OPER else 0, gipp_id),
            )
            tx.execute("UPDATE gipp_series SET revision = revision + 1 WHERE series_key = ?", (record.series_key,))
            self._audit(
                tx,
                operator,
                "promote",
                gipp_id,
                reason,
                from_status=record.status.value,
                to_status=target.value,
                evidence=[v.id for v in results],
                closed=closed,
            )
        return self.get(gipp_id)

    def _close_previous(self, tx: Tx, new: GippRecord, operator: str) -> list[dict[str, Any]]:
        closed: list[dict[str, Any]] = []
        for other in self._rows(tx, "gipp_type = ? AND status = ?", (new.gipp_type, "OPER")):
            if other.id == new.id or not other.validity.overlaps(new.validity):
                continue
            same_series = other.series_key == new.series_key
            if not same_series:
                if _conflicts(new, other):
                    raise OverlappingOper(
                        f"GIPP #{new.id} would overlap OPER GIPP #{other.id} {other.file_name} of another "
                        f"applicability/band/TDI set; two OPER versions would apply at once"
                    )
                continue
            starts_before = new.validity.start is not None and (
                other.validity.start is None or other.validity.start < new.validity.start
            )
            if not starts_before:
                raise OverlappingOper(
                    f"GIPP #{new.id} (validity {_span(new.validity)}) would wholly replace OPER GIPP #{other.id} "
                    f"(validity {_span(other.validity)}); retire #{other.id} first or start the validity later"
                )
            new_stop = new.validity.start
            tx.execute("UPDATE gipp SET valid_stop = ? WHERE id = ?", (_t(new_stop, stop=True), other.id))
            entry: dict[str, Any] = {
                "old_stop": _t(other.validity.stop, stop=True),
                "new_stop": _t(new_stop, stop=True),
            }
            self._audit(tx, operator, "close-validity", other.id, f"superseded by GIPP #{new.id}", **entry)
            closed.append({"gipp_id": other.id, **entry})
        return closed

    def retire(self, gipp_id: int, *, operator: str, reason: str) -> GippRecord:
        """Retire a GIPP (from CANDIDATE, TEST or OPER); it stays in the store and the audit trail."""
        record = self.get(gipp_id)
        if GippStatus.RETIRED not in TRANSITIONS[record.status]:
            raise InvalidTransition(f"GIPP #{gipp_id} is already {record.status.value}")
        self._require_operator(operator, reason, f"retire GIPP #{gipp_id}")
        with self._db.transaction() as tx:
            n = tx.execute(
                "UPDATE gipp SET status = 'RETIRED' WHERE id = ? AND status = ?", (gipp_id, record.status.value)
            )
            if n != 1:
                raise PromotionConflict(f"GIPP #{gipp_id} changed status meanwhile; try again")
            tx.execute("UPDATE gipp_series SET revision = revision + 1 WHERE series_key = ?", (record.series_key,))
            self._audit(tx, operator, "retire", gipp_id, reason, from_status=record.status.value)
        return self.get(gipp_id)

    def audit(self, gipp_id: int | None = None, limit: int | None = None) -> list[AuditEntry]:
        """The audit trail (all, or one GIPP's), oldest first; ``limit`` keeps the newest entries."""
        where, params = ("WHERE gipp_id = ?", (gipp_id,)) if gipp_id is not None else ("", ())
        with self._db.transaction() as tx:
            rows = tx.rows(
                f"SELECT id, at, actor, action, gipp_id, reason, detail FROM gipp_audit {where} ORDER BY id", params
            )
        if limit is not None:
            rows = rows[-limit:]
        return [
            AuditEntry(
                id=int(r[0]),
                at=datetime.fromisoformat(r[1]),
                actor=r[2],
                action=r[3],
                gipp_id=None if r[4] is None else int(r[4]),
                reason=r[5],
                detail=json.loads(r[6]),
            )
            for r in rows
        ]

    # ------------------------------------------------------------------------------------------ export

    def document(self, gipp_id: int) -> EEGippDocument:
        """The EE document of a stored GIPP (arrays checksum-verified)."""
        record = self.get(gipp_id)
        with self._db.transaction() as tx:
            row = tx.one("SELECT file_version, schema_version, root_type FROM gipp WHERE id = ?", (gipp_id,))
        assert row is not None
        data = self.content_data(gipp_id)
        model = self.model_for(record.gipp_type)
        if isinstance(data, str):
            block = parse_xml(data.encode(), None)
        elif model is not None and callable(getattr(model, "to_data_block", None)):
            block = model.model_validate(data).to_data_block()  # type: ignore[attr-defined]  # optional protocol
        else:
            block = dict_to_block(data)
        extensions: list[tuple[str, str]] = []
        if record.producing_job:
            extensions.append((EXTENSION_PREFIX + "PRODUCING_JOB", record.producing_job))
        if record.processor_version:
            extensions.append((EXTENSION_PREFIX + "PROCESSOR_VERSION", record.processor_version))
        extensions += [(EXTENSION_PREFIX + "INPUT_PRODUCT", p) for p in record.input_products]
        if len(extensions) > 100:
            raise GippStoreError(f"GIPP #{gipp_id}: more than 100 header extensions (input products)")
        return EEGippDocument(
            name=GippName.for_record(record),
            description=record.description,
            notes=record.notes,
            file_class=record.file_class,
            file_type=record.gipp_type,
            validity=record.validity,
            file_version=int(row[0]),
            creator=record.creator,
            creator_version=record.creator_version,
            creation_date=record.creation_date,
            applicability=record.applicability,
            data_block=block,
            schema_version=str(row[1]),
            root_type=str(row[2]),
            extensions=tuple(extensions),
        )

    def export(self, gipp_id: int, out_dir: Path) -> Path:
        """Write the GIPP as ``<out_dir>/<file name>.EEF``; the path. Rewrites only when the bytes differ."""
        doc = self.document(gipp_id)
        data = write_gipp(doc)
        out_dir.mkdir(parents=True, exist_ok=True)
        for ref in self.get(gipp_id).arrays:  # sidecar files travel beside the XML under their own names
            if ref.name.startswith(SIDECAR_PREFIX):
                src = self._read_verified(ref.path, ref.sha256, f"GIPP #{gipp_id} sidecar {ref.name}")
                dest = out_dir / ref.name[len(SIDECAR_PREFIX) :]
                dest.parent.mkdir(parents=True, exist_ok=True)  # sidecars may sit in a .DBL.DIR beside the XML
                shutil.copyfile(src, dest)
        target = out_dir / f"{doc.name}.EEF"
        if not (target.is_file() and target.read_bytes() == data):
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)  # an exported GIPP is a deliverable file, readable like any other
            os.replace(tmp, target)
        return target

    def verify_files(self) -> Iterator[str]:
        """Problems with stored files (missing or altered arrays and evidence), one message each."""
        with self._db.transaction() as tx:
            items = [
                (f"GIPP #{r[0]} array {r[1]}", r[2], r[3])
                for r in tx.rows("SELECT gipp_id, name, sha256, path FROM gipp_array ORDER BY id")
            ]
            items += [
                (f"evidence #{r[0]} of GIPP #{r[1]}", r[2], r[3])
                for r in tx.rows(
                    "SELECT id, gipp_id, evidence_sha256, evidence_path FROM gipp_evidence "
                    "WHERE evidence_path IS NOT NULL ORDER BY id"
                )
            ]
        for what, sha, rel in items:
            try:
                self._read_verified(rel, sha, what)
            except ChecksumMismatch as err:
                yield str(err)


# ---------------------------------------------------------------------------------------------- helpers


def _npy_bytes(arr: np.ndarray[Any, Any]) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _normalised_block(block: Any) -> etree._Element:
    if not isinstance(block, etree._Element):
        raise GippStoreError(f"unsupported GIPP content of type {type(block).__name__}")
    from viq_host.gipp.eexml import _copy

    holder = etree.Element("holder")
    _copy(holder, block)
    return holder[0]


def _line_of(block: etree._Element, loc: tuple[int | str, ...]) -> int | None:
    """Source line of the element a pydantic error location points to (best effort)."""
    el = block
    line = block.sourceline if isinstance(block.sourceline, int) else None
    pending: list[etree._Element] = [el]
    for part in loc:
        if isinstance(part, int):
            if part < len(pending):
                el = pending[part]
        else:
            matches = [c for c in el if isinstance(c.tag, str) and etree.QName(c).localname == part]
            if not matches:
                break
            el, pending = matches[0], matches
        if isinstance(el.sourceline, int):
            line = el.sourceline
    return line


def _span(v: Validity) -> str:
    return f"{_t(v.start, stop=False)} .. {_t(v.stop, stop=True)}"


def _conflicts(a: GippRecord, b: GippRecord) -> bool:
    """True when two OPER GIPPs could both apply to one lookup (type, band, TDI, sites and time overlap)."""
    if a.gipp_type != b.gipp_type or not a.validity.overlaps(b.validity):
        return False
    if a.band is not None and b.band is not None and a.band != b.band:
        return False
    if a.tdi_set and b.tdi_set and not set(a.tdi_configurations) & set(b.tdi_configurations):
        return False
    return a.applicability.intersects(b.applicability)


def _record(r: tuple[Any, ...], arrays: tuple[ArrayRef, ...], instance_id: str | None = None) -> GippRecord:
    kind = r[6]
    sites = tuple(json.loads(r[8]))
    appl = Applicability(kind=kind, name=r[7], sites=sites)
    return GippRecord(
        id=int(r[0]),
        gipp_type=r[1],
        serial=int(r[2]),
        validity=Validity(start=_dt(r[3]), stop=_dt(r[4])),
        original_stop=_dt(r[5]),
        applicability=appl,
        band=r[9],
        tdi_set=r[10],
        status=GippStatus(r[11]),
        producing_job=r[12],
        processor_version=r[13],
        input_products=tuple(json.loads(r[14])),
        description=r[15],
        notes=r[16],
        creator=r[17],
        creator_version=r[18],
        creation_date=_dt(r[19]) or now_utc(),
        content_sha256=r[20],
        registered=bool(r[21]),
        arrays=arrays,
        instance_id=instance_id,
    )


def open_gipp_store(url: str, plugins: Plugins | None = None, *, directory: Path | None = None) -> GippStore:
    """Open (and migrate) the GIPP store at ``url`` (``sqlite:///PATH`` or ``postgresql://…``).

    ``plugins`` supplies the registered content models (default: loaded from entry points on first use);
    ``directory`` holds array and evidence files (default ``<settings home>/gipp``).
    """
    if directory is None:
        from viq_host.config import load_settings

        directory = load_settings().home / "gipp"
    return GippStore(url, directory, plugins)


__all__ = ["ARRAY_MIN_LENGTH", "GippStore", "open_gipp_store", "sha256_file"]
