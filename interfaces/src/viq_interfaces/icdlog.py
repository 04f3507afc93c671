"""ICD log lines: ``<UTC time> <node> <processor> <version> <task> [<pid>]: [<L>] <message>``.

Levels D (debug), I (info), P (progress), W (warning), E (error).
"""

from __future__ import annotations

import os
import re
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

LEVELS = ("D", "I", "P", "W", "E")

LINE_RE = re.compile(
    r"^(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s+(?P<node>\S+)\s+(?P<processor>\S+)\s+"
    r"(?P<version>\S+)\s+(?P<task>\S+)\s+\[(?P<pid>\d+)\]:\s+\[(?P<level>[DIPWE])\]\s(?P<message>.*)$"
)


@dataclass(frozen=True)
class LogLine:
    """One parsed ICD log line."""

    time: str
    node: str
    processor: str
    version: str
    task: str
    pid: int
    level: str
    message: str


def parse_line(text: str) -> LogLine | None:
    """Parse one ICD log line, or return None when the text is not one."""
    m = LINE_RE.match(text.rstrip("\n"))
    if not m:
        return None
    return LogLine(
        time=m["time"],
        node=m["node"],
        processor=m["processor"],
        version=m["version"],
        task=m["task"],
        pid=int(m["pid"]),
        level=m["level"],
        message=m["message"],
    )


class IcdLogger:
    """A :class:`~viq_interfaces.context.ProcessorLogger` writing ICD lines to a stream."""

    def __init__(self, processor: str, version: str, task: str, stream: TextIO | None = None) -> None:
        self._processor = processor
        self._version = version
        self._task = task
        self._stream = stream if stream is not None else sys.stdout
        self._node = socket.gethostname().split(".")[0] or "localhost"

    def _emit(self, level: str, message: str) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        for part in (message.splitlines() or [""]):
            self._stream.write(
                f"{now} {self._node} {self._processor} {self._version} {self._task} "
                f"[{os.getpid()}]: [{level}] {part}\n"
            )
        self._stream.flush()

    def debug(self, message: str) -> None:
        """Level D."""
        self._emit("D", message)

    def info(self, message: str) -> None:
        """Level I."""
        self._emit("I", message)

    def progress(self, percent: float, message: str = "") -> None:
        """Level P; the message starts with the percentage so the host can show a bar."""
        self._emit("P", f"{max(0.0, min(100.0, percent)):.1f}% {message}".rstrip())

    def warning(self, message: str) -> None:
        """Level W."""
        self._emit("W", message)

    def error(self, message: str) -> None:
        """Level E."""
        self._emit("E", message)
