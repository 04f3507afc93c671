"""An example processor declaration and job order, from which ``schemas/examples/`` is generated.

The processor is never registered through an entry point; it exists so the checked-in example task table
and job order are produced by code (and tested for staleness) rather than written by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from viq_host.jobs.model import JobGipp, JobInput, JobOrder, JobOutput, JobParameter
from viq_interfaces.context import RunContext
from viq_interfaces.declaration import (
    GippRequirement,
    InputPort,
    OutputPort,
    ProcessorDeclaration,
    Resources,
    RetryPolicy,
    SelectionRule,
)
from viq_interfaces.errors import ProcessingError
from viq_interfaces.processor import Processor
from viq_interfaces.result import ProcessorResult

__all__ = ["ExampleDarkSignal", "ExampleDarkSignalParameters", "example_job_order"]


class ExampleDarkSignalParameters(BaseModel):
    """Parameters of the example dark-signal processor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sigma_clip: float = Field(default=3.0, gt=0.0, le=10.0, description="Outlier rejection threshold, in sigma.")
    min_frames: int = Field(default=2, ge=1, le=100, description="Fewest dark frames averaged per pixel.")
    method: Literal["mean", "median"] = Field(default="median", description="How frames are combined.")
    bands: tuple[str, ...] = Field(default=("B01", "B02"), description="Bands to process.")


class ExampleDarkSignal(Processor):
    """Example only: estimates the dark current of each detector from night acquisitions."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="example-dark-signal",
        version="01.00",
        description="Example processor: dark current per detector from night-time acquisitions "
        "(documentation of the task-table and job-order formats; never registered).",
        inputs=(
            InputPort(
                name="dark",
                product_types=("VSC_L1DARK", "VSC_L0DARK"),
                min_count=2,
                max_count=50,
                selection=SelectionRule.VAL_INTERSECT,
                description="Night acquisitions of the calibration campaign.",
            ),
            InputPort(
                name="reference",
                product_types=("GIP_DARKCU",),
                min_count=0,
                max_count=1,
                mandatory=False,
                selection=SelectionRule.LATEST_VALIDITY,
                description="Dark current in force, to compare with.",
            ),
        ),
        outputs=(
            OutputPort(
                name="candidate",
                product_type="GIP_DARKCU",
                format="XML",
                file_name_pattern="VE_TEST_GIP_DARKCU_*.EEF",
                description="Candidate dark-current GIPP.",
            ),
            OutputPort(
                name="report",
                product_type="IMQ_DARKRP",
                format="JSON",
                file_name_pattern="*.json",
                min_count=0,
                description="Statistics per detector.",
            ),
        ),
        gipps=(GippRequirement(gipp_type="GIP_NOISMO", mandatory=False, per_band=True),),
        resources=Resources(cores=2, memory_mb=2048, walltime=timedelta(minutes=30), disk_mb=512),
        retry=RetryPolicy(max_attempts=2, retry_on=(151, 152), backoff_seconds=30.0),
    )
    Parameters: ClassVar[type[BaseModel]] = ExampleDarkSignalParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Never run: this processor only documents the formats."""
        raise ProcessingError("example-dark-signal is a documentation example and does not run")


def example_job_order() -> JobOrder:
    """A job order for :class:`ExampleDarkSignal` (paths relative to the order's directory)."""
    return JobOrder(
        dialect="eegs",
        processor="example-dark-signal",
        version="01.00",
        task="example-dark-signal",
        file_class="TEST",
        sensing_start=datetime(2026, 11, 20, 0, 0, tzinfo=UTC),
        sensing_stop=datetime(2026, 11, 21, 0, 0, tzinfo=UTC),
        site="LAMAIRE",
        parameters=(
            JobParameter(name="sigma_clip", value="2.5"),
            JobParameter(name="method", value="mean"),
            JobParameter(name="bands", value='["B03", "B04"]'),
        ),
        inputs=(
            JobInput(
                port="dark",
                file_type="VSC_L1DARK",
                file_names=("data/VE_TEST_VSC_L1DARK_20261120-001.tif", "data/VE_TEST_VSC_L1DARK_20261120-002.tif"),
            ),
        ),
        outputs=(
            JobOutput(port="candidate", file_type="GIP_DARKCU", directory="output"),
            JobOutput(port="report", file_type="IMQ_DARKRP", directory="output"),
        ),
        gipps=(
            JobGipp(gipp_type="GIP_NOISMO", path="gipp/VE_OPER_GIP_NOISMO_L_ALLSITES_00003_20260101_99991231.EEF"),
        ),
        cores=2,
        ram_bytes=2 * 1024**3,
    )
