"""Task-table processors run through the real host (job service, local executor, ``viq-task`` worker).

A POSIX shell script and a C program compiled here read their job orders (both dialects), write their outputs
and ICD log lines; the misbehaving cases end in the documented job state and exit code, with nothing ingested.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import viq_ext_build
from viq_host.jobs.store import JobState
from viq_host.testing.harness import Outcome
from viq_interfaces.exitcodes import ExitCode

Run = Callable[..., Outcome]


def _ingest_spy() -> tuple[list[Any], Callable[..., None]]:
    calls: list[Any] = []

    def ingest(*args: Any) -> None:
        calls.append(args)

    return calls, ingest


def _levels(outcome: Outcome) -> list[str]:
    return [e.level for e in outcome.events]


@pytest.mark.parametrize("dialect", ["Job_Order", "Ipf_Job_Order"])
def test_shell_processor_reads_its_job_order_and_its_output_is_collected(
    tt_dir: Path, run_ext: Run, data_file: Callable[[bytes], Path], dialect: str
) -> None:
    """The script gets its input, parameter and output directory from the order; log lines become job events."""
    viq_ext_build.write_shell_processor(tt_dir, dialect=dialect)
    payload = os.urandom(1234)
    calls, ingest = _ingest_spy()
    outcome = run_ext("t-shell", {"data": [data_file(payload)]}, {"scale": 2.5}, ingest=ingest).assert_success()
    (report,) = outcome.output_paths("report")
    assert report.name == "sum_VIQ_TSTREP.txt"
    count, scale = report.read_text().split()
    assert int(count) == len(payload) and float(scale) == 2.5
    messages = [e.message for e in outcome.events]
    assert any(f"read {dialect}" in m for m in messages)
    assert [e.message for e in outcome.events if e.level == "P"] == ["50.0% counting", "100.0% done"]
    assert outcome.attempts[-1].progress == 100.0
    assert len(calls) == 1  # ingested once
    order_file = "Ipf_Job_Order.xml" if dialect == "Ipf_Job_Order" else "JobOrder.external.xml"
    assert outcome.work_dir is not None and (outcome.work_dir / order_file).is_file()


def test_c_program_compiled_here_runs_through_the_host(
    tt_dir: Path, run_ext: Run, data_file: Callable[[bytes], Path]
) -> None:
    """A C program reads the Job_Order, sums its input bytes times the factor: the value equals Python's sum."""
    exe = viq_ext_build.compile_c_processor(tt_dir / "bin")
    factor = viq_ext_build.parameter("factor", "number", "1.0", "\n          <Minimum>0</Minimum>")
    (tt_dir / "t-csum.xml").write_text(
        viq_ext_build.task_table("t-csum", str(exe), parameters=factor, output_pattern="csum_*.txt"), encoding="utf-8"
    )
    payload = os.urandom(5000)
    outcome = run_ext("t-csum", {"data": [data_file(payload)]}, {"factor": 0.5}).assert_success()
    (report,) = outcome.output_paths("report")
    assert float(report.read_text()) == pytest.approx(sum(payload) * 0.5, rel=1e-12)
    assert any(e.message.startswith("input ") and "factor 0.5" in e.message for e in outcome.events)
    assert [e.message for e in outcome.events if e.level == "P"] == ["50.0% summed", "100.0% done"]


def test_missing_executable_fails_with_a_clear_error(
    tt_dir: Path, run_ext: Run, data_file: Callable[[bytes], Path]
) -> None:
    """An Executable that does not exist: job FAILED, configuration error (160) naming the path, nothing ingested."""
    (tt_dir / "t-gone.xml").write_text(viq_ext_build.task_table("t-gone", "./no_such_program"), encoding="utf-8")
    calls, ingest = _ingest_spy()
    outcome = run_ext("t-gone", {"data": [data_file(b"1")]}, ingest=ingest)
    assert outcome.state is JobState.FAILED and outcome.exit_code == ExitCode.CONFIGURATION_ERROR
    assert f"{tt_dir / 'no_such_program'} does not exist" in outcome.reason
    assert calls == []


def test_non_executable_file_fails_with_a_clear_error(
    tt_dir: Path, run_ext: Run, data_file: Callable[[bytes], Path]
) -> None:
    """An Executable without the x bit: job FAILED (160), the reason says so, nothing ingested."""
    viq_ext_build.write_shell_processor(tt_dir)
    (tt_dir / "t_shell.sh").chmod(0o644)
    calls, ingest = _ingest_spy()
    outcome = run_ext("t-shell", {"data": [data_file(b"1")]}, ingest=ingest)
    assert outcome.state is JobState.FAILED and outcome.exit_code == ExitCode.CONFIGURATION_ERROR
    assert "is not executable" in outcome.reason
    assert calls == []


