"""The job service: submit job orders, run them through an executor, check what they left, retry, ingest.

One attempt, step by step (each state change committed to the job store before it takes effect):

1. the attempt row (CREATED) and the job's move to RUNNING are stored;
2. the work dir ``work_root/<job>/<attempt>/`` gets ``JobOrder.xml`` (input paths made absolute, outputs
   to ``out/``) and ``settings.json``; the executor runs ``viq-task JobOrder.xml`` there and the external
   id is stored (SUBMITTED), RUNNING once the executor reports the task started;
3. on exit (EXITED): exit code mapped (walltime → 151, cancel → 150, signal → 152), ICD lines of
   ``stdout.log`` stored as events, ``result.json`` read, every declared output port checked (count
   within min..max, each file inside ``out/``, readable, non-empty; exit 0 without its outputs → 149);
4. success: the optional ``ingest`` callback (once per attempt), attempt DONE, job SUCCEEDED/WARNING;
   failure: attempt FAILED, then a new attempt per the processor's RetryPolicy or the job FAILED
   (CANCELLED when a cancel was requested).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from viq_host.config import Settings
from viq_host.executors.base import Executor, TaskOutcome, TaskSpec, TaskState
from viq_host.jobs.eegs import write_job_order
from viq_host.jobs.model import JobGipp, JobOrder, JobOutput
from viq_host.jobs.reader import read_job_order
from viq_host.jobs.store import (
    AttemptRecord,
    AttemptState,
    JobRecord,
    JobState,
    JobStore,
    JobStoreError,
    new_job_id,
)
from viq_host.jobs.validate import GippResolver, ValidatedJob, validate_job_order
from viq_host.logging import HostLog, host_log
from viq_host.plugins import Plugins, PluginWarning, extra_plugins_from_env, load_plugins
from viq_host.worker import CANCEL_FILE, DIGEST_SUFFIX, OUTPUT_SUBDIR, RESULT_FILE, SETTINGS_FILE, order_digest
from viq_interfaces.context import GippInForce
from viq_interfaces.declaration import ProcessorDeclaration
from viq_interfaces.errors import InvalidJobOrder, ViqError
from viq_interfaces.exitcodes import ExitCode, Severity, severity
from viq_interfaces.icdlog import LogLine, parse_line
from viq_interfaces.result import ProcessorResult

JOB_ORDER_FILE = "JobOrder.xml"
STDOUT_FILE = "stdout.log"
STDERR_FILE = "stderr.log"
MAX_EVENTS_PER_ATTEMPT = 5000

Ingest = Callable[[JobRecord, AttemptRecord, ValidatedJob, ProcessorResult], None]
"""Called once per successful attempt with the result (output paths absolute); must be idempotent."""


@dataclass(frozen=True)
class ProgressEvent:
    """What :meth:`JobService.run_until_done` reports to its ``progress`` callback."""

    job_id: str
    attempt_id: str | None
    kind: Literal["state", "progress", "log"]
    state: str | None = None
    percent: float | None = None
    level: str | None = None
    message: str = ""


Progress = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class JobStatus:
    """A job with its attempts and, when the last attempt wrote one, its result manifest."""

    job: JobRecord
    attempts: tuple[AttemptRecord, ...]
    result: ProcessorResult | None
    """Result of the last attempt, output paths made absolute (None if absent or unreadable)."""
    manifest: dict[str, Any] | None
    """The raw ``result.json`` of the last attempt (exit code, timing, error)."""

    @property
    def last_attempt(self) -> AttemptRecord | None:
        """The latest attempt, if any."""
        return self.attempts[-1] if self.attempts else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``viq job status --json``)."""
        job = self.job
        return {
            "job_id": job.id,
            "processor": job.processor,
            "version": job.version,
            "state": job.state.value,
            "exit_code": job.exit_code,
            "reason": job.reason,
            "created": job.created,
            "updated": job.updated,
            "priority": job.priority,
            "params": job.params,
            "order_path": job.order_path,
            "cancel_requested": job.cancel_requested,
            "attempts": [
                {
                    "attempt_id": a.id,
                    "number": a.number,
                    "state": a.state.value,
                    "executor": a.executor,
                    "external_id": a.external_id,
                    "work_dir": a.work_dir,
                    "exit_code": a.exit_code,
                    "signal": a.signal,
                    "reason": a.reason,
                    "started": a.started,
                    "ended": a.ended,
                    "progress": a.progress,
                    "ingested": a.ingested,
                }
                for a in self.attempts
            ],
            "outputs": [
                {"port": o.port, "path": str(o.path), "product_type": o.product_type}
                for o in (self.result.outputs if self.result else ())
            ],
            "measurements": {m.key: m.value for m in (self.result.measurements if self.result else ())},
        }


