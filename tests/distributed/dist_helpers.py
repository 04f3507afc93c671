"""Helpers of the distributed tests: commands on the head host, topology control, polling.

The test process stays in the root namespace; everything that talks to the qmaster or the database host runs
on the head host through ``ip netns exec viq-head``. State (VIQ_HOME, work directories, products) lives under
``tmp_path``: the hosts share the file system, as they would share NFS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "scripts" / "services" / "topology.sh"
TOOL = Path(__file__).with_name("dist_tool.py")
HEAD_NS = "viq-head"
VIQ = Path(sys.executable).parent / "viq"


def head_cmd(args: Sequence[str]) -> list[str]:
    """``args`` run on the head host."""
    return ["ip", "netns", "exec", HEAD_NS, *args]


def head_run(args: Sequence[str], env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run on the head host and wait; raises with the output when it fails."""
    done = subprocess.run(head_cmd(args), env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        output = f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{output}")
    return done


def topology_cmd(*args: str, timeout: float = 180) -> str:
    """``topology.sh ARGS`` (failure injection, restarts)."""
    done = subprocess.run([str(TOPOLOGY), *args], capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"topology.sh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def tool(env: Mapping[str, str], *args: str) -> Any:
    """dist_tool.py on the head host; its stdout as JSON when it printed JSON."""
    out = head_run([sys.executable, str(TOOL), *args], env).stdout.strip()
    return json.loads(out) if out.startswith(("[", "{")) else out


def wait_for(what: str, check: Callable[[], bool], timeout: float, alive: Callable[[], str | None]) -> float:
    """Poll ``check`` every 0.2 s; fail with ``alive()``'s message when the watched process died. Returns the time."""
    end = time.monotonic() + timeout
    while not check():
        problem = alive()
        if problem:
            pytest.fail(f"{problem} while waiting for {what}")
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{alive() or ''}")
        time.sleep(0.2)
    return time.monotonic()