def test_no_log_lines_still_succeeds(tt_dir: Path, run_ext: Run, data_file: Callable[[bytes], Path]) -> None:
    """A processor that writes no log line at all still succeeds; the host notes that none came."""
    viq_ext_build.write_shell_processor(tt_dir)
    outcome = run_ext("t-shell", {"data": [data_file(b"abc")]}, {"mode": "nolog"}).assert_success()
    assert outcome.output_paths("report")[0].read_text().split()[0] == "3"
    assert any("wrote no ICD log line" in e.message for e in outcome.events)
    assert "0 ICD log line(s)" in outcome.reason


def test_malformed_log_lines_are_kept_raw(tt_dir: Path, run_ext: Run, data_file: Callable[[bytes], Path]) -> None:
    """Lines that are not ICD lines are relayed as raw I events, good lines keep their level; the job succeeds."""
    viq_ext_build.write_shell_processor(tt_dir)
    outcome = run_ext("t-shell", {"data": [data_file(b"abcd")]}, {"mode": "garbage"}).assert_success()
    messages = [e.message for e in outcome.events]
    assert "[raw] starting up, no timestamp" in messages
    assert "[raw] [I] half an ICD line" in messages
    assert "one good line" in messages
    assert "2 other line(s) kept raw" in outcome.reason
    assert outcome.work_dir is not None
    assert "starting up, no timestamp" in (outcome.work_dir / "external.log").read_text()


def test_exit_zero_without_outputs_fails_with_149(
    tt_dir: Path, run_ext: Run, data_file: Callable[[bytes], Path]
) -> None:
    """Exit 0 but no file matches the output pattern: FAILED, 149, the reason names port and pattern; no ingest."""
    viq_ext_build.write_shell_processor(tt_dir)
    calls, ingest = _ingest_spy()
    outcome = run_ext("t-shell", {"data": [data_file(b"abcd")]}, {"mode": "nooutput"}, ingest=ingest)
    assert outcome.state is JobState.FAILED and outcome.exit_code == ExitCode.MISSING_OUTPUT
    assert "'report'" in outcome.reason and "sum_*.txt" in outcome.reason
    assert calls == [] and outcome.outputs == ()


def test_error_exit_code_is_kept(tt_dir: Path, run_ext: Run, data_file: Callable[[bytes], Path]) -> None:
    """An executable exiting 134 fails the job with 134 and its last E line in the reason."""
    viq_ext_build.write_shell_processor(tt_dir)
    outcome = run_ext("t-shell", {"data": [data_file(b"abcd")]}, {"mode": "fail"})
    assert outcome.state is JobState.FAILED and outcome.exit_code == ExitCode.MISSING_INPUT
    assert "exited with code 134" in outcome.reason and "cannot read the input" in outcome.reason
    assert "E" in _levels(outcome)


def test_warning_exit_code_is_done_with_warnings(
    tt_dir: Path, run_ext: Run, data_file: Callable[[bytes], Path]
) -> None:
    """Exit 3 (1–127) with outputs: job WARNING, outputs kept, the W line relayed."""
    viq_ext_build.write_shell_processor(tt_dir)
    outcome = run_ext("t-shell", {"data": [data_file(b"abcd")]}, {"mode": "warn"}).assert_success(allow_warning=True)
    assert outcome.state is JobState.WARNING and outcome.exit_code == ExitCode.WARNING
    assert len(outcome.output_paths("report")) == 1
    assert ("W", "degraded") in [(e.level, e.message) for e in outcome.events]


def test_never_ending_executable_hits_the_walltime(
    tt_dir: Path, run_ext: Run, data_file: Callable[[bytes], Path]
) -> None:
    """A processor that sleeps forever is stopped at its 2 s walltime: FAILED with 151, nothing ingested."""
    viq_ext_build.write_shell_processor(tt_dir, walltime="PT2S")
    calls, ingest = _ingest_spy()
    t0 = time.monotonic()
    outcome = run_ext("t-shell", {"data": [data_file(b"abcd")]}, {"mode": "hang"}, ingest=ingest)
    elapsed = time.monotonic() - t0
    assert outcome.state is JobState.FAILED and outcome.exit_code == ExitCode.WALLTIME_EXCEEDED
    assert "walltime" in outcome.reason
    assert elapsed < 30
    assert calls == []
    assert "sleeping forever" in [e.message for e in outcome.events]