# ------------------------------------------------------------------------------------------ helpers


def read_manifest(work_dir: Path) -> tuple[dict[str, Any] | None, str]:
    """``result.json`` of a work dir as a dict, or None and why not."""
    path = work_dir / RESULT_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, f"{RESULT_FILE} is missing"
    except OSError as err:
        return None, f"{RESULT_FILE} cannot be read: {err}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"{RESULT_FILE} is corrupt: {err}"
    if not isinstance(data, dict):
        return None, f"{RESULT_FILE} is corrupt: not a JSON object"
    return data, ""


def result_of(manifest: Mapping[str, Any], output_dir: Path) -> tuple[ProcessorResult | None, str]:
    """The ProcessorResult in a manifest, output paths made absolute under ``output_dir``."""
    raw = manifest.get("result")
    if raw is None:
        return None, f"{RESULT_FILE} holds no result"
    try:
        result = ProcessorResult.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        return None, f"{RESULT_FILE} is corrupt: result.{loc}: {first['msg']}"
    outputs = tuple(
        o if o.path.is_absolute() else o.model_copy(update={"path": output_dir / o.path}) for o in result.outputs
    )
    return result.model_copy(update={"outputs": outputs}), ""


def _readable(path: Path) -> str:
    """Empty string when ``path`` is a readable, non-empty file or a readable directory; else why not."""
    try:
        if path.is_dir():
            return "" if os.access(path, os.R_OK | os.X_OK) else "directory not readable"
        with path.open("rb") as fh:
            if not fh.read(1):
                return "empty file"
    except FileNotFoundError:
        return "does not exist"
    except OSError as err:
        return f"not readable ({err.strerror or err})"
    return ""


def check_outputs(
    declaration: ProcessorDeclaration, result: ProcessorResult, output_dir: Path, *, skipped: bool = False
) -> list[str]:
    """Problems with the outputs of a run (empty = fine): per declared port, count and readable files."""
    problems: list[str] = []
    root = output_dir.resolve()
    declared = {p.name: p for p in declaration.outputs}
    for out in result.outputs:
        if out.port not in declared:
            problems.append(f"output {out.path} is for undeclared port {out.port!r}")
    for port in declaration.outputs:
        products = [o for o in result.outputs if o.port == port.name]
        count = len(products)
        if count < port.min_count and not skipped:
            problems.append(
                f"output port {port.name!r} ({port.product_type}) has {count} file(s), needs ≥ {port.min_count}"
            )
        if port.max_count is not None and count > port.max_count:
            problems.append(f"output port {port.name!r} has {count} file(s), at most {port.max_count} allowed")
        for product in products:
            path = product.path if product.path.is_absolute() else output_dir / product.path
            if product.product_type != port.product_type:
                problems.append(
                    f"output {path.name} of port {port.name!r} has type {product.product_type}, "
                    f"declared {port.product_type}"
                )
            if not path.resolve().is_relative_to(root):
                problems.append(f"output {path} of port {port.name!r} is outside the output directory {output_dir}")
                continue
            why = _readable(path)
            if why:
                problems.append(f"output {path} of port {port.name!r}: {why}")
    return problems


