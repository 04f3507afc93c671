"""The DRMAA executor against the real Grid Engine: outcomes, walltime, cancel, reaping, foreign jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sge_harness import Harness

from viq_host.executors.base import TaskOutcome, TaskState
from viq_host.executors.drmaa import DrmaaError, DrmaaExecutor, h_rt, job_name, native_specification, parse_qacct
from viq_interfaces.declaration import Resources
from viq_interfaces.exitcodes import ExitCode

pytestmark = pytest.mark.sge

SCRIPTS = {
    "ok": "echo out-line; echo err-line >&2; exit 0",
    "seven": "exit 7",
    "failed": f"exit {int(ExitCode.PROCESSING_ERROR)}",
    "walltime-code": f"exit {int(ExitCode.WALLTIME_EXCEEDED)}",
    "segv": "kill -SEGV $$",
    "env": 'printf "%s|%s" "$VIQ_PROBE" "$(pwd)" > probe.txt',
}


@pytest.fixture(scope="module")
def batch(sge: Harness) -> dict[str, TaskOutcome]:
    """One batch of differently-ending jobs submitted together (Grid Engine runs them in parallel)."""
    ids: dict[str, str] = {}
    for key, script in SCRIPTS.items():
        spec = sge.spec(script)
        if key == "env":
            spec = type(spec)(**{**spec.__dict__, "env": {"VIQ_PROBE": "a b;c"}})
        sge.executor.submit(spec)
        ids[key] = spec.attempt_id
    bad = sge.spec("true")
    sge.executor.submit(type(bad)(**{**bad.__dict__, "command": ("/nonexistent/viq-task", "x")}))
    ids["bad-command"] = bad.attempt_id
    ids["h_rt"] = sge.run("sleep 30", walltime=2)
    outcomes = sge.collect(list(ids.values()), timeout=40)
    return {key: outcomes[aid] for key, aid in ids.items()}


def test_exit_zero_and_output_paths(batch: dict[str, TaskOutcome], sge: Harness) -> None:
    """Exit 0 is reported as exit code 0, and stdout/stderr land in the attempt's own files."""
    out = batch["ok"]
    assert (out.exit_code, out.signal, out.aborted, out.timed_out) == (0, None, False, False)
    work = sge.root / out.attempt_id
    assert (work / "stdout.log").read_text() == "out-line\n"
    assert (work / "stderr.log").read_text() == "err-line\n"


def test_exit_codes_are_passed_through(batch: dict[str, TaskOutcome]) -> None:
    """Warning (7) and error (148) exit codes arrive unchanged; 151 (the worker's walltime code) is a timeout."""
    assert batch["seven"].exit_code == 7 and not batch["seven"].timed_out
    assert batch["failed"].exit_code == ExitCode.PROCESSING_ERROR
    assert batch["walltime-code"].exit_code == ExitCode.WALLTIME_EXCEEDED and batch["walltime-code"].timed_out


def test_signal_is_reported(batch: dict[str, TaskOutcome]) -> None:
    """A job that dies by SIGSEGV has no exit code and names the signal."""
    out = batch["segv"]
    assert out.exit_code is None and out.signal == "SIGSEGV" and not out.aborted and not out.timed_out


def test_missing_command_is_aborted_with_the_reason(batch: dict[str, TaskOutcome]) -> None:
    """A job whose command does not exist never runs: aborted, with Grid Engine's failure reason from qacct."""
    out = batch["bad-command"]
    assert out.aborted and out.exit_code is None
    assert "failure 27" in out.reason, out.reason


def test_walltime_kill_via_h_rt(batch: dict[str, TaskOutcome]) -> None:
    """A job over its walltime is killed by Grid Engine's h_rt and reported as timed out."""
    out = batch["h_rt"]
    assert out.timed_out and out.signal == "SIGKILL" and out.exit_code is None


def test_environment_and_working_directory(batch: dict[str, TaskOutcome], sge: Harness) -> None:
    """The job sees the spec's environment (spaces and ';' intact) and runs in the attempt's work directory."""
    work = sge.root / batch["env"].attempt_id
    assert batch["env"].exit_code == 0
    assert (work / "probe.txt").read_text() == f"a b;c|{work}"


def test_finished_jobs_are_found_by_name(batch: dict[str, TaskOutcome], sge: Harness) -> None:
    """After the reaper collected them, state() says FINISHED and recover() re-reads the same outcome."""
    out = batch["seven"]
    assert sge.executor.state(out.attempt_id, out.external_id) is TaskState.FINISHED
    again = sge.executor.recover(out.attempt_id, out.external_id)
    assert again is not None and again.exit_code == 7


