"""The VENµS site list (127 Theia sites, packaged GeoJSON; see ``data/README.md`` for the attribution)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from viq_interfaces.errors import ConfigurationError


@dataclass(frozen=True)
class Site:
    """One VENµS site."""

    name: str
    centroid_lon: float
    centroid_lat: float
    footprint: tuple[tuple[float, float], ...]
    relative_orbit: float | None
    zenith_angle: float | None


@cache
def load_sites() -> dict[str, Site]:
    """All sites by name."""
    text = resources.files("viq_proc_simulator").joinpath("data/venus_sites.geojson").read_text(encoding="utf-8")
    out: dict[str, Site] = {}
    for feat in json.loads(text)["features"]:
        p = feat["properties"]
        ring = feat["geometry"]["coordinates"][0]
        out[p["name"]] = Site(
            name=p["name"],
            centroid_lon=float(p["centroid_lon"]),
            centroid_lat=float(p["centroid_lat"]),
            footprint=tuple((float(x), float(y)) for x, y in ring),
            relative_orbit=p.get("relative_orbit"),
            zenith_angle=p.get("zenith_angle"),
        )
    return out


def get_site(name: str, field: str = "site") -> Site:
    """The site called ``name``; ConfigurationError naming ``field`` if unknown."""
    sites = load_sites()
    if name not in sites:
        raise ConfigurationError(f"{field}: unknown VENµS site {name!r} ({len(sites)} sites known)")
    return sites[name]
