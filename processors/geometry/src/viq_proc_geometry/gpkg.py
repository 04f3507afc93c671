"""A minimal GeoPackage writer for point tables (sqlite3 only; no GDAL/OGR, fiona or pyogrio needed).

Follows OGC GeoPackage 1.2/1.3 ("OGC 12-128"), the parts a point feature table needs:

* ``PRAGMA application_id`` = ``0x47504B47`` ("GPKG") and ``PRAGMA user_version`` = 10300;
* ``gpkg_spatial_ref_sys`` with the three mandatory rows (EPSG:4326, −1 undefined Cartesian, 0 undefined
  geographic) and the layer's CRS (its EPSG code as ``srs_id`` when it has one, else 100000, WKT 1 definition);
* ``gpkg_contents`` (``data_type`` = ``features``, layer bounding box) and ``gpkg_geometry_columns``
  (``POINT``, z = m = 0);
* the feature table: ``fid INTEGER PRIMARY KEY AUTOINCREMENT``, ``geom POINT`` holding standard GeoPackage
  binary geometries: header ``'GP'``, version 0, flags ``0x01`` (little-endian, no envelope, not empty),
  ``srs_id`` (int32), then the ISO WKB point (little-endian, type 1, x, y as float64).
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pyproj import CRS
from pyproj.enums import WktVersion

APPLICATION_ID = 0x47504B47
USER_VERSION = 10300
CUSTOM_SRS_ID = 100000

Column = tuple[str, str, Sequence[object]]
"""(name, SQLite type: INTEGER, REAL, TEXT or BOOLEAN, values)."""

_MANDATORY_SRS = (
    ("WGS 84 geodetic", 4326, "EPSG", 4326, CRS.from_epsg(4326).to_wkt(WktVersion.WKT1_GDAL),
     "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
)


def point_blob(x: float, y: float, srs_id: int) -> bytes:
    """GeoPackage binary geometry of a 2-D point (no envelope)."""
    return b"GP" + struct.pack("<BBi", 0, 0x01, srs_id) + struct.pack("<BIdd", 1, 1, x, y)


def read_point_blob(blob: bytes) -> tuple[int, float, float]:
    """(srs_id, x, y) of a GeoPackage point blob (any envelope, either byte order)."""
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob")
    flags = blob[3]
    order = "<" if flags & 0x01 else ">"
    (srs_id,) = struct.unpack(order + "i", blob[4:8])
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 0x07]
    wkb = blob[8 + envelope :]
    worder = "<" if wkb[0] == 1 else ">"
    gtype, x, y = struct.unpack(worder + "Idd", wkb[1:21])
    if gtype != 1:
        raise ValueError(f"WKB type {gtype} is not a 2-D point")
    return srs_id, x, y


def _srs(crs: str | None) -> tuple[int, tuple[str, int, str, int, str, str] | None]:
    if not crs:
        return -1, None
    c = CRS.from_user_input(crs)
    epsg = c.to_epsg()
    wkt = c.to_wkt(WktVersion.WKT1_GDAL)
    if epsg is not None:
        return epsg, (c.name, epsg, "EPSG", epsg, wkt, "")
    return CUSTOM_SRS_ID, (c.name, CUSTOM_SRS_ID, "NONE", CUSTOM_SRS_ID, wkt, "")


def write_points(path: Path, table: str, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], crs: str | None,
                 columns: Sequence[Column], description: str = "") -> None:
    """A new GeoPackage at ``path`` with one point layer ``table`` (replaces an existing file)."""
    if not table.isidentifier():
        raise ValueError(f"table name {table!r} is not a plain identifier")
    path.unlink(missing_ok=True)
    srs_id, row = _srs(crs)
    con = sqlite3.connect(path)
    try:
        con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        con.execute(f"PRAGMA user_version = {USER_VERSION}")
        con.executescript("""
            CREATE TABLE gpkg_spatial_ref_sys (
              srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
              organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
            CREATE TABLE gpkg_contents (
              table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
              description TEXT DEFAULT '',
              last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
              min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
              CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
            CREATE TABLE gpkg_geometry_columns (
              table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
              srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
              CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
              CONSTRAINT uk_gc_table_name UNIQUE (table_name),
              CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
              CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
        """)
        rows = list(_MANDATORY_SRS)
        if row is not None and row[1] not in (4326, -1, 0):
            rows.append(row)
        con.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", rows)
        for name, typ, _ in columns:
            if not name.isidentifier() or typ not in ("INTEGER", "REAL", "TEXT", "BOOLEAN"):
                raise ValueError(f"column {name!r} {typ!r} not supported")
        cols = ", ".join(f'"{name}" {typ}' for name, typ, _ in columns)
        con.execute(f'CREATE TABLE "{table}" (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom POINT, {cols})')
        finite = np.isfinite(x) & np.isfinite(y)
        bbox = ((float(x[finite].min()), float(y[finite].min()), float(x[finite].max()), float(y[finite].max()))
                if finite.any() else (None, None, None, None))
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, "
                    "max_y, srs_id) VALUES (?, 'features', ?, ?, ?, ?, ?, ?, ?)",
                    (table, table, description, *bbox, srs_id))
        con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'POINT', ?, 0, 0)", (table, srs_id))
        marks = ", ".join("?" * (len(columns) + 1))
        names = ", ".join(f'"{name}"' for name, _, _ in columns)
        values = [[_plain(v) for v in vals] for _, _, vals in columns]
        data = [(point_blob(float(x[i]), float(y[i]), srs_id) if finite[i] else None, *(v[i] for v in values))
                for i in range(x.size)]
        con.executemany(f'INSERT INTO "{table}" (geom, {names}) VALUES ({marks})', data)
        con.commit()
    finally:
        con.close()


def _plain(v: object) -> object:
    """numpy scalars → Python; NaN → NULL; bool → 0/1."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, bool):
        return int(v)
    return v
