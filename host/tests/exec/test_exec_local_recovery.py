"""The local executor after a crash of the host: workers outlive it and are recognised, never run twice."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from viq_host.catalog import open_catalog
from viq_host.catalog.base import ProductQuery
from viq_host.config import load_settings
from viq_host.executors.base import TaskState
from viq_host.executors.local import LocalExecutor
from viq_host.jobs.store import AttemptState, JobState, JobStore
from viq_host.service import quiet_plugins
from viq_host.testing.daemons import start_daemon, wait_while_alive
from viq_host.testing.factories import make_job_order
from viq_host.testing.harness import processor_env

DRMAA_TESTS = Path(__file__).resolve().parents[1] / "drmaa"


def test_kill_minus_nine_of_a_local_daemon_adopts_its_running_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 of ``viq daemon`` (local executor) while one worker runs and one has finished unseen: the restarted
    daemon adopts the running worker and settles the other from its result — each job SUCCEEDED with one attempt,
    the processor ran once per job, each output catalogued once."""
    monkeypatch.syspath_prepend(str(DRMAA_TESTS))
    from viq_sge_procs import Nap

    home = tmp_path / "home"
    runs = tmp_path / "runs"
    runs.mkdir()
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    env = {**os.environ, **processor_env(Nap), "VIQ_HOME": str(home), "VIQ_EXECUTOR": "local",
           "VIQ_MAX_PARALLEL": "2", "VIQ_TEST_RUNS_DIR": str(runs)}
    naps = {"short": 1.5, "long": 6.0}
    staging = tmp_path / "staging"
    for tag, seconds in naps.items():
        make_job_order(Nap, staging / f"{tag}.xml", params={"seconds": seconds, "tag": tag})
        os.replace(staging / f"{tag}.xml", inbox / f"{tag}.xml")
    log = tmp_path / "daemon.log"

    first = start_daemon(env, log)
    store: JobStore | None = None
    try:
        wait_while_alive("the job store", lambda: (home / "jobs.sqlite").exists(), 30, first, log)
        store = JobStore(home / "jobs.sqlite")
        running = lambda: sum(a.state is AttemptState.RUNNING for a in store.attempts_in_flight()) == 2  # noqa: E731
        wait_while_alive("both workers running", running, 60, first, log)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        # the short nap ends while no host is up: nobody sees its exit status
        end = time.monotonic() + 30
        while not list(home.glob("work/*/*/result.json")) and time.monotonic() < end:
            time.sleep(0.1)
        in_flight = store.attempts_in_flight()
        assert len(in_flight) == 2

        second = start_daemon(env, log)
        try:
            wait_while_alive("every job finished", lambda: all(j.state.terminal for j in store.jobs()), 60, second, log)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, log.read_text()[-3000:]
        jobs = store.jobs()
        assert {j.state for j in jobs} == {JobState.SUCCEEDED}, [(j.id, j.state, j.reason) for j in jobs]
        catalog = open_catalog(f"sqlite:///{home / 'catalog.sqlite'}", quiet_plugins())
        try:
            for job in jobs:
                attempts = store.attempts(job.id)
                assert len(attempts) == 1 and attempts[0].state is AttemptState.DONE and attempts[0].ingested
                assert catalog.count(ProductQuery(job_id=job.id)) == 1
        finally:
            catalog.close()
        for tag in naps:
            assert len((runs / tag).read_text().splitlines()) == 1, f"{tag} ran more than once"
    finally:
        if first.poll() is None:
            first.kill()
        if store is not None:
            store.close()


def test_a_pid_reused_by_another_process_is_not_taken_for_the_worker(tmp_path: Path) -> None:
    """An external id whose pid now belongs to an unrelated process (other working directory) is not RUNNING;
    with no result left in the attempt's work directory the task is UNKNOWN (lost), and nothing is recovered."""
    settings = load_settings(home=tmp_path / "home")
    settings.ensure_dirs()
    (settings.work_dir / "job-1" / "attempt-1").mkdir(parents=True)
    stranger = subprocess.Popen(["sleep", "30"], cwd=tmp_path)
    try:
        executor = LocalExecutor(settings)
        assert executor.state("attempt-1", str(stranger.pid)) is TaskState.UNKNOWN
        assert executor.recover("attempt-1", str(stranger.pid)) is None
        (settings.work_dir / "job-1" / "attempt-1" / "result.json").write_text('{"exit_code": 1}')
        assert executor.state("attempt-1", str(stranger.pid)) is TaskState.FINISHED
        outcome = executor.recover("attempt-1", str(stranger.pid))
        assert outcome is not None and outcome.exit_code == 1
    finally:
        stranger.kill()
        stranger.wait()


def test_sigterm_of_a_local_daemon_drains_its_running_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM (not a crash): the local daemon stops taking work but waits for its running worker, which ends
    SUCCEEDED with its output catalogued, and exits 0 (adoption is for crashes only)."""
    monkeypatch.syspath_prepend(str(DRMAA_TESTS))
    from viq_sge_procs import Nap

    home = tmp_path / "home"
    (home / "inbox").mkdir(parents=True)
    env = {**os.environ, **processor_env(Nap), "VIQ_HOME": str(home), "VIQ_EXECUTOR": "local"}
    make_job_order(Nap, tmp_path / "nap.xml", params={"seconds": 3.0})
    os.replace(tmp_path / "nap.xml", home / "inbox" / "nap.xml")
    log = tmp_path / "daemon.log"
    daemon = start_daemon(env, log)
    try:
        wait_while_alive("the job store", lambda: (home / "jobs.sqlite").exists(), 30, daemon, log)
        store = JobStore(home / "jobs.sqlite")
        try:
            running = lambda: any(a.state is AttemptState.RUNNING for a in store.attempts_in_flight())  # noqa: E731
            wait_while_alive("the worker running", running, 60, daemon, log)
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(60) == 0, log.read_text()[-3000:]
            (job,) = store.jobs()
            assert job.state is JobState.SUCCEEDED, (job.state, job.reason)
            assert store.attempts_in_flight() == []
        finally:
            store.close()
    finally:
        if daemon.poll() is None:
            daemon.kill()
