"""The HTTP API and web page of ``viq serve`` (FastAPI): see :mod:`viq_host.api.app` and ``docs/api.md``."""

from viq_host.api.app import create_app

__all__ = ["create_app"]
