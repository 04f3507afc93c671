"""pytest discovers the shared fixtures here; they and the helpers live in viq_browser_testlib.py (a unique module name:
conftest modules of different packages would shadow each other when imported by name)."""

from viq_browser_testlib import browser, page, server, shot  # noqa: F401
