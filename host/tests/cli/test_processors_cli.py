"""``viq processors list|show|task-table`` through the real CLI boundary (exit codes, stdout/stderr)."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, Field

from viq_host.cli import _common
from viq_host.cli import app as viq_app
from viq_host.cli import processors as processors_cli
from viq_host.jobs import xsd
from viq_host.jobs.xmlsafe import parse_xml_bytes
from viq_host.plugins import Plugins, PluginWarning, load_plugins
from viq_interfaces import (
    InputPort,
    OutputPort,
    Processor,
    ProcessorDeclaration,
    ProcessorResult,
    RunContext,
    hookimpl,
)
from viq_interfaces.exitcodes import ExitCode
from viq_interfaces.hookspecs import ProcessorRegistry


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(default=32, ge=8, le=256, description="Edge window, pixels.")


def _edge(version: str) -> type[Processor]:
    class Edge(Processor):
        declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
            name="edge-mtf",
            version=version,
            description=f"slanted-edge MTF, test version {version}",
            inputs=(InputPort(name="scene", product_types=("VSC_L1VALD",)),),
            outputs=(OutputPort(name="mtf", product_type="IMQ_MTFMES", format="JSON"),),
        )
        Parameters: ClassVar[type[BaseModel]] = _Params

        def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
            return ProcessorResult()

    return Edge


class _Broken:
    """Registers a class whose declaration is invalid, so the registry shows a disabled row."""

    @hookimpl
    def viq_add_processors(self, registry: ProcessorRegistry) -> None:
        class Bad(Processor):
            def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
                return ProcessorResult()

        registry.add(Bad)


class _Good:
    @hookimpl
    def viq_add_processors(self, registry: ProcessorRegistry) -> None:
        registry.add(_edge("01.00"))
        registry.add(_edge("01.10"))


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Plugins:
    """Registries with two versions of a test processor and one broken plugin, used by the CLI."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        loaded = load_plugins([_Good(), _Broken()], entry_points_enabled=False)
    monkeypatch.setattr(processors_cli, "_plugins", lambda: loaded)
    return loaded


def _viq(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["viq", *args])
    monkeypatch.setenv("COLUMNS", "200")
    code = _common.run_app(viq_app)
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json_shows_versions_status_and_reason(
    plugins: Plugins, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json lists every row with name, version, status, plugin and the reason of a disabled one."""
    code, out, _ = _viq(monkeypatch, capsys, "processors", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    enabled = [(r["name"], r["version"]) for r in rows if r["status"] == "enabled"]
    assert enabled == [("edge-mtf", "01.00"), ("edge-mtf", "01.10")]
    (bad,) = [r for r in rows if r["status"] == "disabled"]
    assert "invalid declaration" in bad["reason"] and bad["plugin"].startswith("extra-1")


def test_list_table(plugins: Plugins, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The human table shows both versions and the disabled status."""
    code, out, _ = _viq(monkeypatch, capsys, "processors", "list")
    assert code == 0
    assert out.count("edge-mtf") == 2 and "01.10" in out and "disabled" in out and "enabled" in out


def test_show_json_latest_and_pinned_version(
    plugins: Plugins, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """show --json prints the declaration with the parameter JSON schema; without --version the latest."""
    code, out, _ = _viq(monkeypatch, capsys, "processors", "show", "edge-mtf", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["version"] == "01.10" and data["inputs"][0]["product_types"] == ["VSC_L1VALD"]
    assert data["parameters_schema"] == _Params.model_json_schema()
    assert data["parameters"][0]["maximum"] == 256
    code, out, _ = _viq(monkeypatch, capsys, "processors", "show", "edge-mtf", "--version", "01.00", "--json")
    assert code == 0 and json.loads(out)["version"] == "01.00"


def test_show_human(plugins: Plugins, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """show prints ports, parameters and resources for people."""
    code, out, _ = _viq(monkeypatch, capsys, "processors", "show", "edge-mtf")
    assert code == 0
    assert "scene: VSC_L1VALD" in out and "window (integer) = 32" in out and "mtf: IMQ_MTFMES" in out


def test_show_unknown_processor_or_version(
    plugins: Plugins, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown name or version is one line on stderr with exit code 129, no traceback."""
    code, out, err = _viq(monkeypatch, capsys, "processors", "show", "nope")
    assert code == ExitCode.UNKNOWN_PROCESSOR and out == ""
    assert "unknown processor 'nope'" in err and "Traceback" not in err
    code, _, err = _viq(monkeypatch, capsys, "processors", "task-table", "edge-mtf", "--version", "07.00")
    assert code == ExitCode.UNKNOWN_PROCESSOR and "no enabled version 07.00" in err


def test_task_table_to_stdout_and_file(
    plugins: Plugins, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """task-table prints XSD-valid XML, or writes it with --out."""
    code, out, _ = _viq(monkeypatch, capsys, "processors", "task-table", "edge-mtf")
    assert code == 0
    tree = parse_xml_bytes(out.encode(), "<stdout>", max_bytes=1_048_576)
    assert xsd.issues(tree, xsd.TASK_TABLE_XSD) == []
    assert tree.getroot().findtext("Processor_Version") == "01.10"
    target = tmp_path / "tt" / "edge.xml"
    code, _, _ = _viq(monkeypatch, capsys, "processors", "task-table", "edge-mtf", "--out", str(target))
    assert code == 0 and target.read_text() == out
