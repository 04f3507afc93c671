"""Catalog routes: search (GeoJSON), product metadata, history, lineage, quicklook, download, facets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import FileResponse, Response

from viq_host.api.auth import Viewer
from viq_host.api.errors import ERRORS
from viq_host.api.files import quicklook, servable_path
from viq_host.api.geojson import Fields, feature_collection_bytes, links
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


def _feature(record: ProductRecord) -> dict[str, Any]:
    feature = record.to_geojson()
    feature["properties"]["links"] = links(record.id)
    return feature


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
    fields: Annotated[
        Fields,
        Query(description="full: every property and links; lite: id, type, site, bands, sensing times and a "
                          "simplified footprint (maps and result lists)."),
    ] = "full",
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
    members: dict[str, Any] = {"next_after": page.next_after, "numberReturned": len(page.items)}
    if count:
        members["numberMatched"] = catalog.count(query)
    return Response(feature_collection_bytes(page.items, fields, **members), media_type="application/json")


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
