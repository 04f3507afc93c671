"""Fixtures of the distributed tests: the topology of scripts/services/topology.sh (started by scripts/test).

The test process stays in the root namespace; everything that talks to the qmaster or the database host runs
on the head host through ``ip netns exec viq-head`` (see dist_helpers.py).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dist_helpers import HEAD_NS, TOPOLOGY, head_cmd, tool

from viq_host.testing.services import missing_service


@pytest.fixture(scope="session")
def topology() -> dict[str, str]:
    """The head host's settings (``topology.sh env``); skips — fails under VIQ_REQUIRE_SERVICES=1 — when down."""
    if os.geteuid() != 0:
        missing_service("the distributed topology (needs root)")
    if not Path(f"/run/netns/{HEAD_NS}").exists():
        missing_service("the distributed topology (scripts/services/topology.sh up)")
    out = subprocess.run([str(TOPOLOGY), "env"], capture_output=True, text=True, check=True).stdout
    env: dict[str, str] = {}
    for line in out.splitlines():
        if line.startswith("export "):
            for item in shlex.split(line[len("export "):]):
                key, _, value = item.partition("=")
                env[key] = value
    probe = subprocess.run(head_cmd(["qstat", "-f"]), env={**os.environ, **env}, capture_output=True, text=True,
                           check=False)
    if probe.returncode != 0:
        missing_service(f"the topology's qmaster ({probe.stderr.strip()})")
    return env


@pytest.fixture
def topo_db(topology: dict[str, str]) -> Iterator[str]:
    """A fresh database (PostGIS from the template) on the database host, dropped afterwards."""
    name = f"viq_d_{uuid.uuid4().hex[:10]}"
    url = str(tool(topology, "createdb", topology["VIQ_DATABASE_URL"], name))
    try:
        yield url
    finally:
        tool(topology, "dropdb", topology["VIQ_DATABASE_URL"], name)
