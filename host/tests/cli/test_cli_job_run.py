"""``viq job …`` and ``viq run``: output shapes, exit codes, one-line errors (through the real CLI boundary)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from viq_host.cli import app
from viq_host.cli._common import run_app

EXEC_TESTS = Path(__file__).resolve().parents[1] / "exec"

Viq = Callable[..., tuple[int, str, str]]


@pytest.fixture
def viq(viq_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Viq:
    """``viq(*args) -> (exit code, stdout, stderr)`` with the test processors of host/tests/exec installed."""
    monkeypatch.syspath_prepend(str(EXEC_TESTS))
    monkeypatch.setenv("VIQ_EXTRA_PLUGINS", "viq_exec_procs")
    monkeypatch.setenv("PYTHONPATH", str(EXEC_TESTS))
    monkeypatch.setenv("COLUMNS", "200")

    def call(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["viq", *args])
        code = run_app(app)
        out, err = capsys.readouterr()
        return code, out, err

    return call


def _data(home: Path, size: int, name: str = "in_VIQ_TSTDAT.bin") -> Path:
    path = home / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(range(256)) * (size // 256) + bytes(size % 256))
    return path


def test_run_json_prints_exactly_one_manifest_object(viq: Viq, tmp_path: Path) -> None:
    """``viq run --json`` prints one JSON object: job_id, state, exit_code, outputs placed in DIR, measurements."""
    src = tmp_path / "elsewhere" / "x_VIQ_TSTDAT.bin"  # outside the data roots: `viq run` admits its own inputs
    src.parent.mkdir()
    src.write_bytes(b"z" * 1234)
    out_dir = tmp_path / "out"
    code, out, err = viq("run", "t-summer", "--input", f"data={src}", "--param", "scale=2", "--out", str(out_dir),
                         "--json")
    assert code == 0, err
    data = json.loads(out)  # the whole of stdout is one JSON document
    assert isinstance(data, dict)
    assert {"job_id", "state", "exit_code", "outputs", "measurements"} <= data.keys()
    assert (data["state"], data["exit_code"]) == ("SUCCEEDED", 0)
    assert data["measurements"] == {"nbytes": 2468.0, "nbytes_B1_along": 1234.0}
    (product,) = data["outputs"]
    assert product["port"] == "report" and product["product_type"] == "VIQ_TSTREP"
    placed = Path(product["path"])
    assert placed.parent == out_dir and placed.read_text() == "1234\n"
    # the files the run wrote beside its declared outputs travel with them
    assert (out_dir / "report.d" / "inputs.txt").read_text() == "x_VIQ_TSTDAT.bin\n"


def test_run_json_reports_a_failed_job_with_its_code(viq: Viq, tmp_path: Path) -> None:
    """A job that exits 0 without outputs: JSON state FAILED, exit code 149 for the command, no outputs."""
    code, out, _ = viq("run", "t-liar", "--out", str(tmp_path / "o"), "--json")
    data = json.loads(out)
    assert code == 149 == data["exit_code"]
    assert data["state"] == "FAILED" and data["outputs"] == [] and "report" in data["reason"]


def test_run_rejects_a_bad_parameter_in_one_line(viq: Viq, viq_home: Path, tmp_path: Path) -> None:
    """An out-of-range --param is rejected before anything runs: exit 147, one stderr line naming it."""
    src = _data(viq_home, 10)
    code, out, err = viq("run", "t-summer", "--input", f"data={src}", "--param", "scale=1000", "--out",
                         str(tmp_path / "o"), "--json")
    assert code == 147
    assert json.loads(out)["state"] == "REJECTED"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "scale" in lines[0] and lines[0].startswith("viq: error:")
    assert "Traceback" not in err
    code, _, err = viq("run", "no-such-processor", "--out", str(tmp_path / "o"))
    assert code == 129 and "no-such-processor" in err and len(err.strip().splitlines()) == 1


def test_job_validate_exit_codes_and_plan(viq: Viq, viq_home: Path, tmp_path: Path) -> None:
    """validate: malformed XML → 128 with file:line; bad parameter → 147; a good order → 0 and its plan."""
    broken = tmp_path / "broken.xml"
    broken.write_text("<?xml version='1.0'?>\n<Job_Order>\n  <unclosed>\n</Job_Order>\n")
    code, out, err = viq("job", "validate", str(broken))
    assert code == 128 and out == ""
    line = err.strip()
    assert "\n" not in line and f"{broken}:" in line

    from viq_exec_procs import Summer
    from viq_host.testing.factories import make_job_order

    src = _data(viq_home, 10)
    bad = make_job_order(Summer, tmp_path / "bad.xml", inputs={"data": [src]}, params={"steps": -1})
    code, out, err = viq("job", "validate", str(bad), "--json")
    assert code == 147
    data = json.loads(out)
    assert data["valid"] is False and data["exit_code"] == 147 and "steps" in data["error"]

    good = make_job_order(Summer, tmp_path / "good.xml", inputs={"data": [src]}, params={"steps": 2})
    code, out, err = viq("job", "validate", str(good))
    assert code == 0, err
    assert "t-summer" in out and str(src) in out and out.strip().endswith("valid")
    assert not (viq_home / "jobs.sqlite").exists()  # validation writes nothing


def test_job_submit_wait_status_logs_and_list(viq: Viq, viq_home: Path, tmp_path: Path) -> None:
    """submit --wait runs the job here; status/list/logs show it; the command exits with the job's code."""
    from viq_exec_procs import Summer
    from viq_host.testing.factories import make_job_order

    path = make_job_order(Summer, tmp_path / "o.xml", inputs={"data": [_data(viq_home, 300)]}, params={"steps": 2})
    code, out, err = viq("job", "submit", str(path), "--wait")
    assert code == 0, err
    job_id = out.split()[1]
    assert out.strip().startswith(f"job {job_id} SUCCEEDED")
    code, out, _ = viq("job", "status", job_id, "--json")
    status = json.loads(out)
    assert status["state"] == "SUCCEEDED" and status["measurements"]["nbytes"] == 300.0
    assert [a["state"] for a in status["attempts"]] == ["DONE"]
    code, out, _ = viq("job", "logs", job_id)
    assert code == 0 and "[P] 100.0% step 2" in out
    code, out, _ = viq("job", "list", "--state", "SUCCEEDED", "--json")
    assert [j["job_id"] for j in json.loads(out)] == [job_id]
    code, _, err = viq("job", "status", "nope")
    assert code != 0 and "unknown job 'nope'" in err


