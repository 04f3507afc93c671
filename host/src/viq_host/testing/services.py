"""Fixtures for the real services (PostgreSQL/PostGIS, Grid Engine).

The test command (``scripts/test``) starts the services and exports their coordinates. Without them a
test that needs one is skipped — unless ``VIQ_REQUIRE_SERVICES=1`` (set by CI), which turns the skip into a
failure, so nothing is silently left out.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest


def require_services() -> bool:
    """True when a missing service must fail the test instead of skipping it."""
    return os.environ.get("VIQ_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def missing_service(what: str) -> None:
    """Skip, or fail under ``VIQ_REQUIRE_SERVICES=1``."""
    if require_services():
        pytest.fail(f"{what} is required (VIQ_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def postgis_server_url() -> str:
    """URL of the PostGIS server started by ``scripts/services/postgis.sh up`` (env VIQ_TEST_POSTGIS_URL)."""
    url = os.environ.get("VIQ_TEST_POSTGIS_URL", "")
    if not url:
        missing_service("PostgreSQL/PostGIS (VIQ_TEST_POSTGIS_URL)")
    try:
        import psycopg2

        psycopg2.connect(url, connect_timeout=5).close()
    except Exception as err:
        missing_service(f"PostgreSQL/PostGIS at {url} ({err})")
    return url


@pytest.fixture
def postgis_url(postgis_server_url: str) -> Iterator[str]:
    """A fresh, empty PostGIS database for one test, dropped afterwards."""
    import psycopg2

    name = f"viq_t_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(postgis_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}" TEMPLATE template1')
    base = postgis_server_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def sge_available() -> str:
    """A running Grid Engine usable through DRMAA (``scripts/services/sge.sh setup``); returns the library path.

    Checks that the qmaster answers and that the DRMAA library loads in this process; otherwise skips the
    test (fails under ``VIQ_REQUIRE_SERVICES=1``).
    """
    import shutil
    import subprocess

    if shutil.which("qstat") is None:
        missing_service("Grid Engine (qstat not found; run scripts/services/sge.sh setup)")
    try:
        done = subprocess.run(["qstat", "-u", "*"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        missing_service(f"Grid Engine ({err})")
    if done.returncode != 0:
        missing_service(f"Grid Engine qmaster ({(done.stderr or done.stdout).strip()})")
    try:
        from viq_host.executors.drmaa import load_drmaa

        load_drmaa()
    except Exception as err:
        missing_service(f"the DRMAA library ({err})")
    return os.environ["DRMAA_LIBRARY_PATH"]
