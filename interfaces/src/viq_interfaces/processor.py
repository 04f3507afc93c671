"""Base class of every processor: declared metadata as class attributes, one ``run`` method."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from viq_interfaces.context import RunContext
from viq_interfaces.declaration import ProcessorDeclaration
from viq_interfaces.result import ProcessorResult


class NoParameters(BaseModel):
    """Parameter model of a processor that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Processor(ABC):
    """A calibration, validation or production processor.

    Subclasses set ``declaration`` and ``Parameters`` (a pydantic model with defaults, ranges and
    descriptions; ``extra="forbid"`` so an unknown parameter is an error) and implement ``run``.
    """

    declaration: ClassVar[ProcessorDeclaration]
    Parameters: ClassVar[type[BaseModel]] = NoParameters

    @abstractmethod
    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Do the work; write outputs under ``ctx.output_dir``; return what was written and measured."""
