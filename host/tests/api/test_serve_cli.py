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
def test_viq_serve_process(tmp_path: Path) -> None:
    """`viq serve --port P --runner none` serves the page, the OpenAPI description and the token-guarded API."""
    home = tmp_path / "home"
    token = viq(home, "serve", "token", "create", "v", "--role", "viewer").stdout.strip()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "VIQ_HOME": str(home)}
    proc = subprocess.Popen([VIQ, "serve", "--port", str(port), "--runner", "none"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, body = _get(base + "/api/health")
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.2)
        assert status == 200 and json.loads(body)["runner"] == "disabled"
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
