"""Job endpoints: validate and submit uploaded orders through the hardened reader, list, status, logs,
cancel, retry; a job submitted over HTTP runs to the end in the same process (runner thread)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from viq_api_procs import ScaleImage
from viq_api_support import Api
from viq_host.testing.factories import make_job_order, write_geotiff
from viq_host.testing.harness import harness_settings


def order_xml(api: Api, tmp_path: Path, *, gain: float = 2.0, sleep: float = 0.0, name: str = "o.xml") -> bytes:
    """A valid job order for the test processor over a fresh image inside the data roots."""
    image = write_geotiff(api.settings.home / "data" / f"img-{name}.tif", np.arange(48, dtype=np.uint16).reshape(6, 8))
    path = make_job_order(ScaleImage, tmp_path / name, inputs={"image": [image]}, params={"gain": gain, "sleep": sleep})
    return path.read_bytes()


XML = {"Content-Type": "application/xml"}


def _events(text: str) -> list[tuple[str, str]]:
    """(event, data) of a text/event-stream body (comments and retry lines dropped)."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [ln for ln in block.split("\n") if ln and not ln.startswith(":")]
        event = next((ln[6:].strip() for ln in lines if ln.startswith("event:")), "message")
        data = "\n".join(ln[5:].lstrip() for ln in lines if ln.startswith("data:"))
        if data:
            out.append((event, data))
    return out


def test_job_feed_takes_one_snapshot_per_poll_for_all_streams() -> None:
    """Streams polling together share one fetch of the job list per poll interval; a later poll fetches again;
    a stream sends a list only when it changed and ends after its time."""
    import asyncio

    from viq_host.api.events import JobFeed, event_stream

    calls: list[int] = []

    def fetch(limit: int) -> list[dict[str, Any]]:
        calls.append(limit)
        return [{"job_id": "j", "state": "RUNNING" if len(calls) < 3 else "SUCCEEDED"}]

    async def run() -> tuple[list[str], list[str]]:
        feed = JobFeed(fetch, poll_seconds=0.05)
        texts = await asyncio.gather(*(feed.snapshot(50) for _ in range(5)))
        assert len(calls) == 1 and len(set(texts)) == 1
        parts = [p async for p in event_stream(feed, 50, 0.5, poll_seconds=0.05)]
        return list(texts), parts

    _, parts = asyncio.run(run())
    jobs = [p for p in parts if p.startswith("event: jobs")]
    assert parts[0].startswith("retry:") and len(jobs) == 2  # RUNNING once, SUCCEEDED once
    assert "RUNNING" in jobs[0] and "SUCCEEDED" in jobs[1]
    assert len(calls) >= 3