def test_many_jobs_are_all_reaped(sge: Harness) -> None:
    """Twelve jobs submitted at once each yield exactly one outcome with their own exit code."""
    ids = {sge.run(f"sleep 0.{n % 3}; exit {n}"): n for n in range(12)}
    outcomes = sge.collect(list(ids), timeout=40)
    assert {aid: o.exit_code for aid, o in outcomes.items()} == ids
    assert len({o.external_id for o in outcomes.values()}) == 12


def test_reused_job_template_carries_only_each_attempts_own_attributes(sge: Harness) -> None:
    """Consecutive submissions share one job template: an attempt's extra environment, walltime, paths and
    command never leak into the next attempt (each sees exactly what its own spec asks for)."""
    first = sge.spec('printf "%s" "$VIQ_PROBE" > probe.txt; sleep 30', walltime=2)
    first = type(first)(**{**first.__dict__, "env": {"VIQ_PROBE": "first-only"}})
    sge.executor.submit(first)
    second = sge.run('sleep 3; printf "%s|%s" "${VIQ_PROBE-unset}" "$(pwd)" > probe.txt; echo second')
    outcomes = sge.collect([first.attempt_id, second], timeout=60)
    assert outcomes[first.attempt_id].timed_out and outcomes[first.attempt_id].exit_code is None
    assert (sge.root / first.attempt_id / "probe.txt").read_text() == "first-only"
    out = outcomes[second]
    assert (out.exit_code, out.timed_out, out.signal) == (0, False, None)
    assert (sge.root / second / "probe.txt").read_text() == f"unset|{sge.root / second}"
    assert (sge.root / second / "stdout.log").read_text() == "second\n"
    assert (sge.root / first.attempt_id / "stdout.log").read_text() == ""


def test_cancel_running_and_queued(sge: Harness) -> None:
    """cancel() terminates a running job and removes a job that has not started; both end aborted as cancelled."""
    running = sge.run("sleep 60")
    deadline = time.monotonic() + 20
    while sge.executor.state(running, "") is not TaskState.RUNNING:
        assert time.monotonic() < deadline, "job never started"
        time.sleep(0.3)
    queued = sge.run("sleep 60")
    sge.executor.cancel(queued, "")  # right after submit: still waiting for the next scheduler cycle
    sge.executor.cancel(running, "")
    outcomes = sge.collect([running, queued], timeout=30)
    for out in outcomes.values():
        assert out.aborted and out.reason.startswith("cancelled") and out.exit_code is None


def _qsub(name: str, script: str, *, sync: bool, where: Path) -> str:
    """Submit with the qsub command, i.e. outside this process's DRMAA session."""
    path = where / f"{name}.sh"
    path.write_text(script + "\n")
    args = ["qsub", "-terse", "-b", "y", "-o", "/dev/null", "-e", "/dev/null", "-N", name]
    if sync:
        args += ["-sync", "y"]
    done = subprocess.run([*args, "/bin/sh", str(path)], capture_output=True, text=True, check=False, cwd=where)
    assert done.stdout.split(), done.stderr  # with -sync y the exit status is the job's
    return done.stdout.split()[0]


def test_job_of_another_session_recovered_from_qacct(sge: Harness) -> None:
    """A job submitted and finished outside this session is FINISHED by name and its exit code comes from qacct.

    The numeric id given to recover() belongs to another job (as after an id reuse): the name decides.
    """
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    mine_id = _qsub(job_name(mine), "exit 42", sync=True, where=sge.root)
    other_id = _qsub(job_name(other), "exit 3", sync=True, where=sge.root)
    assert sge.executor.state(mine, other_id) is TaskState.FINISHED
    out = sge.executor.recover(mine, other_id)
    assert out is not None and out.exit_code == 42 and out.external_id == mine_id


def test_unknown_attempt(sge: Harness) -> None:
    """An attempt Grid Engine never saw is UNKNOWN and has no outcome (after the accounting grace period)."""
    ghost = str(uuid.uuid4())
    assert sge.executor.state(ghost, "999999") is TaskState.UNKNOWN
    assert sge.executor.recover(ghost, "999999") is None


def test_adopted_job_outcome_arrives_through_wait_any(sge: Harness) -> None:
    """A job of an earlier process that is still running is watched until it ends; its outcome is delivered once."""
    aid = str(uuid.uuid4())
    jid = _qsub(job_name(aid), "sleep 2; exit 5", sync=False, where=sge.root)
    assert sge.executor.state(aid, jid) in (TaskState.QUEUED, TaskState.RUNNING)
    sge.executor.adopt(aid, jid)
    out = sge.collect([aid], timeout=30)[aid]
    assert out.exit_code == 5 and out.external_id == jid
    assert sge.executor.state(aid, jid) is TaskState.FINISHED


def test_second_executor_in_one_process_is_refused(drmaa_executor: DrmaaExecutor) -> None:
    """DRMAA allows one session per process: a second executor fails with a clear error, the first keeps working."""
    with pytest.raises(DrmaaError, match="one DRMAA session per process"):
        DrmaaExecutor(drmaa_executor.settings)


def test_drmaa_then_rasterio_in_one_process(sge_available: str, tmp_path: Path) -> None:
    """With the patched libdrmaa, drmaa loaded *before* GDAL does not break rasterio (the jemalloc problem)."""
    code = (
        "import sys, drmaa, numpy, rasterio\n"
        "s = drmaa.Session(); s.initialize()\n"
        "p = sys.argv[1]\n"
        "with rasterio.open(p, 'w', driver='COG', width=256, height=256, count=1, dtype='uint16') as ds:\n"
        "    ds.write(numpy.arange(65536, dtype='uint16').reshape(1, 256, 256))\n"
        "with rasterio.open(p) as ds: assert int(ds.read(1)[255, 255]) == 65535\n"
        "s.exit(); print('ok')\n"
    )
    env = {**os.environ, "DRMAA_LIBRARY_PATH": sge_available}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "x.tif")], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
    assert done.returncode != -signal.SIGABRT


def test_close_does_not_wait_for_a_stuck_drmaa_exit(sge_available: str, tmp_path: Path) -> None:
    """A libdrmaa ``exit`` that does not return (seen after a qmaster restart) neither blocks close() beyond its
    deadline nor the end of the process; the claim on the process's one session is kept, with a warning."""
    code = (
        "import logging, sys, threading\n"
        "from pathlib import Path\n"
        "from viq_host.config import Settings\n"
        "from viq_host.executors.drmaa import DrmaaError, DrmaaExecutor\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "ex = DrmaaExecutor(Settings(home=Path(sys.argv[1])), exit_timeout=0.5)\n"
        "real, stuck = ex._session, threading.Event()\n"
        "class Stuck:\n"
        "    def __getattr__(self, name): return getattr(real, name)\n"
        "    def exit(self): stuck.wait()\n"
        "ex._session = Stuck()\n"
        "ex.close()\n"
        "try:\n"
        "    DrmaaExecutor(Settings(home=Path(sys.argv[1])))\n"
        "except DrmaaError as err:\n"
        "    print('refused:', err)\n"
        "print('closed')\n"
    )
    env = {**os.environ, "DRMAA_LIBRARY_PATH": sge_available}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "closed"
    assert "one DRMAA session per process" in done.stdout
    assert "drmaa exit did not return" in done.stderr


def test_native_specification() -> None:
    """Resources map to -l h_rt always, cores/memory only with a configured resource, then queue and extras."""
    res = Resources(cores=4, memory_mb=2048, walltime=timedelta(hours=1, minutes=2, seconds=3.2))
    assert h_rt(res.walltime) == "1:02:04"
    assert native_specification(res) == "-l h_rt=1:02:04"
    spec = native_specification(res, queue="viq.q", cores_resource="num_proc", memory_resource="h_vmem", extra=" -P x ")
    assert spec == "-q viq.q -l h_rt=1:02:04 -l num_proc=4 -l h_vmem=2048M -P x"


def test_parse_qacct() -> None:
    """qacct records are split on the separator lines and the failure code/text, exit status and start parsed."""
    text = (
        "==============================================================\n"
        "jobname      viq-a\njobnumber    12\nstart_time   -/-\nfailed       27  : searching requested shell\n"
        "exit_status  0\nru_wallclock 0s\n"
        "==============================================================\n"
        "jobname      viq-b\njobnumber    13\nstart_time   Wed Nov 25 14:09:47 2026\n"
        "failed       100 : assumedly after job\nexit_status  137                  (Killed)\nru_wallclock 4s\n"
    )
    a, b = parse_qacct(text)
    assert (a.job_name, a.failed, a.failed_text, a.started) == ("viq-a", 27, "searching requested shell", False)
    assert (b.job_number, b.failed, b.exit_status, b.started, b.wallclock) == ("13", 100, 137, True, 4.0)
