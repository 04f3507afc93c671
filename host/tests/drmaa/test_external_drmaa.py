"""A task-table processor through Grid Engine: the DRMAA executor runs ``viq-task``, whose adapter runs the
executable, so external processors need nothing of their own to run on the cluster."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from viq_host.executors.drmaa import DrmaaExecutor
from viq_host.external import plugin as tt_plugin
from viq_host.jobs.store import JobState
from viq_host.plugins import load_plugins
from viq_host.service import JobService
from viq_host.testing.factories import make_job_order
from viq_host.testing.harness import harness_settings

pytestmark = pytest.mark.sge

_SCRIPT = r"""#!/bin/sh
jo="$1"
log() { echo "$(date -u +%Y-%m-%dT%H:%M:%S.000000) node t-sge 01.00 t-sge [$$]: [$1] $2"; }
input=$(sed -n 's:.*<File_Name>\(.*\)</File_Name>.*:\1:p' "$jo" | head -1)
outdir=$(sed -n 's:.*<File_Dir>\(.*\)</File_Dir>.*:\1:p' "$jo" | head -1)
log I "on $(hostname) reading $input"
wc -c < "$input" > "$outdir/count_IMQ_TSTOUT.txt"
log P "100% done"
"""

_TABLE = """<?xml version="1.0" encoding="UTF-8"?>
<Task_Table schemaName="VIQ-Task-Table" schemaVersion="1.0">
  <Processor_Name>t-sge</Processor_Name><Processor_Version>01.00</Processor_Version>
  <Description>External processor on Grid Engine.</Description>
  <List_of_Tasks count="1"><Task>
    <Task_Name>t-sge</Task_Name><Task_Version>01.00</Task_Version>
    <Executable>./t_sge.sh</Executable>
    <Resources><Number_of_CPU_Cores>1</Number_of_CPU_Cores><Amount_of_RAM_MiB>64</Amount_of_RAM_MiB>
      <Disk_Space_MiB>1</Disk_Space_MiB><Walltime>PT120S</Walltime></Resources>
    <List_of_Proc_Parameters count="0"/>
    <List_of_Inputs count="1"><Input><Input_ID>data</Input_ID><Mandatory>true</Mandatory><Min_Count>1</Min_Count>
      <Max_Count>1</Max_Count><Selection_Rule>Explicit</Selection_Rule><Description>Bytes.</Description>
      <List_of_Alternatives count="1"><Alternative><Order>1</Order><File_Type>IMQ_TSTDAT</File_Type></Alternative>
      </List_of_Alternatives></Input></List_of_Inputs>
    <List_of_Outputs count="1"><Output><Output_ID>count</Output_ID><File_Type>IMQ_TSTOUT</File_Type>
      <Format>TXT</Format><Min_Count>1</Min_Count><Max_Count>1</Max_Count>
      <File_Name_Pattern>count_*.txt</File_Name_Pattern><Description>Byte count.</Description></Output>
    </List_of_Outputs>
  </Task></List_of_Tasks>
</Task_Table>
"""


class _Shared:
    """The session's DRMAA executor, not closed by the service (other tests still use it)."""

    def __init__(self, inner: DrmaaExecutor) -> None:
        self._inner = inner
        self.name = inner.name

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def close(self) -> None:
        return None


def test_task_table_processor_runs_on_grid_engine(
    drmaa_executor: DrmaaExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shell processor runs as a Grid Engine job: SUCCEEDED, its output counted, its ICD lines in the job log."""
    tt = tmp_path / "tt"
    tt.mkdir()
    script = tt / "t_sge.sh"
    script.write_text(_SCRIPT, encoding="utf-8")
    script.chmod(0o755)
    (tt / "t-sge.xml").write_text(_TABLE, encoding="utf-8")
    data = tmp_path / "in_IMQ_TSTDAT.bin"
    data.write_bytes(os.urandom(777))
    dirs = json.dumps([str(tt)])
    monkeypatch.setenv("VIQ_TASK_TABLE_DIRS", dirs)
    settings = harness_settings(tmp_path)
    plugins = load_plugins([tt_plugin], entry_points_enabled=False)
    cls = plugins.processors.get("t-sge")
    order = make_job_order(cls, tmp_path / "orders" / "t-sge.xml", inputs={"data": [data]})
    env = {"VIQ_TASK_TABLE_DIRS": dirs, "VIQ_EXTRA_PLUGINS": "viq_host.external.plugin",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    with JobService(settings, plugins=plugins, executor=_Shared(drmaa_executor), extra_env=env,  # type: ignore[arg-type]
                    poll_seconds=0.2) as service:
        job_id = service.submit(order)
        record = service.run_until_done([job_id], timeout=180)[job_id]
        status = service.status(job_id)
        events = [e.message for a in status.attempts for e in service.jobs.events(a.id)]
    assert record.state is JobState.SUCCEEDED, (record.reason, events)
    assert status.attempts[-1].executor == drmaa_executor.name
    (out,) = [o.path for o in status.result.outputs] if status.result else []
    assert out.read_text().strip() == "777"
    assert any("reading" in m for m in events)
