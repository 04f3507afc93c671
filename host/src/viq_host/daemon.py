"""The host daemon: takes job orders from the inbox (and jobs queued by ``viq job submit``), runs them.

Directories under ``VIQ_HOME``: the inbox (``settings.inbox_dir``), ``spool/`` (orders taken, job queued or
running), ``done/`` and ``failed/`` (orders of finished jobs; a ``.reason`` file beside each failed one),
``rejected/`` (orders that did not validate, with a ``.reason`` file: file, line, column, field, exit code,
message), ``duplicates/`` (orders whose bytes match an order already taken — dropped twice, under the same or
another name — with a ``.reason`` file naming the first job; ``viq job retry`` reruns a job on purpose).
``daemon.json`` holds the pid and a heartbeat refreshed every loop; ``daemon.lock`` keeps a second daemon off the
same installation.

Taking an order is an atomic ``rename`` from the inbox into ``spool/``: two daemons watching one inbox never
both take a file. Starting a job is a database claim (QUEUED → RUNNING in one immediate transaction).

On start the daemon reconciles (:mod:`viq_host.reconcile`), so a ``kill -9`` loses nothing. SIGTERM/SIGINT
stop the intake and return: with an executor whose tasks outlive the host (Grid Engine) the tasks keep
running and the next start adopts them; with the local executor the running tasks are drained first (a second
signal abandons them).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from viq_host.config import Settings
from viq_host.dbwait import WaitingIngest, is_unavailable
from viq_host.jobs.store import JobState
from viq_host.reconcile import ReconcileReport, reconcile
from viq_interfaces.errors import InvalidJobOrder, ViqError
from viq_interfaces.exitcodes import exit_code_for

if TYPE_CHECKING:
    from viq_host.service import JobService

ORDER_SUFFIXES = (".xml",)


class DaemonError(ViqError):
    """Raised when the daemon cannot start (another daemon holds the installation, unusable directories)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def reason_text(original: Path, err: BaseException) -> str:
    """The ``.reason`` file of a rejected order: one ``key: value`` per line."""
    lines = [f"file: {original}"]
    if isinstance(err, InvalidJobOrder):
        lines += [
            f"line: {err.line if err.line is not None else ''}",
            f"column: {err.column if err.column is not None else ''}",
            f"field: {err.field or ''}",
            f"exit_code: {err.exit_code}",
            f"message: {err.message}",
        ]
    else:
        lines += ["line: ", "column: ", "field: ", f"exit_code: {int(exit_code_for(err))}", f"message: {err}"]
    return "\n".join(lines) + "\n"


