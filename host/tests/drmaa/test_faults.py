"""Faults of the environment, against the real Grid Engine: a full work file system, a qmaster restart, a lost
execd. Each ends with every job in exactly one final state and nothing catalogued twice."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sge_harness import VIQ, daemon_env, drop, start_daemon, stop_daemon, wait_for

from viq_host.catalog import open_catalog
from viq_host.catalog.base import ProductQuery
from viq_host.jobs.store import AttemptState, JobState, JobStore
from viq_host.service import quiet_plugins
from viq_host.testing.factories import make_job_order
from viq_host.testing.harness import processor_env
from viq_sge_procs import Nap

pytestmark = pytest.mark.sge

SGE_SH = Path(__file__).resolve().parents[3] / "scripts" / "services" / "sge.sh"


def _catalogued(home: Path, job_id: str) -> int:
    catalog = open_catalog(f"sqlite:///{home / 'catalog.sqlite'}", quiet_plugins())
    try:
        return catalog.count(ProductQuery(job_id=job_id))
    finally:
        catalog.close()


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for the test (needs root, as the Grid Engine tests do)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, f"cannot mount a tmpfs: {done.stderr}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_work_directory(sge_available: str, tmp_path: Path, small_fs: Path) -> None:
    """A work root on a nearly full file system: the processor cannot write its output, the job FAILS with a
    reason naming the full file system; once space is freed, ``viq job retry`` runs it to SUCCEEDED.

    Pins: nothing is lost (the job and its order are kept, failed/ holds the order with a .reason), the failed
    attempt is never catalogued, the retried one is catalogued once.
    """
    home, runs = tmp_path / "home", tmp_path / "runs"
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    runs.mkdir()
    st = os.statvfs(small_fs)
    filler = small_fs / "filler"
    filler.write_bytes(b"\0" * (st.f_bavail * st.f_frsize - 160 * 1024))  # leave 160 KiB
    drop(make_job_order(Nap, tmp_path / "staging" / "full.xml", params={"tag": "full", "report_bytes": 400_000}),
         inbox)
    env = daemon_env(home, runs, sge_available, processor_env(Nap), VIQ_WORK_ROOT=str(small_fs))
    log = tmp_path / "daemon.log"
    proc = start_daemon(env, log)
    try:
        wait_for("the jobs store", lambda: (home / "jobs.sqlite").exists(), 30, proc, log)
        failed = home / "failed"
        wait_for("the order in failed/", lambda: any(failed.glob("*full.xml.reason")), 60, proc, log)
        with JobStore(home / "jobs.sqlite") as store:
            (job,) = store.jobs()
            assert job.state is JobState.FAILED
            assert "file system is full" in job.reason, job.reason
            assert "file system is full" in next(failed.glob("*full.xml.reason")).read_text()
            filler.unlink()
            done = subprocess.run([str(VIQ), "job", "retry", job.id], env=env, capture_output=True, text=True,
                                  check=False, timeout=60)
            assert done.returncode == 0, done.stderr
            wait_for("the retried job done", lambda: store.job(job.id).state.terminal, 60, proc, log)
            final = store.job(job.id)
            attempts = store.attempts(job.id)
    finally:
        stop_daemon(proc, log)
    assert final.state is JobState.SUCCEEDED, final.reason
    assert [a.state for a in attempts] == [AttemptState.FAILED, AttemptState.DONE]
    assert [a.ingested for a in attempts] == [False, True]
    assert _catalogued(home, job.id) == 1
    assert (runs / "full").read_text().count("\n") == 2


def _qmaster_down() -> bool:
    return subprocess.run(["qstat"], capture_output=True, check=False, timeout=30).returncode != 0


def _sge(command: str) -> None:
    done = subprocess.run(["bash", str(SGE_SH), command], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def _orders(tmp_path: Path, inbox: Path, naps: dict[str, float]) -> None:
    for tag, seconds in naps.items():
        drop(make_job_order(Nap, tmp_path / "staging" / f"{tag}.xml", params={"seconds": seconds, "tag": tag}), inbox)


def _settled_once(home: Path, runs: Path, store: JobStore, naps: dict[str, float]) -> None:
    """Every job SUCCEEDED exactly once, its processor ran once, its output catalogued once."""
    jobs = store.jobs()
    assert len(jobs) == len(naps)
    for job in jobs:
        finals = [t for t in store.transitions(job.id) if t.to_state in {s.value for s in JobState if s.terminal}]
        assert len(finals) == 1, finals
        assert job.state is JobState.SUCCEEDED, (job.id, job.reason)
        done = [a for a in store.attempts(job.id) if a.state is AttemptState.DONE]
        assert len(done) == 1 and done[0].ingested
        assert _catalogued(home, job.id) == 1
    for tag in naps:
        assert (runs / tag).read_text().count("\n") == 1, f"{tag} ran more than once"


def _qmaster_gone() -> bool:
    pid = Path("/var/spool/gridengine/qmaster/qmaster.pid").read_text().strip()
    return not Path(f"/proc/{pid}").exists()


def test_qmaster_stopped_and_restarted_while_jobs_run(sge_available: str, tmp_path: Path) -> None:
    """``qconf -km`` while three jobs run; they finish while the qmaster is down; it is started again.

    Pins: the daemon survives the outage, and every job reaches exactly one final state (SUCCEEDED), ran once and
    is catalogued once: finishes reported by the execd after the restart are neither lost nor doubled.
    """
    home, runs = tmp_path / "home", tmp_path / "runs"
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    runs.mkdir()
    naps = {"m1": 8.0, "m2": 8.0, "m3": 8.0}
    _orders(tmp_path, inbox, naps)
    env = daemon_env(home, runs, sge_available, processor_env(Nap))
    log = tmp_path / "daemon.log"
    proc = start_daemon(env, log)
    try:
        wait_for("the jobs store", lambda: (home / "jobs.sqlite").exists(), 30, proc, log)
        with JobStore(home / "jobs.sqlite") as store:
            wait_for("the jobs running", lambda: all((runs / t).exists() for t in naps), 60, proc, log)
            subprocess.run(["qconf", "-km"], capture_output=True, check=False, timeout=30)
            try:
                wait_for("the qmaster gone", _qmaster_gone, 120, proc, log)  # 5-10 s, more under load
                wait_for("the naps over", lambda: all((runs / f"{t}.span").exists() for t in naps), 30, proc, log)
            finally:
                _sge("start")
            wait_for("every job final", lambda: all(j.state.terminal for j in store.jobs()), 90, proc, log)
            _settled_once(home, runs, store, naps)
    finally:
        stop_daemon(proc, log)


def test_execd_killed_while_a_job_runs(sge_available: str, tmp_path: Path) -> None:
    """``kill -9`` of sge_execd while two jobs run; they end with no execd; the execd is started again.

    Pins: each job reaches exactly one final state (SUCCEEDED: the run finished, so the retry policy is not
    needed), ran once (no resubmission while the execd was away) and is catalogued once.
    """
    home, runs = tmp_path / "home", tmp_path / "runs"
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    runs.mkdir()
    naps = {"x1": 4.0, "x2": 4.0}
    _orders(tmp_path, inbox, naps)
    env = daemon_env(home, runs, sge_available, processor_env(Nap))
    log = tmp_path / "daemon.log"
    proc = start_daemon(env, log)
    try:
        wait_for("the jobs store", lambda: (home / "jobs.sqlite").exists(), 30, proc, log)
        with JobStore(home / "jobs.sqlite") as store:
            wait_for("the jobs running", lambda: all((runs / t).exists() for t in naps), 60, proc, log)
            pid = int(Path("/var/run/gridengine/execd.pid").read_text().strip())
            os.kill(pid, 9)
            try:
                wait_for("the naps over", lambda: all((runs / f"{t}.span").exists() for t in naps), 30, proc, log)
                assert not any(j.state.terminal for j in store.jobs()), "settled while the execd was away"
            finally:
                _sge("start")
            wait_for("every job final", lambda: all(j.state.terminal for j in store.jobs()), 60, proc, log)
            _settled_once(home, runs, store, naps)
    finally:
        stop_daemon(proc, log)
