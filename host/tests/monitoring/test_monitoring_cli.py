"""``viq iq series|alerts`` and ``viq report performance`` over a catalog with an injected drift."""

from __future__ import annotations

import json
import sys
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from viq_host.catalog import open_catalog
from viq_host.cli import _common
from viq_host.cli import app as viq_app
from viq_interfaces import Measurement

T0 = datetime(2019, 1, 1, tzinfo=UTC)


def _viq(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["viq", *args])
    monkeypatch.setenv("COLUMNS", "200")
    code = _common.run_app(viq_app)
    out, _ = capsys.readouterr()
    return code, out


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A VIQ_HOME whose catalog holds 20 dates of snr (B1) drifting from 130 down by 2 per date."""
    monkeypatch.setenv("VIQ_HOME", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    for i in range(20):
        catalog.add_measurements(
            [Measurement(name="snr", value=130.0 - 2.0 * i, band="B1")],
            sensing_time=T0 + timedelta(days=30 * i),
            site="LIBYA4",
            job_id=f"job-{i}",
        )
    catalog.close()
    return tmp_path


def test_series_filters_by_time_window(home: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """--from/--to select exactly the dates inside [from, to)."""
    code, out = _viq(monkeypatch, capsys, "iq", "series", "snr", "--band", "B1", "--from", "2019-03-01",
                     "--to", "2019-06-01", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    expected = [i for i in range(20) if datetime(2019, 3, 1, tzinfo=UTC) <= T0 + timedelta(days=30 * i)
                < datetime(2019, 6, 1, tzinfo=UTC)]
    assert [r["job_id"] for r in rows] == [f"job-{i}" for i in expected]


def test_alerts_are_exactly_the_values_below_the_snr_limit(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """With the shipped limit snr >= 100, dates 16..19 (values 98..92) alert, and only those."""
    code, out = _viq(monkeypatch, capsys, "iq", "alerts", "--json")
    assert code == 0
    alerts = [json.loads(line) for line in out.splitlines()]
    assert [a["job_id"] for a in alerts] == [f"job-{i}" for i in range(20) if 130 - 2 * i < 100]
    assert all(a["kind"] == "below min" and a["limit"] == 100.0 for a in alerts)


def test_performance_report_is_written(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The report command writes HTML naming the measure and listing its alerts, and a PDF."""
    code, _ = _viq(monkeypatch, capsys, "report", "performance", "--out", str(tmp_path / "rep"))
    assert code == 0
    page = (tmp_path / "rep" / "performance.html").read_text()
    assert "<h2>snr</h2>" in page
    assert page.count('<tr class="alert">') == sum(1 for i in range(20) if 130 - 2 * i < 100)
    assert (tmp_path / "rep" / "performance.pdf").stat().st_size > 1000


def test_bad_date_is_one_clear_line(home: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --from is a configuration error naming the option, not a traceback."""
    monkeypatch.setattr(sys, "argv", ["viq", "iq", "series", "snr", "--from", "yesterday"])
    code = _common.run_app(viq_app)
    err = capsys.readouterr().err
    assert code == 160
    assert "--from" in err
    assert "Traceback" not in err