def test_job_submit_queue_cancel_and_retry(viq: Viq, tmp_path: Path) -> None:
    """submit without --wait leaves the job QUEUED; cancel makes it CANCELLED; retry queues it again."""
    from viq_exec_procs import NoOp
    from viq_host.testing.factories import make_job_order

    code, out, _ = viq("job", "submit", str(make_job_order(NoOp, tmp_path / "n.xml")))
    job_id = out.strip()
    assert code == 0 and job_id
    code, out, _ = viq("job", "cancel", job_id)
    assert code == 0 and "CANCELLED" in out
    code, out, _ = viq("job", "retry", job_id)
    assert code == 0 and "QUEUED" in out
    code, out, _ = viq("job", "list", "--state", "QUEUED", "--json")
    assert [j["job_id"] for j in json.loads(out)] == [job_id]
    code, out, err = viq("job", "retry", job_id)
    assert code != 0 and "only FAILED or CANCELLED" in err


def test_plan_selects_inputs_from_the_catalog_and_runs_the_job(viq: Viq, viq_home: Path) -> None:
    """``viq job plan --submit --wait``: the port's ValIntersect rule takes the two products of the site inside the
    window (not the one outside it, nor the other site's), the job runs on exactly them, and the written order
    names them; a window with nothing for a mandatory port exits 134 naming the port."""
    from datetime import UTC, datetime

    from viq_host.catalog import NewProduct, open_catalog
    from viq_host.cli._common import settings

    sizes = {"a": 100, "b": 250, "late": 1000, "elsewhere": 5000}
    when = {"a": datetime(2022, 3, 1, 10, tzinfo=UTC), "b": datetime(2022, 3, 2, 10, tzinfo=UTC),
            "late": datetime(2022, 4, 1, tzinfo=UTC), "elsewhere": datetime(2022, 3, 1, 11, tzinfo=UTC)}
    catalog = open_catalog(settings().database_url)
    try:
        for tag, size in sizes.items():
            path = _data(viq_home, size, f"{tag}_VIQ_TSTDAT.bin")
            catalog.ingest(NewProduct(product_type="VIQ_TSTDAT", path=str(path), sensing_start=when[tag],
                                      site="OTHER" if tag == "elsewhere" else "ARM"))
    finally:
        catalog.close()
    order = viq_home / "planned.xml"
    code, out, err = viq("job", "plan", "t-summer", "--from", "2022-03-01", "--to", "2022-03-05", "--site", "ARM",
                         "--out", str(order), "--submit", "--wait")
    assert code == 0, err
    job_id = out.strip().splitlines()[0]
    code, out, _ = viq("job", "status", job_id, "--json")
    assert json.loads(out)["measurements"]["nbytes"] == 350.0  # a + b, scale 1
    text = order.read_text()
    assert "a_VIQ_TSTDAT.bin" in text and "b_VIQ_TSTDAT.bin" in text and "late_" not in text
    code, _, err = viq("job", "plan", "t-summer", "--from", "2023-01-01", "--to", "2023-01-02", "--site", "ARM")
    assert code == 134 and "port 'data'" in err
