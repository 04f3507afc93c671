"""What one ``viq serve`` process holds: the host (catalog, GIPP store, job service), the API tables, a runner.

Threads. The catalog and the GIPP store are safe to call from any thread (each guards its connection). The
job store's SQLite connection belongs to the thread that opened it, so the host is opened — and its job
service called, and closed — on one dedicated thread (:class:`HostThread`); request handlers hand job
calls to it. Jobs are run by a :class:`~viq_host.daemon.Daemon` on a second thread with a host of its own,
exactly as ``viq daemon`` would (inbox included); when another daemon already holds the installation the
runner stands down and that daemon runs the queued jobs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from viq_host.api.store import ApiStore
from viq_host.catalog import Catalog
from viq_host.config import Settings
from viq_host.host import Host, open_host
from viq_host.monitoring.specs import Spec, load_specs
from viq_host.plugins import Plugins
from viq_host.service import JobService, quiet_plugins

T = TypeVar("T")
RunnerMode = Literal["thread", "none"]


class HostThread:
    """The host, opened on its own thread; :meth:`call` runs a function of the job service there."""

    def __init__(self, settings: Settings, plugins: Plugins) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="viq-host")
        self.host: Host = self._pool.submit(open_host, settings, plugins=plugins).result()

    def call(self, fn: Callable[[JobService], T]) -> T:
        """``fn(service)`` on the host thread; its result or its exception."""
        service = self.host.service
        return self._pool.submit(fn, service).result()

    def close(self) -> None:
        """Close the host on its thread and stop the thread."""
        with contextlib.suppress(Exception):
            self._pool.submit(self.host.close).result()
        self._pool.shutdown(wait=True)


@dataclass
class Runner:
    """A :class:`~viq_host.daemon.Daemon` on a background thread (``mode="none"``: leave jobs to ``viq daemon``)."""

    settings: Settings
    plugins: Plugins
    mode: RunnerMode = "thread"
    poll_seconds: float = 0.2
    state: str = "stopped"
    """``running``, ``external`` (another daemon holds the installation), ``disabled``, ``failed: …``."""
    _thread: threading.Thread | None = field(default=None, init=False)
    _daemon: object | None = field(default=None, init=False)
    _ready: threading.Event = field(default_factory=threading.Event, init=False)

    def start(self) -> None:
        """Start the daemon thread (returns once it took the installation lock or stood down)."""
        if self.mode == "none":
            self.state = "disabled"
            return
        self._thread = threading.Thread(target=self._main, name="viq-runner", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=60)

    def _main(self) -> None:
        from viq_host.daemon import Daemon, DaemonError

        host: Host | None = None
        try:
            host = open_host(self.settings, plugins=self.plugins)
            daemon = Daemon(self.settings, service=host.service, poll_seconds=self.poll_seconds)
            self._daemon = daemon

            def first_cycle(d: Daemon) -> None:
                if not self._ready.is_set():
                    self.state = "running"
                    self._ready.set()

            daemon.on_cycle = first_cycle
            daemon.run()
        except DaemonError:
            self.state = "external"
        except Exception as err:  # the API keeps serving; the state says why jobs do not run here
            self.state = f"failed: {type(err).__name__}: {err}"
        finally:
            self._ready.set()
            if host is not None:
                host.close()
            if self.state == "running":
                self.state = "stopped"

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the daemon to stop (running local tasks are drained) and wait for the thread."""
        daemon = self._daemon
        stop = getattr(daemon, "stop", None)
        if callable(stop):
            stop()
        if self._thread is not None:
            self._thread.join(timeout)


CATALOG_SLOTS = 8
"""Catalog calls in flight at once from request threads (the PostGIS backend pools 8 connections and refuses
a ninth instead of waiting; SQLite serialises on its one connection anyway)."""


class ThrottledCatalog:
    """The catalog with at most ``slots`` calls in flight; further callers wait for a slot."""

    def __init__(self, catalog: Catalog, slots: int = CATALOG_SLOTS) -> None:
        self._catalog = catalog
        self._slots = threading.BoundedSemaphore(slots)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._catalog, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._slots:
                return attr(*args, **kwargs)

        return call


@dataclass
class Runtime:
    """Everything the request handlers use."""

    settings: Settings
    plugins: Plugins
    host_thread: HostThread
    store: ApiStore
    runner: Runner
    specs: list[Spec]
    max_upload_bytes: int

    catalog: Catalog = field(init=False)
    """The host's catalog, throttled to :data:`CATALOG_SLOTS` concurrent calls (use this in handlers)."""

    def __post_init__(self) -> None:
        self.catalog = cast(Catalog, ThrottledCatalog(self.host_thread.host.catalog))

    @property
    def host(self) -> Host:
        """The host (catalog and GIPP store are thread-safe)."""
        return self.host_thread.host

    def close(self) -> None:
        """Stop the runner, close the host and the API tables."""
        self.runner.stop()
        self.host_thread.close()
        self.store.close()


def open_runtime(
    settings: Settings,
    *,
    plugins: Plugins | None = None,
    runner: RunnerMode = "thread",
    max_upload_bytes: int | None = None,
) -> Runtime:
    """Open the host, the API tables and (``runner="thread"``) start the job runner."""
    settings.ensure_dirs()
    plugins = plugins or quiet_plugins()
    host_thread = HostThread(settings, plugins)
    try:
        store = ApiStore(settings.database_url)
    except BaseException:
        host_thread.close()
        raise
    run = Runner(settings, plugins, mode=runner)
    rt = Runtime(
        settings=settings,
        plugins=plugins,
        host_thread=host_thread,
        store=store,
        runner=run,
        specs=load_specs(settings.home),
        max_upload_bytes=max_upload_bytes or max(settings.max_job_order_bytes, 4 * 1_048_576),
    )
    run.start()
    return rt
