"""The SQLite job store: state machine, history, schema version, in-flight attempts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from viq_host.jobs.store import SCHEMA_VERSION, AttemptState, JobState, JobStore, JobStoreError
from viq_interfaces.errors import ConfigurationError


def test_state_machine_refuses_illegal_transitions(tmp_path: Path) -> None:
    """A job cannot jump QUEUED→SUCCEEDED nor leave SUCCEEDED; an attempt cannot skip SUBMITTED→DONE."""
    with JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}") as store:
        job = store.create_job(processor="p", version="01.00")
        with pytest.raises(JobStoreError, match="QUEUED → SUCCEEDED"):
            store.transition_job(job.id, JobState.SUCCEEDED)
        attempt = store.create_attempt(job.id, executor="local", work_root=tmp_path)
        store.transition_job(job.id, JobState.RUNNING)
        store.transition_attempt(attempt.id, AttemptState.SUBMITTED, external_id="123")
        with pytest.raises(JobStoreError, match="SUBMITTED → DONE"):
            store.transition_attempt(attempt.id, AttemptState.DONE)
        with pytest.raises(JobStoreError, match="expected QUEUED"):
            store.transition_job(job.id, JobState.CANCELLED, expect=JobState.QUEUED)
        assert store.job(job.id).state is JobState.RUNNING  # the refused transitions changed nothing
        assert [a.id for a in store.attempts_in_flight()] == [attempt.id]
        assert store.attempt(attempt.id).external_id == "123"
        store.transition_attempt(attempt.id, AttemptState.RUNNING)
        store.transition_attempt(attempt.id, AttemptState.EXITED, exit_code=0)
        store.transition_attempt(attempt.id, AttemptState.DONE, exit_code=0)
        store.transition_job(job.id, JobState.SUCCEEDED, exit_code=0)
        with pytest.raises(JobStoreError):
            store.transition_job(job.id, JobState.QUEUED)
        assert store.attempts_in_flight() == []
        done = store.attempt(attempt.id)
        assert done.started is not None and done.ended is not None and done.started <= done.ended


def test_requeue_counts_attempts_from_the_retry(tmp_path: Path) -> None:
    """Requeueing a FAILED job records retry_base = attempts so far, and attempt numbers keep growing."""
    with JobStore(tmp_path / "j.sqlite") as store:
        job = store.create_job(processor="p", version="01.00")
        first = store.create_attempt(job.id, executor="local", work_root=tmp_path)
        store.transition_job(job.id, JobState.FAILED, "boom", exit_code=148)
        store.transition_attempt(first.id, AttemptState.FAILED, "boom")
        again = store.transition_job(job.id, JobState.QUEUED, "retry")
        assert again.retry_base == 1 and again.exit_code is None
        second = store.create_attempt(job.id, executor="local", work_root=tmp_path)
        assert (first.number, second.number) == (1, 2)
        assert Path(second.work_dir) == tmp_path / job.id / second.id


def test_schema_version_is_recorded_and_a_newer_one_refused(tmp_path: Path) -> None:
    """The store writes its schema version; opening a database from a newer VIQ is a ConfigurationError."""
    path = tmp_path / "jobs.sqlite"
    with JobStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.close()
    with pytest.raises(ConfigurationError, match="newer"):
        JobStore(path)


def test_two_connections_see_each_others_commits(tmp_path: Path) -> None:
    """WAL mode: a cancel request written by one connection is visible to another at once."""
    path = tmp_path / "jobs.sqlite"
    with JobStore(path) as a, JobStore(path) as b:
        job = a.create_job(processor="p", version="01.00")
        b.request_cancel(job.id)
        assert a.cancel_requested([job.id]) == [job.id]
        mode = a._conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
