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
import fcntl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from viq_host.api.store import ApiStore
from viq_host.catalog import Catalog, open_catalog
from viq_host.config import Settings
from viq_host.host import Host, open_host
from viq_host.monitoring.specs import Spec, load_specs
from viq_host.plugins import Plugins
from viq_host.service import JobService, quiet_plugins

if TYPE_CHECKING:
    from viq_host.api.events import JobFeed

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


def installation_held(settings: Settings) -> bool:
    """Whether a daemon (``viq daemon`` or the runner of a ``viq serve`` process) holds ``HOME/daemon.lock``.

    The probe takes and drops the lock at once; a daemon starting in that microsecond would be told another
    one runs (and can be started again). It spares stand-by workers opening a host every retry."""
    settings.ensure_dirs()
    with (settings.home / "daemon.lock").open("a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


@dataclass
class Runner:
    """A :class:`~viq_host.daemon.Daemon` on a background thread (``mode="none"``: leave jobs to ``viq daemon``)."""

    settings: Settings
    plugins: Plugins
    mode: RunnerMode = "thread"
    poll_seconds: float = 0.2
    retry_seconds: float = 10.0
    """While another process holds the installation, try to take it over this often (a ``viq serve --workers``
    sibling or a ``viq daemon`` that stops: some process keeps running the jobs)."""
    state: str = "stopped"
    """``running``, ``external`` (another daemon or serve worker holds the installation), ``disabled``,
    ``failed: …``."""
    _thread: threading.Thread | None = field(default=None, init=False)
    _daemon: object | None = field(default=None, init=False)
    _ready: threading.Event = field(default_factory=threading.Event, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)

    def start(self) -> None:
        """Start the daemon thread (returns once it took the installation lock or stood down)."""
        if self.mode == "none":
            self.state = "disabled"
            return
        self._thread = threading.Thread(target=self._main, name="viq-runner", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=60)

    def _main(self) -> None:
        from viq_host.daemon import DaemonError

        while not self._stopping.is_set():
            try:
                self._run_once()
            except DaemonError:
                self.state = "external"
                self._ready.set()
                if self._stopping.wait(self.retry_seconds):
                    break
                continue
            except Exception as err:  # the API keeps serving; the state says why jobs do not run here
                self.state = f"failed: {type(err).__name__}: {err}"
            break
        self._ready.set()
        if self.state in ("running", "external"):
            self.state = "stopped"

    def _run_once(self) -> None:
        from viq_host.daemon import Daemon

        if installation_held(self.settings):
            from viq_host.daemon import DaemonError

            raise DaemonError("another process runs the jobs")  # checked before opening a host for nothing
        host = open_host(self.settings, plugins=self.plugins)
        try:
            daemon = Daemon(self.settings, service=host.service, poll_seconds=self.poll_seconds)
            self._daemon = daemon

            def first_cycle(d: Daemon) -> None:
                if not self._ready.is_set() or self.state != "running":
                    self.state = "running"
                    self._ready.set()

            daemon.on_cycle = first_cycle
            if self._stopping.is_set():
                return
            daemon.run()
        finally:
            self._daemon = None
            host.close()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the daemon to stop (running local tasks are drained) and wait for the thread."""
        self._stopping.set()
        daemon = self._daemon
        stop = getattr(daemon, "stop", None)
        if callable(stop):
            stop()
        if self._thread is not None:
            self._thread.join(timeout)


CATALOG_SLOTS = 8
"""Catalog calls in flight at once from request threads when no pool size is given (the PostGIS backend pools
8 connections by default and refuses a ninth instead of waiting; SQLite serialises on its one connection)."""
DB_CONNECTIONS = 8
"""PostgreSQL connections for request handlers of one ``viq serve``, shared among its worker processes."""


def pool_per_worker(total: int, workers: int) -> int:
    """Connections of one worker's request pool: an even share of ``total``, at least 2, at most 32."""
    return max(2, min(32, total // max(1, workers)))


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
    pool_size: int | None = None
    """PostgreSQL: the request handlers get a catalog of their own with this many pooled connections (the
    host's catalog keeps serving the job service). None: the host's catalog, :data:`CATALOG_SLOTS` slots."""

    catalog: Catalog = field(init=False)
    """The catalog for handlers, throttled to its pool size (use this in handlers)."""
    _own_catalog: Catalog | None = field(default=None, init=False)
    job_feed: JobFeed | None = field(default=None, init=False)
    """Snapshots of the job list shared by the process's event streams (set on first use)."""

    def __post_init__(self) -> None:
        base = self.host_thread.host.catalog
        slots = CATALOG_SLOTS
        if self.pool_size is not None and self.settings.database_url.startswith("postgres"):
            base = self._own_catalog = open_catalog(
                self.settings.database_url, self.plugins, migrate=False, pool_size=self.pool_size
            )
            slots = self.pool_size
        self.catalog = cast(Catalog, ThrottledCatalog(base, slots))

    @property
    def host(self) -> Host:
        """The host (catalog and GIPP store are thread-safe)."""
        return self.host_thread.host

    def close(self) -> None:
        """Stop the runner, close the host and the API tables."""
        self.runner.stop()
        if self._own_catalog is not None:
            with contextlib.suppress(Exception):
                self._own_catalog.close()
        self.host_thread.close()
        self.store.close()


def open_runtime(
    settings: Settings,
    *,
    plugins: Plugins | None = None,
    runner: RunnerMode = "thread",
    max_upload_bytes: int | None = None,
    pool_size: int | None = None,
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
    try:
        rt = Runtime(
            settings=settings,
            plugins=plugins,
            host_thread=host_thread,
            store=store,
            runner=run,
            specs=load_specs(settings.home),
            max_upload_bytes=max_upload_bytes or max(settings.max_job_order_bytes, 4 * 1_048_576),
            pool_size=pool_size,
        )
    except BaseException:
        store.close()
        host_thread.close()
        raise
    run.start()
    return rt
