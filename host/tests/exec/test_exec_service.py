"""The job service end to end: real worker subprocesses through the local executor."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import viq_exec_procs as procs
from viq_host.jobs.store import AttemptRecord, AttemptState, JobRecord, JobState
from viq_host.jobs.validate import ValidatedJob
from viq_host.service import JobService, ProgressEvent
from viq_interfaces.errors import InvalidJobOrder
from viq_interfaces.exitcodes import ExitCode
from viq_interfaces.icdlog import parse_line
from viq_interfaces.result import ProcessorResult

MakeOrder = Callable[..., Path]


def _data_files(tmp_path: Path, sizes: list[int]) -> list[Path]:
    rng = np.random.default_rng(7)
    paths = []
    for i, size in enumerate(sizes):
        path = tmp_path / "data" / f"part{i}_VIQ_TSTDAT.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        paths.append(path)
    return paths


def _run(service: JobService, path: Path, **kwargs: object) -> JobRecord:
    job_id = service.submit(path)
    return service.run_until_done([job_id], timeout=120, **kwargs)[job_id]  # type: ignore[arg-type]


def test_noop_succeeds_and_every_transition_is_recorded_in_order(service: JobService, order: MakeOrder) -> None:
    """A no-op job walks QUEUED→RUNNING→SUCCEEDED and its attempt CREATED→…→DONE, timestamps ascending."""
    record = _run(service, order(procs.NoOp))
    assert record.state is JobState.SUCCEEDED and record.exit_code == 0
    job_steps = service.jobs.transitions(record.id)
    assert [(t.from_state, t.to_state) for t in job_steps] == [
        (None, "QUEUED"),
        ("QUEUED", "RUNNING"),
        ("RUNNING", "SUCCEEDED"),
    ]
    (attempt,) = service.jobs.attempts(record.id)
    steps = service.jobs.transitions(attempt.id)
    assert [t.to_state for t in steps] == ["CREATED", "SUBMITTED", "RUNNING", "EXITED", "DONE"]
    merged = sorted([*job_steps, *steps], key=lambda t: t.at)
    assert [f"{t.entity}:{t.to_state}" for t in merged] == [
        "job:QUEUED",
        "attempt:CREATED",  # the attempt row exists before the job is RUNNING and before the executor runs it
        "job:RUNNING",
        "attempt:SUBMITTED",
        "attempt:RUNNING",
        "attempt:EXITED",
        "attempt:DONE",
        "job:SUCCEEDED",
    ]
    assert attempt.external_id.isdigit()  # the pid of the worker
    work = Path(attempt.work_dir)
    assert work == service.settings.work_dir / record.id / attempt.id
    manifest = json.loads((work / "result.json").read_text())
    assert manifest["exit_code"] == 0 and manifest["attempt_id"] == attempt.id and manifest["job_id"] == record.id
    assert manifest["timing"]["total_s"] > 0
    host_log = [json.loads(line) for line in (service.settings.home / "logs" / "host.jsonl").read_text().splitlines()]
    bound = [e for e in host_log if e.get("attempt_id") == attempt.id]
    assert {e["event"] for e in bound} >= {"attempt.submitted", "attempt.exited", "attempt.done"}
    assert all(e["job_id"] == record.id for e in bound)


def test_outputs_and_measurements_come_back_from_the_worker(
    service: JobService, order: MakeOrder, tmp_path: Path
) -> None:
    """The processor's measurements (byte count × scale) and its output file are recovered by the host."""
    files = _data_files(tmp_path, [1000, 2345, 17])
    total = sum(p.stat().st_size for p in files)
    record = _run(service, order(procs.Summer, inputs={"data": files}, params={"scale": 2.5}))
    assert record.state is JobState.SUCCEEDED, record.reason
    status = service.status(record.id)
    assert status.result is not None
    keys = {m.key: m.value for m in status.result.measurements}
    assert keys == {"nbytes": pytest.approx(total * 2.5), "nbytes_B1_along": pytest.approx(total)}
    (out,) = status.result.outputs
    assert out.path.is_absolute() and out.path.read_text() == f"{total}\n"
    written = (Path(status.attempts[0].work_dir) / "JobOrder.xml").read_text()
    assert all(str(p) in written for p in files)  # inputs made absolute in the attempt's job order


