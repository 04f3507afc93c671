"""Monitoring endpoints: series with limits and alerts (checked against the seeded values and the specs),
trend PNG, all alerts, the HTML performance report; processors and task tables."""

from __future__ import annotations

from lxml import etree

from viq_api_support import Api, Seed
from viq_host.monitoring.specs import load_specs


def test_series_points_specs_and_alerts(seeded: tuple[Api, Seed]) -> None:
    """The snr B07 series holds the seeded values in time order; alerts are exactly those below the spec min."""
    api, s = seeded
    body = api.get("/api/measurements/snr", params={"band": "B07"}).json()
    seeded_vals = [v for n, b, _, v in s.measurements if n == "snr" and b == "B07"]
    assert [p["value"] for p in body["points"]] == seeded_vals
    [spec] = [sp for sp in load_specs(api.settings.home) if sp.measurement == "snr"]
    assert body["specs"] == [spec.model_dump()]
    low = [v for v in seeded_vals if spec.min is not None and v < spec.min]
    assert [a["value"] for a in body["alerts"]] == low and low
    assert {a["kind"] for a in body["alerts"]} == {"below min"}
    windowed = api.get("/api/measurements/snr", params={"band": "B07", "start": "2021-03-15T00:00:00Z",
                                                        "stop": "2021-07-15T00:00:00Z"}).json()
    assert len(windowed["points"]) == 4
    assert api.get("/api/measurements/nothing-here").json()["points"] == []


def test_names_trend_alerts_report(seeded: tuple[Api, Seed]) -> None:
    """Names include stored and specified measures; the trend is a PNG; /alerts and the report list the same
    out-of-limit values."""
    api, s = seeded
    names = api.get("/api/measurements").json()
    assert {"snr", "mtf50", "b2b_rmse_px"} <= set(names)
    png = api.get("/api/measurements/snr/trend.png")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    alerts = api.get("/api/alerts").json()
    specs = load_specs(api.settings.home)
    expected = sorted(
        (t.isoformat(), n, b) for n, b, t, v in s.measurements
        if any(sp.applies(n, b, None) and sp.violated_by(v) for sp in specs)
    )
    assert sorted((a["time"], a["name"], a["band"]) for a in alerts) == expected
    report = api.get("/api/reports/performance")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.text.count('class="alert"') == len(expected)
    assert "default-src 'none'" in report.headers["content-security-policy"]
    assert "<h2>snr</h2>" in report.text and "data:image/png;base64," in report.text


def test_processors_declarations_and_task_tables(seeded: tuple[Api, Seed]) -> None:
    """The test processor is listed; its declaration has the parameter schema; its task table is XML."""
    api, _ = seeded
    listed = api.get("/api/processors").json()
    assert [(p["name"], p["version"], p["status"]) for p in listed] == [("t-api-scale", "01.00", "enabled")]
    decl = api.get("/api/processors/t-api-scale").json()
    assert decl["parameters_schema"]["properties"]["gain"]["maximum"] == 100.0
    assert [p["name"] for p in decl["inputs"]] == ["image"]
    xml = api.get("/api/processors/t-api-scale/task-table", params={"version": "01.00"})
    assert xml.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(xml.content)
    assert "t-api-scale" in etree.tostring(root).decode()
    assert api.get("/api/processors/nope").status_code == 404
    assert api.get("/api/processors/t-api-scale", params={"version": "1"}).status_code == 422
