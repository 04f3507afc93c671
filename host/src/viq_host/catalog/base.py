"""The catalog contract: records, queries, errors and the :class:`Catalog` protocol both backends implement.

A product row follows DESIGN §5. Rows are never physically deleted: a product is ``active``, ``superseded``
(by a newer row, ``superseded_by``) or ``deleted``, and every state change is kept in its history.
Times are timezone-aware UTC ``datetime`` values (naive values given to the catalog are taken as UTC).
Footprints are EPSG:4326 polygons as WKT, longitude first.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import shapely
from shapely.geometry.base import BaseGeometry

from viq_interfaces.errors import ViqError
from viq_interfaces.result import Measurement

PRODUCT_TYPE_RE = re.compile(r"^[A-Z0-9]{3}_[A-Z0-9_]{6}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-+]{1,64}$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_LIMIT = 100
MAX_LIMIT = 100_000


class CatalogError(ViqError):
    """Raised when the catalog cannot do what was asked (database unavailable, schema too new…)."""


class CatalogConflict(CatalogError):
    """Raised when an ingest contradicts the catalog, e.g. the same path with a different checksum."""


class InvalidProduct(CatalogError, ValueError):
    """Raised when a product's metadata is invalid (type code, footprint, times); the message names the field."""


class InvalidQuery(CatalogError, ValueError):
    """Raised when a query is malformed (time window, bbox, limit); nothing is run."""


class ProductNotFound(CatalogError, LookupError):
    """Raised when a product id (or path) is not in the catalog."""


