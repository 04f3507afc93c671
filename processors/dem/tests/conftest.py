"""pytest discovers the shared fixtures here; they and the helpers live in viq_dem_testlib.py (a unique module name:
conftest modules of different packages would shadow each other when imported by name)."""

from viq_dem_testlib import tile_factory  # noqa: F401