@dataclass
class Daemon:
    """See the module docstring. ``service`` defaults to the one of :func:`viq_host.host.open_host` (ingesting
    each successful attempt into the catalog, idempotently per attempt)."""

    settings: Settings
    service: JobService | None = None
    poll_seconds: float = 0.5
    max_running: int | None = None
    """Attempts in flight at once (None: setting ``max_running``); setting ``processor_limits`` caps each
    processor as well. The executor may queue further (Grid Engine slots, local max_parallel)."""
    settle_seconds: float = 0.2
    """An inbox file younger than this may still be being written and is left for the next pass."""
    on_cycle: Callable[[Daemon], None] | None = None
    reconciled: ReconcileReport | None = field(default=None, init=False)
    taken: int = field(default=0, init=False)
    rejected: int = field(default=0, init=False)
    duplicates: int = field(default=0, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _signals: int = field(default=0, init=False)
    _lock_file: IO[str] | None = field(default=None, init=False)
    _spool_jobs: dict[str, Path] = field(default_factory=dict, init=False)

    # -- layout -----------------------------------------------------------------------------------------

    @property
    def spool(self) -> Path:
        """Orders taken from the inbox whose job is not finished."""
        return self.settings.home / "spool"

    @property
    def state_file(self) -> Path:
        """Pid and heartbeat."""
        return self.settings.home / "daemon.json"

    def _dir(self, name: str) -> Path:
        return self.settings.home / name

    # -- life cycle -------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to stop after the current pass (what SIGTERM does)."""
        self._signals += 1
        self._stop.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop()

    def run(self, *, until: Callable[[], bool] | None = None) -> int:
        """Run until stopped (or ``until()`` is true after a pass); returns 0."""
        from viq_host.host import Host, open_host

        self.settings.ensure_dirs()
        for name in ("spool", "done", "failed", "rejected", "duplicates"):
            self._dir(name).mkdir(parents=True, exist_ok=True)
        self._take_lock()
        installed: list[tuple[signal.Signals, Any]] = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                installed.append((sig, signal.signal(sig, self._on_signal)))
        host: Host | None = None
        try:
            if self.service is None:
                host = open_host(self.settings)
                self.service = host.service
            service = self.service
            # issue 14: a catalog database outage makes ingestion wait, never fails an attempt (viq_host.dbwait)
            if service.ingest is not None and not isinstance(service.ingest, WaitingIngest):
                service.ingest = WaitingIngest(service.ingest, stop=self._stop, on_wait=self._waiting_for_database)
            self._heartbeat("starting")
            self.reconciled = reconcile(service)
            self._index_spool()
            while not self._stop.is_set():
                try:
                    self._intake()
                    self._start_queued()
                    service.step(self.poll_seconds)
                    self._file_finished()
                except Exception as err:  # issue 14: a pass that hit a database outage is repeated later
                    if not is_unavailable(err):
                        raise
                    self._waiting_for_database(str(err))
                    self._stop.wait(2.0)
                    continue
                self._heartbeat("running")
                if self.on_cycle is not None:
                    self.on_cycle(self)
                if until is not None and until():
                    break
            self._shutdown(service)
        finally:
            if host is not None:
                host.close()
                self.service = None
            for sig, previous in installed:
                signal.signal(sig, previous)
            with contextlib.suppress(OSError):
                self.state_file.unlink()
            self._release_lock()
        return 0

    def _take_lock(self) -> None:
        path = self.settings.home / "daemon.lock"
        fh = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            fh.close()
            other = ""
            with contextlib.suppress(OSError, ValueError):
                other = f" (pid {json.loads(self.state_file.read_text())['pid']})"
            raise DaemonError(f"another daemon is running on {self.settings.home}{other}") from err
        self._lock_file = fh

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _heartbeat(self, phase: str) -> None:
        service = self.service
        info = {
            "pid": os.getpid(),
            "phase": phase,
            "heartbeat": _now(),
            "executor": self.settings.executor,
            "in_flight": service.running if service is not None else 0,
            "taken": self.taken,
            "rejected": self.rejected,
        }
        _write_atomic(self.state_file, json.dumps(info, sort_keys=True) + "\n")

    def _waiting_for_database(self, why: str) -> None:
        """Issue 14: heartbeat and log while the catalog database is unreachable."""
        self._heartbeat("waiting for database")
        if self.service is not None:
            self.service.logger(component="daemon").warning("database.unavailable", reason=why.strip()[:300])

    def _shutdown(self, service: JobService) -> None:
        """Stop taking work; keep every job's state for the next start."""
        runner = service.runner
        if getattr(runner, "adopt", None) is not None and not getattr(runner, "drains_on_stop", False):
            # the tasks live on (in the DRM, or as local workers); the next start adopts them
            service.detach()
        else:
            while service.running and self._signals < 2:
                service.step(self.poll_seconds)
                self._file_finished()
                self._heartbeat("draining")
        # a retry that had not started yet: back to the queue instead of failing at close
        service.requeue_retries("daemon stopped before the retry started")

    # -- work -------------------------------------------------------------------------------------------

    def _intake(self) -> None:
        inbox = self.settings.inbox_dir
        try:
            entries = sorted(inbox.iterdir(), key=lambda p: (p.stat().st_mtime, p.name))
        except FileNotFoundError:
            inbox.mkdir(parents=True, exist_ok=True)
            return
        now = time.time()
        for path in entries:
            if self._stop.is_set():
                return
            if path.name.startswith(".") or path.suffix.lower() not in ORDER_SUFFIXES:
                continue
            try:
                if not path.is_file() or now - path.stat().st_mtime < self.settle_seconds:
                    continue
            except FileNotFoundError:
                continue
            self._take(path)

    def _take(self, path: Path) -> None:
        claimed = self.spool / f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{path.name}"
        try:
            os.rename(path, claimed)  # atomic: exactly one daemon gets the file
        except FileNotFoundError:
            return
        assert self.service is not None
        if self._duplicate(path, claimed):
            return
        try:
            job_id = self.service.submit(claimed)
        except Exception as err:
            if is_unavailable(err):
                # issue 14: validation needed the database and it is down — the order goes back to the inbox
                os.replace(claimed, path)
                raise
            if not isinstance(err, (ViqError, OSError, UnicodeDecodeError)):
                raise
            self.rejected += 1
            target = self._free_name(self._dir("rejected"), path.name)
            os.replace(claimed, target)
            _write_atomic(target.with_name(target.name + ".reason"), reason_text(path, err))
            self.service.logger(order=str(path)).warning("order.rejected", reason=str(err), moved_to=str(target))
            return
        self.taken += 1
        self._spool_jobs[job_id] = claimed

    def _duplicate(self, original: Path, claimed: Path) -> bool:
        """An order whose bytes some job already has goes to duplicates/ with a .reason naming that job."""
        assert self.service is not None
        try:
            digest = hashlib.sha256(claimed.read_bytes()).hexdigest()
        except OSError:
            return False  # submit() reports the unreadable file
        first = self.service.jobs.jobs_by_order_hash(digest)
        if not first:
            return False
        job = first[0]
        self.duplicates += 1
        target = self._free_name(self._dir("duplicates"), original.name)
        os.replace(claimed, target)
        _write_atomic(
            target.with_name(target.name + ".reason"),
            f"file: {original}\nduplicate_of: {job.id}\nfirst_order: {job.order_path}\nstate: {job.state}\n"
            f"sha256: {digest}\nmessage: the same job order was already taken as job {job.id}; it is not run "
            f"again (use 'viq job retry {job.id}' to rerun it)\n",
        )
        self.service.logger(order=str(original)).warning("order.duplicate", duplicate_of=job.id, moved_to=str(target))
        return True

    @staticmethod
    def _free_name(directory: Path, name: str) -> Path:
        target = directory / name
        n = 1
        while target.exists() or target.with_name(target.name + ".reason").exists():
            target = directory / f"{Path(name).stem}.{n}{Path(name).suffix}"
            n += 1
        return target

    def _start_queued(self) -> None:
        """Start QUEUED jobs in priority order while the global and per-processor limits leave room.

        A job whose processor is at its limit is skipped, not waited for: jobs of other processors behind it
        start. Scheduled retries count against both limits.
        """
        service = self.service
        assert service is not None
        limit = self.max_running if self.max_running is not None else self.settings.max_running
        room = limit - service.in_flight
        if room <= 0:
            return
        per_processor = self.settings.processor_limits
        busy = service.busy_by_processor()
        for job in service.jobs.queued_jobs():
            if self._stop.is_set() or room <= 0:
                return
            cap = per_processor.get(job.processor)
            if cap is not None and busy[job.processor] >= cap:
                continue
            if service.start(job.id):
                busy[job.processor] += 1
                room -= 1

    def _index_spool(self) -> None:
        """After a restart: which spooled order belongs to which job."""
        assert self.service is not None
        spool = str(self.spool)
        for job in self.service.jobs.jobs():
            if job.order_path.startswith(spool + os.sep):
                self._spool_jobs[job.id] = Path(job.order_path)
        # an order taken just before a crash, before its job was stored: submit it now (the hash check keeps
        # one whose job was stored after all from running twice)
        known = {str(p) for p in self._spool_jobs.values()}
        for path in sorted(self.spool.glob("*.xml")):
            if str(path) not in known:
                self._retake(path)

    def _retake(self, path: Path) -> None:
        original = path.with_name(path.name.split("-", 1)[-1])
        assert self.service is not None
        if self._duplicate(original, path):
            return
        try:
            job_id = self.service.submit(path)
        except (ViqError, OSError, UnicodeDecodeError) as err:
            self.rejected += 1
            target = self._free_name(self._dir("rejected"), original.name)
            os.replace(path, target)
            _write_atomic(target.with_name(target.name + ".reason"), reason_text(original, err))
            return
        self.taken += 1
        self._spool_jobs[job_id] = path

    def _file_finished(self) -> None:
        """Move the orders of finished jobs to done/ or failed/ (with a .reason)."""
        assert self.service is not None
        for job_id, path in list(self._spool_jobs.items()):
            job = self.service.jobs.job(job_id)
            if not job.state.terminal:
                continue
            del self._spool_jobs[job_id]
            ok = job.state in (JobState.SUCCEEDED, JobState.WARNING)
            target = self._dir("done" if ok else "failed") / path.name
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, target)
            if not ok:
                _write_atomic(
                    target.with_name(target.name + ".reason"),
                    f"job: {job.id}\nstate: {job.state}\nexit_code: {job.exit_code}\nmessage: {job.reason}\n",
                )


__all__ = ["Daemon", "DaemonError", "reason_text"]
