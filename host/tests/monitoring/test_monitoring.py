"""Specifications, alerts and the performance report."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from viq_host.monitoring import GippChange, SeriesPoint, Spec, evaluate, load_specs
from viq_host.monitoring.report import PerformanceReport
from viq_interfaces import ConfigurationError

T0 = datetime(2018, 1, 1, tzinfo=UTC)


def _drifting_series(n: int = 40, start: float = 0.30, drift: float = -0.004) -> list[SeriesPoint]:
    """MTF at Nyquist per band drifting down linearly by `drift` per 10 days (B3 twice as fast)."""
    points = []
    for band, factor in (("B3", 2.0), ("B7", 1.0)):
        for i in range(n):
            points.append(
                SeriesPoint(
                    name="mtf_nyquist",
                    value=start + factor * drift * i,
                    time=T0 + timedelta(days=10 * i),
                    band=band,
                    unit="",
                    job_id=f"job-{band}-{i}",
                    product_id=i,
                )
            )
    return points


def test_injected_drift_raises_exactly_the_expected_alerts() -> None:
    """A linear drift crossing the 0.15 limit raises one alert per point below it, and none before."""
    points = _drifting_series()
    specs = [Spec(measurement="mtf_nyquist", min=0.15)]
    alerts = evaluate(points, specs)
    expected = {(p.band, p.product_id) for p in points if p.value < 0.15}
    assert {(a.point.band, a.point.product_id) for a in alerts} == expected
    # B3 drifts at 0.008 per step: (0.30-0.15)/0.008 = 18.75 → first alert at step 19; B7 at step 38
    first = {b: min(a.point.product_id or 0 for a in alerts if a.point.band == b) for b in ("B3", "B7")}
    assert first == {"B3": 19, "B7": 38}
    assert all(a.kind == "below min" for a in alerts)
    assert "job-B3-19" in alerts[0].describe()


def test_band_specific_limit_only_applies_to_its_band() -> None:
    """A limit with band=B7 ignores B3 values."""
    points = _drifting_series()
    alerts = evaluate(points, [Spec(measurement="mtf_nyquist", band="B7", max=0.29)])
    assert alerts
    assert {a.point.band for a in alerts} == {"B7"}


def test_specs_load_from_home_and_bad_specs_name_the_entry(tmp_path: Path) -> None:
    """Defaults ship with the host; a home file overrides them; a spec with no bound is refused."""
    defaults = load_specs()
    assert any(s.measurement == "mtf50" for s in defaults)
    (tmp_path / "specs.toml").write_text('[[spec]]\nmeasurement = "snr"\nmin = 50\n')
    assert [s.measurement for s in load_specs(home=tmp_path)] == ["snr"]
    (tmp_path / "specs.toml").write_text('[[spec]]\nmeasurement = "snr"\n')
    with pytest.raises(ConfigurationError, match="spec #1"):
        load_specs(home=tmp_path)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.imgs: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self._in_h2 = True
        if tag == "img":
            self.imgs.append(dict(attrs).get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2.append(data)


def test_report_has_every_measure_real_plots_and_the_alerts(tmp_path: Path) -> None:
    """The HTML names every measure, embeds decodable PNG plots, lists alerts; the PDF is written."""
    from PIL import Image

    points = _drifting_series()
    points += [
        SeriesPoint(name="snr", value=120.0 + i, time=T0 + timedelta(days=30 * i), band="B1") for i in range(5)
    ]
    changes = [GippChange(time=T0 + timedelta(days=100), gipp_type="GIP_RELSEN", version=2, status="OPER")]
    report = PerformanceReport(points, [Spec(measurement="mtf_nyquist", min=0.15)], changes)
    paths = report.write(tmp_path)
    page = paths[0].read_text()
    parser = _Collect()
    parser.feed(page)
    assert {"mtf_nyquist", "snr", "Alerts", "GIPP changes"} <= set(parser.h2)
    assert len(parser.imgs) == 2
    for src in parser.imgs:
        data = base64.b64decode(src.split(",", 1)[1])
        img = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
        assert img.shape[0] > 200
        assert img.shape[1] > 400
        assert img.std() > 5  # a drawn plot, not a blank canvas
    n_alerts = len(report.alerts())
    assert len(re.findall(r'<tr class="alert">', page)) == n_alerts
    assert paths[1].read_bytes()[:5] == b"%PDF-"
