"""Host logs: structlog JSON lines in ``$VIQ_HOME/logs/host.jsonl``, bound to job and attempt ids.

No global structlog configuration is touched: each :class:`HostLog` owns its file and its processor
chain, so two services (two ``VIQ_HOME``\\ s, e.g. in tests) never write into each other's log.
Processor logs are not here: each attempt keeps its own ``stdout.log`` (ICD lines) in its work dir.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import IO, Any

import structlog

from viq_host.config import Settings

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class _LockedWriter:
    """A structlog logger writing whole lines to a file, one write per event (safe across threads)."""

    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            self._fh.write(message + "\n")
            self._fh.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


class HostLog:
    """The host's JSON log file; :meth:`bind` returns a structlog logger with context."""

    def __init__(self, path: Path, level: str = "info") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh: IO[str] = path.open("a", encoding="utf-8")
        self._logger: Any = structlog.wrap_logger(
            _LockedWriter(self._fh),
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(sort_keys=False, default=str),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
            cache_logger_on_first_use=False,
        )

    def bind(self, **context: Any) -> Any:
        """A bound logger (``.info(event, **kv)``…) carrying ``context`` (job_id, attempt_id…)."""
        return self._logger.bind(**context)

    def close(self) -> None:
        """Close the file."""
        if not self._fh.closed:
            self._fh.close()


def host_log(settings: Settings) -> HostLog:
    """The host log of the installation ``settings`` describes."""
    return HostLog(settings.home / "logs" / "host.jsonl", settings.log_level)
