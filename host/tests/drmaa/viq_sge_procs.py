"""Test processor for the Grid Engine and daemon tests (loaded by the worker through ``VIQ_EXTRA_PLUGINS``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from viq_interfaces import OutputPort, OutputProduct, Processor, ProcessorDeclaration, ProcessorResult, RunContext


class NapParams(BaseModel):
    """Parameters of :class:`Nap`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    seconds: float = Field(default=0.0, ge=0, le=600, description="How long to sleep.")
    tag: str = Field(default="", description="Name of the run-count file in VIQ_TEST_RUNS_DIR.")
    report_bytes: int = Field(default=0, ge=0, description="Pad the report to this many bytes (disk-full tests).")


class Nap(Processor):
    """Sleeps, counts its runs in ``$VIQ_TEST_RUNS_DIR/<tag>`` (and its sleep in ``<tag>.span``), writes one report."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-sge-nap",
        version="01.00",
        description="Sleeping test processor.",
        outputs=(OutputPort(name="report", product_type="VIQ_TSTREP", format="TXT", description="Run report."),),
    )
    Parameters: ClassVar[type[BaseModel]] = NapParams

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        params = ctx.params
        assert isinstance(params, NapParams)
        runs = os.environ.get("VIQ_TEST_RUNS_DIR")
        if runs and params.tag:
            with (Path(runs) / params.tag).open("a", encoding="utf-8") as fh:
                fh.write(f"{os.environ.get('JOB_ID', '?')}\n")
        start = time.time()
        time.sleep(params.seconds)
        if runs and params.tag:
            with (Path(runs) / f"{params.tag}.span").open("a", encoding="utf-8") as fh:
                fh.write(f"{start!r} {time.time()!r}\n")
        out = ctx.output_dir / "report.txt"
        text = f"slept {params.seconds}\n"
        out.write_text(text.ljust(params.report_bytes, "."), encoding="utf-8")
        return ProcessorResult(
            outputs=(OutputProduct(port="report", path=Path("report.txt"), product_type="VIQ_TSTREP"),),
            summary=f"slept {params.seconds} s",
        )
