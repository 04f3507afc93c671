"""Sites: a footprint (EPSG:4326 lon/lat polygon) from WKT or from the VENµS site list (GeoJSON)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from shapely import wkt as shapely_wkt
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from viq_proc_dem.errors import SiteError


@dataclass(frozen=True)
class Site:
    """A named footprint in lon/lat degrees."""

    name: str
    footprint: BaseGeometry

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees."""
        b = self.footprint.bounds
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def from_wkt(name: str, text: str) -> Site:
    """A site from a lon/lat WKT polygon."""
    try:
        geom = shapely_wkt.loads(text)
    except (ShapelyError, ValueError) as err:
        raise SiteError(f"site {name!r}: footprint WKT cannot be parsed ({err})") from err
    return _checked(name or "SITE", geom)


def from_site_list(name: str, path: Path) -> Site:
    """Look ``name`` up (case-insensitive) in a GeoJSON FeatureCollection with a ``name`` property."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SiteError(f"site list {path} cannot be read ({err})") from err
    for feat in doc.get("features", []):
        if str(feat.get("properties", {}).get("name", "")).upper() == name.upper():
            return _checked(str(feat["properties"]["name"]), shape(feat["geometry"]))
    raise SiteError(f"site {name!r} is not in the site list {path}")


def _checked(name: str, geom: BaseGeometry) -> Site:
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise SiteError(f"site {name!r}: the footprint must be a non-empty polygon")
    w, s, e, n = geom.bounds
    if not (-180.0 <= w <= e <= 180.0 and -90.0 <= s <= n <= 90.0):
        raise SiteError(f"site {name!r}: footprint {geom.bounds} is not in lon/lat degrees")
    return Site(name=name, footprint=geom)


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 UTM zone holding (lon, lat)."""
    zone = min(math.floor((lon + 180.0) / 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone
