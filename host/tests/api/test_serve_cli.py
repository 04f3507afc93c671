"""``viq serve token create|list|revoke`` and ``viq serve`` itself (a real process on a loopback port)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from viq_host.api.store import ApiStore

VIQ = str(Path(sys.executable).parent / "viq")


@dataclass
class Ran:
    """Outcome of one in-process ``viq`` invocation."""

    returncode: int
    stdout: str
    stderr: str


def viq(home: Path, *args: str) -> Ran:
    """Run ``viq ARGS`` in-process on ``home`` (typer's runner; stdout and stderr apart)."""
    from typer.testing import CliRunner

    from viq_host.cli import app

    result = CliRunner().invoke(app, list(args), env={"VIQ_HOME": str(home)})
    code = result.exit_code if result.exception is None or isinstance(result.exception, SystemExit) else 1
    return Ran(code, result.stdout, result.stderr)


def test_token_create_prints_once_list_and_revoke(tmp_path: Path) -> None:
    """create prints a working token once (stdout) and stores only its hash; list hides secrets; revoke ends it."""
    home = tmp_path / "home"
    created = viq(home, "serve", "token", "create", "ops", "--role", "operator")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("viq_") and "not shown again" in created.stderr
    store = ApiStore(f"sqlite:///{home / 'catalog.sqlite'}")
    try:
        record = store.verify(token)
        assert record is not None and record.name == "ops" and record.role.label == "operator"
        listed = viq(home, "serve", "token", "list", "--json")
        rows = json.loads(listed.stdout)
        assert [(r["name"], r["role"]) for r in rows] == [("ops", "operator")]
        assert token.split(".")[1] not in listed.stdout
        assert viq(home, "serve", "token", "revoke", "ops").returncode == 0
        store._cache.clear()
        assert store.verify(token) is None
        assert viq(home, "serve", "token", "create", "bad name!", "--role", "viewer").returncode != 0
        assert viq(home, "serve", "token", "create", "x", "--role", "superuser").returncode != 0
        actions = [a.action for a in store.audit_trail()]
        assert actions[:2] == ["token.revoke", "token.create"]
    finally:
        store.close()


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.mark.slow
def _listening_sockets(port: int) -> int:
    """TCP sockets in LISTEN state on ``port`` (any address), from /proc/net/tcp and tcp6."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as fh:
            for line in fh.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                n += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port
    return n


def _workers_of_connections(port: int, token: str, n: int) -> list[int]:
    """Open ``n`` keep-alive connections at once, then ask each which worker serves it."""
    import http.client

    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(n)]
    try:
        for c in conns:
            c.connect()
        pids = []
        for c in conns:
            c.request("GET", "/api/session", headers={"Authorization": f"Bearer {token}"})
            resp = c.getresponse()
            pids.append(json.loads(resp.read())["worker_pid"])
        return pids
    finally:
        for c in conns:
            c.close()


def test_viq_serve_process(tmp_path: Path) -> None:
    """`viq serve --workers 2` serves the page, the OpenAPI description and the token-guarded API from two
    processes, of which exactly one runs the job runner (the other stands by on the installation's lock). Each
    worker listens on a socket of its own (SO_REUSEPORT), and 24 connections opened at once reach both (the kernel
    spreads them by address hash: both get some but with probability 2 x 2^-24)."""
    home = tmp_path / "home"
    token = viq(home, "serve", "token", "create", "v", "--role", "viewer").stdout.strip()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "VIQ_HOME": str(home)}
    proc = subprocess.Popen([VIQ, "serve", "--port", str(port), "--workers", "2", "--db-connections", "4"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        runners: dict[int, str] = {}
        while len(runners) < 2 or "running" not in runners.values():
            try:
                status, body = _get(base + "/api/session", token)
                if status == 200:
                    session = json.loads(body)
                    runners[session["worker_pid"]] = session["runner"]
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (runners, proc.poll())
            time.sleep(0.1)
        assert sorted(runners.values()) == ["external", "running"], runners
        assert proc.pid not in runners  # uvicorn's supervisor only supervises
        if hasattr(socket, "SO_REUSEPORT"):
            assert _listening_sockets(port) == 2  # one per worker; the supervisor's own is bound, not listening
            assert set(_workers_of_connections(port, token, 24)) == set(runners)
        assert _get(base + "/api/products")[0] == 401
        status, body = _get(base + "/api/products", token)
        assert status == 200 and json.loads(body)["type"] == "FeatureCollection"
        status, body = _get(base + "/openapi.json")
        assert status == 200 and "/api/jobs/{job_id}/cancel" in json.loads(body)["paths"]
        assert "<title>VIQ" in _get(base + "/")[1]
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert not (home / "daemon.json").exists()  # the runner's daemon shut down cleanly


def test_standby_runner_takes_over_when_the_running_one_stops(tmp_path: Path) -> None:
    """Two runners on one installation: one runs, the other reports ``external``; once the first stops the
    second takes the daemon lock within its retry time and runs jobs (as a ``viq serve`` worker would)."""
    from viq_host.api.runtime import Runner, installation_held
    from viq_host.service import quiet_plugins
    from viq_host.testing.harness import harness_settings

    settings = harness_settings(tmp_path)
    plugins = quiet_plugins()
    first = Runner(settings, plugins, retry_seconds=0.2)
    second = Runner(settings, plugins, retry_seconds=0.2)
    try:
        first.start()
        assert first.state == "running" and installation_held(settings)
        second.start()
        assert second.state == "external"
        first.stop()
        assert first.state == "stopped"
        deadline = time.monotonic() + 30
        while second.state != "running":
            assert time.monotonic() < deadline, second.state
            time.sleep(0.05)
    finally:
        first.stop()
        second.stop()
    assert second.state == "stopped" and not installation_held(settings)


def test_uvicorn_takes_the_c_parser_and_event_loop() -> None:
    """``viq serve`` leaves uvicorn's protocol and loop on ``auto``; the host's dependencies make ``auto`` mean
    httptools and uvloop (the pure-Python parser and asyncio's loop cost ≈ 0.3 ms more per catalog search)."""
    import asyncio

    from uvicorn.loops.auto import auto_loop_factory
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    assert AutoHTTPProtocol.__name__ == "HttpToolsProtocol"
    loop = auto_loop_factory()()
    try:
        assert type(loop).__module__.startswith("uvloop")
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        loop.close()
