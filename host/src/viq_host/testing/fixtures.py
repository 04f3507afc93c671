"""Fixtures of the testing kit for processor authors: an isolated ``VIQ_HOME`` and the harness.

Imports of the host stay inside the fixtures so that loading the pytest plugin costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from viq_host.config import Settings
    from viq_host.testing.harness import Outcome


@pytest.fixture
def viq_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated, empty ``VIQ_HOME`` under ``tmp_path`` (set in the environment for the test)."""
    home = tmp_path / "viq-home"
    home.mkdir()
    monkeypatch.setenv("VIQ_HOME", str(home))
    for name in ("VIQ_JOBS_URL", "VIQ_DATABASE_URL", "VIQ_WORK_ROOT", "VIQ_INBOX", "VIQ_DATA_ROOTS", "VIQ_EXECUTOR"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def viq_settings(viq_home: Path, tmp_path: Path) -> Settings:
    """Settings of the isolated installation; ``tmp_path`` is a data root (test inputs may live there)."""
    from viq_host.testing.harness import harness_settings

    return harness_settings(tmp_path)


@pytest.fixture
def viq_run(tmp_path: Path, viq_settings: Settings) -> Callable[..., Outcome]:
    """``viq_run(ProcessorClass_or_name, inputs={port: [paths]}, params={...})``: the harness, isolated home."""
    from viq_host.testing import harness

    def run(processor: Any, inputs: Any = None, params: Any = None, **kwargs: Any) -> Outcome:
        kwargs.setdefault("settings", viq_settings)
        return harness.run_processor(processor, inputs, params, tmp_path, **kwargs)

    return run
