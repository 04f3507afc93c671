"""Catalog endpoints: search with every filter and paging against the seeded ground truth, metadata,
lineage, quicklook rendered from the raster, downloads by id only."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from PIL import Image

from viq_api_support import Api, Seed


def _ids(body: dict[str, Any]) -> list[int]:
    return [f["id"] for f in body["features"]]


def _expected(seed: Seed, **flt: Any) -> list[int]:
    out = []
    for p in seed.products:
        if flt.get("type") and p["type"] != flt["type"]:
            continue
        if flt.get("site") and p["site"] != flt["site"]:
            continue
        if flt.get("band") and flt["band"] not in p["bands"]:
            continue
        if flt.get("start") and p["start"] < flt["start"]:
            continue
        if flt.get("stop") and p["start"] >= flt["stop"]:
            continue
        if flt.get("bbox"):
            x0, y0, x1, y1 = flt["bbox"]
            a0, b0, a1, b1 = p["bbox"]
            if a1 < x0 or a0 > x1 or b1 < y0 or b0 > y1:
                continue
        out.append(p["id"])
    return sorted(out)


@pytest.mark.parametrize(
    "flt",
    [
        {"type": "VSC_L2VALD"},
        {"site": "CAMARGUE"},
        {"band": "B07"},
        {"type": "IMQ_MTFMES", "site": "ISRAEL1"},
        {"start": datetime.fromisoformat("2021-04-01T00:00:00+00:00"),
         "stop": datetime.fromisoformat("2021-08-01T00:00:00+00:00")},
        {"bbox": (-8.0, 33.0, -4.0, 35.0)},
        {"bbox": (5.15, 44.05, 5.2, 44.1), "type": "VSC_L1VALD"},
    ],
    ids=["type", "site", "band", "type+site", "time", "bbox", "bbox+type"],
)
def test_search_filters_match_ground_truth(seeded: tuple[Api, Seed], flt: dict[str, Any]) -> None:
    """Each filter (and combinations) returns exactly the seeded products it selects, as GeoJSON."""
    api, seed = seeded
    params: dict[str, Any] = {"limit": 1000}
    for k, v in flt.items():
        params[k] = ",".join(str(x) for x in v) if k == "bbox" else v.isoformat() if isinstance(v, datetime) else v
    r = api.get("/api/products", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "FeatureCollection"
    expected = _expected(seed, **flt)
    got = [i for i in _ids(body) if i in {p["id"] for p in seed.products}]
    assert got == expected and expected
    feature = body["features"][0]
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Polygon"


def test_keyset_paging_walks_every_product_once(seeded: tuple[Api, Seed]) -> None:
    """Pages of 7 with the next_after cursor cover the whole result, in id order, without repeats."""
    api, seed = seeded
    seen: list[int] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 7, "type": "VSC_L1VALD"}
        if after is not None:
            params["after"] = after
        body = api.get("/api/products", params=params).json()
        seen += _ids(body)
        after = body["next_after"]
        if after is None:
            break
    expected = sorted([*_expected(seed, type="VSC_L1VALD"), seed.directory_id])
    assert seen == expected
    counted = api.get("/api/products", params={"type": "VSC_L1VALD", "count": True, "limit": 1}).json()
    assert counted["numberMatched"] == len(expected)


def test_bad_filters_are_422(seeded: tuple[Api, Seed]) -> None:
    """Malformed filters are refused with 422 and a message, not a server error."""
    api, _ = seeded
    for params in ({"bbox": "1,2,3"}, {"bbox": "a,b,c,d"}, {"bbox": "10,10,5,5"}, {"type": "not a type"},
                   {"start": "yesterday"}, {"start": "2021-05-01T00:00:00Z", "stop": "2021-01-01T00:00:00Z"},
                   {"limit": 0}, {"limit": 100000}):
        r = api.get("/api/products", params=params)
        assert r.status_code == 422, (params, r.text)


def test_facets_count_types_and_sites(seeded: tuple[Api, Seed]) -> None:
    """Facet counts equal the seeded products per type."""
    api, seed = seeded
    body = api.get("/api/products/facets").json()
    assert body["product_type"]["VSC_L2VALD"] == len(_expected(seed, type="VSC_L2VALD"))
    assert body["site"]["ISRAEL1"] == len(_expected(seed, site="ISRAEL1"))


def test_product_metadata_and_history(seeded: tuple[Api, Seed]) -> None:
    """A product is a Feature with its properties, links and an 'ingested' history entry; unknown id → 404."""
    api, seed = seeded
    body = api.get(f"/api/products/{seed.scene_id}").json()
    assert body["id"] == seed.scene_id
    assert body["properties"]["site"] == "VENTOUX" and body["properties"]["bands"] == ["B03"]
    assert body["properties"]["history"][0]["action"] == "ingested"
    assert body["properties"]["links"]["quicklook"].endswith("/quicklook.png")
    assert api.get("/api/products/999999").status_code == 404


def test_lineage_both_directions(seeded: tuple[Api, Seed]) -> None:
    """The derived product comes from the scene (up); the scene is used by the derived product (down)."""
    api, seed = seeded
    up = api.get(f"/api/products/{seed.derived_id}/lineage", params={"direction": "up"}).json()
    assert [(e["product_id"], e["input_id"]) for e in up["edges"]] == [(seed.derived_id, seed.scene_id)]
    assert {f["id"] for f in up["products"]["features"]} == {seed.derived_id, seed.scene_id}
    down = api.get(f"/api/products/{seed.scene_id}/lineage", params={"direction": "down"}).json()
    assert [(e["product_id"], e["input_id"]) for e in down["edges"]] == [(seed.derived_id, seed.scene_id)]
    assert api.get(f"/api/products/{seed.scene_id}/lineage", params={"direction": "sideways"}).status_code == 422


def test_quicklook_is_the_raster_downsampled(seeded: tuple[Api, Seed]) -> None:
    """The PNG has the raster's aspect and its brightness follows the pixels (bright where the scene is)."""
    api, seed = seeded
    r = api.get(f"/api/products/{seed.scene_id}/quicklook.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(r.content)))
    assert image.shape == seed.scene_pixels.shape  # 96 x 64 is under the 512 px limit: not resampled
    corr = np.corrcoef(image.ravel().astype(float), seed.scene_pixels.ravel().astype(float))[0, 1]
    assert corr > 0.95
    again = api.get(f"/api/products/{seed.scene_id}/quicklook.png")  # served from the cache
    assert again.content == r.content
    assert api.get(f"/api/products/{seed.derived_id}/quicklook.png").status_code == 404  # a CSV
    assert api.get(f"/api/products/{seed.directory_id}/quicklook.png").status_code == 404  # no raster inside


def test_download_by_id(seeded: tuple[Api, Seed]) -> None:
    """A product's file downloads by id with its bytes; a directory product is not a file (404)."""
    api, seed = seeded
    r = api.get(f"/api/products/{seed.derived_id}/file")
    assert r.status_code == 200
    assert r.content == (api.settings.home / "data" / "VE_VM01_IMQ_MTFMES_VENTOUX_20210301.csv").read_bytes()
    assert api.get(f"/api/products/{seed.directory_id}/file").status_code == 404


def test_full_search_features_equal_the_catalog_geojson(seeded: tuple[Api, Seed]) -> None:
    """The hand-written search JSON carries exactly what ``ProductRecord.to_geojson`` says (plus links), for
    products with and without footprints, so the fast path cannot drift from the catalog's own GeoJSON."""
    api, seed = seeded
    body = api.get("/api/products", params={"limit": 1000}).json()
    assert body["numberReturned"] == len(body["features"]) >= len(seed.products)
    catalog = api.runtime.host.catalog
    without_geometry = 0
    for feature in body["features"]:
        expected = catalog.get(feature["id"]).to_geojson()
        expected["properties"]["links"] = {
            "self": f"/api/products/{feature['id']}",
            "quicklook": f"/api/products/{feature['id']}/quicklook.png",
            "file": f"/api/products/{feature['id']}/file",
            "lineage": f"/api/products/{feature['id']}/lineage",
        }
        assert feature == expected
        without_geometry += feature["geometry"] is None
    assert without_geometry >= 2  # the derived CSV and the directory product have no footprint


def test_lite_search_has_the_same_hits_with_few_properties(seeded: tuple[Api, Seed]) -> None:
    """``fields=lite`` returns the same products and paging as the full search, with only type, site, bands and
    sensing times, and footprints whose coordinates are the seeded corners rounded to 5 decimals."""
    api, seed = seeded
    params: dict[str, Any] = {"type": "VSC_L1VALD", "limit": 5, "count": True}
    full = api.get("/api/products", params=params).json()
    lite = api.get("/api/products", params={**params, "fields": "lite"}).json()
    assert _ids(lite) == _ids(full) and lite["next_after"] == full["next_after"]
    assert lite["numberMatched"] == full["numberMatched"]
    by_id = {p["id"]: p for p in seed.products}
    for f_full, f_lite in zip(full["features"], lite["features"], strict=True):
        assert set(f_lite["properties"]) == {"product_type", "site", "bands", "sensing_start", "sensing_stop"}
        assert {k: f_full["properties"][k] for k in f_lite["properties"]} == f_lite["properties"]
        if f_lite["id"] in by_id:
            x0, y0, x1, y1 = by_id[f_lite["id"]]["bbox"]
            ring = f_lite["geometry"]["coordinates"][0]
            assert sorted(map(tuple, ring[:-1])) == sorted(
                (round(x, 5), round(y, 5)) for x in (x0, x1) for y in (y0, y1)
            )
    assert api.get("/api/products", params={"fields": "everything"}).status_code == 422


def test_lite_footprints_are_simplified_and_cached() -> None:
    """A footprint with many near-collinear vertices keeps its shape (area within 1 %) with far fewer vertices
    in lite mode; conversions are cached by WKT, and the LRU stays within its size."""
    import shapely

    from viq_host.api.geojson import FootprintCache

    ring = [(5.0 + 0.3 * t / 200, 44.0 + 1e-6 * (t % 2)) for t in range(201)]
    ring += [(5.3, 44.3), (5.0, 44.3), (5.0, 44.0)]
    wkt = shapely.Polygon(ring).wkt
    cache = FootprintCache(size=2)
    full, lite = cache.geojson([wkt], lite=False)[0], cache.geojson([wkt], lite=True)[0]
    g_full, g_lite = shapely.from_geojson(full), shapely.from_geojson(lite)
    assert shapely.get_num_coordinates(g_full) == len(ring)
    assert shapely.get_num_coordinates(g_lite) <= 6
    assert abs(g_lite.area - g_full.area) / g_full.area < 0.01
    assert cache.geojson([None, wkt], lite=True) == ["null", lite] and cache.hits == 1
    cache.geojson(["POINT (1 2)"], lite=True)
    assert cache.geojson([wkt], lite=False) == [full] and cache.misses == 4  # evicted by the size bound
