"""Fixtures of the browser tests: a real HTTP server (uvicorn on loopback, the same app as ``viq serve``, with
its job runner) over a seeded installation, and Debian's Chromium driven by Playwright.

Chromium comes from ``scripts/services/chromium.sh install`` (Playwright never downloads a browser). Without it
the tests skip — or fail under ``VIQ_REQUIRE_SERVICES=1``. Screenshots go to ``tests/browser/artifacts/``.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "host" / "tests" / "api"))

from viq_api_support import Api, Seed, api_plugins, seed, worker_env  # noqa: E402
from viq_host.api.app import create_app  # noqa: E402
from viq_host.api.store import Role  # noqa: E402
from viq_host.testing.harness import harness_settings  # noqa: E402
from viq_host.testing.services import missing_service  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@dataclass
class Server:
    """A running server, its seeded content and a token per role."""

    url: str
    api: Api
    seed: Seed
    tokens: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """uvicorn serving the app (runner thread on) on a free loopback port."""
    import uvicorn

    with pytest.MonkeyPatch.context() as mp:
        worker_env(mp)
        settings = harness_settings(tmp_path_factory.mktemp("browser"))
        app = create_app(settings, plugins=api_plugins(), runner="thread")
        port = _free_port()
        srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not srv.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.started, "uvicorn did not start"
        try:
            rt = app.state.runtime
            api = Api(client=None, runtime=rt)  # type: ignore[arg-type]
            tokens = {}
            for role in Role:
                tokens[role.label], _ = rt.store.create_token(f"web-{role.label}", role, created_by="pytest")
            yield Server(f"http://127.0.0.1:{port}", api, seed(api), tokens)
        finally:
            srv.should_exit = True
            thread.join(60)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    if not CHROMIUM.exists():
        missing_service("Chromium (/usr/bin/chromium; scripts/services/chromium.sh install)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (1400x900); a screenshot of its last state is kept as an artefact even on failure."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda err: errors.append(str(err)))
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}-final.png"), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shot(page: Any) -> Any:
    """``shot(name)`` saves a screenshot artefact ``tests/browser/artifacts/<name>.png``."""

    def take(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
