"""Support for the job-order tests: a small processor defined in the test suite and a data-root helper."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from viq_host.config import Settings
from viq_host.jobs.eegs import write_job_order
from viq_host.jobs.model import JobGipp, JobInput, JobOrder, JobOutput, JobParameter
from viq_interfaces import (
    GippRequirement,
    InputPort,
    OutputPort,
    Processor,
    ProcessorDeclaration,
    ProcessorResult,
    RunContext,
    hookimpl,
)
from viq_interfaces.hookspecs import ProcessorRegistry


class DarkParams(BaseModel):
    """Parameters of the test processor, with ranges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(default=3.0, ge=0.0, le=10.0, description="Clip threshold.")
    iterations: int = Field(default=5, ge=1, le=20, description="Iterations.")
    mode: Literal["mean", "median"] = Field(default="median", description="Combination.")
    bands: tuple[str, ...] = Field(default=("B01",), description="Bands.")


class CalibDark(Processor):
    """Test processor: two to three dark frames, an optional reference, a mandatory noise GIPP."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="calib-dark",
        version="01.00",
        description="test dark-signal processor",
        inputs=(
            InputPort(name="dark", product_types=("VSC_L1DARK", "VSC_L0DARK"), min_count=2, max_count=3),
            InputPort(name="reference", product_types=("GIP_DARKCU",), min_count=0, max_count=1, mandatory=False),
        ),
        outputs=(OutputPort(name="candidate", product_type="GIP_DARKCU", format="XML"),),
        gipps=(GippRequirement(gipp_type="GIP_NOISMO"),),
    )
    Parameters: ClassVar[type[BaseModel]] = DarkParams

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Not run by these tests."""
        return ProcessorResult()


class Plugin:
    @hookimpl
    def viq_add_processors(self, registry: ProcessorRegistry) -> None:
        registry.add(CalibDark)


NOISE_GIPP = "VE_OPER_GIP_NOISMO_L_ALLSITES_00007_20260101_99991231.EEF"


@dataclass
class Env:
    """A data root with inputs, an orders directory inside it, and settings pointing at it."""

    root: Path
    data: Path
    orders: Path
    settings: Settings

    def order(self, **changes: Any) -> JobOrder:
        """A valid job order for calib-dark (paths relative to ``orders/``), with ``changes`` applied."""
        base: dict[str, Any] = {
            "dialect": "eegs",
            "processor": "calib-dark",
            "version": "01.00",
            "task": "calib-dark",
            "parameters": (JobParameter(name="threshold", value="2.5"), JobParameter(name="iterations", value="7")),
            "inputs": (
                JobInput(port="dark", file_type="VSC_L1DARK", file_names=("../in/dark1.tif", "../in/dark2.tif")),
            ),
            "outputs": (JobOutput(port="candidate", file_type="GIP_DARKCU", directory="out"),),
            "gipps": (JobGipp(gipp_type="GIP_NOISMO", path=f"../gipp/{NOISE_GIPP}"),),
        }
        base.update(changes)
        return JobOrder(**base)

    def write(self, order: JobOrder, name: str = "order.xml") -> Path:
        """Write ``order`` into ``orders/`` and return its path."""
        path = self.orders / name
        write_job_order(order, path)
        return path
