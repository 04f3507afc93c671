"""GIPP endpoints: list, show, history, diff (with plot), audit; promotion needs operator and evidence."""

from __future__ import annotations

import numpy as np
import pytest

from viq_api_support import Api, Seed, seed
from viq_host.testing.harness import harness_settings


def test_list_show_and_types(seeded: tuple[Api, Seed]) -> None:
    """Listing filters by type/status; a GIPP shows its evidence, series revision, audit and content."""
    api, s = seeded
    all_dark = api.get("/api/gipps", params={"type": "GIP_DARKCU"}).json()
    assert [g["id"] for g in all_dark] == s.gipp_ids
    oper = api.get("/api/gipps", params={"status": "OPER"}).json()
    assert [g["id"] for g in oper] == [s.gipp_ids[0]]
    assert oper[0]["file_name"].startswith("VE_OPER_GIP_DARKCU")
    body = api.get(f"/api/gipps/{s.gipp_ids[1]}", params={"content": True}).json()
    assert body["status"] == "CANDIDATE"
    assert [v["metric"] for v in body["validations"]] == ["residual_striping"]
    assert "evidence_path" not in body["validations"][0]  # no server path leaks
    np.testing.assert_allclose(body["content"]["List_of_Dark_Currents"]["Dark_Current"], s.dark_values[1])
    assert "GIP_DARKCU" in api.get("/api/gipps/types").json()
    assert api.get("/api/gipps/999").status_code == 404
    assert api.get("/api/gipps", params={"type": "x' OR 1=1 --"}).status_code == 422


def test_history_and_in_force(seeded: tuple[Api, Seed]) -> None:
    """The OPER history holds the promoted version only; it is the one in force after its validity start."""
    api, s = seeded
    hist = api.get("/api/gipps/history", params={"type": "GIP_DARKCU", "band": "B03"}).json()
    assert [g["id"] for g in hist] == [s.gipp_ids[0]]
    r = api.get("/api/gipps/in-force", params={"type": "GIP_DARKCU", "band": "B03", "tdi": 32,
                                               "at": "2021-06-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["id"] == s.gipp_ids[0]
    r = api.get("/api/gipps/in-force", params={"type": "GIP_DARKCU", "band": "B03", "at": "2000-01-01T00:00:00Z"})
    assert r.status_code == 404


def test_diff_statistics_match_the_arrays(seeded: tuple[Api, Seed]) -> None:
    """The diff's array statistics are those of b - a computed from the seeded values; the plot is a PNG."""
    api, s = seeded
    a, b = s.gipp_ids[0], s.gipp_ids[1]
    d = api.get(f"/api/gipps/{a}/diff/{b}").json()
    assert not d["identical"]
    [arr] = d["arrays"]
    diff = s.dark_values[1] - s.dark_values[0]
    assert arr["length"] == diff.size
    assert arr["mean"] == pytest.approx(diff.mean()) and arr["rms"] == pytest.approx(np.sqrt(np.mean(diff**2)))
    header = {h["field"]: (h["a"], h["b"]) for h in d["header"]}
    assert set(header) >= {"serial", "status", "validity", "producing_job"}
    assert header["producing_job"] == ("job-dark-0", "job-dark-1")
    png = api.get(f"/api/gipps/{a}/diff/{b}/plot.png", params={"array": arr["path"]})
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert api.get(f"/api/gipps/{a}/diff/{b}/plot.png", params={"array": "nope"}).status_code == 404
    assert api.get(f"/api/gipps/{a}/diff/{a}").json()["identical"]


def test_promotion_needs_operator_and_evidence(make_api: object, tmp_path: object) -> None:
    """Viewer → 403; without evidence → 409; with evidence in the request → promoted, recorded in both trails."""
    api: Api = make_api(harness_settings(tmp_path))  # type: ignore[operator]
    s = seed(api)
    bare = s.gipp_ids[2]
    body = {"to": "TEST", "reason": "striping test campaign"}
    assert api.post(f"/api/gipps/{bare}/promote", role="viewer", json=body).status_code == 403
    r = api.post(f"/api/gipps/{bare}/promote", json=body)
    assert r.status_code == 409 and "no validation result" in r.json()["detail"]
    assert api.get(f"/api/gipps/{bare}").json()["status"] == "CANDIDATE"
    failing = {**body, "evidence": {"metric": "residual_striping", "value": 0.09, "threshold": 0.05}}
    r = api.post(f"/api/gipps/{bare}/promote", json=failing)
    assert r.status_code == 409 and "failed validation" in r.json()["detail"]
    ok = api.post(f"/api/gipps/{s.gipp_ids[1]}/promote",
                  json={**body, "evidence": {"metric": "b2b", "value": 0.01, "threshold": 0.05, "note": "job 7"}})
    assert ok.status_code == 200 and ok.json()["status"] == "TEST"
    stale = api.post(f"/api/gipps/{s.gipp_ids[1]}/promote", json={"to": "OPER", "reason": "x", "expected_revision": 0})
    assert stale.status_code == 409  # the series changed since revision 0
    oper = api.post(f"/api/gipps/{s.gipp_ids[1]}/promote", json={"to": "OPER", "reason": "validated on 3 sites"})
    assert oper.status_code == 200 and oper.json()["status"] == "OPER"
    first = api.get(f"/api/gipps/{s.gipp_ids[0]}").json()
    assert first["validity"]["stop"] == oper.json()["validity"]["start"]  # earlier OPER closed
    store_audit = api.get(f"/api/gipps/{s.gipp_ids[1]}/audit").json()
    assert [(e["actor"], e["action"]) for e in store_audit][-2:] == [("api:test-operator", "promote")] * 2
    assert store_audit[-1]["reason"] == "validated on 3 sites"
    trail = [(a["action"], a["outcome"], a["actor"]) for a in api.get("/api/audit", params={"limit": 50}).json()]
    assert ("gipp.promote", "ok", "api:test-operator") in trail
    assert ("gipp.promote", "refused", "api:test-operator") in trail
    assert (f"POST /api/gipps/{bare}/promote", "refused", "api:test-viewer") in trail
    assert api.get("/api/gipps/audit").json()[-1]["action"] in ("promote", "close-validity")


def test_attach_evidence_and_retire(make_api: object, tmp_path: object) -> None:
    """Evidence can be attached on its own (201); retiring needs a reason and is final."""
    api: Api = make_api(harness_settings(tmp_path))  # type: ignore[operator]
    s = seed(api)
    gid = s.gipp_ids[2]
    r = api.post(f"/api/gipps/{gid}/validations", json={"metric": "m", "value": 1.0, "threshold": 2.0})
    assert r.status_code == 201 and r.json()["passed"] is True
    assert api.post(f"/api/gipps/{gid}/validations", json={"metric": "m", "value": "nan"}).status_code == 422
    assert api.post(f"/api/gipps/{gid}/retire", json={"reason": ""}).status_code == 422
    r = api.post(f"/api/gipps/{gid}/retire", json={"reason": "superseded by a better dark"})
    assert r.status_code == 200 and r.json()["status"] == "RETIRED"
    assert api.post(f"/api/gipps/{gid}/retire", json={"reason": "again"}).status_code == 409
