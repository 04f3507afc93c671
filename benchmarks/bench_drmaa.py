"""Throughput of the Grid Engine executor: N no-op jobs through the host's DrmaaExecutor vs a bare drmaa loop,
and the recovery time of a restarted host with M jobs in flight.

    eval "$(scripts/services/sge.sh env)"; uv run python benchmarks/bench_drmaa.py [--jobs 200] [--recover 500]

Baselines measured in the same run: a bare ``drmaa`` ``runJob`` loop + ``wait`` for the same command
(``/bin/true``), the same loop with a nudge thread like the executor's (a ``jobStatus`` query while a ``runJob``
has taken over 20 ms: it wakes a call that missed its reply, see ``DrmaaExecutor.submit_nudge``), the executor
with the nudge off, one array job (``runBulkJobs``, the batching bound), and the local executor (subprocesses,
``max_parallel`` = queue slots). Also timed: the reconciliation look-up of all N finished attempts by job name
(one ``qstat`` + one ``qacct`` pass) as a restarted host would do it. Threads pinned to 1.

Recovery (``--recover M``, 0 skips it): M jobs of a no-op processor are stored as a daemon stores them (job
RUNNING, attempt SUBMITTED with its Grid Engine id) and submitted *on hold* (``hqw``: they stay in flight without
taking slots) by a DRMAA session that then ends, as a killed daemon would. The timed part is a restarted host:
job service + DRMAA session + :func:`viq_host.reconcile.reconcile` until every attempt is settled (all M must be
adopted, none requeued or failed). The held jobs are then deleted with ``qdel``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from viq_host.config import Settings
from viq_host.executors.base import TaskSpec, TaskState
from viq_host.executors.drmaa import DrmaaExecutor, job_name, load_drmaa, native_specification
from viq_host.executors.local import LocalExecutor
from viq_host.jobs.store import AttemptState, JobState
from viq_host.plugins import Plugins, load_plugins
from viq_host.reconcile import reconcile
from viq_host.service import JobService
from viq_host.testing.factories import make_job_order
from viq_interfaces import OutputPort, Processor, ProcessorDeclaration, ProcessorResult, RunContext, hookimpl
from viq_interfaces.declaration import Resources

COMMAND = ("/bin/true",)
SUBMIT_TARGET = 1.2
"""Target of the submission ratio executor / bare loop."""
STALL = 0.1
"""A single submission slower than this (s) is a stall (≈1 s, a missed wake-up in libdrmaa, whoever submits)."""
SLOW = 0.01
"""A single submission slower than this (s) but below STALL: typically a stall cut short by a nudge."""
NUDGE = 0.02
"""The nudge interval of the bare loop with a nudge thread (the executor's default ``submit_nudge``)."""
EXECUTOR = "DrmaaExecutor"
NO_NUDGE = "DrmaaExecutor, nudge off"
PER_JOB: dict[str, list[float]] = {
    "bare": [],
    "bare + nudge": [],
    "equivalent": [],
    EXECUTOR: [],
    NO_NUDGE: [],
    "LocalExecutor": [],
}


class _NoopParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Noop(Processor):
    """The recovery benchmark's processor (never run: its jobs stay on hold)."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="bench-noop",
        version="01.00",
        description="No-op processor of the DRMAA recovery benchmark.",
        outputs=(OutputPort(name="report", product_type="VIQ_TSTREP", format="TXT", description="Nothing."),),
    )
    Parameters: ClassVar[type[BaseModel]] = _NoopParams

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        raise NotImplementedError


class _Plugin:
    @hookimpl
    def viq_add_processors(self, registry: object) -> None:
        registry.add(_Noop)  # type: ignore[attr-defined]


def in_flight(m: int, settings: Settings, plugins: Plugins) -> tuple[list[str], float]:
    """Store m jobs with a SUBMITTED attempt each, their Grid Engine jobs on hold; (DRM ids, submit s)."""
    order = make_job_order(_Noop, settings.home / "data" / "noop.xml")
    drmaa = load_drmaa()
    with JobService(settings, plugins=plugins) as service:
        store = service.jobs
        attempts = []
        for _ in range(m):
            job_id = service.submit(order)
            attempts.append(store.create_attempt(job_id, executor="drmaa", work_root=settings.work_dir))
            store.transition_job(job_id, JobState.RUNNING, "attempt 1")
        session = drmaa.Session()
        session.initialize()
        try:
            jt = session.createJobTemplate()
            jt.remoteCommand = COMMAND[0]
            jt.outputPath = ":/dev/null"
            jt.errorPath = ":/dev/null"
            jt.jobSubmissionState = drmaa.JobSubmissionState.HOLD_STATE
            ids: list[str] = []
            start = time.perf_counter()
            for attempt in attempts:
                jt.jobName = job_name(attempt.id)
                ids.append(str(session.runJob(jt)))
            submitted = time.perf_counter() - start
            for attempt, drm_id in zip(attempts, ids, strict=True):
                store.transition_attempt(attempt.id, AttemptState.SUBMITTED, "submitted", external_id=drm_id)
            session.deleteJobTemplate(jt)
        finally:
            session.exit()  # the "daemon" is gone; the held jobs stay in the qmaster
    return ids, submitted


def recover(settings: Settings, plugins: Plugins, m: int) -> tuple[float, float]:
    """A restarted host reconciles the m in-flight attempts; (restart-to-settled s, reconcile() s)."""
    start = time.perf_counter()
    service = JobService(settings, plugins=plugins, executor=DrmaaExecutor(settings))
    try:
        report = reconcile(service)
        total = time.perf_counter() - start
        assert len(report.watching) == m and report.total == m, report
    finally:
        service._active.clear()  # the held jobs are deleted below, not failed one by one
        service.close()
    return total, report.seconds


def qdel(ids: list[str]) -> None:
    """Delete jobs by id, 100 per qdel call."""
    for i in range(0, len(ids), 100):
        subprocess.run(["qdel", *ids[i : i + 100]], capture_output=True, check=False)


class _Nudge:
    """The bare loop's nudge thread: a ``jobStatus`` query every NUDGE s while one ``runJob`` is in progress."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.busy = threading.Event()
        self.stop = threading.Event()
        self.seq = 0
        self.target = "1"
        self.slots = threading.Semaphore(4)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            if not self.busy.wait(0.5):
                continue
            seq = self.seq
            if self.stop.wait(NUDGE):
                return
            while self.busy.is_set() and self.seq == seq and not self.stop.is_set():
                if self.slots.acquire(blocking=False):  # each query in its own thread, as the executor does
                    threading.Thread(target=self._once, daemon=True).start()
                self.stop.wait(NUDGE)

    def _once(self) -> None:
        try:
            with contextlib.suppress(Exception):
                self.session.jobStatus(self.target)
        finally:
            self.slots.release()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for _ in range(4):
            self.slots.acquire(timeout=5.0)


def _template(session: Any, work: Path, name: str) -> Any:
    """A job template running COMMAND in ``work`` with its output files there."""
    jt = session.createJobTemplate()
    jt.remoteCommand = COMMAND[0]
    jt.workingDirectory = str(work)
    jt.outputPath = f":{work}/"
    jt.errorPath = f":{work}/"
    jt.jobName = name
    return jt


def bare(n: int, work: Path, *, nudge: bool = False) -> tuple[float, float]:
    """Submit n jobs with a plain drmaa session (optionally with a nudge thread), then wait for all;
    (submit s, total s)."""
    drmaa = load_drmaa()
    session = drmaa.Session()
    session.initialize()
    key = "bare + nudge" if nudge else "bare"
    nudger = _Nudge(session) if nudge else None
    try:
        jt = _template(session, work, "bench-bare")
        start = time.perf_counter()
        ids = []
        for _ in range(n):
            t0 = time.perf_counter()
            if nudger is not None:
                nudger.seq += 1
                nudger.busy.set()
            ids.append(session.runJob(jt))
            if nudger is not None:
                nudger.busy.clear()
                nudger.target = str(ids[-1])
            PER_JOB[key].append(time.perf_counter() - t0)
        submitted = time.perf_counter() - start
        if nudger is not None:
            nudger.close()
        for _ in ids:
            session.wait(drmaa.Session.JOB_IDS_SESSION_ANY, drmaa.Session.TIMEOUT_WAIT_FOREVER)
        total = time.perf_counter() - start
        session.deleteJobTemplate(jt)
    finally:
        session.exit()
    return submitted, total


def bulk(n: int, work: Path) -> tuple[float, float]:
    """Submit the n runs as one array job (``runBulkJobs``), then wait for all tasks; (submit s, total s)."""
    drmaa = load_drmaa()
    session = drmaa.Session()
    session.initialize()
    try:
        jt = _template(session, work, "bench-bulk")
        start = time.perf_counter()
        ids = session.runBulkJobs(jt, 1, n, 1)
        submitted = time.perf_counter() - start
        for _ in ids:
            session.wait(drmaa.Session.JOB_IDS_SESSION_ANY, drmaa.Session.TIMEOUT_WAIT_FOREVER)
        total = time.perf_counter() - start
        session.deleteJobTemplate(jt)
    finally:
        session.exit()
    return submitted, total


def bare_equivalent(tasks: list[TaskSpec], settings: Settings) -> float:
    """Submission only, plain drmaa session, jobs with the executor's attributes (name, work dir, per-job output
    paths, environment, ``-l h_rt``), submitted on hold and deleted after; submit s."""
    drmaa = load_drmaa()
    session = drmaa.Session()
    session.initialize()
    ids: list[str] = []
    try:
        jt = session.createJobTemplate()
        jt.remoteCommand = COMMAND[0]
        jt.jobSubmissionState = drmaa.JobSubmissionState.HOLD_STATE
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG") or k.startswith(("VIQ_", "SGE_"))}
        jt.jobEnvironment = {**env, "VIQ_HOME": str(settings.home)}
        jt.nativeSpecification = native_specification(tasks[0].resources)
        start = time.perf_counter()
        for spec in tasks:
            spec.work_dir.mkdir(parents=True, exist_ok=True)
            jt.jobName = job_name(spec.attempt_id)
            jt.workingDirectory = str(spec.work_dir)
            jt.outputPath = f":{spec.stdout}"
            jt.errorPath = f":{spec.stderr}"
            t0 = time.perf_counter()
            ids.append(str(session.runJob(jt)))
            PER_JOB["equivalent"].append(time.perf_counter() - t0)
        submitted = time.perf_counter() - start
        session.deleteJobTemplate(jt)
    finally:
        session.exit()
        qdel(ids)
    return submitted


def specs(n: int, work: Path) -> list[TaskSpec]:
    """n task specs running the no-op command, each in its own work directory."""
    out: list[TaskSpec] = []
    for _ in range(n):
        aid = str(uuid.uuid4())
        d = work / aid
        out.append(
            TaskSpec(
                aid, d / "JobOrder.xml", d, Resources(walltime=timedelta(minutes=5)), d / "o", d / "e", command=COMMAND
            )
        )
    return out


def through(executor: DrmaaExecutor | LocalExecutor, tasks: list[TaskSpec], key: str = "") -> tuple[float, float]:
    """Submit every task through an executor and collect every outcome; (submit s, total s)."""
    start = time.perf_counter()
    key = key or type(executor).__name__
    for spec in tasks:
        t0 = time.perf_counter()
        executor.submit(spec)
        PER_JOB[key].append(time.perf_counter() - t0)
    submitted = time.perf_counter() - start
    left = {t.attempt_id for t in tasks}
    while left:
        for outcome in executor.wait_any(5.0):
            assert outcome.exit_code == 0, outcome
            left.discard(outcome.attempt_id)
    return submitted, time.perf_counter() - start


def slots() -> int:
    """Slots of the default queue (for the local baseline's parallelism)."""
    text = subprocess.run(["qconf", "-sq", "all.q"], capture_output=True, text=True, check=False).stdout
    for line in text.splitlines():
        if line.startswith("slots"):
            return int(line.split()[1].split(",")[0])
    return 2


def main() -> None:
    """Run the measurements and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--recover", type=int, default=500, help="in-flight jobs for the recovery run (0: skip)")
    parser.add_argument(
        "--quick", action="store_true", help="skip the bare loop with nudge, the executor without it and the array job"
    )
    args = parser.parse_args()
    n = args.jobs
    load_before = os.getloadavg()
    rows: list[tuple[str, float, float]] = []
    nudges: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-drmaa-") as tmp:
        root = Path(tmp)
        for d in ("bare", "bare-nudge", "bulk"):
            (root / d).mkdir()
        settings = Settings(home=root / "home", max_parallel=slots())
        b_sub, b_tot = bare(n, root / "bare")
        rows.append(("bare drmaa loop", b_sub, b_tot))
        if not args.quick:
            rows.append(("bare drmaa loop + nudge thread", *bare(n, root / "bare-nudge", nudge=True)))
        q_sub = bare_equivalent(specs(n, root / "bare-eq"), settings)
        with DrmaaExecutor(settings) as ex:
            tasks = specs(n, root / "drmaa")
            e_sub, e_tot = through(ex, tasks, EXECUTOR)
            rows.append((EXECUTOR, e_sub, e_tot))
            nudges[EXECUTOR] = ex.nudges
            start = time.perf_counter()
            states = ex.lookup([t.attempt_id for t in tasks])
            outcomes = ex.recover_many([(t.attempt_id, "") for t in tasks])
            look = time.perf_counter() - start
            assert set(states.values()) == {TaskState.FINISHED} and len(outcomes) == n
        if not args.quick:
            with DrmaaExecutor(settings, submit_nudge=0.0) as ex:
                rows.append((NO_NUDGE, *through(ex, specs(n, root / "drmaa-nn"), NO_NUDGE)))
            rows.append(("one array job (runBulkJobs)", *bulk(n, root / "bulk")))
        local = LocalExecutor(settings)
        rows.append(("LocalExecutor", *through(local, specs(n, root / "local"))))
        local.close()
        m = args.recover
        if m:
            rec_settings = Settings(home=root / "recover-home")
            rec_settings.ensure_dirs()
            plugins = load_plugins([_Plugin()], entry_points_enabled=False)
            ids, held_submit = in_flight(m, rec_settings, plugins)
            try:
                rec_total, rec_reconcile = recover(rec_settings, plugins, m)
            finally:
                qdel(ids)
    load_after = os.getloadavg()
    print(
        f"{n} jobs of {' '.join(COMMAND)}, queue slots = local max_parallel = {settings.max_parallel}; load average "
        f"(1/5 min) before {load_before[0]:.2f}/{load_before[1]:.2f}, after {load_after[0]:.2f}/{load_after[1]:.2f}"
    )
    print("| | submit s | ms/job | all done s | jobs/s |")
    print("|---|---|---|---|---|")
    for name, sub, tot in rows:
        print(f"| {name} | {sub:.3f} | {1000 * sub / n:.2f} | {tot:.2f} | {n / tot:.1f} |")
    print(f"| ratio executor/bare | {e_sub / b_sub:.2f} | | {e_tot / b_tot:.2f} | |")
    print(f"| bare loop, executor's job attributes, on hold | {q_sub:.3f} | {1000 * q_sub / n:.2f} | | |")
    print(f"| ratio executor/bare with the same attributes | {e_sub / q_sub:.2f} | | | |")
    print(f"reconcile look-up of {n} finished attempts (qstat + qacct by name, outcomes): {look:.2f} s")
    for key, times in PER_JOB.items():
        if times:
            calm = [t for t in times if t < STALL]
            slow = sum(1 for t in calm if t >= SLOW)
            extra = f", {nudges[key]} nudge(s)" if key in nudges else ""
            print(
                f"  {key}: median {1000 * statistics.median(times):.2f} ms/job, {len(times) - len(calm)} stall(s) "
                f"> {STALL} s, {slow} slow ({SLOW}-{STALL} s){extra}, total without stalls {sum(calm):.3f} s"
            )
    calm_ratio = sum(t for t in PER_JOB[EXECUTOR] if t < STALL) / sum(t for t in PER_JOB["bare"] if t < STALL)
    med_ratio = statistics.median(PER_JOB[EXECUTOR]) / statistics.median(PER_JOB["bare"])
    print(f"ratio executor/bare without stalls: {calm_ratio:.2f}; of the medians: {med_ratio:.2f}")
    if PER_JOB["bare + nudge"]:
        nudged = e_sub / sum(PER_JOB["bare + nudge"])
        print(f"ratio executor/bare loop with the same nudge thread (totals): {nudged:.2f}")
    ratio = e_sub / b_sub
    verdict = "met" if ratio <= SUBMIT_TARGET else "NOT met"
    print(f"submission ratio executor/bare for {n} jobs: {ratio:.2f} (target <= {SUBMIT_TARGET}: {verdict})")
    done_ratio = e_tot / b_tot
    verdict = "met" if done_ratio <= SUBMIT_TARGET else "NOT met"
    print(f"completion ratio executor/bare for {n} jobs: {done_ratio:.2f} (target <= {SUBMIT_TARGET}: {verdict})")
    if args.recover:
        print(
            f"recovery of {args.recover} in-flight (held) jobs: restart to all settled {rec_total:.2f} s, of which "
            f"reconcile() {rec_reconcile:.2f} s ({1000 * rec_reconcile / args.recover:.1f} ms/attempt); "
            f"held submission by the bare session {held_submit:.2f} s"
        )
    if ratio > SUBMIT_TARGET:
        sys.exit(1)


if __name__ == "__main__":
    main()
