"""Execution back-ends: run ``viq-task <job order>`` for one attempt, locally or on a cluster."""

from viq_host.executors.base import Executor, TaskOutcome, TaskSpec, TaskState

__all__ = ["Executor", "TaskOutcome", "TaskSpec", "TaskState"]