def test_a_rejected_order_raises_and_stores_nothing(service: JobService, order: MakeOrder, tmp_path: Path) -> None:
    """submit() validates first: an out-of-range parameter is InvalidJobOrder 147 and no job row is written."""
    path = order(procs.Summer, inputs={"data": _data_files(tmp_path, [3])}, params={"scale": 1000})
    with pytest.raises(InvalidJobOrder) as info:
        service.submit(path)
    assert info.value.exit_code == ExitCode.PARAMETER_ERROR
    assert "scale" in str(info.value) and str(path) in str(info.value)
    assert service.list() == []
    assert not any(service.settings.work_dir.iterdir())


@pytest.mark.parametrize(
    ("typed", "code", "text"), [(False, 255, "ZeroDivisionError"), (True, 148, "did not converge")]
)
def test_a_crashing_processor_fails_with_its_exit_code(
    service: JobService, order: MakeOrder, typed: bool, code: int, text: str
) -> None:
    """An exception ends FAILED with 255 (internal, traceback logged) or 148 (ProcessingError), not retried."""
    record = _run(service, order(procs.Crasher, params={"typed": typed}))
    assert record.state is JobState.FAILED
    assert record.exit_code == code
    assert text in record.reason
    (attempt,) = service.jobs.attempts(record.id)
    assert attempt.state is AttemptState.FAILED and attempt.exit_code == code
    log = (Path(attempt.work_dir) / "stdout.log").read_text()
    assert ("Traceback" in log) is (code == 255)


def test_exit_zero_without_outputs_is_a_failure(service: JobService, order: MakeOrder) -> None:
    """A run that exits 0 but leaves its declared output port empty is FAILED with 149."""
    record = _run(service, order(procs.Liar))
    assert record.state is JobState.FAILED
    assert record.exit_code == ExitCode.MISSING_OUTPUT
    assert "exited with code 0" in record.reason and "'report'" in record.reason
    (attempt,) = service.jobs.attempts(record.id)
    assert attempt.exit_code == 149 and attempt.state is AttemptState.FAILED


def test_a_listed_but_missing_output_file_is_a_failure(service: JobService, order: MakeOrder) -> None:
    """An output the result lists but that was never written fails the job (149) naming the file."""
    record = _run(service, order(procs.Phantom))
    assert record.state is JobState.FAILED and record.exit_code == 149
    assert "nope.txt" in record.reason and "does not exist" in record.reason


def test_a_hanging_processor_is_killed_at_its_walltime(service: JobService, order: MakeOrder) -> None:
    """A processor past its 2-s walltime is killed (its process group), exit 151, job FAILED."""
    start = time.monotonic()
    record = _run(service, order(procs.Hanger))
    elapsed = time.monotonic() - start
    assert record.state is JobState.FAILED and record.exit_code == ExitCode.WALLTIME_EXCEEDED
    assert "walltime" in record.reason
    (attempt,) = service.jobs.attempts(record.id)
    assert attempt.signal == "SIGKILL"  # it ignores SIGTERM's cancellation request
    assert 2.0 <= elapsed < 30.0


def test_garbage_on_stdout_is_kept_and_ignored(service: JobService, order: MakeOrder) -> None:
    """Non-ICD text and binary junk on stdout do not break the run; it stays in stdout.log, not in events."""
    record = _run(service, order(procs.Babbler))
    assert record.state is JobState.SUCCEEDED, record.reason
    (attempt,) = service.jobs.attempts(record.id)
    raw = (Path(attempt.work_dir) / "stdout.log").read_bytes()
    assert b"Hello from a library that prints!" in raw and b"\x00\xff\xfe binary" in raw
    events = service.jobs.events(attempt.id)
    assert "still fine" in [e.message for e in events]
    assert all("library that prints" not in e.message for e in events)
    assert "some stderr noise" in (Path(attempt.work_dir) / "stderr.log").read_text()


