"""The testing kit's hand-built run context validates parameters and keeps log lines."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from viq_host.testing.context import ListLogger, make_context
from viq_interfaces import InputPort, InputProduct, Processor, ProcessorDeclaration, ProcessorResult, RunContext


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    k: int = Field(default=1, ge=1, le=5, description="A bounded integer.")


class _Echo(Processor):
    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-echo", version="01.00", description="echo",
        inputs=(InputPort(name="image", product_types=("VSC_L1VALD",)),),
    )
    Parameters: ClassVar[type[BaseModel]] = _Params

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        ctx.logger.info(f"k={getattr(ctx.params, 'k', None)} {ctx.one('image').path.name}")
        ctx.logger.progress(50.0, "half")
        return ProcessorResult()


def test_context_runs_a_processor_and_keeps_its_lines(tmp_path: Path) -> None:
    """Parameters go through the processor's model; log lines are kept by level; output dir exists."""
    log = ListLogger()
    ctx = make_context(_Echo, tmp_path, {"image": [InputProduct(tmp_path / "a.tif", "VSC_L1VALD")]}, logger=log, k=3)
    assert ctx.output_dir.is_dir()
    _Echo().run(ctx)
    assert log.messages("I") == ["k=3 a.tif"]
    assert log.messages("P") == ["50.0 half"]
    with pytest.raises(ValidationError):
        make_context(_Echo, tmp_path, k=9)
