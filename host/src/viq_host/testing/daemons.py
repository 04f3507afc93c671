"""``viq daemon`` as a subprocess for crash tests: start one, wait for a condition while it lives.

``start_daemon(env, log)`` runs ``viq daemon --poll 0.2`` with its output appended to ``log``;
``wait_while_alive(what, check, timeout, proc, log)`` polls ``check`` and fails the test with the daemon's log
tail when the daemon exits first or the time runs out.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

VIQ = Path(sys.executable).parent / "viq"


def start_daemon(env: Mapping[str, str], log: Path, poll: float = 0.2) -> subprocess.Popen[bytes]:
    """``viq daemon`` with ``env``, stdout and stderr appended to ``log``."""
    with log.open("ab") as fh:
        return subprocess.Popen([str(VIQ), "daemon", "--poll", str(poll)], env=dict(env), stdout=fh,
                                stderr=subprocess.STDOUT)


def wait_while_alive(
    what: str, check: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes], log: Path
) -> None:
    """Poll ``check`` until true; fail with the log tail if ``proc`` exits or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            pytest.fail(f"daemon exited ({proc.returncode}) while waiting for {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