def test_retry_policy_runs_a_second_attempt(service: JobService, order: MakeOrder, tmp_path: Path) -> None:
    """A processor failing once (148, retryable, 2 attempts allowed) succeeds on its second attempt."""
    marker = tmp_path / "marker.txt"
    record = _run(service, order(procs.Flaky, params={"marker": str(marker)}))
    assert record.state is JobState.SUCCEEDED, record.reason
    first, second = service.jobs.attempts(record.id)
    assert (first.number, first.state, first.exit_code) == (1, AttemptState.FAILED, 148)
    assert (second.number, second.state, second.exit_code) == (2, AttemptState.DONE, 0)
    assert marker.read_text() == first.id  # the first attempt ran and failed
    status = service.status(record.id)
    assert status.result is not None and status.result.outputs[0].path.read_text() == first.id
    assert [t.to_state for t in service.jobs.transitions(record.id)] == ["QUEUED", "RUNNING", "SUCCEEDED"]


def test_a_failed_job_can_be_retried_by_hand(service: JobService, order: MakeOrder) -> None:
    """retry() requeues a FAILED job; the next run makes attempt 2 and the job history shows both runs."""
    record = _run(service, order(procs.Crasher, params={"typed": True}))
    assert record.state is JobState.FAILED
    assert service.retry(record.id).state is JobState.QUEUED
    again = service.run_until_done([record.id], timeout=120)[record.id]
    assert again.state is JobState.FAILED and again.exit_code == 148
    assert [a.number for a in service.jobs.attempts(record.id)] == [1, 2]
    assert [t.to_state for t in service.jobs.transitions(record.id)] == [
        "QUEUED", "RUNNING", "FAILED", "QUEUED", "RUNNING", "FAILED"
    ]


def test_cancel_from_another_service_stops_the_running_attempt(service: JobService, order: MakeOrder) -> None:
    """A cancel stored by a second process-like service reaches the running worker: CANCELLED, exit 150."""
    other = JobService(service.settings, plugins=service.registry)
    sent: list[str] = []

    def on_event(event: ProgressEvent) -> None:
        if event.kind == "progress" and not sent:
            sent.append(event.job_id)
            other.cancel(event.job_id)

    try:
        record = _run(service, order(procs.Patient), progress=on_event)
    finally:
        other.close()
    assert sent == [record.id]
    assert record.state is JobState.CANCELLED and record.exit_code == ExitCode.CANCELLED
    (attempt,) = service.jobs.attempts(record.id)
    assert attempt.state is AttemptState.FAILED
    assert (Path(attempt.work_dir) / "CANCEL").is_file()
    assert "CANCEL_REQUESTED" in [t.to_state for t in service.jobs.transitions(record.id)]


def test_cancelling_a_queued_job_is_immediate(service: JobService, order: MakeOrder) -> None:
    """A job never started is CANCELLED at once, without any attempt; cancelling again is an error."""
    job_id = service.submit(order(procs.NoOp))
    assert service.cancel(job_id).state is JobState.CANCELLED
    assert service.jobs.attempts(job_id) == []
    with pytest.raises(Exception, match="already CANCELLED"):
        service.cancel(job_id)


def test_progress_lines_become_events_and_callbacks(service: JobService, order: MakeOrder, tmp_path: Path) -> None:
    """ICD progress lines are stored per attempt, reported to the callback, and the last percentage kept."""
    seen: list[ProgressEvent] = []
    record = _run(
        service,
        order(procs.Summer, inputs={"data": _data_files(tmp_path, [10])}, params={"steps": 4}),
        progress=seen.append,
    )
    assert record.state is JobState.SUCCEEDED
    (attempt,) = service.jobs.attempts(record.id)
    progress = service.jobs.events(attempt.id, levels=["P"])
    assert [e.message for e in progress] == ["25.0% step 1", "50.0% step 2", "75.0% step 3", "100.0% step 4"]
    assert attempt.progress == 100.0
    assert [e.message for e in seen if e.kind == "progress"] == [e.message for e in progress]
    states = [e.state for e in seen if e.kind == "state" and e.attempt_id is None]
    assert states[-1] == "SUCCEEDED"
    raw = (Path(attempt.work_dir) / "stdout.log").read_text().splitlines()
    assert all(parse_line(line) is not None for line in raw)  # the worker writes only ICD lines


