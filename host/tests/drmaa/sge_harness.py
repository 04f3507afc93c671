"""Test helper: submit shell commands through the DRMAA executor and collect their outcomes."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

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

    def run(self, script: str, **kw: float) -> str:
        """Submit a shell script; return the attempt id."""
        spec = self.spec(script, **kw)
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
