"""Catalog routes: search (GeoJSON), product metadata, history, lineage, quicklook, download, facets."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Annotated, Any, Literal

import shapely
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import FileResponse, Response

from viq_host.api.auth import Viewer
from viq_host.api.errors import ERRORS
from viq_host.api.files import quicklook, servable_path
from viq_host.catalog.base import ProductQuery, ProductRecord, feature_collection

router = APIRouter(prefix="/api", tags=["catalog"], responses=ERRORS)

Name = Annotated[str | None, Query(max_length=64, description="Exact value.")]
ProductId = Annotated[int, Path(ge=1, le=2**62, description="Catalog id of the product.")]
MAX_PAGE = 1000


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``min_lon,min_lat,max_lon,max_lat`` → tuple (checked again by the catalog); 422 when not 4 numbers."""
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise HTTPException(422, "bbox: expected min_lon,min_lat,max_lon,max_lat")
    try:
        a, b, c, d = (float(p) for p in parts)
    except ValueError as err:
        raise HTTPException(422, "bbox: expected four numbers") from err
    return (a, b, c, d)


def _features(records: list[ProductRecord]) -> list[dict[str, Any]]:
    """GeoJSON Features of a page: footprints parsed and converted in one vectorised shapely call."""
    wkts = [r.footprint_wkt for r in records]
    present = [w for w in wkts if w]
    geo = iter(shapely.to_geojson(shapely.from_wkt(present)).tolist() if present else [])
    out = []
    for record, wkt in zip(records, wkts, strict=True):
        feature = _feature(record, geometry=False)
        feature["geometry"] = json.loads(next(geo)) if wkt else None
        out.append(feature)
    return out


def _feature(record: ProductRecord, *, geometry: bool = True) -> dict[str, Any]:
    feature = record.to_geojson() if geometry else _without_geometry(record)
    feature["properties"]["links"] = {
        "self": f"/api/products/{record.id}",
        "quicklook": f"/api/products/{record.id}/quicklook.png",
        "file": f"/api/products/{record.id}/file",
        "lineage": f"/api/products/{record.id}/lineage",
    }
    return feature


def json_response(body: dict[str, Any]) -> Response:
    """JSON serialised directly (the body is plain JSON data already: skips FastAPI's generic encoder)."""
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    return Response(data, media_type="application/json")


def _without_geometry(record: ProductRecord) -> dict[str, Any]:
    return dataclasses.replace(record, footprint_wkt=None).to_geojson()


@router.get(
    "/products",
    summary="Search products (GeoJSON FeatureCollection)",
    response_class=Response,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}},
                     "description": "GeoJSON FeatureCollection with next_after and numberReturned."}},
)
def search_products(
    caller: Viewer,
    type: Annotated[str | None, Query(max_length=10, description="Product type, e.g. VSC_L1VALD.")] = None,
    site: Name = None,
    band: Name = None,
    processor: Name = None,
    job_id: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[datetime | None, Query(description="Sensing start ≥ this (ISO 8601).")] = None,
    stop: Annotated[datetime | None, Query(description="Sensing start < this (ISO 8601).")] = None,
    bbox: Annotated[str | None, Query(max_length=200, description="min_lon,min_lat,max_lon,max_lat")] = None,
    derived_from: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    after: Annotated[int | None, Query(ge=0, le=2**62, description="Cursor: next_after of the previous page.")]
    = None,
    count: Annotated[bool, Query(description="Also count every match (slower on large catalogs).")] = False,
) -> Response:
    """Active products matching every filter given, in id order, one page at a time (keyset paging)."""
    query = ProductQuery(
        product_type=type or None,
        site=site or None,
        band=band or None,
        processor=processor or None,
        job_id=job_id or None,
        start=start,
        stop=stop,
        bbox=parse_bbox(bbox),
        derived_from=derived_from,
        limit=limit,
        after=after,
    )
    catalog = caller.runtime.catalog
    page = catalog.search(query)
    body: dict[str, Any] = {"type": "FeatureCollection", "features": _features(page.items)}
    body["next_after"] = page.next_after
    body["numberReturned"] = len(page.items)
    if count:
        body["numberMatched"] = catalog.count(query)
    return json_response(body)


@router.get("/products/facets", summary="Product types and sites present, with counts")
def facets(caller: Viewer) -> dict[str, dict[str, int]]:
    """Counts of active products per product type and per site (for the search form)."""
    catalog = caller.runtime.catalog
    query = ProductQuery()
    return {"product_type": catalog.count_by("product_type", query), "site": catalog.count_by("site", query)}


@router.get("/products/{product_id}", summary="Product metadata and history")
def product(caller: Viewer, product_id: ProductId) -> dict[str, Any]:
    """The product as a GeoJSON Feature, with its history (ingested, superseded, deleted)."""
    catalog = caller.runtime.catalog
    record = catalog.get(product_id)
    feature = _feature(record)
    feature["properties"]["history"] = [
        {"at": e.at.isoformat(), "action": e.action, "detail": e.detail} for e in catalog.history(product_id)
    ]
    return feature


@router.get("/products/{product_id}/lineage", summary="What a product came from, or what derives from it")
def lineage(
    caller: Viewer,
    product_id: ProductId,
    direction: Literal["up", "down"] = "up",
    depth: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> dict[str, Any]:
    """Lineage edges (product ← input, with depth) and the products they name, as a FeatureCollection."""
    catalog = caller.runtime.catalog
    edges = catalog.lineage(product_id, direction, depth)
    ids = sorted({e.product_id for e in edges} | {e.input_id for e in edges} | {product_id})
    records = [catalog.get(i) for i in ids[:500]]
    return {
        "product_id": product_id,
        "direction": direction,
        "edges": [{"product_id": e.product_id, "input_id": e.input_id, "depth": e.depth} for e in edges],
        "products": feature_collection(records),
    }


@router.get(
    "/products/{product_id}/quicklook.png",
    summary="Quicklook PNG rendered from the product's raster",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 404: {"description": "No raster"}},
)
def product_quicklook(caller: Viewer, product_id: ProductId) -> Response:
    """A PNG of at most 512 pixels on the long side (404 when the product has no raster)."""
    rt = caller.runtime
    record = rt.catalog.get(product_id)
    data = quicklook(record, rt.settings)
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/products/{product_id}/file",
    summary="Download a product's file (by id only)",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def product_file(caller: Viewer, product_id: ProductId) -> FileResponse:
    """The product's file; refused (403) when it lies outside the installation's data roots, 404 for a directory."""
    rt = caller.runtime
    record = rt.catalog.get(product_id)
    path = servable_path(record, rt.settings)
    if not path.is_file():
        raise HTTPException(404, f"product {product_id} is not a single file (directory or missing)")
    return FileResponse(path, filename=path.name, media_type="application/octet-stream")
