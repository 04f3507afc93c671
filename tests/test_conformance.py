"""``viq processors check``: the contract checks over every installed processor, and over external processors
that conform or do not (a shell script that checks its input and writes ICD lines, and a sloppy one)."""

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
from viq_host.conformance import NO_SAMPLE, check_processor
from viq_host.external import processor_class, read_task_table
from viq_host.plugins import PluginWarning, load_plugins
from viq_interfaces import (
    InputPort,
    OutputPort,
    OutputProduct,
    Processor,
    ProcessorDeclaration,
    ProcessorResult,
    RunContext,
)

_SCRIPT = r"""#!/bin/sh
# Conforming external processor: refuses a job order without input (134), writes its output and ICD lines.
jo="$1"
log() { echo "$(date -u +%Y-%m-%dT%H:%M:%S.000000) node t-conf 01.00 t-conf [$$]: [$1] $2"; }
input=$(sed -n 's:.*<File_Name>\(.*\)</File_Name>.*:\1:p' "$jo" | head -1)
outdir=$(sed -n 's:.*<File_Dir>\(.*\)</File_Dir>.*:\1:p' "$jo" | head -1)
if [ -z "$input" ]; then log E "mandatory input missing"; exit 134; fi
SLOPPY
log P "50% reading"
wc -c < "$input" > "$outdir/count_IMQ_TSTOUT.txt"
log I "done"
"""

_TABLE = """<?xml version="1.0" encoding="UTF-8"?>
<Task_Table schemaName="VIQ-Task-Table" schemaVersion="1.0">
  <Processor_Name>{name}</Processor_Name>
  <Processor_Version>01.00</Processor_Version>
  <Description>Conformance test processor.</Description>
  <List_of_Tasks count="1">
    <Task>
      <Task_Name>{name}</Task_Name>
      <Task_Version>01.00</Task_Version>
      <Executable>./{name}.sh</Executable>
      <Resources>
        <Number_of_CPU_Cores>1</Number_of_CPU_Cores>
        <Amount_of_RAM_MiB>64</Amount_of_RAM_MiB>
        <Disk_Space_MiB>1</Disk_Space_MiB>
        <Walltime>PT30S</Walltime>
      </Resources>
      <List_of_Proc_Parameters count="0"/>
      <List_of_Inputs count="1">
        <Input>
          <Input_ID>data</Input_ID>
          <Mandatory>true</Mandatory>
          <Min_Count>1</Min_Count>
          <Max_Count>1</Max_Count>
          <Selection_Rule>Explicit</Selection_Rule>
          <Description>Bytes.</Description>
          <List_of_Alternatives count="1">
            <Alternative><Order>1</Order><File_Type>IMQ_TSTDAT</File_Type></Alternative>
          </List_of_Alternatives>
        </Input>
      </List_of_Inputs>
      <List_of_Outputs count="1">
        <Output>
          <Output_ID>count</Output_ID>
          <File_Type>IMQ_TSTOUT</File_Type>
          <Format>TXT</Format>
          <Min_Count>1</Min_Count>
          <Max_Count>1</Max_Count>
          <File_Name_Pattern>count_*.txt</File_Name_Pattern>
          <Description>The byte count.</Description>
        </Output>
      </List_of_Outputs>
      <List_of_Sample_Inputs count="1">
        <Sample_Input><Input_ID>data</Input_ID><File_Name>sample_IMQ_TSTDAT.bin</File_Name></Sample_Input>
      </List_of_Sample_Inputs>
    </Task>
  </List_of_Tasks>
</Task_Table>
"""


def _external(directory: Path, name: str, *, sloppy: bool = False) -> Path:
    """A shell processor with its task table and a sample input in ``directory``; returns the task table."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / f"{name}.sh"
    body = _SCRIPT.replace("SLOPPY", 'echo "reading without a timestamp"' if sloppy else "")
    if sloppy:  # ignores a missing input
        body = body.replace('if [ -z "$input" ]; then log E "mandatory input missing"; exit 134; fi', "")
    script.write_text(body, encoding="utf-8")
    script.chmod(0o755)
    (directory / "sample_IMQ_TSTDAT.bin").write_bytes(b"0123456789")
    path = directory / f"{name}.xml"
    path.write_text(_TABLE.format(name=name), encoding="utf-8")
    return path


def test_every_installed_processor_passes_the_static_checks_and_the_host_refusal(tmp_path: Path) -> None:
    """Over every enabled entry-point processor: declaration, task table and the host's refusal pass; runs that
    need a sample are skipped and listed; no check fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        plugins = load_plugins()
    entries = [e for e in plugins.processors.entries() if e.cls is not None]
    assert entries, "no processor installed"
    for entry in entries:
        assert entry.cls is not None
        report = check_processor(entry.cls, tmp_path / entry.name)
        statuses = {c.name: c.status for c in report.checks}
        assert report.ok, (entry.name, report.to_dict())
        assert statuses["declaration"] == "pass" and statuses["task table"] == "pass", entry.name
        mandatory = any(p.mandatory for p in entry.cls.declaration.inputs)
        assert statuses["refuses missing input (host)"] == ("pass" if mandatory else "skip"), entry.name
        if not hasattr(entry.cls, "sample_inputs"):
            outputs = next(c for c in report.checks if c.name == "outputs on sample")
            assert (outputs.status, outputs.detail) == ("skip", NO_SAMPLE), entry.name


