"""Fixtures of the external-processor tests: a task-table directory the host and its workers both see."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from viq_host.testing.harness import Outcome, run_processor


@pytest.fixture
def tt_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty task-table directory named by ``VIQ_TASK_TABLE_DIRS``; workers load only the task-table plugin."""
    directory = tmp_path / "tasktables"
    directory.mkdir()
    monkeypatch.setenv("VIQ_TASK_TABLE_DIRS", json.dumps([str(directory)]))
    monkeypatch.setenv("VIQ_EXTRA_PLUGINS", "viq_host.external.plugin")
    monkeypatch.delenv("VIQ_HOME", raising=False)
    return directory


@pytest.fixture
def data_file(tmp_path: Path) -> Callable[[bytes], Path]:
    """``data_file(content)`` writes an input file of type VIQ_TSTDAT under tmp_path."""
    counter = iter(range(1000))

    def make(content: bytes) -> Path:
        path = tmp_path / "data" / f"in{next(counter)}_VIQ_TSTDAT.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path

    return make


@pytest.fixture
def run_ext(tmp_path: Path, tt_dir: Path) -> Callable[..., Outcome]:
    """``run_ext(name, inputs=…, params=…)``: run an installed (task-table) processor through the real host."""

    def run(name: str, inputs: Any = None, params: Any = None, **kwargs: Any) -> Outcome:
        return run_processor(name, inputs, params, tmp_path, timeout=120, **kwargs)

    return run
