"""Reconciliation after a restart: settle every attempt the job store says may be in flight.

The store commits each attempt before the executor sees it and records the executor's id right after, so
after any crash (``kill -9`` of the host included) every attempt that might be running is in
:meth:`JobStore.attempts_in_flight`. For each one the executor is asked, by attempt UUID (the DRM job
name), where the task is:

* still queued or running → the service watches it again (the DRMAA executor *adopts* it: its outcome
  later arrives through ``wait_any`` like that of any other task);
* finished → its outcome is read (``qacct``) and the attempt is finished exactly as if the host had seen it
  end: outputs checked, ingested once (an attempt already marked ingested is never ingested again);
* exited but not settled (the host died between the exit and the end of ingestion) → settled from what the
  attempt left in its work directory;
* unknown to the executor → the attempt is failed as lost and the job is queued again if it never reached
  the executor or its retry policy allows another attempt, else failed. A task is declared unknown only after
  the executor looked in both its live and its finished records, so nothing that ran is run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from viq_host.executors.base import TaskOutcome, TaskState
from viq_host.jobs.store import AttemptRecord, AttemptState, JobState
from viq_interfaces.errors import InvalidJobOrder, ViqError
from viq_interfaces.exitcodes import ExitCode

if TYPE_CHECKING:
    from viq_host.service import JobService


@dataclass
class ReconcileReport:
    """What one reconciliation did, attempt ids per action."""

    watching: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Attempts looked at."""
        return len(self.watching) + len(self.finished) + len(self.requeued) + len(self.failed)


def _states(service: JobService, attempts: Sequence[AttemptRecord]) -> dict[str, TaskState]:
    runner = service.runner
    lookup: Callable[[list[str]], Mapping[str, TaskState]] | None = getattr(runner, "lookup", None)
    if lookup is not None and attempts:
        return dict(lookup([a.id for a in attempts]))  # one qstat/qacct pass for all of them
    return {a.id: runner.state(a.id, a.external_id) for a in attempts}


def _outcomes(service: JobService, attempts: Sequence[AttemptRecord]) -> dict[str, TaskOutcome]:
    runner = service.runner
    many: Callable[[list[tuple[str, str]]], Mapping[str, TaskOutcome]] | None = getattr(runner, "recover_many", None)
    if many is not None and attempts:
        return dict(many([(a.id, a.external_id) for a in attempts]))
    found: dict[str, TaskOutcome] = {}
    for attempt in attempts:
        outcome = runner.recover(attempt.id, attempt.external_id)
        if outcome is not None:
            found[attempt.id] = outcome
    return found


