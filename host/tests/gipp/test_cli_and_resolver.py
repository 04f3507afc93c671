"""``viq gipp`` commands end to end (SQLite under VIQ_HOME) and the job-validation resolver (both backends)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from viq_host.gipp import GippAmbiguous, GippNotFound, GippStatus, GippStore, make_gipp_resolver, read_gipp
from viq_host.jobs.model import JobOrder
from viq_host.plugins import Plugins
from viq_interfaces.declaration import GippRequirement

from .conftest import dark_content, dark_values, draft, t, to_oper


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, plugins: Plugins) -> CliRunner:
    """A CLI runner on a fresh VIQ_HOME with the test content models."""
    from viq_host.cli import gipp as gipp_cli

    monkeypatch.setenv("VIQ_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VIQ_DATABASE_URL", raising=False)
    monkeypatch.setattr(gipp_cli, "plugins_factory", lambda: plugins)
    return CliRunner()


def run(runner: CliRunner, *args: str) -> str:
    """Invoke ``viq gipp ARGS`` and return its output; fail on a non-zero exit."""
    from viq_host.cli import gipp as gipp_cli

    result = runner.invoke(gipp_cli.app, list(args))
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def test_cli_workflow_import_validate_promote_diff_audit(cli: CliRunner, tmp_path: Path, plugins: Plugins) -> None:
    """A calibration engineer's day: import two candidates, diff them, validate, promote, read history and audit."""
    from viq_host.gipp import open_gipp_store

    src = tmp_path / "src"
    with open_gipp_store(f"sqlite:///{tmp_path / 'src.sqlite'}", plugins, directory=tmp_path / "sg") as other:
        a = other.add(draft(start=t(2020)), actor="proc")
        changed = dark_values(0)
        changed[100] += 0.5
        b = other.add(draft(start=t(2022), content=dark_content(changed)), actor="proc")
        file_a, file_b = other.export(a.id, src), other.export(b.id, src)
    assert "GIPP #1 CANDIDATE" in run(cli, "import", str(file_a))
    assert "GIPP #2 CANDIDATE" in run(cli, "import", str(file_b))
    out = run(cli, "diff", "1", "2", "--plot", str(tmp_path / "d.png"))
    assert "array List_of_Dark_Currents/Dark_Current: 1/5200 changed" in out
    assert "header validity" in out and (tmp_path / "d.png").stat().st_size > 1000
    run(cli, "grant", "alice", "--by", "admin")
    result = CliRunner().invoke(
        __import__("viq_host.cli.gipp", fromlist=["app"]).app,
        ["promote", "1", "--to", "TEST", "--operator", "alice", "--reason", "x"],
    )
    assert result.exit_code != 0 and "no validation result" in str(result.exception)
    evidence = tmp_path / "ev.json"
    evidence.write_text(json.dumps({"metric": "residual_striping", "value": 0.01, "threshold": 0.05}))
    assert "PASS" in run(cli, "validate", "1", "--evidence", str(evidence))
    assert "PASS" in run(cli, "validate", "2", "--metric", "residual_striping=0.02", "--threshold", "0.05")
    for gid in ("1", "2"):
        run(cli, "promote", gid, "--to", "TEST", "--operator", "alice", "--reason", "campaign")
        assert "is OPER" in run(cli, "promote", gid, "--to", "OPER", "--operator", "alice", "--reason", "better")
    hist = run(cli, "history", "GIP_DARKCU", "--band", "B03", "--tdi", "8")
    assert hist.index("20200101_20220101") < hist.index("20220101_99999999")
    listed = run(cli, "list", "--status", "OPER", "--band", "B03")
    assert "VE_OPER_GIP_DARKCU" in listed
    assert "residual_striping" in run(cli, "show", "1")
    out_dir = tmp_path / "exp"
    exported = Path(run(cli, "export", "2", "--out", str(out_dir)).strip())
    assert read_gipp(exported).file_class == "OPER"
    assert "RETIRED" in run(cli, "retire", "1", "--operator", "alice", "--reason", "replaced")
    lines = [json.loads(x) for x in run(cli, "audit", "--json").splitlines()]
    actions = [(e["actor"], e["action"], e["gipp_id"]) for e in lines]
    assert ("alice", "close-validity", 1) in actions and ("alice", "retire", 1) in actions
    assert all(e["at"] for e in lines)


def _job(file_class: str = "OPER", site: str | None = None, year: int = 2021) -> JobOrder:
    return JobOrder(
        dialect="eegs", processor="dark", version="01.00", file_class=file_class, site=site,
        sensing_start=t(year), sensing_stop=t(year, 1, 2),
    )  # fmt: skip


def test_resolver_returns_exact_versions(store: GippStore, tmp_path: Path) -> None:
    """The resolver gives one GIPP per band for per_band needs, exact serial/id and an exported file per GIPP."""
    b03 = store.add(draft(start=t(2020)), actor="p")
    b04 = store.add(draft(start=t(2020), band="B04", seed=2), actor="p")
    to_oper(store, b03.id)
    to_oper(store, b04.id)
    resolve = make_gipp_resolver(store, export_dir=tmp_path / "x")
    found = resolve(GippRequirement(gipp_type="GIP_DARKCU", per_band=True), _job())
    assert [(g.band, g.gipp_id, g.version) for g in found] == [("B03", b03.id, 1), ("B04", b04.id, 1)]
    assert all(g.path.is_file() and g.metadata["status"] == "OPER" for g in found)
    assert read_gipp(found[0].path).name.band == "B03"
    with pytest.raises(GippAmbiguous):
        resolve(GippRequirement(gipp_type="GIP_DARKCU"), _job())
    with pytest.raises(GippNotFound, match="no OPER GIP_DARKCU"):
        resolve(GippRequirement(gipp_type="GIP_DARKCU", per_band=True), _job(year=2019))
    assert resolve(GippRequirement(gipp_type="GIP_PHGAIN", mandatory=False), _job()) == ()


def test_resolver_prefers_test_gipps_for_test_jobs(store: GippStore, tmp_path: Path) -> None:
    """A TEST job gets the TEST version where one is in force and the OPER one elsewhere; OPER jobs only OPER."""
    oper = store.add(draft(start=t(2020)), actor="p")
    to_oper(store, oper.id)
    trial = store.add(draft(start=t(2021), seed=3), actor="p")
    store.attach_validation(trial.id, metric="residual_striping", value=0.01, actor="alice")
    assert store.promote(trial.id, "TEST", operator="alice", reason="trial").status == GippStatus.TEST
    resolve = make_gipp_resolver(store, export_dir=tmp_path / "x")
    need = GippRequirement(gipp_type="GIP_DARKCU", per_band=True)
    assert [g.gipp_id for g in resolve(need, _job("TEST", year=2021))] == [trial.id]
    assert [g.gipp_id for g in resolve(need, _job("OPER", year=2021))] == [oper.id]
    single = GippRequirement(gipp_type="GIP_DARKCU")
    assert resolve(single, _job("TEST", year=2020))[0].gipp_id == oper.id  # no TEST in force in 2020
