"""The daemon's intake and queue on Grid Engine: an order dropped twice runs once; per-processor limits hold."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest
from sge_harness import daemon_env, drop, start_daemon, stop_daemon, wait_for

from viq_host.jobs.store import JobState, JobStore
from viq_host.testing.factories import make_job_order
from viq_host.testing.harness import processor_env
from viq_sge_procs import Nap

pytestmark = pytest.mark.sge


def test_order_dropped_twice_runs_once(sge_available: str, tmp_path: Path) -> None:
    """The same bytes dropped under a second name in the same pass, and again under the first name after the job
    ended, never make a second job: both copies go to duplicates/ with a .reason naming the first job.

    Pins: one job (SUCCEEDED, one attempt), the processor ran once (its own run counter), the stored content
    hash is the file's SHA-256, the original filed in done/, and an order with other bytes under a reused name is
    a new job (the hash, not the name, decides).
    """
    home, runs = tmp_path / "home", tmp_path / "runs"
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    runs.mkdir()
    order = make_job_order(Nap, tmp_path / "staging" / "a.xml", params={"seconds": 0.2, "tag": "a"})
    other = make_job_order(Nap, tmp_path / "staging2" / "a.xml", params={"seconds": 0.2, "tag": "b"})
    digest = hashlib.sha256(order.read_bytes()).hexdigest()
    env = daemon_env(home, runs, sge_available, processor_env(Nap))
    drop(order, inbox)
    drop(order, inbox, "a-copy.xml")
    log = tmp_path / "daemon.log"
    proc = start_daemon(env, log)
    dup = home / "duplicates"
    try:
        wait_for("the jobs store", lambda: (home / "jobs.sqlite").exists(), 30, proc, log)
        with JobStore(home / "jobs.sqlite") as store:
            wait_for("both files taken", lambda: not list(inbox.glob("*.xml")), 30, proc, log)
            drop(other, inbox)  # same name, other bytes: a new order
            wait_for("both jobs done", lambda: len(list((home / "done").glob("*.xml"))) == 2, 60, proc, log)
            drop(order, inbox)  # same name, same bytes, after its job ended
            wait_for("two duplicates", lambda: len(list(dup.glob("*.xml"))) == 2, 30, proc, log)
            jobs = sorted(store.jobs(), key=lambda j: j.created)
    finally:
        stop_daemon(proc, log)
    assert [j.state for j in jobs] == [JobState.SUCCEEDED, JobState.SUCCEEDED]
    first = jobs[0]
    assert first.order_sha256 == digest and jobs[1].order_sha256 != digest
    assert (runs / "a").read_text().count("\n") == 1 and (runs / "b").read_text().count("\n") == 1
    reasons = sorted(p.read_text() for p in dup.glob("*.xml.reason"))
    assert len(reasons) == 2
    for text in reasons:
        assert f"duplicate_of: {first.id}" in text and f"sha256: {digest}" in text
    assert {p.name for p in dup.glob("*.xml")} == {"a-copy.xml", "a.xml"}
    assert not list(inbox.glob("*.xml"))


def test_processor_limit_of_one_serialises_its_jobs(sge_available: str, tmp_path: Path) -> None:
    """With ``processor_limits = {"t-sge-nap": 1}`` three orders taken in one pass run one after the other.

    Pins: all three SUCCEEDED; the processor's own sleep spans (written by the job on the execution host) never
    overlap; in the job store each attempt was created only after the previous one had ended.
    """
    home, runs = tmp_path / "home", tmp_path / "runs"
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    runs.mkdir()
    tags = ["l1", "l2", "l3"]
    for tag in tags:
        drop(make_job_order(Nap, tmp_path / "staging" / f"{tag}.xml", params={"seconds": 1.0, "tag": tag}), inbox)
    env = daemon_env(home, runs, sge_available, processor_env(Nap), VIQ_PROCESSOR_LIMITS='{"t-sge-nap": 1}')
    log = tmp_path / "daemon.log"
    proc = start_daemon(env, log)
    try:
        wait_for("the jobs store", lambda: (home / "jobs.sqlite").exists(), 30, proc, log)
        wait_for("three jobs done", lambda: len(list((home / "done").glob("*.xml"))) == 3, 90, proc, log)
    finally:
        stop_daemon(proc, log)
    with JobStore(home / "jobs.sqlite") as store:
        jobs = store.jobs()
        attempts = sorted((a for j in jobs for a in store.attempts(j.id)), key=lambda a: a.created)
    assert [j.state for j in jobs] == [JobState.SUCCEEDED] * 3
    assert len(attempts) == 3
    for before, after in itertools.pairwise(attempts):
        assert before.ended is not None and after.created >= before.ended, (before, after)
    spans = sorted(tuple(float(x) for x in (runs / f"{tag}.span").read_text().split()) for tag in tags)
    assert len(spans) == 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, spans