def reconcile(service: JobService) -> ReconcileReport:
    """Settle every in-flight attempt of the service's executor (see the module docstring)."""
    from viq_host.service import _Active, _Tail

    started = time.monotonic()
    report = ReconcileReport()
    store = service.jobs
    runner = service.runner
    attempts = [a for a in store.attempts_in_flight(executor=runner.name) if a.id not in service._active]
    exited = [a for a in attempts if a.state is AttemptState.EXITED]
    live = [a for a in attempts if a.state is not AttemptState.EXITED]
    states = _states(service, live)
    finished = [a for a in live if states[a.id] is TaskState.FINISHED]
    outcomes = _outcomes(service, finished)
    log = service._logger(component="reconcile")

    for attempt in exited:
        _settle_exited(service, attempt)
        report.finished.append(attempt.id)

    for attempt in live:
        state = states[attempt.id]
        job = store.job(attempt.job_id)
        outcome = outcomes.get(attempt.id)
        if state is TaskState.FINISHED and outcome is None:
            state = TaskState.UNKNOWN  # left qstat but no accounting record: treat as lost
        if state is TaskState.UNKNOWN:
            _lost(service, attempt, report)
            continue
        try:
            validated = service._validated_for(job)
        except InvalidJobOrder as err:
            reason = f"job order no longer valid after restart: {err.describe()}"
            if state is not TaskState.FINISHED:
                runner.cancel(attempt.id, attempt.external_id)
            store.transition_attempt(attempt.id, AttemptState.FAILED, reason, exit_code=err.exit_code)
            service._set_job(job.id, JobState.FAILED, reason, err.exit_code)
            report.failed.append(attempt.id)
            continue
        if attempt.state is AttemptState.CREATED:
            # the host died between runJob and recording the id: the job name found it anyway
            external = outcome.external_id if outcome else attempt.external_id
            attempt = store.transition_attempt(
                attempt.id, AttemptState.SUBMITTED, "found on the executor after restart", external_id=external or None
            )
        tail = _Tail(Path(attempt.work_dir) / "stdout.log")
        if store.events(attempt.id):
            # lines already stored are not stored twice; those written while the host was down stay in the file
            tail.offset = _size(tail.path)
        active = _Active(job.id, attempt, validated, tail, running=attempt.state is AttemptState.RUNNING)
        service._active[attempt.id] = active
        if outcome is not None:
            service._finish(outcome)
            report.finished.append(attempt.id)
            continue
        adopt: Callable[[str, str], None] | None = getattr(runner, "adopt", None)
        if adopt is None:
            del service._active[attempt.id]  # the executor cannot watch a task of an earlier process
            _lost(service, attempt, report)
            continue
        adopt(attempt.id, attempt.external_id)
        report.watching.append(attempt.id)
    report.seconds = time.monotonic() - started
    log.info(
        "reconciled",
        watching=len(report.watching),
        finished=len(report.finished),
        requeued=len(report.requeued),
        failed=len(report.failed),
        seconds=round(report.seconds, 3),
    )
    return report


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _lost(service: JobService, attempt: AttemptRecord, report: ReconcileReport) -> None:
    """An attempt the executor does not know: fail it, then queue the job again or fail it per its policy."""
    store = service.jobs
    never_submitted = attempt.state is AttemptState.CREATED
    reason = (
        "host stopped before the attempt was submitted"
        if never_submitted
        else f"attempt lost: {service.runner.name} has no record of it"
    )
    store.transition_attempt(attempt.id, AttemptState.FAILED, reason, exit_code=int(ExitCode.KILLED))
    job = store.job(attempt.job_id)
    if job.state.terminal:
        report.failed.append(attempt.id)
        return
    try:
        policy = service._validated_for(job).declaration.retry
        may_retry = policy.rerunnable and attempt.number - job.retry_base < policy.max_attempts
    except (InvalidJobOrder, ViqError):
        may_retry = False
    if job.cancel_requested:
        service._set_job(job.id, JobState.CANCELLED, "cancelled (attempt lost while the host was down)", None)
        report.failed.append(attempt.id)
    elif never_submitted or may_retry:
        if job.state is JobState.RUNNING:
            store.transition_job(job.id, JobState.QUEUED, f"requeued after restart: {reason}")
        report.requeued.append(attempt.id)
    else:
        service._set_job(job.id, JobState.FAILED, reason, int(ExitCode.KILLED))
        report.failed.append(attempt.id)


def _settle_exited(service: JobService, attempt: AttemptRecord) -> None:
    """An attempt whose exit was recorded but whose outputs were not settled: finish it from its work dir."""
    from viq_host.service import check_outputs, read_manifest, result_of
    from viq_host.worker import OUTPUT_SUBDIR
    from viq_interfaces.exitcodes import Severity, severity

    store = service.jobs
    job = store.job(attempt.job_id)
    code = attempt.exit_code if attempt.exit_code is not None else int(ExitCode.KILLED)
    reason = attempt.reason or f"exited with code {code}"
    work_dir = Path(attempt.work_dir)
    manifest, why = read_manifest(work_dir)
    result = None
    if manifest is not None:
        result, why = result_of(manifest, work_dir / OUTPUT_SUBDIR)
    if severity(code) is not Severity.ERROR:
        try:
            declaration = service._validated_for(job).declaration
        except InvalidJobOrder as err:
            result, why = None, f"job order no longer valid: {err.describe()}"
        else:
            if result is not None:
                problems = check_outputs(declaration, result, work_dir / OUTPUT_SUBDIR, skipped=code == 2)
                if problems:
                    result, why = None, problems[0]
        if result is None:
            code, reason = int(ExitCode.MISSING_OUTPUT), f"exited with code {attempt.exit_code} but {why}"
    if severity(code) is not Severity.ERROR and result is not None:
        if service.ingest is not None and not attempt.ingested:
            try:
                service.ingest(job, attempt, service._validated_for(job), result)
            except Exception as err:  # a catalog failure fails the attempt, never the reconciliation
                why = f"ingest failed: {type(err).__name__}: {err}"
                store.transition_attempt(attempt.id, AttemptState.FAILED, why, exit_code=int(ExitCode.SERVICE_ERROR))
                service._set_job(job.id, JobState.FAILED, why, int(ExitCode.SERVICE_ERROR))
                return
        store.transition_attempt(
            attempt.id, AttemptState.DONE, reason, exit_code=code, ingested=(service.ingest is not None) or None
        )
        if not job.state.terminal:
            service._set_job(
                job.id, JobState.SUCCEEDED if code == 0 else JobState.WARNING, result.summary or reason, code
            )
        return
    store.transition_attempt(attempt.id, AttemptState.FAILED, reason, exit_code=code)
    if not job.state.terminal:
        service._set_job(job.id, JobState.FAILED, reason, code)


__all__ = ["ReconcileReport", "reconcile"]