def wait_state(api: Api, job_id: str, states: set[str], timeout: float = 60.0) -> dict[str, Any]:
    """Poll the status endpoint until the job is in one of ``states``."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = api.get(f"/api/jobs/{job_id}").json()
        if body["state"] in states or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_validate_returns_the_plan_and_stores_nothing(api: Api, tmp_path: Path) -> None:
    """A valid order gives its plan (processor, inputs, parameters) to a viewer; no job is created."""
    r = api.client.post("/api/jobs/validate", content=order_xml(api, tmp_path, gain=3.5),
                        headers={**api.headers("viewer", write=True), **XML})
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["processor"] == "t-api-scale" and plan["params"]["gain"] == 3.5
    assert list(plan["inputs"]) == ["image"]
    assert api.get("/api/jobs").json() == []


def test_invalid_orders_name_line_and_exit_code(api: Api, tmp_path: Path) -> None:
    """Schema and declaration errors come back as 422 with the ICD exit code and position."""
    good = order_xml(api, tmp_path).decode()
    bad_param = good.replace(">2.0<", ">abc<")
    r = api.post("/api/jobs/validate", content=bad_param.encode(), headers=XML)
    assert r.status_code == 422 and r.json()["exit_code"] == 147 and "gain" in r.json()["detail"]
    unknown = good.replace("t-api-scale", "no-such-proc")
    r = api.post("/api/jobs", content=unknown.encode(), headers=XML)
    assert r.status_code == 422 and r.json()["exit_code"] == 129
    r = api.post("/api/jobs", content=b"<Job_Order><oops></Job_Order>", headers=XML)
    assert r.status_code == 422 and r.json()["exit_code"] == 128 and r.json()["line"] == 1
    outside = good.replace(str(api.settings.home / "data"), "/etc")
    r = api.post("/api/jobs", content=outside.encode(), headers=XML)
    assert r.status_code == 422 and r.json()["exit_code"] == 130  # input outside the data roots
    assert api.get("/api/jobs").json() == []
    assert not any((api.settings.home / "orders" / "api").glob("*.xml"))  # refused uploads are not kept


@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Job_Order>&xxe;</Job_Order>',
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><Job_Order>&lol3;</Job_Order>',
        b'<Job_Order xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd"/></Job_Order>',
    ],
    ids=["xxe", "billion-laughs", "xinclude"],
)
def test_hostile_xml_is_refused(api: Api, payload: bytes) -> None:
    """XXE, entity expansion and XInclude uploads are refused (422, exit 128) and never expanded."""
    for url in ("/api/jobs/validate", "/api/jobs"):
        r = api.post(url, content=payload, headers=XML)
        assert r.status_code == 422, r.text
        assert r.json()["exit_code"] == 128
        assert "root:" not in r.text and "lollol" not in r.text


def test_oversized_upload_is_413(api: Api) -> None:
    """A body over max_job_order_bytes is refused before parsing, declared or streamed (chunked)."""
    limit = api.settings.max_job_order_bytes
    big = b"<Job_Order>" + b" " * limit + b"</Job_Order>"
    assert api.post("/api/jobs", content=big, headers=XML).status_code == 413

    def chunks() -> Any:
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    assert api.post("/api/jobs/validate", content=chunks(), headers=XML).status_code == 413
    huge = b"x" * (api.runtime.max_upload_bytes + 1)  # over the global limit on any route
    r = api.post("/api/gipps/1/retire", content=huge, headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_submit_list_status_cancel_retry_without_runner(api: Api, tmp_path: Path) -> None:
    """Without a runner a submitted job stays QUEUED; cancel makes it CANCELLED, retry QUEUED again; audited."""
    r = api.post("/api/jobs", content=order_xml(api, tmp_path), headers=XML, params={"priority": 5})
    assert r.status_code == 201, r.text
    job_id = r.json()["job_id"]
    listed = api.get("/api/jobs").json()
    assert [(j["job_id"], j["state"], j["priority"]) for j in listed] == [(job_id, "QUEUED", 5)]
    assert api.get("/api/jobs", params={"state": "FAILED"}).json() == []
    status = api.get(f"/api/jobs/{job_id}").json()
    assert status["processor"] == "t-api-scale" and status["attempts"] == []
    assert api.get(f"/api/jobs/{job_id}/logs").status_code == 404  # no attempt yet
    r = api.post(f"/api/jobs/{job_id}/cancel", json={"reason": "not today"})
    assert r.status_code == 200 and r.json()["state"] == "CANCELLED"
    assert api.post(f"/api/jobs/{job_id}/cancel", json={}).status_code == 409  # already terminal
    r = api.post(f"/api/jobs/{job_id}/retry", json={})
    assert r.status_code == 200 and r.json()["state"] == "QUEUED"
    assert api.post(f"/api/jobs/{job_id}/retry", json={}).status_code == 409  # QUEUED cannot be retried
    assert api.get("/api/jobs/no-such-job").status_code == 404
    actions = [(a["action"], a["outcome"]) for a in api.get("/api/audit").json()]
    assert ("job.submit", "ok") in actions and ("job.cancel", "ok") in actions and ("job.retry", "ok") in actions
    assert ("job.cancel", "refused") in actions


def test_job_runs_to_the_end_in_one_process(make_api: Any, tmp_path: Path) -> None:
    """With the runner thread, an order POSTed over HTTP runs, logs, finishes and lands in the catalog. It is
    followed on GET /api/jobs/events (token in the header; 401 without): the job list at once, then again at
    each change — the job QUEUED or RUNNING first, SUCCEEDED last, consecutive lists different, the last one
    equal to GET /api/jobs."""
    import json

    api = make_api(harness_settings(tmp_path), runner="thread")
    assert api.get("/api/health").json()["runner"] == "running"
    assert api.client.get("/api/jobs/events", params={"seconds": 1}).status_code == 401
    r = api.post("/api/jobs", content=order_xml(api, tmp_path, gain=3.0, sleep=0.5), headers=XML)
    assert r.status_code == 201, r.text
    job_id = r.json()["job_id"]
    states: list[str] = []
    deadline = time.monotonic() + 60
    while "SUCCEEDED" not in states and time.monotonic() < deadline:  # streams of 3 s (TestClient buffers them)
        stream = api.get("/api/jobs/events", params={"seconds": 3})
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        events = _events(stream.text)
        assert events and {e for e, _ in events} == {"jobs"}
        lists = [json.loads(d) for _, d in events]
        assert all(a != b for a, b in itertools.pairwise(lists))
        states += [next(j["state"] for j in jobs if j["job_id"] == job_id) for jobs in lists]
    assert states[0] in ("QUEUED", "RUNNING") and states[-1] == "SUCCEEDED", states
    assert lists[-1] == api.get("/api/jobs", params={"limit": 50}).json()
    logs = api.get(f"/api/jobs/{job_id}/logs").json()
    assert any("scaled by 3.0" in e["message"] for e in logs["events"])
    raw = api.get(f"/api/jobs/{job_id}/logs", params={"raw": True})
    assert "scaled by 3.0" in raw.text
    products = api.get("/api/products", params={"job_id": job_id}).json()["features"]
    assert len(products) == 1 and products[0]["properties"]["product_type"] == "IMQ_APITST"
    with rasterio.open(api.settings.home / "data" / "img-o.xml.tif") as src:
        expected = src.read(1).astype(np.float32) * 3.0
    got = api.get(f"/api/products/{products[0]['id']}/file").content
    out = tmp_path / "got.tif"
    out.write_bytes(got)
    with rasterio.open(out) as src:
        np.testing.assert_array_equal(src.read(1), expected)
    series = api.get("/api/measurements/snr", params={"band": "B03"}).json()["points"]
    assert [p["value"] for p in series] == [pytest.approx(float(expected.mean()))]


def test_running_job_is_cancelled_through_the_api(make_api: Any, tmp_path: Path) -> None:
    """Cancelling a running job stops its attempt; the job ends CANCELLED and can be retried."""
    api = make_api(harness_settings(tmp_path), runner="thread")
    job_id = api.post("/api/jobs", content=order_xml(api, tmp_path, sleep=30.0), headers=XML).json()["job_id"]
    running = wait_state(api, job_id, {"RUNNING"})
    assert running["state"] == "RUNNING"
    deadline = time.monotonic() + 30
    while not api.get(f"/api/jobs/{job_id}/logs").json()["events"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert api.post(f"/api/jobs/{job_id}/cancel", json={"reason": "stop"}).status_code == 200
    final = wait_state(api, job_id, {"CANCELLED", "FAILED", "SUCCEEDED"}, timeout=40)
    assert final["state"] == "CANCELLED", final
    assert api.post(f"/api/jobs/{job_id}/retry", json={}).json()["state"] == "QUEUED"


def test_plan_chooses_inputs_from_the_catalog_and_the_order_submits(api: Api, tmp_path: Path) -> None:
    """POST /api/jobs/plan (viewer): the port's LatestValidityClosest rule takes the catalogued image of the site
    nearest the window's middle, the returned job order names it and submits as is (operator); a window and site
    without images is 422 naming the port; an unknown processor 404; an unknown field 422."""
    from datetime import UTC, datetime

    from viq_host.catalog import NewProduct

    catalog = api.runtime.host.catalog
    paths = {}
    for day in (2, 9, 20):
        img = write_geotiff(api.settings.home / "data" / f"l1-{day}.tif", np.ones((4, 4), dtype=np.uint16))
        catalog.ingest(NewProduct(product_type="VSC_L1VALD", path=str(img), site="ARM",
                                  sensing_start=datetime(2022, 5, day, 10, tzinfo=UTC)))
        paths[day] = img
    body = {"processor": "t-api-scale", "start": "2022-05-05T00:00:00Z", "stop": "2022-05-13T00:00:00Z",
            "site": "ARM", "parameters": {"gain": "3"}}
    r = api.post("/api/jobs/plan", role="viewer", json=body)
    assert r.status_code == 200, r.text
    plan = r.json()
    (port,) = plan["ports"]
    assert port["rule"] == "LatestValidityClosest" and [p["path"] for p in port["products"]] == [str(paths[9])]
    assert str(paths[9]) in plan["job_order"] and str(paths[2]) not in plan["job_order"]
    r = api.post("/api/jobs", content=plan["job_order"].encode(), headers=XML)
    assert r.status_code == 201, r.text
    assert [i["path"] for i in r.json()["plan"]["inputs"]["image"]] == [str(paths[9])]
    r = api.post("/api/jobs/plan", role="viewer", json={**body, "site": "NOWHERE"})
    assert r.status_code == 422 and "port 'image'" in r.json()["detail"]
    assert api.post("/api/jobs/plan", role="viewer", json={**body, "processor": "no-such"}).status_code == 404
    assert api.post("/api/jobs/plan", role="viewer", json={**body, "path": "/etc"}).status_code == 422