def test_ingest_is_called_once_for_success_and_never_for_failure(
    viq_settings: object, plugins: object, order: MakeOrder, tmp_path: Path
) -> None:
    """The ingest callback gets the successful attempt (absolute output paths); a failed job is not ingested."""
    from viq_exec_procs import worker_env

    calls: list[tuple[str, str, ProcessorResult]] = []

    def ingest(job: JobRecord, attempt: AttemptRecord, validated: ValidatedJob, result: ProcessorResult) -> None:
        assert validated.declaration.name == job.processor
        calls.append((job.id, attempt.id, result))

    with JobService(viq_settings, plugins=plugins, ingest=ingest, extra_env=worker_env()) as svc:  # type: ignore[arg-type]
        ok = _run(svc, order(procs.Summer, inputs={"data": _data_files(tmp_path, [5])}))
        bad = _run(svc, order(procs.Liar))
        assert [c[0] for c in calls] == [ok.id]
        assert all(o.path.is_absolute() and o.path.is_file() for o in calls[0][2].outputs)
        assert svc.jobs.attempts(ok.id)[0].ingested
        assert not svc.jobs.attempts(bad.id)[0].ingested


def test_a_failing_ingest_fails_the_job(viq_settings: object, plugins: object, order: MakeOrder) -> None:
    """When the catalog refuses the outputs, the attempt and job are FAILED with 170 and the reason."""
    from viq_exec_procs import worker_env

    def ingest(*_: object) -> None:
        raise RuntimeError("catalog is read-only")

    with JobService(viq_settings, plugins=plugins, ingest=ingest, extra_env=worker_env()) as svc:  # type: ignore[arg-type]
        record = _run(svc, order(procs.NoOp))
    assert record.state is JobState.FAILED and record.exit_code == ExitCode.SERVICE_ERROR
    assert "catalog is read-only" in record.reason


def test_several_jobs_run_in_parallel_up_to_the_limit(service: JobService, order: MakeOrder) -> None:
    """Four no-op jobs through one run_until_done all succeed, each with its own work directory."""
    ids = [service.submit(order(procs.NoOp)) for _ in range(4)]
    records = service.run_until_done(ids, timeout=120)
    assert [records[i].state for i in ids] == [JobState.SUCCEEDED] * 4
    dirs = {service.jobs.attempts(i)[0].work_dir for i in ids}
    assert len(dirs) == 4


def test_the_worker_rereads_a_tampered_order_in_full(service: JobService, order: MakeOrder, tmp_path: Path) -> None:
    """The schema layer is skipped only for the exact bytes the host validated: an edited order is refused (128)."""
    import os
    import shutil
    import subprocess
    import sys

    from viq_exec_procs import worker_env

    record = _run(service, order(procs.NoOp))
    (attempt,) = service.jobs.attempts(record.id)
    copy = tmp_path / "job" / "attempt"
    copy.mkdir(parents=True)
    for name in ("JobOrder.xml", "JobOrder.xml.sha256", "settings.json"):
        shutil.copy(Path(attempt.work_dir) / name, copy / name)
    text = (copy / "JobOrder.xml").read_text()
    (copy / "JobOrder.xml").write_text(text.replace("<List_of_Tasks>", "<Surprise/><List_of_Tasks>"))
    env = {**os.environ, **worker_env()}
    done = subprocess.run([sys.executable, "-m", "viq_host.worker", str(copy / "JobOrder.xml")], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == ExitCode.JOB_ORDER_ERROR
    manifest = json.loads((copy / "result.json").read_text())
    assert manifest["exit_code"] == 128 and "Surprise" in manifest["error"]["message"]
    shutil.copy(Path(attempt.work_dir) / "JobOrder.xml", copy / "JobOrder.xml")  # the original bytes run fine
    done = subprocess.run([sys.executable, "-m", "viq_host.worker", str(copy / "JobOrder.xml")], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout
