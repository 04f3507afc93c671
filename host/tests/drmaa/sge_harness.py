"""Test helper: submit shell commands through the DRMAA executor and collect their outcomes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from viq_host.executors.base import TaskOutcome, TaskSpec
from viq_host.executors.drmaa import DrmaaExecutor
from viq_interfaces.declaration import Resources


class Harness:
    """Submits shell commands through one executor and keeps every outcome, whoever asked for it."""

    def __init__(self, executor: DrmaaExecutor, root: Path) -> None:
        self.executor = executor
        self.root = root
        self.outcomes: dict[str, TaskOutcome] = {}

    def spec(self, script: str, *, walltime: float = 60.0, attempt_id: str | None = None) -> TaskSpec:
        """A task running ``/bin/sh -c script`` in its own work directory."""
        aid = attempt_id or str(uuid.uuid4())
        work = self.root / aid
        return TaskSpec(
            attempt_id=aid,
            job_order=work / "JobOrder.xml",
            work_dir=work,
            resources=Resources(walltime=timedelta(seconds=walltime)),
            stdout=work / "stdout.log",
            stderr=work / "stderr.log",
            command=("/bin/sh", "-c", script),
        )

    def run(self, script: str, *, walltime: float = 60.0) -> str:
        """Submit a shell script; return the attempt id."""
        spec = self.spec(script, walltime=walltime)
        self.executor.submit(spec)
        return spec.attempt_id

    def collect(self, attempt_ids: list[str], timeout: float = 45.0) -> dict[str, TaskOutcome]:
        """Wait until every attempt in ``attempt_ids`` has an outcome (fails after ``timeout`` s)."""
        end = time.monotonic() + timeout
        while not all(a in self.outcomes for a in attempt_ids):
            left = end - time.monotonic()
            missing = [a for a in attempt_ids if a not in self.outcomes]
            assert left > 0, f"no outcome after {timeout} s for {missing}"
            for outcome in self.executor.wait_any(min(left, 2.0)):
                assert outcome.attempt_id not in self.outcomes, f"two outcomes for {outcome.attempt_id}"
                self.outcomes[outcome.attempt_id] = outcome
        return {a: self.outcomes[a] for a in attempt_ids}


# -- the daemon as a subprocess (``viq daemon``, as an operator runs it) ------------------------------------

VIQ = Path(sys.executable).parent / "viq"


def daemon_env(home: Path, runs: Path, library: str, processor_env: dict[str, str], **extra: str) -> dict[str, str]:
    """Environment of a ``viq daemon`` on Grid Engine for the test processors (``extra``: more ``VIQ_*``)."""
    return {
        **os.environ,
        **processor_env,
        "VIQ_HOME": str(home),
        "VIQ_EXECUTOR": "drmaa",
        "VIQ_TEST_RUNS_DIR": str(runs),
        "DRMAA_LIBRARY_PATH": library,
        **extra,
    }


def start_daemon(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start ``viq daemon --poll 0.2`` with its output appended to ``log``."""
    with log.open("ab") as fh:
        return subprocess.Popen(
            [str(VIQ), "daemon", "--poll", "0.2", *args], env=env, stdout=fh, stderr=subprocess.STDOUT
        )


def wait_for(
    what: str, check: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes] | None, log: Path
) -> None:
    """Poll ``check`` every 0.2 s; fail with the daemon's log tail if it exits or ``timeout`` passes."""
    end = time.monotonic() + timeout
    while not check():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"daemon exited ({proc.returncode}) while waiting for {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def stop_daemon(proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM, then expect a clean exit (0) within 30 s; else fail with every thread's stack and kill it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # the daemon dumps its threads' stacks into its log
        time.sleep(2.0)
        proc.kill()
        proc.wait(30)
        pytest.fail(f"the daemon did not stop within 30 s of SIGTERM:\n{log.read_text()[-12000:]}")
    assert code == 0, log.read_text()[-3000:]


def drop(order: Path, inbox: Path, name: str | None = None) -> Path:
    """Place a finished order file in the inbox atomically (copy next to it, then rename)."""
    target = inbox / (name or order.name)
    tmp = inbox / f".{target.name}.part"
    shutil.copyfile(order, tmp)
    os.replace(tmp, target)
    return target
