"""The FastAPI application of ``viq serve``: the API under ``/api``, the page at ``/``, assets under ``/static``.

:func:`create_app` opens the runtime (host, API tables, job runner) when the app starts and closes it when it
stops; tests pass ``runner="none"`` or their own settings and plugins. Errors of the VIQ code map to HTTP
statuses in one place (:data:`STATUS`); the body is always ``{"detail": message, "error": class name}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from viq_host.api.auth import installation_secret
from viq_host.api.files import FileRefused, NoRaster
from viq_host.api.routes import catalog, gipps, jobs, monitoring, system
from viq_host.api.runtime import RunnerMode, Runtime, open_runtime
from viq_host.api.store import ApiStoreError
from viq_host.catalog.base import CatalogError, InvalidProduct, InvalidQuery, ProductNotFound
from viq_host.config import Settings, load_settings
from viq_host.gipp.models import GippAmbiguous, GippNotFound, GippStoreError
from viq_host.jobs.select import SelectionError
from viq_host.jobs.store import JobStoreError
from viq_host.plugins import Plugins
from viq_interfaces.errors import InvalidJobOrder, RegistryError, ViqError

API_VERSION = "1.0"
STATIC_DIR = Path(str(resources.files("viq_host.api").joinpath("static")))

#: HTTP status per error class (the most specific class in an error's MRO wins).
STATUS: dict[type[Exception], int] = {
    ProductNotFound: 404,
    GippNotFound: 404,
    NoRaster: 404,
    RegistryError: 404,
    FileRefused: 403,
    InvalidQuery: 422,
    InvalidProduct: 422,
    InvalidJobOrder: 422,
    SelectionError: 422,
    GippAmbiguous: 409,
    GippStoreError: 409,
    JobStoreError: 409,
    ApiStoreError: 400,
    CatalogError: 503,
    ViqError: 400,
}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


def status_for(err: Exception) -> int:
    """HTTP status of a VIQ error."""
    for cls in type(err).__mro__:
        if cls in STATUS:
            if cls is JobStoreError and str(err).startswith("unknown job"):
                return 404
            return STATUS[cls]
    return 500


async def _viq_error(request: Request, exc: Exception) -> JSONResponse:
    body: dict[str, Any] = {"detail": str(exc), "error": type(exc).__name__}
    if isinstance(exc, InvalidJobOrder):
        body.update(
            valid=False,
            detail=exc.describe(),
            exit_code=exc.exit_code,
            line=exc.line,
            column=exc.column,
            field=exc.field,
        )
    return JSONResponse(body, status_code=status_for(exc))


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``limit`` bytes (declared or streamed), before any parsing."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(send)
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = b'{"detail":"request body too large","error":"PayloadTooLarge"}'
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every response (unless the route set its own), and
    ``Cache-Control: no-store`` on ``/api`` responses."""

    _ENCODED: ClassVar[list[tuple[bytes, bytes]]] = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith("/api/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self._ENCODED if k not in present]
                if api and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(
    settings: Settings | None = None,
    *,
    plugins: Plugins | None = None,
    runner: RunnerMode = "thread",
    max_upload_bytes: int | None = None,
    pool_size: int | None = None,
) -> FastAPI:
    """The application; the runtime opens on startup (host, API tables, job runner) and closes on shutdown.

    ``pool_size``: PostgreSQL connections of this process's request handlers (see :class:`Runtime`)."""
    cfg = settings or load_settings()
    limit = max_upload_bytes or max(cfg.max_job_order_bytes, 4 * 1_048_576)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt: Runtime = open_runtime(cfg, plugins=plugins, runner=runner, max_upload_bytes=limit, pool_size=pool_size)
        app.state.runtime = rt
        app.state.secret = installation_secret(cfg.home)
        try:
            yield
        finally:
            rt.close()

    app = FastAPI(
        title="VIQ — VENµS image-quality centre API",
        version=API_VERSION,
        description=(
            "Catalog, processors, jobs, GIPPs, measurements and reports of one VIQ installation. "
            "Authenticate with `Authorization: Bearer <token>` (`viq serve token create NAME --role R`); "
            "writes also need `X-CSRF-Token` from `GET /api/session`."
        ),
        lifespan=lifespan,
    )
    for cls in STATUS:
        app.add_exception_handler(cls, _viq_error)
    for router in (system.router, catalog.router, jobs.router, gipps.router, monitoring.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=limit)
    return app


WORKER_ENV = "VIQ_SERVE_WORKER"
"""Environment variable carrying a worker's options (JSON: runner, pool_size) from ``viq serve --workers``."""


def worker_app() -> FastAPI:
    """The app of one ``viq serve --workers N`` process (a uvicorn factory): settings from the environment as
    in the parent, options from :data:`WORKER_ENV`. Every worker may start the job runner; the installation's
    daemon lock lets exactly one of them run jobs, the others stand by (``runner: external``) and take over
    if that one dies."""
    import json
    import os

    options = json.loads(os.environ.get(WORKER_ENV, "{}"))
    runner: RunnerMode = "thread" if options.get("runner") == "thread" else "none"
    pool = options.get("pool_size")
    return create_app(load_settings(), runner=runner, pool_size=int(pool) if pool else None)
