"""The Grid Engine executor: runs ``viq-task <job order>`` through DRMAA 1.0 (``drmaa`` over libdrmaa).

One DRMAA session per process (a second ``initialize`` fails in libdrmaa), so at most one open
:class:`DrmaaExecutor` per process. Each attempt becomes one Grid Engine job named ``viq-<attempt UUID>``
(Grid Engine refuses names that start with a digit, and ``qacct -j`` would read such a name as a job
number): the name, not the numeric id, is the durable key, because Grid Engine can hand out the same id
again after a qmaster crash.

A reaper thread calls ``wait(JOB_IDS_SESSION_ANY)`` and turns every job that ends into a
:class:`TaskOutcome` for :meth:`DrmaaExecutor.wait_any`. Submissions reuse one job template (only the
attributes that differ from the previous attempt are set) and a nudge thread guards every ``runJob`` against
a lost wake-up in libdrmaa 8.1.9 (see :attr:`DrmaaExecutor.submit_nudge`). Jobs submitted by an earlier host process are
not part of this session: :meth:`DrmaaExecutor.state` finds them by name in ``qstat -xml`` and
``qacct``, :meth:`DrmaaExecutor.recover` reads their outcome from ``qacct``, and
:meth:`DrmaaExecutor.adopt` keeps watching one until it ends (its outcome then arrives through
``wait_any`` like any other).

The library path comes from ``DRMAA_LIBRARY_PATH``; when it is unset the copy written by
``scripts/services/sge.sh`` (Debian's libdrmaa without its jemalloc dependency, which cannot be
``dlopen``-ed and would break GDAL) is used, and ``SGE_ROOT``/``SGE_CELL`` default to Debian's.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from lxml import etree

from viq_host.executors.base import TaskOutcome, TaskSpec, TaskState
from viq_interfaces.declaration import Resources
from viq_interfaces.errors import ViqError
from viq_interfaces.exitcodes import ExitCode

if TYPE_CHECKING:
    from viq_host.config import Settings

_log = logging.getLogger(__name__)

JOB_NAME_PREFIX = "viq-"
DEFAULT_LIBRARY = Path("/usr/local/lib/viq-sge/libdrmaa.so.1.0")
DEFAULT_SGE_ROOT = Path("/var/lib/gridengine")
FAILED_WALLTIME = 37
"""``qacct`` failure code of a job killed for its ``h_rt`` (or ``h_cpu``/``h_vmem``) limit."""
FAILED_AFTER_JOB = 100
"""``qacct`` failure code of a job that ended by a signal (qdel, kill, crash) after it started."""

_QUEUED_STATES = {"queued_active", "system_on_hold", "user_on_hold", "user_system_on_hold"}
_RUNNING_STATES = {"running", "system_suspended", "user_suspended", "user_system_suspended"}
_FINISHED_STATES = {"done", "failed"}


class DrmaaError(ViqError, RuntimeError):
    """Raised when the DRMAA library cannot be loaded, the qmaster cannot be reached or a job is refused."""


def job_name(attempt_id: str) -> str:
    """The Grid Engine job name of an attempt."""
    return f"{JOB_NAME_PREFIX}{attempt_id}"


def h_rt(walltime: timedelta) -> str:
    """A walltime as Grid Engine's ``H:M:S`` (rounded up to whole seconds, at least one)."""
    total = max(1, math.ceil(walltime.total_seconds()))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def native_specification(
    resources: Resources,
    *,
    queue: str = "",
    cores_resource: str = "",
    memory_resource: str = "",
    extra: str = "",
) -> str:
    """Grid Engine options of one attempt.

    The walltime always becomes ``-l h_rt``; cores and memory are requested only when the cluster has a
    resource for them (``cores_resource`` e.g. a consumable ``num_proc``, ``memory_resource`` e.g.
    ``h_vmem``): without a parallel environment Grid Engine gives one slot per job, and a memory limit
    the cluster does not define would make every job unschedulable.
    """
    parts: list[str] = []
    if queue:
        parts += ["-q", queue]
    parts += ["-l", f"h_rt={h_rt(resources.walltime)}"]
    if cores_resource:
        parts += ["-l", f"{cores_resource}={resources.cores}"]
    if memory_resource:
        parts += ["-l", f"{memory_resource}={resources.memory_mb}M"]
    if extra.strip():
        parts.append(extra.strip())
    return " ".join(parts)


