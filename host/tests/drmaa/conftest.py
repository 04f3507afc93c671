"""Shared fixtures of the Grid Engine tests: one DRMAA executor per test process (one session per process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sge_harness import Harness

from viq_host.config import Settings
from viq_host.executors.drmaa import DrmaaExecutor

pytestmark = pytest.mark.sge


@pytest.fixture(scope="session")
def drmaa_executor(sge_available: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DrmaaExecutor]:
    """The process's DRMAA executor, on a throwaway VIQ home."""
    home = tmp_path_factory.mktemp("viq-home")
    executor = DrmaaExecutor(Settings(home=home))
    try:
        yield executor
    finally:
        executor.close()


@pytest.fixture(scope="session")
def sge(drmaa_executor: DrmaaExecutor, tmp_path_factory: pytest.TempPathFactory) -> Harness:
    """Harness around the process's DRMAA executor (work directories under a shared temporary root)."""
    return Harness(drmaa_executor, tmp_path_factory.mktemp("sge-work"))
