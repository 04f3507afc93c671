"""Fixtures for the job-order tests: the test processor's registries and a data root with input files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from jobs_support import NOISE_GIPP, Env, Plugin

from viq_host.config import Settings
from viq_host.plugins import Plugins, load_plugins


@pytest.fixture(scope="session")
def plugins() -> Plugins:
    """Registries holding only the test processor (no entry points)."""
    return load_plugins([Plugin()], entry_points_enabled=False)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    """``tmp/data/{in,gipp,orders}`` with four dark frames and a noise GIPP; data root = ``tmp/data``."""
    data = tmp_path / "data"
    for sub in ("in", "gipp", "orders"):
        (data / sub).mkdir(parents=True)
    for k in range(1, 5):
        (data / "in" / f"dark{k}.tif").write_bytes(b"II*\x00fake")
    (data / "in" / "ref.EEF").write_text("<ref/>")
    (data / "gipp" / NOISE_GIPP).write_text("<gipp/>")
    settings = Settings(home=tmp_path / "home", data_roots=[data])
    return Env(root=tmp_path, data=data, orders=data / "orders", settings=settings)


@pytest.fixture
def write_bytes(env: Env) -> Callable[[bytes, str], Path]:
    """Write raw job-order bytes into ``orders/``."""

    def _write(data: bytes, name: str = "raw.xml") -> Path:
        path = env.orders / name
        path.write_bytes(data)
        return path

    return _write