def load_drmaa() -> ModuleType:
    """Import ``drmaa`` with the environment it needs; DrmaaError with a hint when that fails."""
    if not os.environ.get("DRMAA_LIBRARY_PATH") and DEFAULT_LIBRARY.is_file():
        os.environ["DRMAA_LIBRARY_PATH"] = str(DEFAULT_LIBRARY)
    if not os.environ.get("SGE_ROOT") and DEFAULT_SGE_ROOT.is_dir():
        os.environ["SGE_ROOT"] = str(DEFAULT_SGE_ROOT)
        os.environ.setdefault("SGE_CELL", "default")
    try:
        import drmaa
    except ImportError as err:
        raise DrmaaError("the drmaa package is not installed (install viq-host[drmaa])") from err
    except (RuntimeError, OSError) as err:
        hint = ""
        if "static TLS" in str(err):
            hint = " — use the libdrmaa copy without libjemalloc written by scripts/services/sge.sh"
        raise DrmaaError(f"cannot load the DRMAA library: {err}{hint}") from err
    module: ModuleType = drmaa
    return module


def worker_command() -> tuple[str, ...]:
    """The worker entry point of this installation, as an absolute command."""
    script = Path(sys.executable).parent / "viq-task"
    if script.is_file():
        return (str(script),)
    return (sys.executable, "-m", "viq_host.worker")


# -- qstat / qacct ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountingRecord:
    """The fields of one ``qacct -j`` record that decide an outcome."""

    job_number: str
    job_name: str
    failed: int
    failed_text: str
    exit_status: int
    started: bool
    wallclock: float


