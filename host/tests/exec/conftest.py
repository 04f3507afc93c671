"""Fixtures of the execution tests: a job service over an isolated home with the test processors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import viq_exec_procs
from viq_exec_procs import worker_env
from viq_host.config import Settings
from viq_host.executors import builtin
from viq_host.plugins import Plugins, load_plugins
from viq_host.service import JobService
from viq_host.testing.factories import make_job_order
from viq_interfaces.processor import Processor


@pytest.fixture
def plugins() -> Plugins:
    """Registries with the test processors and the built-in executors only (no installed entry points)."""
    return load_plugins([viq_exec_procs, builtin], entry_points_enabled=False)


@pytest.fixture
def service(viq_settings: Settings, plugins: Plugins) -> Iterator[JobService]:
    """A JobService with the local executor over the isolated home."""
    with JobService(viq_settings, plugins=plugins, extra_env=worker_env(), poll_seconds=0.05) as svc:
        yield svc


@pytest.fixture
def order(tmp_path: Path) -> Callable[..., Path]:
    """``order(ProcessorClass, inputs=…, params=…)`` writes a job order under tmp_path and returns its path."""
    counter = iter(range(1, 1000))

    def make(cls: type[Processor], **kwargs: Any) -> Path:
        return make_job_order(cls, tmp_path / "orders" / f"{cls.declaration.name}-{next(counter)}.xml", **kwargs)

    return make