def test_conforming_external_processor_passes_every_check(tmp_path: Path) -> None:
    """The checking shell processor: refuses (134) by itself, produces its output on the sample, ICD lines only."""
    cls = processor_class(read_task_table(_external(tmp_path / "tt", "t-conf")))
    report = check_processor(cls, tmp_path / "work", timeout=30)
    assert report.ok, report.to_dict()
    assert [c.status for c in report.checks] == ["pass"] * 6, report.to_dict()
    assert "1 file(s) for count" in next(c.detail for c in report.checks if c.name == "outputs on sample")


def test_sloppy_external_processor_fails_refusal_and_log_checks(tmp_path: Path) -> None:
    """A script that ignores a missing input and prints a non-ICD line fails exactly those two checks."""
    cls = processor_class(read_task_table(_external(tmp_path / "tt", "t-sloppy", sloppy=True)))
    report = check_processor(cls, tmp_path / "work", timeout=30)
    assert not report.ok
    assert report.status("refuses missing input (host)") == "pass"  # the host still protects it
    assert report.status("refuses missing input (processor)") == "fail"
    assert report.status("outputs on sample") == "pass"
    log = next(c for c in report.checks if c.name == "log lines")
    assert log.status == "fail" and "reading without a timestamp" in log.detail


class _NoOutParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    level: int = Field(default=1, ge=0, description="Unused level.")


class _NoOutput(Processor):
    """Claims an output port but writes nothing on its sample."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-no-output",
        version="01.00",
        description="Writes no output.",
        inputs=(InputPort(name="image", product_types=("IMQ_TSTDAT",)),),
        outputs=(OutputPort(name="report", product_type="IMQ_TSTOUT", format="TXT"),),
    )
    Parameters: ClassVar[type[BaseModel]] = _NoOutParams

    @classmethod
    def sample_inputs(cls, tmp_dir: Path) -> dict[str, list[Path]]:
        path = tmp_dir / "s_IMQ_TSTDAT.bin"
        path.write_bytes(b"x")
        return {"image": [path]}

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        ctx.one("image")
        ctx.logger.info("nothing to write")
        missing = OutputProduct(port="report", path=Path("absent.txt"), product_type="IMQ_TSTOUT")
        return ProcessorResult(outputs=(missing,))


def test_plugin_processor_missing_its_output_fails_the_output_check(tmp_path: Path) -> None:
    """A plugin processor with a sample whose output file does not exist fails 'outputs on sample' only."""
    report = check_processor(_NoOutput, tmp_path)
    assert report.status("refuses missing input (processor)") == "pass"
    outputs = next(c for c in report.checks if c.name == "outputs on sample")
    assert outputs.status == "fail" and "absent.txt" in outputs.detail and "does not exist" in outputs.detail
    assert report.status("log lines") == "pass"


def _viq(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["viq", *args])
    monkeypatch.setenv("COLUMNS", "200")
    code = _common.run_app(viq_app)
    return code, capsys.readouterr().out


def test_cli_check_prints_the_report_and_sets_the_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``viq processors check`` finds configured task tables: 0 and a table for a conforming one, 1 and the
    failing checks in --json for a sloppy one, exit 129 for an unknown name."""
    tt = tmp_path / "tt"
    _external(tt, "t-conf")
    _external(tt, "t-sloppy", sloppy=True)
    monkeypatch.setenv("VIQ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VIQ_TASK_TABLE_DIRS", json.dumps([str(tt)]))
    code, out = _viq(monkeypatch, capsys, "processors", "check", "t-conf")
    assert code == 0 and "conformance of t-conf 01.00" in out and "conforms" in out
    code, out = _viq(monkeypatch, capsys, "processors", "check", "t-sloppy", "--json")
    assert code == 1
    data = json.loads(out)
    failed = sorted(c["name"] for c in data["checks"] if c["status"] == "fail")
    assert data["ok"] is False and failed == ["log lines", "refuses missing input (processor)"]
    code, _ = _viq(monkeypatch, capsys, "processors", "check", "no-such-processor")
    assert code == 129
