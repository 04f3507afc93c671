"""The unchanged host on the distributed topology: jobs on both execution hosts, losing one, losing the database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dist_helpers import VIQ, head_cmd, head_run, tool, topology_cmd, wait_for

from viq_dist_procs import COMPLETE, Stamp, StampOnce
from viq_host.jobs.store import AttemptState, JobState, JobStore
from viq_host.testing.factories import make_job_order
from viq_host.testing.harness import processor_env

pytestmark = pytest.mark.sge


@dataclass
class Installation:
    """A VIQ installation on the head host (its home on the shared file system) and its daemon."""

    home: Path
    runs: Path
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(head_cmd([str(VIQ), "daemon", "--poll", "0.2"]),
                                         env={**os.environ, **self.env}, stdout=fh, stderr=subprocess.STDOUT)

    def alive(self) -> str | None:
        if self.proc is not None and self.proc.poll() is not None:
            return f"daemon exited ({self.proc.returncode}):\n{self.log.read_text()[-4000:]}"
        return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def order(self, processor: type[Stamp] | type[StampOnce], tag: str, seconds: float) -> None:
        staging = self.home / "staging"
        staging.mkdir(exist_ok=True)
        make_job_order(processor, staging / f"{tag}.xml", params={"seconds": seconds, "tag": tag})
        os.replace(staging / f"{tag}.xml", self.home / "inbox" / f"{tag}.xml")
        time.sleep(0.02)  # distinct mtimes: the daemon takes orders oldest first

    def runs_of(self, tag: str) -> list[tuple[str, str]]:
        path = self.runs / tag
        if not path.exists():
            return []
        return [tuple(line.split()) for line in path.read_text().splitlines()]  # type: ignore[misc]


@pytest.fixture
def installation(topology: dict[str, str], topo_db: str, tmp_path: Path) -> Iterator[Installation]:
    """A fresh installation on the topology: database on the DB host, Grid Engine cell of the topology."""
    home = tmp_path / "home"
    (home / "inbox").mkdir(parents=True)
    runs = tmp_path / "runs"
    runs.mkdir()
    env = {
        **topology,
        **processor_env(Stamp),
        "VIQ_EXTRA_PLUGINS": f"{Stamp.__module__}:Stamp,{StampOnce.__module__}:StampOnce",
        "VIQ_HOME": str(home),
        "VIQ_DATABASE_URL": topo_db,
        "VIQ_TEST_RUNS_DIR": str(runs),
    }
    inst = Installation(home, runs, env, tmp_path / "daemon.log")
    try:
        yield inst
    finally:
        inst.stop()


def _store(inst: Installation) -> JobStore:
    path = inst.home / "jobs.sqlite"
    end = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < end, inst.alive() or "no job store"
        time.sleep(0.2)
    return JobStore(path)


def _settled(store: JobStore, n: int) -> bool:
    jobs = store.jobs()
    return len(jobs) == n and all(j.state.terminal for j in jobs)


def test_host_loss(installation: Installation, topology: dict[str, str]) -> None:
    """Kill every process of one execution host while four jobs run on the two hosts.

    Pins: jobs ran on both hosts; every job reaches exactly one final state; re-runnable jobs of the lost
    host are rerun on the other host and catalogued once, from the rerun; the partial output of the lost
    run is never catalogued; the non-re-runnable job of the lost host FAILED naming the host (neither the
    DRMAA code-24 path nor a job "running forever"); jobs of the surviving host ran once. Reports kill→settled.
    """
    inst = installation
    # order S, O, O, S: placed alternately or host by host, each host gets one of each kind
    plan = [("s1", Stamp), ("o1", StampOnce), ("o2", StampOnce), ("s2", Stamp)]
    for tag, proc in plan:
        inst.order(proc, tag, 12.0)
    inst.start()
    store = _store(inst)
    victim = ""
    try:
        def all_started() -> bool:
            return all(len(inst.runs_of(tag)) == 1 for tag, _ in plan)

        wait_for("four runs started", all_started, 90, inst.alive)
        hosts = {tag: inst.runs_of(tag)[0][0] for tag, _ in plan}
        assert set(hosts.values()) == set(topology["VIQ_TOPOLOGY_EXEC_HOSTS"].split(",")), hosts
        mixed = [h for h in set(hosts.values())
                 if {t[0] for t, hh in hosts.items() if hh == h} == {"s", "o"}]
        assert mixed, f"no host runs both kinds: {hosts}"
        victim = sorted(mixed)[0]
        killed_at = time.monotonic()
        topology_cmd("kill-exec", victim.removeprefix("exec"))
        settled_at = wait_for("every job final", lambda: _settled(store, len(plan)), 150, inst.alive)
        print(f"\nhost loss: {victim} killed, every job settled {settled_at - killed_at:.1f} s later")

        products = tool(inst.env, "products", inst.env["VIQ_DATABASE_URL"])
        by_job: dict[str, list[dict[str, str]]] = {}
        for p in products:
            by_job.setdefault(p["job_id"], []).append(p)
        jobs = {str(j.params.get("tag")): j for j in store.jobs()}
        for tag, _ in plan:
            job = jobs[tag]
            finals = [t for t in store.transitions(job.id) if JobState(t.to_state).terminal]
            assert len(finals) == 1, (tag, finals)
            attempts = store.attempts(job.id)
            runs = inst.runs_of(tag)
            lost = hosts[tag] == victim
            if not lost:
                assert job.state is JobState.SUCCEEDED and len(attempts) == 1 and len(runs) == 1, (tag, job)
            elif tag.startswith("s"):
                assert job.state is JobState.SUCCEEDED, (tag, job.reason)
                assert [a.state for a in attempts] == [AttemptState.FAILED, AttemptState.DONE]
                assert victim in (attempts[0].reason or "") and "lost" in (attempts[0].reason or "")
                assert len(runs) == 2 and runs[1][0] != victim, runs
                partial = Path(attempts[0].work_dir) / "out" / "stamp.txt"
                assert partial.is_file() and COMPLETE not in partial.read_text()
            else:
                assert job.state is JobState.FAILED, (tag, job.state, job.reason)
                assert victim in (job.reason or "") and "lost" in (job.reason or ""), job.reason
                assert len(attempts) == 1 and len(runs) == 1
            done = [a for a in attempts if a.state is AttemptState.DONE]
            catalogued = by_job.get(job.id, [])
            assert len(catalogued) == len(done), (tag, catalogued)
            for product in catalogued:
                assert product["attempt_id"] == done[0].id
                assert Path(product["path"]).read_text().endswith(f"{COMPLETE}\n")
        failed_dirs = [Path(a.work_dir) for j in jobs.values() for a in store.attempts(j.id)
                       if a.state is AttemptState.FAILED]
        assert failed_dirs
        assert not [p for p in products if any(Path(p["path"]).is_relative_to(d) for d in failed_dirs)]
    finally:
        store.close()
        inst.stop()
        if victim:
            topology_cmd("start-exec", victim.removeprefix("exec"))


def test_database_loss(installation: Installation) -> None:
    """Crash the database host while jobs run and orders arrive; the daemon waits, then finishes everything.

    Pins: while the database is down no job fails and no order is rejected (the heartbeat says it waits);
    once it is back every job SUCCEEDED with one attempt, ingested exactly once, orders arriving during the
    outage included.
    """
    inst = installation
    first = [(f"d{i}", 3.0) for i in range(4)]
    for tag, seconds in first:
        inst.order(Stamp, tag, seconds)
    inst.start()
    store = _store(inst)
    try:
        wait_for("the first runs", lambda: any(inst.runs_of(t) for t, _ in first), 90, inst.alive)
        topology_cmd("db-stop")
        down_at = time.monotonic()
        late = [(f"late{i}", 0.5) for i in range(2)]
        for tag, seconds in late:
            inst.order(Stamp, tag, seconds)

        def waiting() -> bool:
            try:
                beat = json.loads((inst.home / "daemon.json").read_text())
            except (OSError, ValueError):
                return False
            return bool(beat.get("phase") == "waiting for database")

        wait_for("the daemon to wait for the database", waiting, 60, inst.alive)
        # every run of the first batch ends while the database is down: outputs exist, nothing ingested
        wait_for("the first batch to exit", lambda: all(inst.runs_of(t) for t, _ in first), 60, inst.alive)
        time.sleep(4.0)
        jobs = store.jobs()
        assert not [j for j in jobs if j.state in (JobState.FAILED, JobState.CANCELLED)], \
            [(j.id, j.state, j.reason) for j in jobs]
        assert not list((inst.home / "rejected").glob("*.xml"))
        topology_cmd("db-start")
        back_at = time.monotonic()
        n = len(first) + len(late)
        settled_at = wait_for("every job final", lambda: _settled(store, n), 120, inst.alive)
        print(f"\ndatabase loss: down {back_at - down_at:.1f} s, all settled {settled_at - back_at:.1f} s after it")
        jobs = store.jobs()
        assert {j.state for j in jobs} == {JobState.SUCCEEDED}, [(j.id, j.state, j.reason) for j in jobs]
        products = tool(inst.env, "products", inst.env["VIQ_DATABASE_URL"])
        for job in jobs:
            attempts = store.attempts(job.id)
            assert len(attempts) == 1 and attempts[0].ingested, attempts
            assert len([p for p in products if p["job_id"] == job.id]) == 1
        assert "database.unavailable" in (inst.home / "logs" / "host.jsonl").read_text()
    finally:
        store.close()
        inst.stop()


def test_admin_status_and_backup_on_topology(installation: Installation, topology: dict[str, str],
                                             tmp_path: Path) -> None:
    """``viq admin status`` on the head shows both hosts, slots and the database host; a backup of a run made
    there restores onto a fresh database on the database host with identical rows and files."""
    inst = installation
    tags = [f"b{i}" for i in range(2)]
    for tag in tags:
        inst.order(Stamp, tag, 0.2)
    inst.start()
    store = _store(inst)
    try:
        wait_for("two jobs final", lambda: _settled(store, len(tags)), 90, inst.alive)
    finally:
        store.close()
        inst.stop()
    status = json.loads(head_run([str(VIQ), "admin", "status", "--json"], inst.env).stdout)
    names = {h["name"]: h for h in status["hosts"]}
    assert set(names) == set(topology["VIQ_TOPOLOGY_EXEC_HOSTS"].split(","))
    assert all(h["state"] == "ok" and h["slots_total"] >= 1 for h in names.values())
    assert status["database"]["ok"] and status["products"] == len(tags) and status["healthy"]

    backup_dir = tmp_path / "backup"
    head_run([str(VIQ), "admin", "backup", str(backup_dir)], inst.env)
    before = tool(inst.env, "dump", inst.env["VIQ_DATABASE_URL"])
    files = {p["path"]: Path(p["path"]).read_bytes() for p in tool(inst.env, "products", inst.env["VIQ_DATABASE_URL"])}
    for path in files:
        Path(path).unlink()  # the product files are gone with the old installation
    source_name = inst.env["VIQ_DATABASE_URL"].rsplit("/", 1)[1]
    fresh = str(tool(inst.env, "createdb", inst.env["VIQ_DATABASE_URL"], f"{source_name}_r"))
    try:
        env = {**inst.env, "VIQ_HOME": str(tmp_path / "restored"), "VIQ_DATABASE_URL": fresh}
        head_run([str(VIQ), "admin", "restore", str(backup_dir)], env)
        assert tool(env, "dump", fresh) == before
        assert {p: Path(p).read_bytes() for p in files} == files
    finally:
        tool(inst.env, "dropdb", inst.env["VIQ_DATABASE_URL"], fresh.rsplit("/", 1)[1])
