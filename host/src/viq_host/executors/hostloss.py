"""Execution-host loss on Grid Engine: find jobs whose host the qmaster no longer hears from.

When an execution host dies, the qmaster marks its queue instances ``u`` (unknown) after ``max_unheard``.
What happens to its jobs then depends on the cluster: with ``qmaster_params ENABLE_RESCHEDULE_KILL=1`` a
job that is not re-runnable is removed ``reschedule_unknown`` later and DRMAA ``wait`` raises a bare
"code 24: no usage information" naming no job; without it the job stays ``r`` on the dead host for as long
as the host is down ("running forever"). Neither is an outcome the host can act on, so the DRMAA executor
asks here, every few seconds, which of its jobs sit on an unknown queue instance, removes them with
``qdel -f`` and reports them as lost: the service then reruns the processor elsewhere as a new attempt (its
own work directory, so nothing of the lost run can be catalogued) when its retry policy allows, or fails the
job with the reason.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from lxml import etree

TOOL_TIMEOUT = 30.0


@dataclass(frozen=True)
class PlacedJob:
    """A running job and the queue instance (``queue@host``) it runs on."""

    name: str
    number: str
    queue_instance: str

    @property
    def host(self) -> str:
        """The execution host's name."""
        return self.queue_instance.partition("@")[2] or self.queue_instance


def _qstat(args: list[str]) -> str | None:
    try:
        done = subprocess.run(["qstat", *args], capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def parse_unknown_instances(xml: str) -> set[str]:
    """Queue instances of ``qstat -f -xml`` whose state includes ``u`` (execution host not heard from)."""
    root = etree.fromstring(xml.encode())
    return {
        qi.findtext("name", "")
        for qi in root.iter("Queue-List")
        if "u" in (qi.findtext("state") or "")
    }


def parse_placed_jobs(xml: str) -> dict[str, PlacedJob]:
    """Running jobs of ``qstat -u '*' -s r -xml`` by job name (tasks of array jobs: the last one wins)."""
    root = etree.fromstring(xml.encode())
    placed: dict[str, PlacedJob] = {}
    for job in root.iter("job_list"):
        queue = job.findtext("queue_name") or ""
        if not queue:
            continue
        name = job.findtext("JB_name", "")
        placed[name] = PlacedJob(name, job.findtext("JB_job_number", ""), queue)
    return placed


def scan() -> tuple[dict[str, PlacedJob], set[str]] | None:
    """Running jobs by name with their queue instance, and the queue instances in state ``u``; None if qstat
    does not answer."""
    instances = _qstat(["-f", "-xml"])
    running = _qstat(["-u", "*", "-s", "r", "-xml"]) if instances is not None else None
    if instances is None or running is None:
        return None
    return parse_placed_jobs(running), parse_unknown_instances(instances)


def jobs_on_lost_hosts(names: set[str]) -> list[PlacedJob]:
    """Those of the named jobs that run on a queue instance in state ``u``; empty if qstat does not answer."""
    found = scan() if names else None
    if found is None:
        return []
    placed, unknown = found
    return [p for n, p in placed.items() if n in names and p.queue_instance in unknown]


def force_remove(number: str) -> bool:
    """``qdel -f``: the qmaster forgets a job whose execution daemon cannot be told (True when accepted)."""
    try:
        done = subprocess.run(["qdel", "-f", number], capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


__all__ = ["PlacedJob", "force_remove", "jobs_on_lost_hosts", "parse_placed_jobs", "parse_unknown_instances", "scan"]
