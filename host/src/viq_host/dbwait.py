"""Riding out a database outage (issue 14): the catalog/GIPP database host may go away and come back.

The job store is a local SQLite file on the head host; the catalog and GIPP store may live on a database
host reached over TCP. While that host is down, nothing may be lost or half-written:

* :class:`WaitingIngest` wraps the service's ingest callback: when the database is unreachable the catalog
  transaction has been rolled back, so it waits (backing off up to ``max_delay``) and ingests again until the
  database answers — the attempt stays EXITED meanwhile and is never failed for the outage. Ingest is
  idempotent per attempt, so a retry after a commit whose acknowledgement was lost does not duplicate.
* :func:`is_unavailable` tells a connection failure from any other error, for the daemon: an order whose
  validation needed the database goes back to the inbox instead of being rejected, and a daemon pass that
  hit the outage is simply repeated later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from viq_host.jobs.store import AttemptRecord, JobRecord
from viq_host.jobs.validate import ValidatedJob
from viq_interfaces.result import ProcessorResult

_MARKERS = (
    "could not connect",
    "connection refused",
    "server closed the connection",
    "connection already closed",
    "terminating connection",
    "no route to host",
    "timeout expired",
    "connection timed out",
    "the database system is starting up",
    "the database system is in recovery mode",
    "the database system is shutting down",
)


def is_unavailable(err: BaseException) -> bool:
    """True when ``err`` (or an error it was raised from) says the database cannot be reached."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current).__name__
        if kind in ("OperationalError", "InterfaceError") and type(current).__module__.startswith("psycopg2"):
            return True
        text = str(current).lower()
        if any(marker in text for marker in _MARKERS):
            return True
        current = current.__cause__ or current.__context__
    return False


Ingest = Callable[[JobRecord, AttemptRecord, ValidatedJob, ProcessorResult], None]


@dataclass
class WaitingIngest:
    """An ingest callback that waits for the database instead of failing the attempt (module docstring)."""

    inner: Ingest
    stop: threading.Event | None = None
    """When set while waiting, the outage error is raised (the daemon is shutting down)."""
    on_wait: Callable[[str], None] | None = None
    """Called before each wait with the reason (e.g. to refresh the daemon heartbeat)."""
    first_delay: float = 0.5
    max_delay: float = 5.0
    waited: float = field(default=0.0, init=False)
    """Seconds spent waiting for the database in all."""
    outages: int = field(default=0, init=False)

    def __call__(
        self, job: JobRecord, attempt: AttemptRecord, validated: ValidatedJob, result: ProcessorResult
    ) -> None:
        delay = self.first_delay
        waiting_since: float | None = None
        while True:
            try:
                self.inner(job, attempt, validated, result)
            except Exception as err:
                if not is_unavailable(err) or (self.stop is not None and self.stop.is_set()):
                    raise
                if waiting_since is None:
                    waiting_since = time.monotonic()
                    self.outages += 1
                if self.on_wait is not None:
                    self.on_wait(f"database unavailable: {str(err).strip().splitlines()[0]}")
                time.sleep(delay)
                delay = min(self.max_delay, delay * 2)
                continue
            if waiting_since is not None:
                self.waited += time.monotonic() - waiting_since
            return

    def input_ids(self, validated: ValidatedJob) -> list[int]:
        """Pass-through for callers that use the wrapped CatalogIngest's helper."""
        helper = getattr(self.inner, "input_ids", None)
        return list(helper(validated)) if callable(helper) else []


__all__ = ["WaitingIngest", "is_unavailable"]
