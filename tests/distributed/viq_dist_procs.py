"""Test processors of the distributed tests (loaded by the worker through ``VIQ_EXTRA_PLUGINS``).

Each run appends ``<host> <attempt id>`` to ``$VIQ_TEST_RUNS_DIR/<tag>`` when it starts, writes the first half
of its report, sleeps, then completes the report: a run killed mid-way leaves a partial report behind.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from viq_interfaces import OutputPort, OutputProduct, Processor, ProcessorDeclaration, ProcessorResult, RunContext
from viq_interfaces.declaration import RetryPolicy

COMPLETE = "complete"


class StampParams(BaseModel):
    """Parameters of the stamp processors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    seconds: float = Field(default=0.0, ge=0, le=600, description="Sleep between the two halves of the report.")
    tag: str = Field(default="", description="Run-log file name in VIQ_TEST_RUNS_DIR.")


def _stamp(ctx: RunContext[BaseModel]) -> ProcessorResult:
    params = ctx.params
    assert isinstance(params, StampParams)
    host = socket.gethostname()
    runs = os.environ.get("VIQ_TEST_RUNS_DIR")
    if runs and params.tag:
        with (Path(runs) / params.tag).open("a", encoding="utf-8") as fh:
            fh.write(f"{host} {os.environ.get('VIQ_ATTEMPT_ID', '?')}\n")
    out = ctx.output_dir / "stamp.txt"
    with out.open("w", encoding="utf-8") as fh:
        fh.write(f"host {host}\nattempt {os.environ.get('VIQ_ATTEMPT_ID', '?')}\n")
        fh.flush()
        time.sleep(params.seconds)
        fh.write(f"{COMPLETE}\n")
    return ProcessorResult(
        outputs=(OutputProduct(port="stamp", path=Path("stamp.txt"), product_type="VIQ_TSTAMP"),),
        summary=f"stamped on {host}",
    )


class Stamp(Processor):
    """Re-runnable: up to three attempts, a lost run (exit code 152) is retried elsewhere."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-dist-stamp",
        version="01.00",
        description="Writes where it ran, in two halves.",
        outputs=(OutputPort(name="stamp", product_type="VIQ_TSTAMP", format="TXT", description="Run stamp."),),
        retry=RetryPolicy(max_attempts=3, backoff_seconds=0.0, rerunnable=True),
    )
    Parameters: ClassVar[type[BaseModel]] = StampParams

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        return _stamp(ctx)


class StampOnce(Processor):
    """Not re-runnable (side effects outside its work dir, by declaration): a lost run fails the job."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-dist-once",
        version="01.00",
        description="Writes where it ran, in two halves; must never run twice.",
        outputs=(OutputPort(name="stamp", product_type="VIQ_TSTAMP", format="TXT", description="Run stamp."),),
        retry=RetryPolicy(max_attempts=1, rerunnable=False),
    )
    Parameters: ClassVar[type[BaseModel]] = StampParams

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        return _stamp(ctx)