class ProductState(enum.StrEnum):
    """Life cycle of a product row; rows are never removed."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"
    DELETED = "deleted"


# --------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class NewProduct:
    """A product to be catalogued (what ingest takes). ``size``/``sha256`` are computed from ``path`` if absent."""

    product_type: str
    path: str
    site: str | None = None
    bands: tuple[str, ...] = ()
    tdi: int | None = None
    sensing_start: datetime | None = None
    sensing_stop: datetime | None = None
    footprint_wkt: str | None = None
    mission: str = "VENUS"
    size: int | None = None
    sha256: str | None = None
    job_id: str | None = None
    attempt_id: str | None = None
    processor: str | None = None
    processor_version: str | None = None
    gipp_versions: Mapping[str, str] = field(default_factory=dict)
    quality_flags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[int, ...] = ()


@dataclass(frozen=True)
class ProductRecord:
    """One catalogued product, as stored."""

    id: int
    product_type: str
    mission: str
    site: str | None
    bands: tuple[str, ...]
    tdi: int | None
    sensing_start: datetime | None
    sensing_stop: datetime | None
    footprint_wkt: str | None
    path: str
    size: int
    sha256: str
    created: datetime
    job_id: str | None
    attempt_id: str | None
    processor: str | None
    processor_version: str | None
    gipp_versions: dict[str, str]
    quality_flags: tuple[str, ...]
    metadata: dict[str, Any]
    state: ProductState
    superseded_by: int | None

    def to_geojson(self) -> dict[str, Any]:
        """This product as a GeoJSON Feature (geometry null without a footprint)."""
        geometry = shapely.geometry.mapping(shapely.from_wkt(self.footprint_wkt)) if self.footprint_wkt else None
        props: dict[str, Any] = {
            "product_type": self.product_type,
            "mission": self.mission,
            "site": self.site,
            "bands": list(self.bands),
            "tdi": self.tdi,
            "sensing_start": _iso(self.sensing_start),
            "sensing_stop": _iso(self.sensing_stop),
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "created": _iso(self.created),
            "job_id": self.job_id,
            "attempt_id": self.attempt_id,
            "processor": self.processor,
            "processor_version": self.processor_version,
            "gipp_versions": self.gipp_versions,
            "quality_flags": list(self.quality_flags),
            "metadata": self.metadata,
            "state": str(self.state),
            "superseded_by": self.superseded_by,
        }
        return {"type": "Feature", "id": self.id, "geometry": _lists(geometry), "properties": props}


_RECORD_FIELDS: tuple[str, ...] = ()
_STATES = {str(s): s for s in ProductState}


def record_from_values(*values: Any) -> ProductRecord:
    """A :class:`ProductRecord` from already decoded values in field order (the catalog's row decoder).

    Equivalent to the constructor without its 22 frozen-attribute writes, which dominated the decoding of a page.
    """
    global _RECORD_FIELDS
    if not _RECORD_FIELDS:
        _RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(ProductRecord))
    rec = object.__new__(ProductRecord)
    rec.__dict__.update(zip(_RECORD_FIELDS, values, strict=True))
    return rec


def product_state(value: str) -> ProductState:
    """The state member for its stored text."""
    try:
        return _STATES[value]
    except KeyError:
        return ProductState(value)


STAC_VERSION = "1.0.0"
STAC_FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"


def _stac_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stac_item(rec: ProductRecord) -> dict[str, Any]:
    """A product as a STAC 1.0.0 Item (plain JSON; the file extension describes the asset's size and checksum).

    ``datetime`` is the sensing start (the cataloguing time for products without one), ``start_datetime`` /
    ``end_datetime`` the sensing window; VIQ fields carry the ``viq:`` prefix. The asset ``href`` is a file URI.
    """
    feature = rec.to_geojson()
    geometry = feature["geometry"]
    bbox = list(shapely.from_wkt(rec.footprint_wkt).bounds) if rec.footprint_wkt else None
    props: dict[str, Any] = {
        "datetime": _stac_time(rec.sensing_start or rec.created),
        "created": _stac_time(rec.created),
        "platform": rec.mission.lower(),
        "viq:product_type": rec.product_type,
        "viq:state": str(rec.state),
    }
    if rec.sensing_start is not None:
        props["start_datetime"] = _stac_time(rec.sensing_start)
        props["end_datetime"] = _stac_time(rec.sensing_stop or rec.sensing_start)
    optional = {
        "viq:site": rec.site,
        "viq:bands": list(rec.bands) or None,
        "viq:tdi": rec.tdi,
        "viq:job_id": rec.job_id,
        "viq:attempt_id": rec.attempt_id,
        "viq:processor": rec.processor,
        "viq:processor_version": rec.processor_version,
        "viq:gipp_versions": rec.gipp_versions or None,
        "viq:quality_flags": list(rec.quality_flags) or None,
        "viq:superseded_by": rec.superseded_by,
        "viq:metadata": rec.metadata or None,
    }
    props.update({k: v for k, v in optional.items() if v is not None})
    item: dict[str, Any] = {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [STAC_FILE_EXTENSION],
        "id": f"{rec.product_type}-{rec.id}",
        "geometry": geometry,
        "properties": props,
        "links": [],
        "assets": {
            "data": {
                "href": Path(rec.path).as_uri() if Path(rec.path).is_absolute() else rec.path,
                "title": Path(rec.path).name,
                "roles": ["data"],
                "file:size": rec.size,
                "file:checksum": "1220" + rec.sha256,  # multihash: sha2-256 (0x12), 32 bytes (0x20)
            }
        },
    }
    if bbox is not None:
        item["bbox"] = bbox
    return item


def item_collection(records: Sequence[ProductRecord]) -> dict[str, Any]:
    """Products as a STAC ItemCollection (a GeoJSON FeatureCollection of STAC Items)."""
    return {"type": "FeatureCollection", "features": [stac_item(r) for r in records], "links": []}


def _lists(obj: Any) -> Any:
    """Tuples → lists, recursively (GeoJSON mappings from shapely hold tuples)."""
    if isinstance(obj, tuple | list):
        return [_lists(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    return obj


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def feature_collection(records: Sequence[ProductRecord]) -> dict[str, Any]:
    """Products as a GeoJSON FeatureCollection."""
    return {"type": "FeatureCollection", "features": [r.to_geojson() for r in records]}


@dataclass(frozen=True)
class ProductQuery:
    """Search filters; all given filters must match (AND). Results are ordered by id, paged by keyset.

    ``start``/``stop`` select products whose sensing start lies in ``[start, stop)``. ``bbox`` is
    ``(min_lon, min_lat, max_lon, max_lat)``; ``bbox`` and ``polygon_wkt`` keep products whose footprint
    truly intersects the area (bounding-box prefilter, then exact test). ``derived_from``/``inputs_of``
    follow lineage recursively (``depth`` limits the number of hops; None = all). ``after`` is the cursor
    returned by the previous page.
    """

    product_type: str | None = None
    site: str | None = None
    band: str | None = None
    start: datetime | None = None
    stop: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None
    polygon_wkt: str | None = None
    job_id: str | None = None
    attempt_id: str | None = None
    processor: str | None = None
    processor_version: str | None = None
    derived_from: int | None = None
    inputs_of: int | None = None
    depth: int | None = None
    states: tuple[ProductState, ...] = (ProductState.ACTIVE,)
    limit: int = DEFAULT_LIMIT
    after: int | None = None

    def validated(self) -> ProductQuery:
        """Check every filter; raise :class:`InvalidQuery` naming the bad one. Returns self."""
        if self.product_type is not None and not PRODUCT_TYPE_RE.match(self.product_type):
            raise InvalidQuery(f"product_type {self.product_type!r}: expected a code like VSC_L1VALD")
        for name in ("site", "band", "processor", "processor_version"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidQuery(f"{name}: expected a string, got {type(value).__name__}")
        for name in ("start", "stop"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, datetime):
                raise InvalidQuery(f"{name}: expected a datetime, got {value!r}")
        start, stop = utc(self.start), utc(self.stop)
        if start is not None and stop is not None and stop <= start:
            raise InvalidQuery(f"time window: stop {_iso(stop)} is not after start {_iso(start)}")
        if self.bbox is not None:
            check_bbox(self.bbox)
        if self.polygon_wkt is not None:
            try:
                parse_footprint(self.polygon_wkt)
            except InvalidProduct as err:
                raise InvalidQuery(f"polygon: {err}") from err
        if not isinstance(self.limit, int) or not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidQuery(f"limit {self.limit!r}: expected 1..{MAX_LIMIT}")
        if self.depth is not None and (not isinstance(self.depth, int) or self.depth < 1):
            raise InvalidQuery(f"depth {self.depth!r}: expected a positive integer or None")
        for name in ("derived_from", "inputs_of", "after"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise InvalidQuery(f"{name}: expected a product id (integer), got {value!r}")
        if not self.states:
            raise InvalidQuery("states: at least one state")
        for s in self.states:
            ProductState(s)
        return self


@dataclass(frozen=True)
class Page:
    """One page of search results; pass ``next_after`` as ``after`` to get the next page (None = last)."""

    items: list[ProductRecord]
    next_after: int | None


@dataclass(frozen=True)
class LineageEdge:
    """``product_id`` was made from ``input_id``; ``depth`` hops from the product the walk started at."""

    product_id: int
    input_id: int
    depth: int


@dataclass(frozen=True)
class ProductEvent:
    """One entry of a product's history (ingested, superseded, deleted)."""

    product_id: int
    at: datetime
    action: str
    detail: str


@dataclass(frozen=True)
class MeasurementRow:
    """A measurement as stored in the time-series table."""

    id: int
    name: str
    value: float
    unit: str
    band: str | None
    tdi: int | None
    direction: str | None
    uncertainty: float | None
    site: str | None
    sensing_time: datetime
    product_id: int | None
    job_id: str | None
    attempt_id: str | None
    processor: str | None
    processor_version: str | None


@dataclass(frozen=True)
class VerifyReport:
    """Files on disk against active rows."""

    checked: int
    missing: list[ProductRecord]
    changed: list[tuple[ProductRecord, str]]
    orphaned: list[Path]

    @property
    def ok(self) -> bool:
        """True when nothing is missing, changed or orphaned."""
        return not (self.missing or self.changed or self.orphaned)


@dataclass(frozen=True)
class UsageRow:
    """Storage used by the products of one type, site and year (of sensing start, else of cataloguing)."""

    product_type: str
    site: str | None
    year: int
    products: int
    bytes: int


RETENTION_PROTECTED_PREFIXES = ("GIP_", "AUX_")
"""Types in force: a GIPP or auxiliary product derived from a product keeps it (and a GIPP is never retired)."""


@dataclass(frozen=True)
class RetentionPlan:
    """What a retention run would do: ``candidates`` get marked deleted, ``protected`` stay (with the reason)."""

    product_types: tuple[str, ...]
    cutoff: datetime
    age_of: Literal["created", "sensing"]
    candidates: list[ProductRecord]
    protected: list[tuple[ProductRecord, str]]

    @property
    def bytes(self) -> int:
        """Bytes the candidates hold."""
        return sum(r.size for r in self.candidates)


@runtime_checkable
class OutputLike(Protocol):
    """What :meth:`Catalog.ingest_outputs` needs of an output (``viq_interfaces.result.OutputProduct`` fits)."""

    @property
    def path(self) -> Path: ...
    @property
    def product_type(self) -> str: ...
    @property
    def site(self) -> str | None: ...
    @property
    def bands(self) -> tuple[str, ...]: ...
    @property
    def tdi(self) -> int | None: ...
    @property
    def sensing_start(self) -> datetime | None: ...
    @property
    def sensing_stop(self) -> datetime | None: ...
    @property
    def footprint_wkt(self) -> str | None: ...
    @property
    def metadata(self) -> dict[str, Any]: ...


Direction = Literal["up", "down"]

BULK_REBUILD_BELOW = 1_000_000
"""``bulk_load(rebuild_indexes=None)`` rebuilds the secondary indexes when the table held fewer rows than this."""

ANALYZE_AFTER_ROWS = 10_000
"""A ``bulk_load`` of at least this many rows refreshes the query planner's statistics before it commits."""


class BulkLoad(Protocol):
    """The loader :meth:`Catalog.bulk_load` yields; every :meth:`add` joins the load's single transaction."""

    rows: int
    """Products added so far."""

    def add(self, products: Sequence[NewProduct]) -> list[int]:
        """Queue a batch (validated now; paths must be new); the ids the products get, in order.

        ``inputs`` may name products of earlier batches of the same load. Conflicts with existing rows or within
        the load surface at the latest when the load ends (:class:`CatalogConflict`, nothing kept).
        """

    def flush(self) -> None:
        """Wait until the batches added so far have reached the database (a loader may stream them in the
        background); an error of the stream so far is raised here."""


class Catalog(Protocol):
    """The one query API both backends implement (and pass the same test suite)."""

    url: str

    def close(self) -> None:
        """Release connections."""

    def schema_version(self) -> int:
        """Schema version of the database."""

    def migrate(self) -> list[int]:
        """Apply pending forward migrations; the versions applied."""

    def ingest(self, product: NewProduct, *, supersedes: int | None = None) -> ProductRecord:
        """Catalogue one product, idempotently (same path and sha256 → the existing row).

        The same path with another checksum raises :class:`CatalogConflict` unless ``supersedes`` names the
        active row at that path, which then becomes ``superseded`` by the new one (same transaction).
        """

    def add_products(self, products: Sequence[NewProduct]) -> list[int]:
        """Bulk load (COPY / executemany) in one transaction; all or nothing. Paths must be new."""

    def bulk_load(self, *, rebuild_indexes: bool | None = None) -> AbstractContextManager[BulkLoad]:
        """An archive import: batches added through the loader, all in ONE transaction (all or nothing).

        With ``rebuild_indexes`` (default: when the table holds fewer than :data:`BULK_REBUILD_BELOW` rows) the
        secondary indexes are dropped inside the transaction and rebuilt at the end, which is several times faster
        than maintaining them row by row; the unique active-path index is rebuilt first, and a path loaded twice
        (or already active) then fails the whole load with :class:`CatalogConflict`, leaving the catalog as it
        was. On PostgreSQL the rebuild holds an exclusive lock on the product table until the load commits
        (readers wait); SQLite readers keep reading the previous snapshot.
        """

    def ingest_outputs(
        self,
        outputs: Sequence[OutputLike],
        *,
        job_id: str,
        attempt_id: str,
        processor: str,
        processor_version: str,
        input_ids: Sequence[int] = (),
        gipp_versions: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
        measurements: Sequence[Measurement] = (),
        sensing_time: datetime | None = None,
        site: str | None = None,
        mission: str = "VENUS",
    ) -> list[int]:
        """Catalogue one attempt's outputs with lineage (and its measurements) in ONE transaction.

        Idempotent per attempt: a second call for the same ``attempt_id`` returns the same ids, adds nothing.
        """

    def get(self, product_id: int) -> ProductRecord:
        """The product row (any state); :class:`ProductNotFound` if absent."""

    def find_by_path(self, path: str | Path) -> ProductRecord | None:
        """The active row at ``path``, if any."""

    def search(self, query: ProductQuery) -> Page:
        """One page of products matching ``query``, in id order."""

    def count(self, query: ProductQuery) -> int:
        """Number of products matching ``query`` (limit/after ignored)."""

    def count_by(self, column: str, query: ProductQuery) -> dict[str, int]:
        """Counts of matching products per ``product_type``, ``site``, ``processor``, ``mission`` or ``state``."""

    def iter_search(self, query: ProductQuery) -> Iterator[ProductRecord]:
        """Every matching product, page after page (keyset)."""

    def lineage(self, product_id: int, direction: Direction = "up", depth: int | None = None) -> list[LineageEdge]:
        """Lineage edges reachable from the product: ``up`` = what it came from, ``down`` = what derives from it."""

    def supersede(self, old_id: int, new_id: int, reason: str = "") -> None:
        """Mark ``old_id`` superseded by ``new_id`` (both kept)."""

    def delete(self, product_id: int, reason: str = "") -> None:
        """Mark a product deleted (the row and its lineage stay)."""

    def history(self, product_id: int) -> list[ProductEvent]:
        """State changes of a product, oldest first."""

    def add_measurements(
        self,
        measurements: Sequence[Measurement],
        *,
        sensing_time: datetime,
        site: str | None = None,
        product_id: int | None = None,
        job_id: str | None = None,
        attempt_id: str | None = None,
        processor: str | None = None,
        processor_version: str | None = None,
    ) -> int:
        """Append measurements to the time series; the number stored."""

    def measurement_names(self) -> list[str]:
        """Distinct measurement names in the time series, sorted."""

    def series(
        self,
        name: str,
        band: str | None = None,
        site: str | None = None,
        start: datetime | None = None,
        stop: datetime | None = None,
        tdi: int | None = None,
        direction: str | None = None,
    ) -> list[MeasurementRow]:
        """Time-ordered points of one measurement, filtered; sensing time in ``[start, stop)``."""

    def active_paths(self) -> list[tuple[int, str, int, str]]:
        """(id, path, size, sha256) of every active product (for verify)."""

    def usage(self, query: ProductQuery) -> list[UsageRow]:
        """Products and bytes per product type, site and year among the products matching ``query``."""

    def retention_plan(
        self,
        product_types: Sequence[str],
        older_than: datetime,
        *,
        age_of: Literal["created", "sensing"] = "created",
        site: str | None = None,
    ) -> RetentionPlan:
        """Active products of ``product_types`` older than ``older_than``, minus protected ones (a dry run).

        Protected: GIPPs themselves, and products from which an active GIPP/AUX product derives (recursively).
        """

    def apply_retention(self, plan: RetentionPlan, reason: str) -> list[ProductRecord]:
        """Mark the plan's candidates deleted (history kept), re-checking protection in the same transaction."""

    def add_event(self, product_id: int, action: str, detail: str = "") -> None:
        """Append an entry to a product's history (e.g. ``files_removed``)."""


# --------------------------------------------------------------------------------------------- helpers


def utc(dt: datetime | None) -> datetime | None:
    """A timezone-aware UTC datetime (naive = UTC)."""
    if dt is None or dt.tzinfo is UTC:
        return dt
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def now_utc() -> datetime:
    """Now, UTC, microsecond resolution."""
    return datetime.now(UTC)


def check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """``(min_lon, min_lat, max_lon, max_lat)`` checked for range and order; :class:`InvalidQuery` otherwise."""
    if len(bbox) != 4:
        raise InvalidQuery(f"bbox: expected 4 numbers min_lon,min_lat,max_lon,max_lat, got {len(bbox)}")
    try:
        x0, y0, x1, y1 = (float(v) for v in bbox)
    except (TypeError, ValueError) as err:
        raise InvalidQuery(f"bbox: not numbers: {list(bbox)!r}") from err
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise InvalidQuery("bbox: values must be finite")
    if not (-180.0 <= x0 <= 180.0 and -180.0 <= x1 <= 180.0):
        raise InvalidQuery(f"bbox: longitude out of range [-180, 180]: {x0}, {x1}")
    if not (-90.0 <= y0 <= 90.0 and -90.0 <= y1 <= 90.0):
        raise InvalidQuery(f"bbox: latitude out of range [-90, 90]: {y0}, {y1}")
    if x0 > x1 or y0 > y1:
        raise InvalidQuery(f"bbox: min must not exceed max: ({x0}, {y0}, {x1}, {y1})")
    return (x0, y0, x1, y1)


def parse_footprint(wkt: str) -> BaseGeometry:
    """Parse and check an EPSG:4326 footprint: a valid Polygon in range, not crossing the antimeridian."""
    if not isinstance(wkt, str) or not wkt.strip():
        raise InvalidProduct("footprint: empty WKT")
    try:
        geom = shapely.from_wkt(wkt)
    except shapely.errors.GEOSException as err:
        raise InvalidProduct(f"footprint: unreadable WKT: {err}") from err
    return check_footprint(geom)


def check_footprint(geom: BaseGeometry) -> BaseGeometry:
    """Checks of :func:`parse_footprint` on a parsed geometry."""
    if geom.geom_type != "Polygon":
        raise InvalidProduct(f"footprint: expected a Polygon, got {geom.geom_type}")
    if geom.is_empty:
        raise InvalidProduct("footprint: empty polygon")
    if geom.has_z:
        raise InvalidProduct("footprint: 3-D coordinates are not accepted (lon lat only)")
    x0, y0, x1, y1 = geom.bounds
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise InvalidProduct("footprint: coordinates must be finite")
    if x0 < -180.0 or x1 > 180.0 or y0 < -90.0 or y1 > 90.0:
        raise InvalidProduct(f"footprint: coordinates out of range (lon [-180,180], lat [-90,90]): {geom.bounds}")
    if x1 - x0 > 180.0:
        raise InvalidProduct(
            "footprint: spans more than 180° of longitude — it crosses the antimeridian; "
            "split it at ±180° (ingest one product per side) or give the footprint in one hemisphere"
        )
    if not geom.is_valid:
        raise InvalidProduct(f"footprint: invalid polygon: {shapely.is_valid_reason(geom)}")
    return geom


@functools.lru_cache(maxsize=8192)
def _good_name(value: str) -> bool:
    return bool(_NAME_RE.match(value))


def check_name(field_name: str, value: str | None) -> None:
    """Site, band, processor names: short, printable, no separators."""
    if value is not None and not (isinstance(value, str) and _good_name(value)):
        raise InvalidProduct(f"{field_name}: {value!r} is not a valid name (letters, digits, _ . - +; ≤ 64)")


def validate_product(p: NewProduct, *, check_geometry: bool = True) -> None:
    """Check a product's metadata; :class:`InvalidProduct` names the field at fault."""
    if not isinstance(p.product_type, str) or not PRODUCT_TYPE_RE.match(p.product_type):
        raise InvalidProduct(
            f"product_type {p.product_type!r}: expected a 10-character code like VSC_L1VALD (AAA_BBBBBB)"
        )
    if not p.path:
        raise InvalidProduct("path: empty")
    check_name("site", p.site)
    check_name("mission", p.mission)
    for b in p.bands:
        check_name("band", b)
    if len(set(p.bands)) != len(p.bands):
        raise InvalidProduct(f"bands: duplicates in {p.bands}")
    start, stop = utc(p.sensing_start), utc(p.sensing_stop)
    if start is not None and stop is not None and stop < start:
        raise InvalidProduct(f"sensing_stop {_iso(stop)} is before sensing_start {_iso(start)}")
    if p.sha256 is not None and not _SHA_RE.match(p.sha256):
        raise InvalidProduct(f"sha256 {p.sha256!r}: expected 64 lowercase hex digits")
    if p.size is not None and p.size < 0:
        raise InvalidProduct(f"size {p.size}: negative")
    if check_geometry and p.footprint_wkt is not None:
        parse_footprint(p.footprint_wkt)
    for i in p.inputs:
        if not isinstance(i, int) or isinstance(i, bool):
            raise InvalidProduct(f"inputs: {i!r} is not a product id")


def file_digest(path: Path) -> tuple[int, str]:
    """``(size, sha256)`` of a file, or of a directory product (sorted relative names and contents)."""
    if path.is_file():
        h = hashlib.sha256()
        size = 0
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
        return size, h.hexdigest()
    if path.is_dir():
        h = hashlib.sha256()
        total = 0
        for sub in sorted(p for p in path.rglob("*") if p.is_file()):
            size, digest = file_digest(sub)
            total += size
            h.update(sub.relative_to(path).as_posix().encode() + b"\0" + digest.encode() + b"\n")
        return total, h.hexdigest()
    raise ProductNotFound(f"{path}: no such file or directory")
