"""The local executor on its own: concurrency limit, walltime kill, cancel, output files, process groups."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

from viq_host.config import Settings
from viq_host.executors.base import TaskOutcome, TaskSpec, TaskState
from viq_host.executors.local import LocalExecutor
from viq_interfaces.declaration import Resources


def _spec(tmp_path: Path, name: str, code: str, walltime: float = 60.0) -> TaskSpec:
    work = tmp_path / name
    return TaskSpec(
        attempt_id=name,
        job_order=work / "JobOrder.xml",
        work_dir=work,
        resources=Resources(walltime=timedelta(seconds=walltime)),
        stdout=work / "stdout.log",
        stderr=work / "stderr.log",
        command=(sys.executable, "-c", code),
    )


def _drain(executor: LocalExecutor, n: int, limit: float = 30.0) -> dict[str, TaskOutcome]:
    done: dict[str, TaskOutcome] = {}
    end = time.monotonic() + limit
    while len(done) < n and time.monotonic() < end:
        for outcome in executor.wait_any(1.0):
            done[outcome.attempt_id] = outcome
    return done


def test_exit_codes_and_output_files(viq_settings: Settings, tmp_path: Path) -> None:
    """Exit status, stdout and stderr of a task land in the outcome and the spec's files; cwd is the work dir."""
    executor = LocalExecutor(viq_settings)
    code = "import os, sys; print(os.getcwd()); print('oops', file=sys.stderr); sys.exit(3)"
    spec = _spec(tmp_path, "a", code)
    pid = executor.submit(spec)
    assert pid.isdigit() and executor.state("a", pid) is TaskState.RUNNING
    (outcome,) = _drain(executor, 1).values()
    assert (outcome.exit_code, outcome.signal, outcome.timed_out, outcome.external_id) == (3, None, False, pid)
    assert spec.stdout.read_text().strip() == str(spec.work_dir)
    assert spec.stderr.read_text().strip() == "oops"
    assert executor.state("a", pid) is TaskState.FINISHED
    assert executor.wait_any(0.1) == []


def test_concurrency_limit_queues_the_rest(viq_settings: Settings, tmp_path: Path) -> None:
    """With max_parallel=2, a third task waits; no more than two run at any moment."""
    settings = viq_settings.model_copy(update={"max_parallel": 2})
    executor = LocalExecutor(settings)
    code = "import time, pathlib; s=time.time(); time.sleep(0.6); pathlib.Path('t').write_text(f'{s} {time.time()}')"
    ids = [executor.submit(_spec(tmp_path, f"t{i}", code)) for i in range(3)]
    assert ids[2] == "queued:t2" and executor.state("t2", ids[2]) is TaskState.QUEUED
    assert _drain(executor, 3).keys() == {"t0", "t1", "t2"}
    spans = [tuple(map(float, (tmp_path / f"t{i}" / "t").read_text().split())) for i in range(3)]
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start < e) <= 2
    assert spans[2][0] >= min(spans[0][1], spans[1][1]) - 0.05


def test_walltime_kills_the_whole_process_group(viq_settings: Settings, tmp_path: Path) -> None:
    """Past its walltime a task and its child are killed; the outcome says timed_out."""
    code = (
        "import subprocess, sys, time, signal; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "open('child', 'w').write(str(c.pid)); time.sleep(60)"
    )
    executor = LocalExecutor(viq_settings, term_grace=0.5)
    spec = _spec(tmp_path, "h", code, walltime=1.0)
    start = time.monotonic()
    executor.submit(spec)
    (outcome,) = _drain(executor, 1).values()
    assert outcome.timed_out and outcome.exit_code is None and outcome.signal == "SIGKILL"
    assert 1.0 <= time.monotonic() - start < 10.0
    child = int((spec.work_dir / "child").read_text())
    time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def test_cancel_terminates_running_and_drops_queued(viq_settings: Settings, tmp_path: Path) -> None:
    """cancel() SIGTERMs a running task (aborted outcome) and removes a queued one before it starts."""
    executor = LocalExecutor(viq_settings.model_copy(update={"max_parallel": 1}))
    running = executor.submit(_spec(tmp_path, "r", "import time; time.sleep(60)"))
    queued = executor.submit(_spec(tmp_path, "q", "import time; time.sleep(60)"))
    executor.cancel("q", queued)
    executor.cancel("r", running)
    done = _drain(executor, 2)
    assert done["q"].aborted and done["q"].exit_code is None and done["q"].external_id == queued
    assert done["r"].aborted and done["r"].signal == "SIGTERM"
    assert not (tmp_path / "q" / "stdout.log").exists()  # never started
    executor.close()
