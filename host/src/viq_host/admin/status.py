"""``viq admin status``: execution hosts, slots, queue, database, storage and daemon of one installation.

Every probe has a short timeout and reports a failure as data (``ok: false`` and why), so the status of a
half-broken installation — database host down, an execution host lost — is still shown in full.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from viq_host.admin.backup import backend_of
from viq_host.config import Settings
from viq_host.jobs.store import sqlite_path

PROBE_TIMEOUT = 10.0


@dataclass
class HostInfo:
    """One execution host (a Grid Engine queue instance, or this machine for the local executor)."""

    name: str
    queue: str
    state: str
    """``ok``, or the scheduler's state letters: u (unknown: host lost), E (error), d (disabled), a (alarm)…"""
    slots_used: int
    slots_total: int
    load: float | None = None


@dataclass
class Probe:
    """Result of one health probe."""

    ok: bool
    detail: str = ""
    latency_ms: float | None = None


@dataclass
class StorageInfo:
    """One directory the installation writes to."""

    role: str
    path: str
    ok: bool
    free_bytes: int = 0
    total_bytes: int = 0
    detail: str = ""


@dataclass
class Status:
    """Everything ``viq admin status`` shows."""

    executor: str
    scheduler: Probe
    hosts: list[HostInfo] = field(default_factory=list)
    queue: dict[str, int] = field(default_factory=dict)
    """Scheduler jobs by state (``running``, ``pending``)."""
    jobs: dict[str, int] = field(default_factory=dict)
    """VIQ jobs by state, from the job store."""
    database: Probe = field(default_factory=lambda: Probe(False))
    database_backend: str = ""
    products: int | None = None
    storage: list[StorageInfo] = field(default_factory=list)
    daemon: dict[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """Database, storage and scheduler answer, and no execution host is lost or in error."""
        hosts_ok = all(h.state == "ok" for h in self.hosts)
        return self.database.ok and self.scheduler.ok and hosts_ok and all(s.ok for s in self.storage)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json``)."""
        return {**asdict(self), "healthy": self.healthy}


def _tool(args: list[str]) -> tuple[bool, str]:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"{args[0]}: {err}"
    if done.returncode != 0:
        return False, (done.stderr or done.stdout).strip().splitlines()[-1:][0] if (done.stderr or done.stdout) else ""
    return True, done.stdout


def parse_queue_instances(xml: str) -> list[HostInfo]:
    """Queue instances of ``qstat -f -xml``."""
    hosts: list[HostInfo] = []
    root = etree.fromstring(xml.encode())
    for qi in root.iter("Queue-List"):
        full = qi.findtext("name", "")
        queue, _, host = full.partition("@")
        state = (qi.findtext("state") or "").strip()
        load_text = qi.findtext("load_avg")
        try:
            load = float(load_text) if load_text else None
        except ValueError:
            load = None
        hosts.append(
            HostInfo(
                name=host,
                queue=queue,
                state=state or "ok",
                slots_used=int(qi.findtext("slots_used", "0") or 0),
                slots_total=int(qi.findtext("slots_total", "0") or 0),
                load=load,
            )
        )
    return hosts


def parse_job_states(xml: str) -> dict[str, int]:
    """Jobs of ``qstat -u '*' -xml`` counted by state (``running``, ``pending``)."""
    counts: dict[str, int] = {"running": 0, "pending": 0}
    root = etree.fromstring(xml.encode())
    for job in root.iter("job_list"):
        state = job.get("state", "pending")
        counts[state] = counts.get(state, 0) + 1
    return counts


def _scheduler(settings: Settings, status: Status) -> None:
    if settings.executor != "drmaa":
        status.scheduler = Probe(True, "local executor")
        status.hosts = [HostInfo(socket.gethostname(), "local", "ok", status.jobs.get("RUNNING", 0),
                                 settings.max_parallel)]
        return
    start = time.monotonic()
    queue_args = ["-q", settings.drmaa_queue] if settings.drmaa_queue else []
    ok, out = _tool(["qstat", "-f", "-xml", *queue_args])
    latency = (time.monotonic() - start) * 1000
    if not ok:
        status.scheduler = Probe(False, f"qmaster unreachable: {out}", latency)
        return
    cell = os.environ.get("SGE_CELL", "default")
    status.scheduler = Probe(True, f"Grid Engine cell {cell}", round(latency, 1))
    status.hosts = parse_queue_instances(out)
    ok, out = _tool(["qstat", "-u", "*", "-xml", *queue_args])
    if ok:
        status.queue = parse_job_states(out)


def _database(settings: Settings, status: Status) -> None:
    url = settings.database_url
    status.database_backend = backend = backend_of(url)
    start = time.monotonic()
    try:
        if backend == "sqlite":
            path = sqlite_path(url)
            if not path.is_file():
                status.database = Probe(False, f"{path} does not exist")
                return
            lite = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=PROBE_TIMEOUT)
            try:
                row = lite.execute("SELECT count(*) FROM product").fetchone()
            finally:
                lite.close()
            where = str(path)
        else:
            import psycopg2

            from viq_host.admin.backup import PgTarget

            pg = psycopg2.connect(url.replace("postgis://", "postgresql://", 1), connect_timeout=int(PROBE_TIMEOUT))
            try:
                cur = pg.cursor()
                cur.execute("SELECT count(*) FROM product")
                row = cur.fetchone()
                cur.close()
            finally:
                pg.close()
            where = PgTarget.parse(url).dsn()
    except Exception as err:  # any driver error is a finding, not a crash of the status command
        status.database = Probe(False, f"{type(err).__name__}: {str(err).strip()}",
                                round((time.monotonic() - start) * 1000, 1))
        return
    status.products = int(row[0]) if row else 0
    status.database = Probe(True, where, round((time.monotonic() - start) * 1000, 1))


def _jobs(settings: Settings, status: Status) -> None:
    path = sqlite_path(settings.jobs_url)
    if not path.is_file():
        return
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=PROBE_TIMEOUT)
        try:
            status.jobs = {str(s): int(n) for s, n in con.execute("SELECT state, count(*) FROM jobs GROUP BY state")}
        finally:
            con.close()
    except sqlite3.Error:
        status.jobs = {}


def _storage(settings: Settings, status: Status) -> None:
    dirs = [("home", settings.home), ("work", settings.work_dir), ("inbox", settings.inbox_dir)]
    dirs += [("data", p) for p in settings.data_roots if p != settings.work_dir]
    for role, path in dirs:
        info = StorageInfo(role, str(path), False)
        if not path.is_dir():
            info.detail = "missing"
        elif not os.access(path, os.W_OK | os.X_OK):
            info.detail = "not writable"
        else:
            usage = shutil.disk_usage(path)
            info.free_bytes, info.total_bytes = usage.free, usage.total
            info.ok = usage.free > 0
            info.detail = "" if info.ok else "full"
        status.storage.append(info)


def _daemon(settings: Settings, status: Status) -> None:
    path = settings.home / "daemon.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status.daemon = {"running": False}
        return
    beat = info.get("heartbeat")
    age = None
    if isinstance(beat, str):
        age = round((datetime.now(UTC) - datetime.fromisoformat(beat)).total_seconds(), 1)
    status.daemon = {"running": True, "pid": info.get("pid"), "phase": info.get("phase"), "heartbeat_age_s": age}


def collect_status(settings: Settings) -> Status:
    """Probe everything (see the module docstring)."""
    status = Status(executor=settings.executor, scheduler=Probe(False))
    _jobs(settings, status)
    _scheduler(settings, status)
    _database(settings, status)
    _storage(settings, status)
    _daemon(settings, status)
    return status


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def render(status: Status) -> str:
    """The status as plain text, one section per line group."""
    mark = {True: "ok  ", False: "FAIL"}
    lines = [f"overall    {'healthy' if status.healthy else 'DEGRADED'}"]
    s = status.scheduler
    lines.append(f"scheduler  {mark[s.ok]} {status.executor}: {s.detail}"
                 + (f" ({s.latency_ms} ms)" if s.latency_ms is not None else ""))
    for h in status.hosts:
        load = f" load {h.load:.2f}" if h.load is not None else ""
        lines.append(f"  host {h.name:<12} {h.queue:<8} {h.state:<4} slots {h.slots_used}/{h.slots_total}{load}")
    used = sum(h.slots_used for h in status.hosts if h.state == "ok")
    total = sum(h.slots_total for h in status.hosts if h.state == "ok")
    lines.append(f"slots      {used}/{total} in use on {sum(h.state == 'ok' for h in status.hosts)} "
                 f"of {len(status.hosts)} host(s) available")
    if status.queue:
        lines.append(f"queue      {status.queue.get('running', 0)} running, {status.queue.get('pending', 0)} pending")
    if status.jobs:
        lines.append("jobs       " + ", ".join(f"{k.lower()} {v}" for k, v in sorted(status.jobs.items())))
    d = status.database
    products = f", {status.products} products" if status.products is not None else ""
    lines.append(f"database   {mark[d.ok]} {status.database_backend} {d.detail}{products}"
                 + (f" ({d.latency_ms} ms)" if d.latency_ms is not None else ""))
    for st in status.storage:
        extra = f"{_size(st.free_bytes)} free of {_size(st.total_bytes)}" if st.ok else st.detail
        lines.append(f"storage    {mark[st.ok]} {st.role:<6} {st.path}  {extra}")
    dm = status.daemon
    if dm.get("running"):
        lines.append(f"daemon     pid {dm.get('pid')} {dm.get('phase')}, heartbeat {dm.get('heartbeat_age_s')} s ago")
    else:
        lines.append("daemon     not running")
    return "\n".join(lines)


__all__ = ["HostInfo", "Probe", "Status", "StorageInfo", "collect_status", "parse_job_states",
           "parse_queue_instances", "render"]