def _run_tool(args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise DrmaaError(f"{args[0]} failed: {err}") from err


def parse_qacct(text: str) -> list[AccountingRecord]:
    """Records of ``qacct -j`` output, in accounting-file order."""
    records: list[AccountingRecord] = []
    for block in re.split(r"^=+\s*$", text, flags=re.MULTILINE):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            if key:
                fields[key] = value.strip()
        if "jobnumber" not in fields:
            continue
        failed_raw = fields.get("failed", "0")
        failed_code, _, failed_text = failed_raw.partition(":")
        wall = re.match(r"[\d.]+", fields.get("ru_wallclock", "0"))
        status = re.match(r"-?\d+", fields.get("exit_status", "0"))
        records.append(
            AccountingRecord(
                job_number=fields["jobnumber"],
                job_name=fields.get("jobname", ""),
                failed=int(failed_code.strip() or 0),
                failed_text=failed_text.strip(),
                exit_status=int(status.group(0)) if status else 0,
                started=fields.get("start_time", "-/-") not in ("-/-", ""),
                wallclock=float(wall.group(0)) if wall else 0.0,
            )
        )
    return records


def qacct_records(pattern: str) -> list[AccountingRecord]:
    """Accounting records of jobs whose name (or number) matches ``pattern``; empty when none."""
    done = _run_tool(["qacct", "-j", pattern])
    if done.returncode != 0:
        return []  # "error: job name … not found"
    return parse_qacct(done.stdout)


def qstat_jobs() -> dict[str, tuple[str, str]]:
    """Jobs the qmaster knows (any user): ``job name → (job number, state letters)``."""
    done = _run_tool(["qstat", "-u", "*", "-xml"])
    if done.returncode != 0:
        raise DrmaaError(f"qstat failed: {done.stderr.strip() or done.stdout.strip()}")
    root = etree.fromstring(done.stdout.encode())
    jobs: dict[str, tuple[str, str]] = {}
    for job in root.iter("job_list"):
        jobs[job.findtext("JB_name", "")] = (job.findtext("JB_job_number", ""), job.findtext("state", ""))
    return jobs


def _state_of_letters(letters: str) -> TaskState:
    """``qw``/``hqw``/``Eqw`` → QUEUED; ``r``, ``t``, ``s``, ``dr``… → RUNNING."""
    return TaskState.QUEUED if "q" in letters else TaskState.RUNNING


def outcome_from_accounting(attempt_id: str, rec: AccountingRecord) -> TaskOutcome:
    """The outcome of a finished job from its accounting record."""
    if rec.failed == 0:
        code = rec.exit_status
        timed_out = code == ExitCode.WALLTIME_EXCEEDED
        return TaskOutcome(attempt_id, rec.job_number, code, timed_out=timed_out, reason=f"exited with code {code}")
    if rec.failed == FAILED_WALLTIME:
        return TaskOutcome(
            attempt_id,
            rec.job_number,
            None,
            signal="SIGKILL",
            timed_out=True,
            reason=f"h_rt exceeded: {rec.failed_text}",
        )
    if rec.failed == FAILED_AFTER_JOB and rec.exit_status > 128:
        sig = _signal_name(rec.exit_status - 128)
        return TaskOutcome(attempt_id, rec.job_number, None, signal=sig, reason=f"killed by {sig}")
    return TaskOutcome(
        attempt_id, rec.job_number, None, aborted=True, reason=f"Grid Engine failure {rec.failed}: {rec.failed_text}"
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"SIG{number}"


def accounting_flush_seconds() -> float:
    """Seconds Grid Engine may take to write a finished job to the accounting file (``reporting_params``)."""
    done = _run_tool(["qconf", "-sconf", "global"], timeout=30)
    text = done.stdout if done.returncode == 0 else ""
    found = re.search(r"accounting_flush_time=(\d+):(\d+):(\d+)", text) or re.search(
        r"flush_time=(\d+):(\d+):(\d+)", text
    )
    if not found:
        return 15.0
    h, m, s = (int(g) for g in found.groups())
    return float(h * 3600 + m * 60 + s)


# -- the executor -----------------------------------------------------------------------------------------


@dataclass
class _Job:
    key: str
    """Key in the executor's table: the DRM id for own jobs, ``adopted:<attempt>`` for adopted ones (a
    reused numeric id must never make an adopted job and a new one collide)."""
    attempt_id: str
    external_id: str
    walltime: float
    adopted: bool = False
    cancelled: bool = False
    missing_since: float | None = None
    queue_instance: str = ""
    """Issue 14: where Grid Engine last ran the job (``queue@host``), to name a lost host."""


_claim = threading.Lock()
_open: list[DrmaaExecutor] = []
_NUDGES_IN_FLIGHT = 4
"""Most nudge queries (``DrmaaExecutor.submit_nudge``) waiting for their reply at one time."""


@dataclass
class DrmaaExecutor:
    """Grid Engine back-end (see module docstring)."""

    settings: Settings
    cores_resource: str | None = None
    """Resource requested with ``-l <name>=<cores>`` (None: setting ``drmaa_cores_resource``; empty: cores
    are not requested)."""
    memory_resource: str | None = None
    """Resource requested with ``-l <name>=<memory>M``, e.g. ``h_vmem`` (None: setting
    ``drmaa_memory_resource``; empty: memory is not requested)."""
    wait_slice: float = 1.0
    """Longest single ``drmaa wait`` of the reaper (bounds how long close() waits for it)."""
    watch_interval: float = 2.0
    """How often adopted jobs (from an earlier process) are looked up in qstat."""
    lookup_grace: float | None = None
    """How long a job absent from qstat may stay absent from qacct before it counts as unknown
    (default: the accounting flush time plus 2 s)."""
    host_loss_grace: float = 90.0
    """Seconds a queue instance must stay in state ``u`` before its jobs count as lost with their host: right
    after a qmaster restart every instance is ``u`` until its execd reports in again (within
    ``load_report_time``), and its jobs are then still running or have finished normally."""
    host_scan_interval: float = 15.0
    """How often the queue instances are scanned for lost hosts (two ``qstat -xml`` calls; each loads the
    qmaster, which slows submissions, and a loss is acted on only after ``host_loss_grace`` anyway)."""
    submit_quiet: float = 2.0
    """A due host scan waits until no attempt was submitted for this long (at most one more
    ``host_scan_interval``), so its ``qstat`` calls do not compete with a burst of submissions."""
    submit_nudge: float = 0.02
    """Seconds a single ``runJob`` may take before the nudge thread sends the qmaster a ``jobStatus`` query
    (repeated at this interval until the call returns; 0 disables it). libdrmaa 8.1.9 shares one
    communication handle between the caller and its own event-client thread, and now and then the caller
    misses the wake-up for a reply that has already been read: it then sleeps out commlib's 1-s wait (the
    "≈1 s qmaster stalls" of every DRMAA submitter, bare loops included). Any further reply for the session
    wakes it, so a stall costs about this long instead of a second."""
    exit_timeout: float = 5.0
    """Longest wait for libdrmaa's ``exit`` in :meth:`close` (see :meth:`_exit_session`)."""
    name: str = "drmaa"
    nudges: int = field(default=0, init=False)
    """How many nudges were sent (each one a ``runJob`` that would otherwise have waited up to 1 s)."""
    _last_host_scan: float = field(default=float("-inf"), init=False)
    _last_submit: float = field(default=float("-inf"), init=False)
    _template: Any = field(default=None, init=False, repr=False)
    _template_values: dict[str, object] = field(default_factory=dict, init=False, repr=False)
    _submit_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _submitting: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _submit_seq: int = field(default=0, init=False, repr=False)
    _nudge_target: str = field(default="1", init=False, repr=False)
    _nudger: threading.Thread | None = field(default=None, init=False)
    _host_env: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _nudge_slots: threading.Semaphore = field(
        default_factory=lambda: threading.Semaphore(_NUDGES_IN_FLIGHT), init=False, repr=False
    )
    _unknown_since: dict[str, float] = field(default_factory=dict, init=False)
    _drmaa: Any = field(init=False, repr=False)
    _session: Any = field(init=False, repr=False)
    _lock: threading.Condition = field(default_factory=lambda: threading.Condition(threading.RLock()), init=False)
    _jobs: dict[str, _Job] = field(default_factory=dict, init=False)
    """Jobs this process waits for, by DRM job id (own submissions and adopted ones)."""
    _by_attempt: dict[str, _Job] = field(default_factory=dict, init=False)
    _outcomes: deque[TaskOutcome] = field(default_factory=deque, init=False)
    _finished: set[str] = field(default_factory=set, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _reaper: threading.Thread | None = field(default=None, init=False)
    _watcher: threading.Thread | None = field(default=None, init=False)
    _worker: tuple[str, ...] = field(default_factory=tuple, init=False)

    def __post_init__(self) -> None:
        if self.cores_resource is None:
            self.cores_resource = str(getattr(self.settings, "drmaa_cores_resource", ""))
        if self.memory_resource is None:
            self.memory_resource = str(getattr(self.settings, "drmaa_memory_resource", ""))
        self._drmaa = load_drmaa()
        with _claim:
            if _open:
                raise DrmaaError("a DRMAA executor is already open in this process (one DRMAA session per process)")
            session = self._drmaa.Session()
            try:
                session.initialize()
            except self._drmaa.errors.DrmaaException as err:
                raise DrmaaError(f"cannot open a DRMAA session: {err}") from err
            self._session = session
            _open.append(self)
        self._worker = worker_command()
        self._environment({})  # the host's part of every job's environment, read once
        if self.lookup_grace is None:
            self.lookup_grace = accounting_flush_seconds() + 2.0
        self._reaper = threading.Thread(target=self._reap_loop, name="drmaa-reaper", daemon=True)
        self._reaper.start()
        self._watcher = threading.Thread(target=self._watch_loop, name="drmaa-watcher", daemon=True)
        self._watcher.start()
        if self.submit_nudge > 0:
            self._nudger = threading.Thread(target=self._nudge_loop, name="drmaa-nudge", daemon=True)
            self._nudger.start()

    # -- protocol ---------------------------------------------------------------------------------------

    def submit(self, spec: TaskSpec) -> str:
        """Submit the attempt as job ``viq-<attempt id>``; returns the Grid Engine job id."""
        d = self._drmaa
        with self._lock:
            if spec.attempt_id in self._by_attempt:
                raise DrmaaError(f"attempt {spec.attempt_id} is already submitted")
        command = spec.command or (*self._worker, str(spec.job_order))
        spec.work_dir.mkdir(parents=True, exist_ok=True)
        for parent in {spec.stdout.parent, spec.stderr.parent} - {spec.work_dir}:
            parent.mkdir(parents=True, exist_ok=True)
        attributes: dict[str, object] = {
            "remoteCommand": command[0],
            "args": list(command[1:]),
            "jobName": job_name(spec.attempt_id),
            "workingDirectory": str(spec.work_dir),
            "outputPath": f":{spec.stdout}",
            "errorPath": f":{spec.stderr}",
            "jobEnvironment": self._environment(spec.env),
            "nativeSpecification": native_specification(
                spec.resources,
                queue=self.settings.drmaa_queue,
                cores_resource=self.cores_resource or "",
                memory_resource=self.memory_resource or "",
                extra=self.settings.drmaa_native_extra,
            ),
        }
        with self._submit_lock:
            jt = self._job_template(attributes)
            with self._lock:
                # the lock spans runJob and the bookkeeping: the reaper cannot see the job end unrecorded
                self._submit_seq += 1
                self._submitting.set()
                try:
                    external = str(self._session.runJob(jt))
                except d.errors.DrmaaException as err:
                    raise DrmaaError(f"Grid Engine refused attempt {spec.attempt_id}: {err}") from err
                finally:
                    self._submitting.clear()
                    self._last_submit = time.monotonic()
                self._nudge_target = external
                job = _Job(external, spec.attempt_id, external, spec.resources.walltime.total_seconds())
                self._jobs[external] = job
                self._by_attempt[spec.attempt_id] = job
                self._lock.notify_all()
        return external

    def wait_any(self, timeout: float) -> list[TaskOutcome]:
        """Outcomes of jobs that ended (own and adopted), waiting up to ``timeout`` s for at least one."""
        end = time.monotonic() + max(0.0, timeout)
        with self._lock:
            while not self._outcomes:
                left = end - time.monotonic()
                if left <= 0 or not self._jobs:
                    break
                self._lock.wait(left)
            done = list(self._outcomes)
            self._outcomes.clear()
        return done

    def state(self, attempt_id: str, external_id: str) -> TaskState:
        """QUEUED/RUNNING/FINISHED/UNKNOWN, for this session's jobs and for jobs of earlier processes."""
        with self._lock:
            if attempt_id in self._finished:
                return TaskState.FINISHED
            job = self._by_attempt.get(attempt_id)
        if job is not None and job.adopted:
            # watched by the watcher thread, which delivers the outcome: never block on the accounting grace here
            try:
                found = qstat_jobs().get(job_name(attempt_id))
            except DrmaaError:
                found = None
            return _state_of_letters(found[1]) if found is not None else TaskState.RUNNING
        if job is not None:
            try:
                status = str(self._session.jobStatus(job.external_id))
            except self._drmaa.errors.DrmaaException:
                status = ""
            if status in _QUEUED_STATES:
                return TaskState.QUEUED
            if status in _RUNNING_STATES:
                return TaskState.RUNNING
            if status in _FINISHED_STATES:
                return TaskState.FINISHED
        return self.lookup([attempt_id])[attempt_id]

    def recover(self, attempt_id: str, external_id: str) -> TaskOutcome | None:
        """Outcome of a finished job from ``qacct`` (matched by job name), None if it has no record."""
        return self.recover_many([(attempt_id, external_id)]).get(attempt_id)

    def cancel(self, attempt_id: str, external_id: str) -> None:
        """Terminate the job of an attempt (queued jobs are removed, running ones killed)."""
        d = self._drmaa
        with self._lock:
            job = self._by_attempt.get(attempt_id)
            if job is not None:
                job.cancelled = True
                target = job.external_id
            else:
                # not ours: take the id from qstat by name, never trust a possibly reused number
                target = qstat_jobs().get(job_name(attempt_id), ("", ""))[0]
        if not target:
            return
        try:
            self._session.control(target, d.JobControlAction.TERMINATE)
        except d.errors.InvalidJobException:
            pass  # already ended
        except d.errors.DrmaaException as err:
            raise DrmaaError(f"cannot cancel attempt {attempt_id} (job {target}): {err}") from err

    def close(self) -> None:
        """Stop the reaper and leave the DRMAA session (jobs keep running on Grid Engine)."""
        if self._stop.is_set():
            return
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        for thread in (self._reaper, self._watcher, self._nudger):
            if thread is not None:
                thread.join(timeout=self.wait_slice + 30)
        for _ in range(_NUDGES_IN_FLIGHT):  # no nudge query may still be inside libdrmaa when the session ends
            self._nudge_slots.acquire(timeout=5.0)
        with self._submit_lock:
            if self._template is not None:
                with contextlib.suppress(self._drmaa.errors.DrmaaException):
                    self._session.deleteJobTemplate(self._template)
                self._template = None
        if not self._exit_session():
            # libdrmaa is still inside drmaa_exit: keep the claim, a second session in this process must not start
            _log.warning(
                "drmaa exit did not return within %.0f s (connection to a restarted qmaster?); "
                "the session is left to the end of the process; the jobs are unaffected",
                self.exit_timeout,
            )
            return
        with _claim:
            if self in _open:
                _open.remove(self)

    def _exit_session(self) -> bool:
        """``drmaa exit`` with a deadline; True if it returned.

        After a qmaster restart libdrmaa 8.1.9's exit can wait out a commlib timeout of half a minute or more to
        unregister an event client whose connection the old qmaster reset. Nothing depends on that goodbye (the
        jobs live on in Grid Engine and the next process adopts them), so a host that is stopping does not wait.
        """
        errors = self._drmaa.errors

        def leave() -> None:
            with contextlib.suppress(errors.DrmaaException):
                self._session.exit()

        thread = threading.Thread(target=leave, name="drmaa-exit", daemon=True)
        thread.start()
        thread.join(self.exit_timeout)
        return not thread.is_alive()

    def __enter__(self) -> DrmaaExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- beyond the protocol: jobs of earlier processes ----------------------------------------------------

    def adopt(self, attempt_id: str, external_id: str) -> None:
        """Watch a job submitted by an earlier process; its outcome will come through :meth:`wait_any`."""
        with self._lock:
            if attempt_id in self._by_attempt or attempt_id in self._finished:
                return
            job = _Job(f"adopted:{attempt_id}", attempt_id, external_id, 0.0, adopted=True)
            self._jobs[job.key] = job
            self._by_attempt[attempt_id] = job
            self._lock.notify_all()

    def lookup(self, attempt_ids: Iterable[str]) -> dict[str, TaskState]:
        """Where the jobs of these attempts are, by job name: qstat first, then qacct.

        A job that has just left qstat may not be in the accounting file yet: an attempt found in neither
        is looked up again until ``lookup_grace`` has passed before it is declared UNKNOWN.
        """
        wanted = list(dict.fromkeys(attempt_ids))
        result: dict[str, TaskState] = {}
        assert self.lookup_grace is not None
        deadline = time.monotonic() + self.lookup_grace
        while True:
            pending = [a for a in wanted if a not in result]
            running = qstat_jobs()
            for attempt_id in pending:
                found = running.get(job_name(attempt_id))
                if found is not None:
                    result[attempt_id] = _state_of_letters(found[1])
            pending = [a for a in pending if a not in result]
            if pending:
                names = {r.job_name for r in self._accounting(pending)}
                for attempt_id in pending:
                    if job_name(attempt_id) in names:
                        result[attempt_id] = TaskState.FINISHED
            pending = [a for a in pending if a not in result]
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        for attempt_id in wanted:
            result.setdefault(attempt_id, TaskState.UNKNOWN)
        return result

    def recover_many(self, attempts: Iterable[tuple[str, str]]) -> dict[str, TaskOutcome]:
        """Outcomes from ``qacct`` for many attempts at once (one scan of the accounting file)."""
        wanted = dict(attempts)
        by_name: dict[str, list[AccountingRecord]] = {}
        for rec in self._accounting(list(wanted)):
            by_name.setdefault(rec.job_name, []).append(rec)
        found: dict[str, TaskOutcome] = {}
        for attempt_id, external_id in wanted.items():
            records = by_name.get(job_name(attempt_id), [])
            if not records:
                continue
            same_id = [r for r in records if r.job_number == external_id]
            found[attempt_id] = outcome_from_accounting(attempt_id, (same_id or records)[-1])
        return found

    @staticmethod
    def _accounting(attempt_ids: list[str]) -> list[AccountingRecord]:
        if len(attempt_ids) == 1:
            return qacct_records(job_name(attempt_ids[0]))
        return qacct_records(f"{JOB_NAME_PREFIX}*")  # one pass over the file for a batch

    # -- internals ----------------------------------------------------------------------------------------

    def _environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        """What the job sees: PATH, locale, every VIQ_* and SGE/DRMAA variable of the host as it was when the
        executor opened (reading ``os.environ`` on every submission cost a tenth of it), then ``extra``."""
        if not self._host_env:
            keep = ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
            self._host_env = {k: v for k, v in os.environ.items() if k in keep or k.startswith(("VIQ_", "SGE_"))}
            self._host_env["VIQ_HOME"] = str(self.settings.home)
        env = dict(self._host_env)
        env.update(extra)
        return env

    def _job_template(self, attributes: Mapping[str, object]) -> Any:
        """The executor's one job template with these attributes (call with ``_submit_lock`` held).

        Only attributes that differ from the previous submission are set: each is a libdrmaa call, and most
        (command, environment, native specification) are the same for every attempt of a host.
        """
        d = self._drmaa
        if self._template is None:
            try:
                self._template = self._session.createJobTemplate()
            except d.errors.DrmaaException as err:
                raise DrmaaError(f"cannot create a DRMAA job template: {err}") from err
            self._template_values.clear()
        for name, value in attributes.items():
            if name in self._template_values and self._template_values[name] == value:
                continue
            self._template_values.pop(name, None)  # unknown until the library has taken it
            try:
                setattr(self._template, name, value)
            except d.errors.DrmaaException as err:
                raise DrmaaError(f"Grid Engine refused the job attribute {name}={value!r}: {err}") from err
            self._template_values[name] = value
        return self._template

    def _nudge_loop(self) -> None:
        """Wake a ``runJob`` that missed its reply (see :attr:`submit_nudge`) with cheap ``jobStatus`` queries.

        Each query runs in its own short-lived thread (at most ``_NUDGES_IN_FLIGHT`` at a time): a query can
        miss its own wake-up as well, and must not hold up the next one.
        """
        while not self._stop.is_set():
            if not self._submitting.wait(1.0):
                continue
            seq = self._submit_seq
            if self._stop.wait(self.submit_nudge):
                return
            sent = 0
            while self._submitting.is_set() and self._submit_seq == seq:
                if self._nudge_slots.acquire(blocking=False):
                    self.nudges += 1
                    sent += 1
                    threading.Thread(target=self._nudge_once, name="drmaa-nudge-call", daemon=True).start()
                # a call that is still waiting after a second is not a missed wake-up (qmaster down or busy):
                # keep nudging, once a second, without flooding the qmaster
                if self._stop.wait(self.submit_nudge if sent * self.submit_nudge < 1.0 else 1.0):
                    return

    def _nudge_once(self) -> None:
        try:
            with contextlib.suppress(Exception):  # any reply will do, "no such job" included
                self._session.jobStatus(self._nudge_target)
        finally:
            self._nudge_slots.release()

    def _emit(self, job: _Job, outcome: TaskOutcome) -> None:
        with self._lock:
            if self._jobs.get(job.key) is not job:
                return  # already settled by another path (reaper, sweep, watcher): one outcome per attempt
            self._jobs.pop(job.key, None)
            self._by_attempt.pop(job.attempt_id, None)
            self._finished.add(job.attempt_id)
            self._outcomes.append(outcome)
            self._lock.notify_all()

    def _own_jobs(self) -> int:
        return sum(1 for j in self._jobs.values() if not j.adopted)

    def _reap_loop(self) -> None:
        d = self._drmaa
        while not self._stop.is_set():
            with self._lock:
                if not self._own_jobs():
                    self._lock.wait(0.5)
                    continue
            try:
                info = self._session.wait(d.Session.JOB_IDS_SESSION_ANY, max(1, math.ceil(self.wait_slice)))
            except d.errors.ExitTimeoutException:
                continue
            except (d.errors.NoActiveSessionException, d.errors.InvalidContactStringException):
                return
            except d.errors.DrmCommunicationException as err:
                _log.warning("drmaa wait: qmaster unreachable, retrying: %s", err)
                time.sleep(1.0)
                continue
            except Exception as err:
                # "code 24: no usage information" (a job cancelled before it started) is a plain Exception
                # naming no job; find the jobs that are gone
                if "code 24" not in str(err):
                    _log.error("drmaa wait failed: %s: %s", type(err).__name__, err)
                    time.sleep(1.0)
                self._sweep_reaped()
                continue
            with self._lock:
                job = self._jobs.get(str(info.jobId))
            if job is not None and not job.adopted:
                self._emit(job, self._outcome_from_info(job, info))

    def _sweep_reaped(self) -> None:
        """After a wait without job information (a job cancelled before it started): find jobs that are gone."""
        d = self._drmaa
        with self._lock:
            own = [j for j in self._jobs.values() if not j.adopted]
        for job in own:
            try:
                self._session.jobStatus(job.external_id)
            except d.errors.InvalidJobException:
                # the session lost the job's usage (e.g. it ended while the qmaster restarted): the accounting
                # file still has the true outcome
                recorded = None if job.cancelled else self._accounted(job)
                if recorded is not None:
                    self._emit(job, recorded)
                    continue
                if job.cancelled:
                    outcome = TaskOutcome(
                        job.attempt_id, job.external_id, None, aborted=True, reason="cancelled before it started"
                    )
                else:
                    # issue 14: the DRMAA "code 24" case — Grid Engine removed the job without accounting, which
                    # (ENABLE_RESCHEDULE_KILL) is what it does to a non-rerunnable job of a lost execution host.
                    # Not a cancel: reported as killed, so the service reruns or fails it per its retry policy.
                    where = job.queue_instance.partition("@")[2]
                    outcome = TaskOutcome(
                        job.attempt_id,
                        job.external_id,
                        None,
                        reason=f"execution host {where} lost: Grid Engine removed the job without accounting "
                        "information (DRMAA code 24)"
                        if where
                        else "removed by Grid Engine without accounting information (execution host lost?)",
                    )
                self._emit(job, outcome)
            except d.errors.DrmaaException:
                continue
        time.sleep(0.1)

    def _accounted(self, job: _Job) -> TaskOutcome | None:
        """The outcome of one own job from ``qacct`` (waiting up to the accounting flush time), None if absent."""
        end = time.monotonic() + (self.lookup_grace or 3.0)
        while not self._stop.is_set():
            records = [r for r in qacct_records(job_name(job.attempt_id)) if r.job_number == job.external_id]
            if records:
                return outcome_from_accounting(job.attempt_id, records[-1])
            if time.monotonic() >= end:
                break
            time.sleep(0.3)
        return None

    def _outcome_from_info(self, job: _Job, info: Any) -> TaskOutcome:
        usage: Mapping[str, str] = info.resourceUsage or {}
        try:
            wall = float(usage.get("ru_wallclock", "0"))
        except ValueError:
            wall = 0.0
        jid = str(info.jobId)
        if info.hasExited:
            code = int(info.exitStatus)
            return TaskOutcome(
                job.attempt_id,
                jid,
                code,
                timed_out=code == ExitCode.WALLTIME_EXCEEDED,
                reason=f"exited with code {code}",
            )
        if info.hasSignal:
            sig = str(info.terminatedSignal) or "SIGKILL"
            if job.cancelled:
                return TaskOutcome(job.attempt_id, jid, None, signal=sig, aborted=True, reason="cancelled")
            # Grid Engine kills with SIGKILL at h_rt; the wall clock is then at or past the limit
            if sig == "SIGKILL" and job.walltime and wall >= job.walltime - 1.0:
                return TaskOutcome(
                    job.attempt_id,
                    jid,
                    None,
                    signal=sig,
                    timed_out=True,
                    reason=f"walltime of {job.walltime:g} s exceeded",
                )
            return TaskOutcome(job.attempt_id, jid, None, signal=sig, reason=f"killed by {sig}")
        if job.cancelled:
            return TaskOutcome(job.attempt_id, jid, None, aborted=True, reason="cancelled")
        return TaskOutcome(job.attempt_id, jid, None, aborted=True, reason=self._abort_reason(job))

    def _abort_reason(self, job: _Job) -> str:
        """Why Grid Engine gave up on a job (qacct's ``failed``), waiting briefly for the accounting record."""
        end = time.monotonic() + min(self.lookup_grace or 3.0, 5.0)
        while not self._stop.is_set():
            for rec in qacct_records(job_name(job.attempt_id)):
                if rec.job_number == job.external_id and rec.failed:
                    return f"Grid Engine failure {rec.failed}: {rec.failed_text}"
            if time.monotonic() >= end:
                break
            time.sleep(0.3)
        return "aborted by Grid Engine before it ran"

    def _check_hosts(self) -> None:
        """Issue 14: jobs (own or adopted) on an execution host the qmaster lost are removed and reported lost."""
        from viq_host.executors.hostloss import force_remove, scan

        with self._lock:
            by_name = {job_name(j.attempt_id): j for j in self._jobs.values() if not j.cancelled}
        found = scan() if by_name else None
        if found is None:  # no jobs to watch, or the qmaster does not answer (a restart makes every instance u)
            self._unknown_since.clear()
            return
        placed_jobs, unknown_now = found
        now = time.monotonic()
        for instance in list(self._unknown_since):
            if instance not in unknown_now:
                del self._unknown_since[instance]
        for instance in unknown_now:
            self._unknown_since.setdefault(instance, now)
        unknown = {i for i, since in self._unknown_since.items() if now - since >= self.host_loss_grace}
        for name, placed in placed_jobs.items():
            if name in by_name:
                by_name[name].queue_instance = placed.queue_instance
        for placed in [p for n, p in placed_jobs.items() if n in by_name and p.queue_instance in unknown]:
            job = by_name[placed.name]
            with self._lock:
                if self._jobs.get(job.key) is not job:
                    continue  # its outcome arrived meanwhile
            force_remove(placed.number)
            _log.warning("job %s of attempt %s lost with execution host %s", placed.number, job.attempt_id, placed.host)
            self._emit(
                job,
                TaskOutcome(
                    job.attempt_id,
                    placed.number,
                    None,
                    reason=f"execution host {placed.host} lost: the qmaster no longer hears from it "
                    f"(queue instance {placed.queue_instance} unknown); the run there was abandoned",
                ),
            )

    def _watch_loop(self) -> None:
        """Poll adopted jobs (not in this session): when one leaves qstat, read its outcome from qacct."""
        while not self._stop.wait(self.watch_interval):
            now = time.monotonic()
            due = now - self._last_host_scan >= self.host_scan_interval
            quiet = now - self._last_submit >= self.submit_quiet
            if due and (quiet or now - self._last_host_scan >= 2 * self.host_scan_interval):
                self._last_host_scan = now
                self._check_hosts()  # issue 14: jobs on a lost execution host (see executors/hostloss.py)
            with self._lock:
                adopted = [j for j in self._jobs.values() if j.adopted]
            if not adopted:
                continue
            try:
                running = qstat_jobs()
            except DrmaaError:
                continue  # qmaster unreachable: try again later
            gone = [j for j in adopted if job_name(j.attempt_id) not in running]
            if not gone:
                continue
            outcomes = self.recover_many((j.attempt_id, j.external_id) for j in gone)
            now = time.monotonic()
            for job in gone:
                outcome = outcomes.get(job.attempt_id)
                if outcome is not None:
                    self._emit(job, outcome)
                    continue
                if job.missing_since is None:
                    job.missing_since = now
                elif now - job.missing_since > (self.lookup_grace or 17.0):
                    self._emit(
                        job,
                        TaskOutcome(
                            job.attempt_id,
                            job.external_id,
                            None,
                            aborted=True,
                            reason="lost: in neither qstat nor qacct",
                        ),
                    )