def quiet_plugins(extra: Sequence[object] = ()) -> Plugins:
    """:func:`load_plugins` with ``VIQ_EXTRA_PLUGINS`` and ``extra``; broken plugins become disabled rows silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        return load_plugins([*extra_plugins_from_env(), *extra])


FULL_DISK_BYTES = 65_536
"""A file system with less free space than this (or under 1 % free) counts as full in failure reasons."""


def _full_disk_note(work_dir: Path) -> str:
    """``"; work directory file system full …"`` when the attempt's file system has (almost) no space left."""
    try:
        st = os.statvfs(work_dir)
    except OSError:
        return ""
    free, total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
    if free >= max(FULL_DISK_BYTES, total // 100):
        return ""
    return f"; the work directory's file system is full ({free} of {total} bytes free at {work_dir})"


_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def _embedded_icd_line(text: str) -> LogLine | None:
    for match in _STAMP.finditer(text):
        if match.start() > 0:
            parsed = parse_line(text[match.start() :])
            if parsed is not None:
                return parsed
    return None


class _Tail:
    """Incremental reader of a growing ``stdout.log``: ICD lines become events, other text is skipped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.kept = 0
        self.garbage = 0

    def read(self, *, final: bool = False) -> tuple[list[tuple[str, str, str]], float | None]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return [], None
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = b"" if final else lines.pop()
        events: list[tuple[str, str, str]] = []
        progress: float | None = None
        for raw in lines:
            text = raw.decode("utf-8", errors="replace")
            parsed = parse_line(text)
            if parsed is None:
                self.garbage += int(bool(raw.strip()))
                parsed = _embedded_icd_line(text)  # an ICD line glued to text printed without a newline
                if parsed is None:
                    continue
            if parsed.level == "D":
                continue
            if parsed.level == "P":
                head = parsed.message.split("%", 1)[0]
                with contextlib.suppress(ValueError):
                    progress = float(head)
            if self.kept < MAX_EVENTS_PER_ATTEMPT:
                events.append((parsed.time, parsed.level, parsed.message))
                self.kept += 1
        return events, progress


@dataclass
class _Active:
    job_id: str
    attempt: AttemptRecord
    validated: ValidatedJob
    tail: _Tail
    running: bool = False
    cancel_sent: bool = False


def _absolute(name: str, base: Path) -> str:
    path = Path(name)
    return name if path.is_absolute() else os.path.normpath(base / path)


def attempt_order(
    order: JobOrder, declaration: ProcessorDeclaration, gipps: Mapping[str, Sequence[GippInForce]] | None = None
) -> JobOrder:
    """The order as written into an attempt's work dir: input/GIPP paths absolute, every output to ``out/``.

    ``gipps`` (the GIPPs resolved at validation) are written as explicit GIPP files, so that the worker runs
    with exactly the versions the host chose, without a GIPP store of its own.
    """
    base = order.source.parent if order.source is not None else Path.cwd()
    inputs = tuple(
        i.model_copy(update={"file_names": tuple(_absolute(n, base) for n in i.file_names)})
        if i.name_type in ("Physical", "Directory")
        else i
        for i in order.inputs
    )
    explicit = tuple(g.model_copy(update={"path": _absolute(g.path, base)}) for g in order.gipps)
    named = {(g.gipp_type, g.path) for g in explicit}
    resolved = tuple(
        JobGipp(gipp_type=gtype, path=str(g.path))
        for gtype, items in (gipps or {}).items()
        for g in items
        if (gtype, str(g.path)) not in named
    )
    outputs = tuple(
        JobOutput(port=p.name, file_type=p.product_type, directory=OUTPUT_SUBDIR) for p in declaration.outputs
    )
    return order.model_copy(
        update={"inputs": inputs, "gipps": explicit + resolved, "outputs": outputs, "source": None}
    )


# ------------------------------------------------------------------------------------------ service


@dataclass
class JobService:
    """Submit, run, watch, cancel and retry jobs (see the module docstring for one attempt's life).

    ``plugins`` default to :func:`load_plugins` with ``VIQ_EXTRA_PLUGINS``; the executor to
    ``plugins.executors.get(settings.executor)(settings)``; ``extra_env`` is added to every task's
    environment; ``ingest`` receives each successful attempt's result.
    """

    settings: Settings
    plugins: Plugins | None = None
    store: JobStore | None = None
    executor: Executor | None = None
    ingest: Ingest | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    poll_seconds: float = 0.25
    gipp_resolver: GippResolver | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    """Called last by :meth:`close` (the assembled host closes its catalog and GIPP store this way)."""
    """Resolves the GIPPs in force at validation (the GIPP store); they are written into each attempt's order."""
    _log: HostLog | None = field(default=None, init=False)
    _validated: dict[str, ValidatedJob] = field(default_factory=dict, init=False)
    _active: dict[str, _Active] = field(default_factory=dict, init=False)
    _delayed: dict[str, float] = field(default_factory=dict, init=False)
    _progress: Progress | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.settings.ensure_dirs()
        if self.store is None:
            self.store = JobStore(self.settings.jobs_url)
        self._log = host_log(self.settings)
        if self.plugins is None:
            self.plugins = quiet_plugins()
            for name, reason in self.plugins.broken:
                self._logger().warning("plugin.disabled", plugin=name, reason=reason)

    # -- accessors (typed, never None after __post_init__) ----------------------------------------------

    @property
    def jobs(self) -> JobStore:
        """The job store."""
        assert self.store is not None
        return self.store

    @property
    def registry(self) -> Plugins:
        """The loaded plugins."""
        assert self.plugins is not None
        return self.plugins

    @property
    def runner(self) -> Executor:
        """The executor, created on first use."""
        if self.executor is None:
            factory = self.registry.executors.get(self.settings.executor)
            self.executor = factory(self.settings)
        return self.executor

    def _logger(self, **context: Any) -> Any:
        assert self._log is not None
        return self._log.bind(**context)

    def __enter__(self) -> JobService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API -----------------------------------------------------------------------------------

    def read(self, path: Path, *, lenient: bool = False) -> JobOrder:
        """Read a job order file (either dialect); InvalidJobOrder on any read/XSD error."""
        return read_job_order(Path(path), max_bytes=self.settings.max_job_order_bytes, lenient=lenient)

    def validate(self, source: Path | str | JobOrder, *, lenient: bool = False) -> ValidatedJob:
        """Read (if a path) and validate a job order against the registry, the declaration and the file system."""
        order = source if isinstance(source, JobOrder) else self.read(Path(source), lenient=lenient)
        return validate_job_order(order, self.registry, self.settings, gipp_resolver=self.gipp_resolver)

    def submit(self, source: Path | str | JobOrder, *, priority: int = 0, lenient: bool = False) -> str:
        """Validate and store a job (QUEUED); return its id. A rejected order raises InvalidJobOrder."""
        validated = self.validate(source, lenient=lenient)
        order = validated.order
        job_id = new_job_id()
        if order.source is not None:
            order_path = Path(order.source)
        else:
            order_path = self.settings.home / "orders" / f"{job_id}.xml"
            write_job_order(order, order_path)
        raw = order_path.read_bytes()
        order_xml = raw.decode("utf-8", errors="replace")
        self.jobs.create_job(
            job_id=job_id,
            processor=validated.declaration.name,
            version=validated.declaration.version,
            order_path=str(order_path),
            order_xml=order_xml,
            order_json=order.model_dump_json(),
            params=validated.params.model_dump(mode="json"),
            priority=priority,
            order_sha256=hashlib.sha256(raw).hexdigest(),
        )
        self._validated[job_id] = validated
        self._logger(job_id=job_id).info(
            "job.submitted", processor=validated.declaration.key, order=str(order_path), warnings=validated.warnings
        )
        return job_id

    def status(self, job_id: str) -> JobStatus:
        """The job, its attempts and the last attempt's result manifest."""
        job = self.jobs.job(job_id)
        attempts = tuple(self.jobs.attempts(job_id))
        manifest: dict[str, Any] | None = None
        result: ProcessorResult | None = None
        if attempts:
            work_dir = Path(attempts[-1].work_dir)
            manifest, _ = read_manifest(work_dir)
            if manifest is not None:
                result, _ = result_of(manifest, work_dir / OUTPUT_SUBDIR)
        return JobStatus(job=job, attempts=attempts, result=result, manifest=manifest)

    def list(self, *, states: Sequence[JobState] | None = None, limit: int | None = None) -> list[JobRecord]:
        """Jobs, newest first."""
        return self.jobs.jobs(states=states, limit=limit)

    def cancel(self, job_id: str, reason: str = "cancelled by user") -> JobRecord:
        """Cancel a job: at once if queued, else by request (``CANCEL`` file, then SIGTERM/SIGKILL)."""
        job = self.jobs.job(job_id)
        if job.state.terminal:
            raise JobStoreError(f"job {job_id} is already {job.state}")
        in_flight = [a for a in self.jobs.attempts(job_id) if not a.state.terminal]
        if job.state is JobState.QUEUED and not in_flight:
            try:
                record = self.jobs.transition_job(job_id, JobState.CANCELLED, reason, expect=JobState.QUEUED)
                self._logger(job_id=job_id).info("job.cancelled", reason=reason)
                return record
            except JobStoreError:
                pass  # started meanwhile by another process: cancel by request below
        self.jobs.request_cancel(job_id, reason)
        for attempt in in_flight:
            work_dir = Path(attempt.work_dir)
            if work_dir.is_dir():
                (work_dir / CANCEL_FILE).write_text(reason + "\n", encoding="utf-8")
        self._act_on_cancels()
        return self.jobs.job(job_id)

    def retry(self, job_id: str, reason: str = "retry requested") -> JobRecord:
        """Queue a FAILED or CANCELLED job again (the next run makes a new attempt)."""
        job = self.jobs.job(job_id)
        if job.state not in (JobState.FAILED, JobState.CANCELLED):
            raise JobStoreError(f"job {job_id} is {job.state}; only FAILED or CANCELLED jobs can be retried")
        self._validated.pop(job_id, None)
        record = self.jobs.transition_job(job_id, JobState.QUEUED, reason, expect=job.state)
        self._logger(job_id=job_id).info("job.requeued", reason=reason)
        return record

    def run_until_done(
        self,
        job_ids: Iterable[str],
        *,
        progress: Progress | None = None,
        timeout: float | None = None,
    ) -> dict[str, JobRecord]:
        """Run the given jobs (QUEUED ones are started; others are watched) until each is terminal.

        Returns the final job records. With ``timeout`` (seconds), returns when it expires even if some jobs
        are still running (their records then show it).
        """
        wanted = list(dict.fromkeys(job_ids))
        self._progress = progress
        try:
            for job_id in wanted:
                if self.jobs.job(job_id).state is JobState.QUEUED:
                    self._start_attempt(job_id)
            deadline = None if timeout is None else time.monotonic() + timeout
            open_jobs = list(wanted)
            while True:
                open_jobs = [j for j in open_jobs if not self.jobs.job(j).state.terminal]
                if not open_jobs:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                wait = self.poll_seconds
                if deadline is not None:
                    wait = max(0.0, min(wait, deadline - time.monotonic()))
                self._tick(wait)
        finally:
            self._progress = None
        return {j: self.jobs.job(j) for j in wanted}

    def run_queued(self, *, progress: Progress | None = None) -> dict[str, JobRecord]:
        """Run every QUEUED job of the store to completion (highest priority, then oldest, first)."""
        return self.run_until_done([j.id for j in self.jobs.queued_jobs()], progress=progress)

    # -- building blocks of an outer loop (the daemon): one turn at a time -------------------------------

    def step(self, wait: float) -> None:
        """One turn of the loop: act on cancels, start due retries, collect exits (waiting up to ``wait`` s)."""
        self._tick(wait)

    @property
    def in_flight(self) -> int:
        """Attempts this service is running plus retries it has scheduled."""
        return len(self._active) + len(self._delayed)

    @property
    def running(self) -> int:
        """Attempts this service is watching (submitted to its executor, not yet settled)."""
        return len(self._active)

    def busy_by_processor(self) -> Counter[str]:
        """Running attempts and scheduled retries per processor name (what concurrency limits count)."""
        busy: Counter[str] = Counter(a.validated.declaration.name for a in self._active.values())
        for job_id in self._delayed:
            busy[self.jobs.job(job_id).processor] += 1
        return busy

    def start(self, job_id: str) -> bool:
        """Start the next attempt of a QUEUED job now (what run_until_done does for each QUEUED job); True when
        one is running (False: the job failed to start, e.g. its order is no longer valid)."""
        before = len(self._active)
        self._start_attempt(job_id)
        return len(self._active) > before

    def detach(self) -> None:
        """Stop watching every running attempt without touching it (an executor that can adopt them after a
        restart keeps them running; their attempts stay SUBMITTED/RUNNING for the next service)."""
        self._active.clear()

    def requeue_retries(self, reason: str) -> tuple[str, ...]:
        """Put the jobs whose retry was scheduled but not started back in the queue; their ids."""
        job_ids = tuple(self._delayed)
        for job_id in job_ids:
            del self._delayed[job_id]
            self.jobs.transition_job(job_id, JobState.QUEUED, reason)
        return job_ids

    def logger(self, **context: Any) -> Any:
        """The host's structured logger bound to ``context``."""
        return self._logger(**context)

    def close(self) -> None:
        """Stop: tasks still running under this service are killed and recorded as FAILED; release everything."""
        if self._active and self.executor is not None:
            self.executor.close()
            for active in list(self._active.values()):
                self._abandon(active, "host stopped while the attempt was running")
            self._active.clear()
        elif self.executor is not None:
            self.executor.close()
        for job_id in list(self._delayed):
            self._delayed.pop(job_id)
            self._set_job(job_id, JobState.FAILED, "host stopped before the retry started", ExitCode.KILLED)
        if self.store is not None:
            self.store.close()
        if self._log is not None:
            self._log.close()
        while self.closers:
            self.closers.pop()()

    # -- the loop -----------------------------------------------------------------------------------

    def _emit(self, event: ProgressEvent) -> None:
        if self._progress is not None:
            self._progress(event)

    def _tick(self, wait: float) -> None:
        self._act_on_cancels()
        now = time.monotonic()
        for job_id, at in list(self._delayed.items()):
            if at <= now:
                del self._delayed[job_id]
                self._start_attempt(job_id)
        if self._active:
            outcomes = self.runner.wait_any(wait)
        else:
            soonest = min(self._delayed.values(), default=now + wait)
            time.sleep(max(0.0, min(wait, soonest - now)))
            outcomes = []
        self._observe()
        for outcome in outcomes:
            if outcome.attempt_id in self._active:
                self._finish(outcome)

    def _observe(self) -> None:
        """Mark attempts RUNNING once the executor runs them; forward new log lines."""
        for aid, active in list(self._active.items()):
            if not active.running:
                state = self.runner.state(aid, active.attempt.external_id)
                if state in (TaskState.RUNNING, TaskState.FINISHED):
                    self._mark_running(active)
            if active.running:
                self._pump_log(active)

    def _mark_running(self, active: _Active) -> None:
        pid_of = getattr(self.runner, "pid_of", None)
        pid = pid_of(active.attempt.id) if callable(pid_of) else None
        external = str(pid) if pid else None
        active.attempt = self.jobs.transition_attempt(
            active.attempt.id, AttemptState.RUNNING, "started", external_id=external
        )
        active.running = True
        self._emit(ProgressEvent(active.job_id, active.attempt.id, "state", state=AttemptState.RUNNING.value))

    def _pump_log(self, active: _Active, *, final: bool = False) -> None:
        events, percent = active.tail.read(final=final)
        if not events and percent is None:
            return
        self.jobs.add_events(active.attempt.id, events, percent)
        job_id, aid = active.job_id, active.attempt.id
        for _at, level, message in events:
            if level == "P":
                self._emit(ProgressEvent(job_id, aid, "progress", percent=percent, message=message))
            else:
                self._emit(ProgressEvent(job_id, aid, "log", level=level, message=message))

    def _act_on_cancels(self) -> None:
        job_ids = list({a.job_id for a in self._active.values()} | set(self._delayed))
        for job_id in self.jobs.cancel_requested(job_ids):
            if job_id in self._delayed:
                del self._delayed[job_id]
                self._set_job(job_id, JobState.CANCELLED, "cancelled before the retry started", ExitCode.CANCELLED)
            for active in self._active.values():
                if active.job_id == job_id and not active.cancel_sent:
                    active.cancel_sent = True
                    self._logger(job_id=job_id, attempt_id=active.attempt.id).info("attempt.cancelling")
                    self.runner.cancel(active.attempt.id, active.attempt.external_id)

    # -- one attempt ----------------------------------------------------------------------------------

    def _validated_for(self, job: JobRecord) -> ValidatedJob:
        cached = self._validated.get(job.id)
        if cached is None:
            order = JobOrder.model_validate_json(job.order_json)
            cached = validate_job_order(order, self.registry, self.settings, gipp_resolver=self.gipp_resolver)
            self._validated[job.id] = cached
        return cached

    def _set_job(self, job_id: str, state: JobState, reason: str, code: int | None) -> None:
        self.jobs.transition_job(job_id, state, reason, exit_code=code)
        self._logger(job_id=job_id).info("job." + state.value.lower(), reason=reason, exit_code=code)
        self._emit(ProgressEvent(job_id, None, "state", state=state.value, message=reason))

    def _start_attempt(self, job_id: str) -> None:
        job = self.jobs.job(job_id)
        log = self._logger(job_id=job_id)
        try:
            validated = self._validated_for(job)
        except InvalidJobOrder as err:  # e.g. an input deleted since submission
            if job.state is JobState.QUEUED:
                self._set_job(job_id, JobState.RUNNING, "starting", None)
            self._set_job(job_id, JobState.FAILED, f"job order no longer valid: {err.describe()}", err.exit_code)
            return
        decl = validated.declaration
        attempt = self.jobs.create_attempt(job_id, executor=self.runner.name, work_root=self.settings.work_dir)
        log = log.bind(attempt_id=attempt.id)
        if job.state is JobState.QUEUED:
            try:
                self.jobs.transition_job(job_id, JobState.RUNNING, f"attempt {attempt.number}", expect=JobState.QUEUED)
            except JobStoreError as err:  # cancelled (or taken) meanwhile
                self.jobs.transition_attempt(attempt.id, AttemptState.FAILED, f"not started: {err}")
                return
            self._emit(ProgressEvent(job_id, attempt.id, "state", state=JobState.RUNNING.value))
        work_dir = Path(attempt.work_dir)
        try:
            work_dir.mkdir(parents=True, exist_ok=False)
            (work_dir / SETTINGS_FILE).write_text(self._attempt_settings(validated).model_dump_json(), encoding="utf-8")
            job_order = work_dir / JOB_ORDER_FILE
            write_job_order(attempt_order(validated.order, decl, validated.gipps), job_order)
            digest = order_digest(job_order.read_bytes())  # the worker may then skip the XSD layer
            job_order.with_name(job_order.name + DIGEST_SUFFIX).write_text(digest + "\n", encoding="ascii")
            resources = decl.resources
            order = validated.order
            if order.cores is not None and order.cores > resources.cores:
                resources = resources.model_copy(update={"cores": order.cores})
            if order.ram_bytes is not None and order.ram_bytes // 2**20 > resources.memory_mb:
                resources = resources.model_copy(update={"memory_mb": order.ram_bytes // 2**20})
            spec = TaskSpec(
                attempt_id=attempt.id,
                job_order=job_order,
                work_dir=work_dir,
                resources=resources,
                stdout=work_dir / STDOUT_FILE,
                stderr=work_dir / STDERR_FILE,
                env={
                    "VIQ_HOME": str(self.settings.home),
                    "VIQ_JOB_ID": job_id,
                    "VIQ_ATTEMPT_ID": attempt.id,
                    **self.extra_env,
                },
            )
            external_id = self.runner.submit(spec)
        except (OSError, ViqError) as err:
            reason = f"could not start attempt {attempt.number}: {err}"
            log.error("attempt.submit_failed", error=str(err))
            self.jobs.transition_attempt(attempt.id, AttemptState.FAILED, reason, exit_code=int(ExitCode.SERVICE_ERROR))
            self._set_job(job_id, JobState.FAILED, reason, ExitCode.SERVICE_ERROR)
            return
        attempt = self.jobs.transition_attempt(attempt.id, AttemptState.SUBMITTED, "submitted", external_id=external_id)
        log.info("attempt.submitted", number=attempt.number, executor=self.runner.name, external_id=external_id,
                 work_dir=str(work_dir))
        self._active[attempt.id] = _Active(job_id, attempt, validated, _Tail(work_dir / STDOUT_FILE))
        self._emit(ProgressEvent(job_id, attempt.id, "state", state=AttemptState.SUBMITTED.value))

    def _attempt_settings(self, validated: ValidatedJob) -> Settings:
        """Settings for the worker: the GIPPs resolved by the host are readable where the store keeps them."""
        roots = list(self.settings.data_roots)
        for items in validated.gipps.values():
            for g in items:
                parent = Path(g.path).parent
                if not any(parent.is_relative_to(r) for r in roots):
                    roots.append(parent)
        if roots == list(self.settings.data_roots):
            return self.settings
        return self.settings.model_copy(update={"data_roots": roots})

    def _abandon(self, active: _Active, reason: str) -> None:
        attempt = self.jobs.attempt(active.attempt.id)
        if not attempt.state.terminal:
            self.jobs.transition_attempt(attempt.id, AttemptState.FAILED, reason, exit_code=int(ExitCode.KILLED))
        job = self.jobs.job(active.job_id)
        if not job.state.terminal:
            self._set_job(active.job_id, JobState.FAILED, reason, ExitCode.KILLED)

    @staticmethod
    def _exit_code(outcome: TaskOutcome, cancel_requested: bool) -> tuple[int, str]:
        if outcome.timed_out:
            return int(ExitCode.WALLTIME_EXCEEDED), outcome.reason or "walltime exceeded"
        if outcome.aborted or (cancel_requested and outcome.exit_code is None):
            return int(ExitCode.CANCELLED), outcome.reason or "cancelled"
        if outcome.exit_code is None:
            return int(ExitCode.KILLED), outcome.reason or f"killed by {outcome.signal or 'a signal'}"
        return outcome.exit_code, outcome.reason or f"exited with code {outcome.exit_code}"

    def _finish(self, outcome: TaskOutcome) -> None:
        active = self._active.pop(outcome.attempt_id)
        job_id, aid = active.job_id, outcome.attempt_id
        log = self._logger(job_id=job_id, attempt_id=aid)
        job = self.jobs.job(job_id)
        started = bool(outcome.exit_code is not None or outcome.signal or outcome.timed_out)
        if not active.running and started:
            self._mark_running(active)
        self._pump_log(active, final=True)
        code, reason = self._exit_code(outcome, job.cancel_requested)
        attempt = self.jobs.transition_attempt(
            aid, AttemptState.EXITED, reason, exit_code=code, signal=outcome.signal,
            external_id=outcome.external_id or None,
        )
        log.info("attempt.exited", exit_code=code, signal=outcome.signal, reason=reason,
                 non_icd_lines=active.tail.garbage)
        self._emit(ProgressEvent(job_id, aid, "state", state=AttemptState.EXITED.value, message=reason))

        work_dir = Path(attempt.work_dir)
        output_dir = work_dir / OUTPUT_SUBDIR
        manifest, why = read_manifest(work_dir)
        result: ProcessorResult | None = None
        if manifest is not None:
            result, why = result_of(manifest, output_dir)
        sev = severity(code)
        if sev is not Severity.ERROR:
            if result is None:
                code, reason = int(ExitCode.MISSING_OUTPUT), f"exited with code {attempt.exit_code} but {why}"
            else:
                problems = check_outputs(
                    active.validated.declaration, result, output_dir, skipped=code == ExitCode.SKIPPED
                )
                if problems:
                    code = int(ExitCode.MISSING_OUTPUT)
                    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                    reason = f"exited with code {attempt.exit_code} but {problems[0]}{more}"
        elif manifest is not None and isinstance(manifest.get("error"), dict):
            error = manifest["error"]
            reason = f"{reason}: {error.get('type', 'error')}: {error.get('message', '')}"
        elif not active.running and not started:
            pass  # never started (cancelled while queued, or failed to start): reason from the executor
        elif outcome.exit_code is not None:
            reason = f"{reason} ({why})"

        if severity(code) is not Severity.ERROR and result is not None:
            self._succeed(active, attempt, result, code, reason)
            return
        reason += _full_disk_note(work_dir)
        self.jobs.transition_attempt(aid, AttemptState.FAILED, reason, exit_code=code)
        log.warning("attempt.failed", exit_code=code, reason=reason)
        self._emit(ProgressEvent(job_id, aid, "state", state=AttemptState.FAILED.value, message=reason))
        job = self.jobs.job(job_id)
        policy = active.validated.declaration.retry
        made = attempt.number - job.retry_base
        if job.cancel_requested or code == ExitCode.CANCELLED:
            self._set_job(job_id, JobState.CANCELLED, reason, code)
        elif policy.rerunnable and code in policy.retry_on and made < policy.max_attempts:
            log.info("attempt.retry", after=policy.backoff_seconds, attempt=made + 1, of=policy.max_attempts)
            self._emit(ProgressEvent(job_id, aid, "log", level="W",
                                     message=f"attempt {attempt.number} failed ({reason}); retrying"))
            self._delayed[job_id] = time.monotonic() + policy.backoff_seconds
        else:
            self._set_job(job_id, JobState.FAILED, reason, code)

    def _succeed(
        self, active: _Active, attempt: AttemptRecord, result: ProcessorResult, code: int, reason: str
    ) -> None:
        job_id, aid = active.job_id, attempt.id
        log = self._logger(job_id=job_id, attempt_id=aid)
        if self.ingest is not None and not attempt.ingested:
            try:
                self.ingest(self.jobs.job(job_id), attempt, active.validated, result)
            except Exception as err:  # a catalog failure fails the attempt, it must not kill the loop
                why = f"ingest failed: {type(err).__name__}: {err}"
                log.error("attempt.ingest_failed", error=why)
                self.jobs.transition_attempt(aid, AttemptState.FAILED, why, exit_code=int(ExitCode.SERVICE_ERROR))
                self._set_job(job_id, JobState.FAILED, why, ExitCode.SERVICE_ERROR)
                return
        ingested = self.ingest is not None
        self.jobs.transition_attempt(aid, AttemptState.DONE, reason, exit_code=code, ingested=ingested or None)
        self._emit(ProgressEvent(job_id, aid, "state", state=AttemptState.DONE.value, message=reason))
        log.info("attempt.done", exit_code=code, outputs=len(result.outputs), measurements=len(result.measurements))
        state = JobState.SUCCEEDED if code == 0 else JobState.WARNING
        self._set_job(job_id, state, result.summary or reason, code)


__all__ = [
    "Ingest",
    "JobService",
    "JobStatus",
    "ProgressEvent",
    "attempt_order",
    "check_outputs",
    "quiet_plugins",
    "read_manifest",
    "result_of",
]
