"""The local executor: runs ``viq-task <job order>`` as a subprocess on this machine.

Each task runs in its attempt's work directory, in its own process group (session) so a walltime kill or
a cancel reaches every child it spawned; at most ``settings.max_parallel`` tasks run at once, the others
wait in a FIFO queue. Standard output and error go to the files of the :class:`TaskSpec`.

A walltime overrun or a cancel first sends SIGTERM to the group (the worker turns it into a cancellation
request the processor can honour), then SIGKILL after ``term_grace`` seconds.

Tasks outlive the host process that started them (each is its own session), so after a crash of the host a
new executor recognises them: the external id is the worker's pid, confirmed by its working directory (the
attempt's work directory, named by the attempt UUID — a reused pid does not match). A worker still running
is *adopted* and watched until it exits; one that ended while the host was down is settled from the
``result.json`` it left; a worker that is gone without a result is unknown (lost) to the caller.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from viq_host.executors.base import TaskOutcome, TaskSpec, TaskState
from viq_interfaces.errors import ViqError

if TYPE_CHECKING:
    from viq_host.config import Settings


def worker_command(job_order: os.PathLike[str] | str) -> tuple[str, ...]:
    """The command line of the worker entry point, with this interpreter."""
    return (sys.executable, "-m", "viq_host.worker", os.fspath(job_order))


@dataclass
class _Running:
    spec: TaskSpec
    proc: subprocess.Popen[bytes]
    started: float
    deadline: float
    files: tuple[IO[bytes], IO[bytes]]
    pidfd: int | None = None
    term_sent: float | None = None
    timed_out: bool = False
    cancelled: bool = False


@dataclass
class _Adopted:
    """A worker started by an earlier host process (not our child: no exit status, only its result file)."""

    attempt_id: str
    pid: int
    work_dir: Path
    pidfd: int | None = None
    cancelled: bool = False


def _worker_dir(pid: int, attempt_id: str) -> Path | None:
    """The work directory of live process ``pid`` if it is the worker of ``attempt_id`` (else None)."""
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return None
    if state == b"Z" or cwd.name != attempt_id:
        return None
    return cwd


def _exit_code_left(work_dir: Path) -> int | None:
    """The exit code the worker recorded in ``result.json`` (None when it left none)."""
    import json

    from viq_host.worker import RESULT_FILE

    try:
        code = json.loads((work_dir / RESULT_FILE).read_text(encoding="utf-8")).get("exit_code")
    except (OSError, ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


@dataclass
class _Queued:
    spec: TaskSpec
    cancelled: bool = False


@dataclass
class LocalExecutor:
    """Subprocess executor with a concurrency limit, walltime and cancellation (see module docstring)."""

    settings: Settings
    term_grace: float = 5.0
    name: str = "local"
    drains_on_stop: bool = True
    """A stopping daemon waits for local tasks (close() kills them); adoption is for crashes only."""
    _queue: collections.deque[_Queued] = field(default_factory=collections.deque, init=False)
    _running: dict[str, _Running] = field(default_factory=dict, init=False)
    _done: list[TaskOutcome] = field(default_factory=list, init=False)
    _finished: set[str] = field(default_factory=set, init=False)
    _adopted: dict[str, _Adopted] = field(default_factory=dict, init=False)
    _dirs: dict[str, Path] = field(default_factory=dict, init=False)

    @property
    def max_parallel(self) -> int:
        """Concurrent tasks allowed."""
        return self.settings.max_parallel

    # -- protocol -------------------------------------------------------------------------------------

    def submit(self, spec: TaskSpec) -> str:
        """Start the task now if a slot is free, else queue it; the id is the pid, or ``queued:<attempt>``."""
        if spec.attempt_id in self._running or any(q.spec.attempt_id == spec.attempt_id for q in self._queue):
            raise ViqError(f"attempt {spec.attempt_id} is already submitted")
        if len(self._running) < self.max_parallel and not self._queue:
            return str(self._start(spec))
        self._queue.append(_Queued(spec))
        return f"queued:{spec.attempt_id}"

    def pid_of(self, attempt_id: str) -> int | None:
        """Pid of a running task (None while queued or after it ended)."""
        run = self._running.get(attempt_id)
        return run.proc.pid if run else None

    def wait_any(self, timeout: float) -> list[TaskOutcome]:
        """Outcomes of tasks that ended, waiting up to ``timeout`` seconds for at least one."""
        end = time.monotonic() + max(0.0, timeout)
        while True:
            self._reap()
            self._enforce()
            self._fill()
            if self._done:
                done, self._done = self._done, []
                return done
            if not self._running and not self._queue and not self._adopted:
                return []
            now = time.monotonic()
            if now >= end:
                return []
            self._sleep(min(end - now, max(0.005, self._next_deadline(now) - now)))

    def state(self, attempt_id: str, external_id: str) -> TaskState:
        """QUEUED / RUNNING / FINISHED for tasks of this executor or of an earlier host process (see the
        module docstring), UNKNOWN otherwise (never started, or gone without a result)."""
        if attempt_id in self._running or attempt_id in self._adopted:
            return TaskState.RUNNING
        if any(q.spec.attempt_id == attempt_id for q in self._queue):
            return TaskState.QUEUED
        if attempt_id in self._finished:
            return TaskState.FINISHED
        if external_id.isdigit() and _worker_dir(int(external_id), attempt_id) is not None:
            return TaskState.RUNNING
        work_dir = self._work_dir_of(attempt_id)
        if work_dir is not None and _exit_code_left(work_dir) is not None:
            return TaskState.FINISHED
        return TaskState.UNKNOWN

    def recover(self, attempt_id: str, external_id: str) -> TaskOutcome | None:
        """Outcome of a worker of an earlier host process that ended, from the ``result.json`` it left."""
        work_dir = self._work_dir_of(attempt_id)
        code = _exit_code_left(work_dir) if work_dir is not None else None
        if code is None:
            return None
        return TaskOutcome(attempt_id, external_id, code, reason=f"exited with code {code} while the host was down")

    def adopt(self, attempt_id: str, external_id: str) -> None:
        """Watch a worker an earlier host process started; its outcome arrives through :meth:`wait_any`."""
        pid = int(external_id) if external_id.isdigit() else -1
        work_dir = _worker_dir(pid, attempt_id) if pid > 0 else None
        if work_dir is None:  # ended between the look-up and now: settled from its result on the next wait
            work_dir = self._work_dir_of(attempt_id) or Path()
        pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError, ValueError):
            pidfd = os.pidfd_open(pid)
        self._adopted[attempt_id] = _Adopted(attempt_id, pid, work_dir, pidfd)

    def _work_dir_of(self, attempt_id: str) -> Path | None:
        """``<work root>/<job>/<attempt>`` of an attempt (the job store's layout), looked up once per attempt:
        a restart asks state(), then recover() or adopt(), for the same attempt."""
        if attempt_id not in self._dirs:
            root = self.settings.work_dir
            found = next((d for d in root.glob(f"*/{attempt_id}") if d.is_dir()), None) if root.is_dir() else None
            if found is None:
                return None
            self._dirs[attempt_id] = found
        return self._dirs[attempt_id]

    def cancel(self, attempt_id: str, external_id: str) -> None:
        """Drop a queued task, or SIGTERM a running one (SIGKILL after the grace period)."""
        for queued in list(self._queue):
            if queued.spec.attempt_id == attempt_id:
                self._queue.remove(queued)
                self._finished.add(attempt_id)
                outcome = TaskOutcome(attempt_id, external_id, None, aborted=True, reason="cancelled before start")
                self._done.append(outcome)
                return
        adopted = self._adopted.get(attempt_id)
        if adopted is not None:
            adopted.cancelled = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(adopted.pid, signal.SIGTERM)
            return
        run = self._running.get(attempt_id)
        if run is None:
            return
        run.cancelled = True
        self._terminate(run)

    def close(self) -> None:
        """Kill every task still running and forget the queue."""
        self._queue.clear()
        for run in list(self._running.values()):
            self._signal(run, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.proc.wait(timeout=5)
            self._release(run)
        self._running.clear()
        for adopted in self._adopted.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(adopted.pid, signal.SIGKILL)
            if adopted.pidfd is not None:
                os.close(adopted.pidfd)
        self._adopted.clear()

    # -- internals ------------------------------------------------------------------------------------

    def _start(self, spec: TaskSpec) -> int:
        spec.work_dir.mkdir(parents=True, exist_ok=True)
        command = spec.command or worker_command(spec.job_order)
        env = {**os.environ, **spec.env}
        out = open(spec.stdout, "ab")  # noqa: SIM115 - closed when the task ends
        err = open(spec.stderr, "ab")  # noqa: SIM115
        try:
            proc = subprocess.Popen(
                command,
                cwd=spec.work_dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            out.close()
            err.close()
            raise ViqError(f"cannot start {command[0]}: {exc}") from exc
        now = time.monotonic()
        pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            pidfd = os.pidfd_open(proc.pid)
        self._running[spec.attempt_id] = _Running(
            spec=spec,
            proc=proc,
            started=now,
            deadline=now + spec.resources.walltime.total_seconds(),
            files=(out, err),
            pidfd=pidfd,
        )
        return proc.pid

    def _fill(self) -> None:
        while self._queue and len(self._running) < self.max_parallel:
            queued = self._queue.popleft()
            try:
                self._start(queued.spec)
            except ViqError as exc:
                self._finished.add(queued.spec.attempt_id)
                self._done.append(TaskOutcome(queued.spec.attempt_id, "", None, aborted=True, reason=str(exc)))

    def _reap_adopted(self) -> None:
        for attempt_id, adopted in list(self._adopted.items()):
            if adopted.pid > 0 and _worker_dir(adopted.pid, attempt_id) is not None:
                continue
            del self._adopted[attempt_id]
            if adopted.pidfd is not None:
                os.close(adopted.pidfd)
            self._finished.add(attempt_id)
            code = _exit_code_left(adopted.work_dir)
            reason = (f"exited with code {code}" if code is not None
                      else "the worker ended without a result (its exit status went to the earlier host process)")
            self._done.append(TaskOutcome(attempt_id, str(adopted.pid), code,
                                          aborted=adopted.cancelled and code is None,
                                          reason="cancelled" if adopted.cancelled else reason))

    def _reap(self) -> None:
        self._reap_adopted()
        for attempt_id, run in list(self._running.items()):
            code = run.proc.poll()
            if code is None:
                continue
            del self._running[attempt_id]
            self._release(run)
            self._finished.add(attempt_id)
            sig: str | None = None
            exit_code: int | None = code
            if code < 0:
                exit_code = None
                try:
                    sig = signal.Signals(-code).name
                except ValueError:
                    sig = f"SIG{-code}"
            if run.timed_out:
                reason = f"walltime of {run.spec.resources.walltime.total_seconds():g} s exceeded"
            elif run.cancelled:
                reason = "cancelled"
            elif sig:
                reason = f"killed by {sig}"
            else:
                reason = f"exited with code {code}"
            self._done.append(
                TaskOutcome(
                    attempt_id=attempt_id,
                    external_id=str(run.proc.pid),
                    exit_code=exit_code,
                    signal=sig,
                    aborted=run.cancelled,
                    timed_out=run.timed_out,
                    reason=reason,
                )
            )

    def _enforce(self) -> None:
        now = time.monotonic()
        for run in self._running.values():
            if run.term_sent is None and now >= run.deadline:
                run.timed_out = True
                self._terminate(run)
            elif run.term_sent is not None and now >= run.term_sent + self.term_grace:
                self._signal(run, signal.SIGKILL)

    def _terminate(self, run: _Running) -> None:
        if run.term_sent is None:
            run.term_sent = time.monotonic()
            self._signal(run, signal.SIGTERM)

    @staticmethod
    def _signal(run: _Running, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.proc.pid, sig)

    @staticmethod
    def _release(run: _Running) -> None:
        for fh in run.files:
            fh.close()
        if run.pidfd is not None:
            os.close(run.pidfd)
            run.pidfd = None

    def _next_deadline(self, now: float) -> float:
        soonest = now + 3600.0
        for run in self._running.values():
            soonest = min(soonest, run.deadline if run.term_sent is None else run.term_sent + self.term_grace)
        return soonest

    def _sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        fds = [r.pidfd for r in self._running.values() if r.pidfd is not None]
        fds += [a.pidfd for a in self._adopted.values() if a.pidfd is not None]
        if fds and len(fds) == len(self._running) + len(self._adopted):
            select.select(fds, [], [], seconds)  # wakes as soon as any child exits
        else:
            time.sleep(min(seconds, 0.02))
