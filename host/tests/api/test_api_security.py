"""Security of the API: every route needs a token (401), writes need operator (403) and the CSRF token,
downloads only by id inside the data roots, injection through every filter is inert, tokens stored hashed,
every write audited (append-only), static files cannot escape their directory."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from viq_api_support import Api, Seed
from viq_host.catalog import NewProduct
from viq_host.testing.harness import harness_settings

SAMPLE = {"product_id": "1", "gipp_id": "1", "other_id": "2", "job_id": "20210101-000000-abcdef",
          "name": "t-api-scale"}


def routes(api: Api) -> list[tuple[str, str]]:
    """(method, concrete path) of every API route of the OpenAPI description."""
    out = []
    for path, ops in api.client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        concrete = path
        for key, value in SAMPLE.items():
            concrete = concrete.replace("{" + key + "}", value)
        out += [(m.upper(), concrete) for m in ops]
    return out


def test_every_route_but_health_needs_a_token(seeded: tuple[Api, Seed]) -> None:
    """No token, a malformed token or an unknown token → 401 on every route; health is public."""
    api, _ = seeded
    checked = 0
    for method, path in routes(api):
        for headers in ({}, {"Authorization": "Bearer nope"},
                        {"Authorization": "Bearer viq_00000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
                        {"Authorization": "Basic dXNlcjpwYXNz"}):
            r = api.client.request(method, path, headers=headers)
            if path == "/api/health":
                assert r.status_code == 200
                continue
            assert r.status_code == 401, (method, path, headers, r.status_code)
            assert "set-cookie" not in r.headers
            checked += 1
    assert checked > 4 * 30


def test_viewer_cannot_write_anywhere(seeded: tuple[Api, Seed]) -> None:
    """Every write route answers 403 to a viewer (with a valid CSRF token) and the refusal is audited."""
    api, _ = seeded
    read_only = ("/api/jobs/validate", "/api/jobs/plan")  # POSTs that store nothing (a viewer may call them)
    writes = [(m, p) for m, p in routes(api) if m in ("POST", "PUT", "PATCH", "DELETE") and p not in read_only]
    assert len(writes) >= 6
    before = len(api.get("/api/audit", params={"limit": 1000}).json())
    for method, path in writes:
        r = api.client.request(method, path, headers=api.headers("viewer", write=True), json={})
        assert r.status_code == 403, (method, path, r.text)
    trail = api.get("/api/audit", params={"limit": 1000}).json()
    assert len(trail) == before + len(writes)
    assert all(a["outcome"] == "refused" and a["actor"] == "api:test-viewer" for a in trail[: len(writes)])


def test_csrf_and_origin_checks_on_writes(seeded: tuple[Api, Seed]) -> None:
    """An operator's write without the CSRF header, with a wrong one, or from another origin is refused;
    a cross-site form post (no Authorization, cookies are never used) is 401."""
    api, _ = seeded
    url = "/api/jobs/no-such/cancel"
    auth = api.headers("operator")
    assert api.client.post(url, headers=auth, json={}).status_code == 403
    assert api.client.post(url, headers={**auth, "X-CSRF-Token": "0" * 64}, json={}).status_code == 403
    assert api.client.post(url, headers={**auth, "X-CSRF-Token": api.csrf["viewer"]}, json={}).status_code == 403
    evil = {**api.headers("operator", write=True), "Origin": "https://evil.example"}
    assert api.client.post(url, headers=evil, json={}).status_code == 403
    same = {**api.headers("operator", write=True), "Origin": "http://testserver"}
    assert api.client.post(url, headers=same, json={}).status_code == 404  # passed the checks: unknown job
    form = api.client.post(url, data={"reason": "x"}, headers={"Origin": "https://evil.example"})
    assert form.status_code == 401
    reasons = [a["detail"].get("reason") for a in api.get("/api/audit").json() if a["outcome"] == "refused"]
    assert "missing or wrong CSRF token" in reasons and "cross-origin request" in reasons


def test_downloads_only_by_id_inside_the_data_roots(seeded: tuple[Api, Seed]) -> None:
    """A catalogued path outside the roots (or a symlink leading out) is refused; traversal in the URL is
    not a route; static files cannot escape."""
    api, s = seeded
    assert api.get(f"/api/products/{s.outside_id}/file").status_code == 403
    assert api.get(f"/api/products/{s.outside_id}/quicklook.png").status_code == 403
    link = api.settings.home / "data" / "innocent.tif"
    link.symlink_to("/etc/passwd")
    rec = api.runtime.host.catalog.ingest(NewProduct(product_type="VSC_L1VALD", path=str(link)))
    r = api.get(f"/api/products/{rec.id}/file")
    assert r.status_code == 403 and "root:" not in r.text
    for path in ("/api/products/..%2F..%2F..%2Fetc%2Fpasswd/file", "/api/products/../../etc/passwd",
                 "/api/products/1%2F..%2F..%2Fetc%2Fpasswd/file", "/api/products/-1/file",
                 "/api/products/99999999999999999999999/file"):
        r = api.get(path)
        assert r.status_code in (404, 422), (path, r.status_code)
        assert "root:" not in r.text
    for path in ("/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                 "/static/..%2f..%2f..%2fapi%2fstore.py", "/static/vendor/../../store.py"):
        r = api.client.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "root:" not in r.text and "ApiStore" not in r.text


INJECTIONS = ["' OR '1'='1", "x'; DROP TABLE product; --", "%' OR 1=1 --", "B03\" OR \"\"=\"", "1) OR (1=1",
              "\\'; SELECT pg_sleep(5); --"]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_injection_through_every_filter_is_inert(seeded: tuple[Api, Seed], payload: str) -> None:
    """Injection strings in every string filter match nothing (or are refused with 422), never 500, and the
    tables are intact afterwards."""
    api, s = seeded
    targets: list[tuple[str, dict[str, Any]]] = []
    for name in ("type", "site", "band", "processor", "job_id", "bbox", "start", "stop"):
        targets.append(("/api/products", {name: payload}))
    for name in ("band", "site", "direction", "start", "stop"):
        targets.append(("/api/measurements/snr", {name: payload}))
    targets += [("/api/measurements/snr/trend.png", {"band": payload}), ("/api/gipps", {"type": payload}),
                ("/api/gipps", {"band": payload}), ("/api/gipps", {"status": payload}),
                ("/api/gipps/history", {"type": "GIP_DARKCU", "site": payload}),
                ("/api/jobs", {"state": payload}), ("/api/audit", {"action": payload, "actor": payload}),
                ("/api/alerts", {"start": payload}), ("/api/processors/t-api-scale", {"version": payload})]
    for url, params in targets:
        r = api.get(url, params=params)
        assert r.status_code in (200, 404, 422), (url, params, r.status_code, r.text)
        if r.status_code == 200 and url == "/api/products":
            assert r.json()["features"] == [], (url, params)
        if r.status_code == 200 and url == "/api/measurements/snr":
            assert r.json()["points"] == []
    for path in (f"/api/measurements/{payload}", f"/api/processors/{payload}", f"/api/jobs/{payload}"):
        assert api.get(path).status_code in (404, 422)
    total = api.get("/api/products", params={"limit": 1, "count": True}).json()["numberMatched"]
    assert total >= len(s.products)
    assert len(api.get("/api/gipps").json()) == len(s.gipp_ids)


def test_tokens_are_stored_hashed_and_revocable(api: Api) -> None:
    """The database holds salted hashes only; a revoked token stops working; only admins list tokens."""
    token = api.tokens["operator"]
    key, secret = token[4:].split(".")
    db = sqlite3.connect(api.settings.database_url.removeprefix("sqlite:///"))
    rows = db.execute("SELECT key, salt, hash FROM api_token").fetchall()
    dump = "\n".join(db.iterdump())
    assert secret not in dump and token not in dump
    row = next(r for r in rows if r[0] == key)
    assert row[2] == hashlib.sha256(bytes.fromhex(row[1]) + secret.encode()).hexdigest()
    assert row[2] != hashlib.sha256(secret.encode()).hexdigest()  # salted
    assert len({r[1] for r in rows}) == len(rows)  # one salt per token
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE api_audit SET actor = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        db.execute("DELETE FROM api_token")
    db.close()
    assert api.get("/api/tokens", role="operator").status_code == 403
    listed = api.get("/api/tokens", role="admin").json()
    assert {t["name"] for t in listed} == {"test-viewer", "test-operator", "test-admin"}
    assert all("hash" not in t and "salt" not in t for t in listed)
    api.runtime.store.revoke("test-operator", by="pytest")
    assert api.get("/api/session", role="operator").status_code == 401
    assert api.get("/api/session", role="viewer").status_code == 200


def test_page_and_headers(api: Api) -> None:
    """The page is served without a token, with a strict CSP (scripts only from the server) and no CDN."""
    r = api.client.get("/")
    assert r.status_code == 200 and "VIQ" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "http://" not in r.text and "https://" not in r.text
    for asset in ("/static/app.js", "/static/app.css", "/static/vendor/leaflet/leaflet.js",
                  "/static/vendor/land-110m.geojson", "/static/vendor/leaflet/LICENSE"):
        assert api.client.get(asset).status_code == 200, asset
    assert api.get("/api/products").headers["cache-control"] == "no-store"


def test_verified_tokens_are_cached_briefly_and_revocation_clears(make_api: Any, tmp_path: Path) -> None:
    """A verified token is answered from memory (no database read) within the cache time; a wrong secret with
    a cached key is refused; a revocation in this process takes effect at once, one in another process (a
    second store on the same database) once the cache entry expires."""
    from viq_host.api import store as store_mod
    from viq_host.api.store import ApiStore

    api = make_api(harness_settings(tmp_path))
    store = api.runtime.store
    token = api.tokens["viewer"]
    assert api.get("/api/session").status_code == 200
    assert store.cached(token) is not None
    key = token.split(".")[0]
    assert store.cached(f"{key}.{'A' * 43}") is None
    assert api.client.get("/api/session", headers={"Authorization": f"Bearer {key}.{'A' * 43}"}).status_code == 401
    other = ApiStore(api.settings.database_url)
    try:
        other.revoke("test-viewer", by="pytest")
    finally:
        other.close()
    assert api.get("/api/session").status_code == 200  # still cached here
    store._cache = {k: (0.0, v) for k, (_, v) in store._cache.items()}  # as if CACHE_SECONDS had passed
    assert api.get("/api/session").status_code == 401
    assert store_mod.CACHE_SECONDS <= 10
    store.revoke("test-operator", by="pytest")
    assert api.get("/api/session", role="operator").status_code == 401
