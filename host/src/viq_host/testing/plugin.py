"""pytest plugin of the VIQ testing kit: service fixtures, job-order factory, GeoTIFF builder, harness."""

from __future__ import annotations

from viq_host.testing.fixtures import viq_home, viq_run, viq_settings
from viq_host.testing.services import postgis_server_url, postgis_url, sge_available

__all__ = ["postgis_server_url", "postgis_url", "sge_available", "viq_home", "viq_run", "viq_settings"]
