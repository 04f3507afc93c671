"""The executor contract shared by the local and DRMAA back-ends."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from viq_interfaces.declaration import Resources


class TaskState(enum.StrEnum):
    """What an executor knows of a task."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class TaskSpec:
    """One attempt to run: the worker command line is ``viq-task <job_order>`` in ``work_dir``."""

    attempt_id: str
    """UUID of the attempt; the DRM job name, so a restarted host can find the job again."""
    job_order: Path
    work_dir: Path
    resources: Resources
    stdout: Path
    stderr: Path
    env: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    """Command to run; empty = the worker entry point ``viq-task <job_order>``."""


@dataclass(frozen=True)
class TaskOutcome:
    """How a task ended, as the executor saw it."""

    attempt_id: str
    external_id: str
    exit_code: int | None
    """Process exit status, None when the task never ran to an exit (signal, abort)."""
    signal: str | None = None
    aborted: bool = False
    timed_out: bool = False
    reason: str = ""


class Executor(Protocol):
    """An execution back-end. Implementations are registered through ``viq_add_executors``."""

    name: str

    def submit(self, spec: TaskSpec) -> str:
        """Start the task; return its external id (pid, DRM job id). Called after the attempt is stored."""

    def wait_any(self, timeout: float) -> list[TaskOutcome]:
        """Outcomes of tasks that finished, waiting up to ``timeout`` seconds for at least one."""

    def state(self, attempt_id: str, external_id: str) -> TaskState:
        """What the back-end knows of a task, possibly submitted by an earlier host process."""

    def recover(self, attempt_id: str, external_id: str) -> TaskOutcome | None:
        """Outcome of a task finished outside this process (e.g. from qacct), None if unknown."""

    def cancel(self, attempt_id: str, external_id: str) -> None:
        """Ask the task to stop (terminate)."""

    def close(self) -> None:
        """Release resources (DRMAA session, child processes)."""
