"""The pieces of host-loss, database-loss and status handling that need no cluster: parsers and classifiers."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from viq_host.admin.status import Status, collect_status, parse_job_states, parse_queue_instances, render
from viq_host.dbwait import WaitingIngest, is_unavailable
from viq_host.executors.hostloss import parse_placed_jobs, parse_unknown_instances
from viq_host.testing.harness import harness_settings

QSTAT_F = """<?xml version='1.0'?>
<job_info>
  <queue_info>
    <Queue-List><name>viq.q@exec1</name><qtype>BI</qtype><slots_used>2</slots_used><slots_resv>0</slots_resv>
      <slots_total>2</slots_total><load_avg>1.50</load_avg><arch>lx-amd64</arch></Queue-List>
    <Queue-List><name>viq.q@exec2</name><qtype>BI</qtype><slots_used>1</slots_used><slots_resv>0</slots_resv>
      <slots_total>2</slots_total><arch>lx-amd64</arch><state>au</state></Queue-List>
  </queue_info>
</job_info>"""

QSTAT_R = """<?xml version='1.0'?>
<job_info>
  <queue_info>
    <job_list state="running"><JB_job_number>41</JB_job_number><JB_name>viq-a1</JB_name><state>r</state>
      <queue_name>viq.q@exec1</queue_name></job_list>
    <job_list state="running"><JB_job_number>42</JB_job_number><JB_name>viq-a2</JB_name><state>r</state>
      <queue_name>viq.q@exec2</queue_name></job_list>
  </queue_info>
  <job_info>
    <job_list state="pending"><JB_job_number>43</JB_job_number><JB_name>viq-a3</JB_name><state>qw</state>
      <queue_name></queue_name></job_list>
  </job_info>
</job_info>"""


def test_jobs_on_an_unknown_queue_instance_are_found() -> None:
    """Only the instance whose state has 'u' is lost; placed jobs carry their host; pending jobs have none."""
    assert parse_unknown_instances(QSTAT_F) == {"viq.q@exec2"}
    placed = parse_placed_jobs(QSTAT_R)
    assert set(placed) == {"viq-a1", "viq-a2"}
    assert placed["viq-a2"].host == "exec2" and placed["viq-a2"].number == "42"
    lost = [p for p in placed.values() if p.queue_instance in parse_unknown_instances(QSTAT_F)]
    assert [p.name for p in lost] == ["viq-a2"]


def test_status_parsers_and_health() -> None:
    """Hosts with slots and states, job counts; a lost host makes the status unhealthy and shows its state."""
    hosts = parse_queue_instances(QSTAT_F)
    assert [(h.name, h.state, h.slots_used, h.slots_total) for h in hosts] == [
        ("exec1", "ok", 2, 2), ("exec2", "au", 1, 2)]
    assert parse_job_states(QSTAT_R) == {"running": 2, "pending": 1}


def test_local_installation_status(tmp_path: Path) -> None:
    """A fresh local installation: scheduler = local slots, database missing until first use → unhealthy."""
    settings = harness_settings(tmp_path)
    status = collect_status(settings)
    assert isinstance(status, Status) and status.scheduler.ok
    assert status.hosts[0].slots_total == settings.max_parallel
    assert not status.database.ok and not status.healthy
    assert "DEGRADED" in render(status) and "does not exist" in render(status)


def test_connection_errors_are_told_from_others() -> None:
    """psycopg2 connection failures (also wrapped) count as an outage; a constraint error does not."""
    with pytest.raises(psycopg2.OperationalError) as caught:
        psycopg2.connect("postgresql://x:y@127.0.0.1:1/none", connect_timeout=2)
    refused = caught.value
    wrapped = RuntimeError("catalog failed")
    wrapped.__cause__ = refused
    assert is_unavailable(refused) and is_unavailable(wrapped)
    assert not is_unavailable(ValueError("duplicate key value violates unique constraint"))


def test_waiting_ingest_retries_until_the_database_answers() -> None:
    """Two outage errors then success: called three times, one outage counted; other errors pass through."""
    calls: list[int] = []

    def flaky(*args: Any) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise psycopg2.OperationalError("could not connect to server: Connection refused")

    waits: list[str] = []
    ingest = WaitingIngest(flaky, on_wait=waits.append, first_delay=0.01, max_delay=0.02)
    ingest(*([None] * 4))  # type: ignore[arg-type]
    assert len(calls) == 3 and ingest.outages == 1 and len(waits) == 2

    def broken(*args: Any) -> None:
        raise ValueError("not an outage")

    with pytest.raises(ValueError, match="not an outage"):
        WaitingIngest(broken)(*([None] * 4))  # type: ignore[arg-type]

    def always_down(*args: Any) -> None:
        raise psycopg2.OperationalError("server closed the connection unexpectedly")

    stop = threading.Event()
    stop.set()  # the daemon is stopping: the outage is raised instead of waited out
    with pytest.raises(psycopg2.OperationalError):
        WaitingIngest(always_down, stop=stop)(*([None] * 4))  # type: ignore[arg-type]
