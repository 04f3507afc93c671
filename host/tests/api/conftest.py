"""Fixtures of the API tests: ``make_api``/``api`` (fresh apps) and ``seeded`` (one module-wide installation)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from viq_api_support import Api, Seed, open_api, seed, worker_env
from viq_host.config import Settings
from viq_host.testing.harness import harness_settings


@pytest.fixture
def make_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Api]]:
    """``make_api(settings, runner="none", pool_size=None)`` opens an app; all are closed after the test."""
    worker_env(monkeypatch)
    stack = contextlib.ExitStack()

    def make(settings: Settings, runner: str = "none", pool_size: int | None = None) -> Api:
        return stack.enter_context(open_api(settings, runner=runner, pool_size=pool_size))

    with stack:
        yield make


@pytest.fixture
def api(make_api: Callable[..., Api], tmp_path: Path) -> Api:
    """A fresh app on SQLite, no job runner."""
    return make_api(harness_settings(tmp_path))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Seed]]:
    """One installation for a test module: app (no runner) and its seeded content (read-only tests)."""
    with pytest.MonkeyPatch.context() as mp:
        worker_env(mp)
        tmp = tmp_path_factory.mktemp("seeded")
        with open_api(harness_settings(tmp)) as api:
            yield api, seed(api)
