"""The daemon on Grid Engine: kill -9 while jobs are queued, running and finishing, restart, nothing lost or doubled."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from viq_host.catalog import open_catalog
from viq_host.catalog.base import ProductQuery
from viq_host.jobs.store import AttemptState, JobState, JobStore
from viq_host.service import quiet_plugins
from viq_host.testing.daemons import start_daemon, wait_while_alive
from viq_host.testing.factories import make_job_order
from viq_host.testing.harness import processor_env
from viq_sge_procs import Nap

pytestmark = pytest.mark.sge



def test_kill_minus_nine_and_restart(sge_available: str, tmp_path: Path) -> None:
    """kill -9 of the daemon with jobs finished, running and queued; after a restart every job ends exactly once.

    Pins: each job SUCCEEDED with one attempt (none resubmitted, the processor ran once per job — its own run
    counter), each output catalogued once, orders moved to done/, a bad order rejected with its .reason, and
    SIGTERM stopping the daemon cleanly (exit 0, heartbeat file removed).
    """
    home = tmp_path / "home"
    runs = tmp_path / "runs"
    runs.mkdir()
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    env = {
        **os.environ,
        **processor_env(Nap),
        "VIQ_HOME": str(home),
        "VIQ_EXECUTOR": "drmaa",
        "VIQ_TEST_RUNS_DIR": str(runs),
        "DRMAA_LIBRARY_PATH": sge_available,
    }
    naps = {"quick-1": 0.2, "quick-2": 0.2, "long-1": 5, "long-2": 5, "long-3": 5}
    staging = tmp_path / "staging"
    for tag, seconds in naps.items():
        make_job_order(Nap, staging / f"{tag}.xml", params={"seconds": seconds, "tag": tag})
        os.replace(staging / f"{tag}.xml", inbox / f"{tag}.xml")
    (inbox / "broken.xml").write_text("<Job_Order>\n  <Processor_Name>t-sge-nap\n</Job_Order>\n")

    log = tmp_path / "daemon.log"
    first = start_daemon(env, log)
    store: JobStore | None = None
    try:
        wait_while_alive("the jobs store", lambda: (home / "jobs.sqlite").exists(), 30, first, log)
        store = JobStore(home / "jobs.sqlite")

        def mid_run() -> bool:
            jobs = store.jobs()
            done = sum(j.state is JobState.SUCCEEDED for j in jobs)
            running = sum(a.state is AttemptState.RUNNING for a in store.attempts_in_flight())
            return len(jobs) == len(naps) and done >= 2 and running >= 1

        wait_while_alive("two jobs done and one running", mid_run, 90, first, log)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        in_flight = store.attempts_in_flight()
        assert in_flight, "nothing was in flight at the kill"

        second = start_daemon(env, log)
        try:
            wait_while_alive(
                "every job finished",
                lambda: all(j.state.terminal for j in store.jobs()) and len(store.jobs()) == len(naps),
                120,
                second,
                log,
            )
            filed = home / "done"
            wait_while_alive("the orders filed", lambda: len(list(filed.glob("*.xml"))) == len(naps), 10, second, log)
            heartbeat = json.loads((home / "daemon.json").read_text())
            assert heartbeat["pid"] == second.pid
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, log.read_text()[-3000:]
        assert not (home / "daemon.json").exists()

        jobs = store.jobs()
        assert {j.state for j in jobs} == {JobState.SUCCEEDED}, [(j.id, j.state, j.reason) for j in jobs]
        catalog = open_catalog(f"sqlite:///{home / 'catalog.sqlite'}", quiet_plugins())
        try:
            for job in jobs:
                attempts = store.attempts(job.id)
                assert len(attempts) == 1 and attempts[0].state is AttemptState.DONE and attempts[0].ingested
                finals = [t for t in store.transitions(job.id) if t.to_state == JobState.SUCCEEDED]
                assert len(finals) == 1
                assert catalog.count(ProductQuery(job_id=job.id)) == 1
        finally:
            catalog.close()
        for tag in naps:
            assert len((runs / tag).read_text().splitlines()) == 1, f"{tag} ran more than once"
        reason = (home / "rejected" / "broken.xml.reason").read_text()
        assert "exit_code: 128" in reason and "line: " in reason and "file: " in reason
        assert not list(inbox.glob("*.xml")) and not list((home / "spool").iterdir())
    finally:
        if first.poll() is None:
            first.kill()
        if store is not None:
            store.close()
