"""What a processor declares about itself: ports, parameters, GIPPs, resources and retry policy.

The host validates job orders against this declaration and exports it as a Task Table; it is the only
description of a processor the host ever needs.
"""

from __future__ import annotations

import enum
import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PRODUCT_TYPE_PATTERN = re.compile(r"^[A-Z0-9_]{10}$")
"""Product and GIPP type codes are 10 characters, e.g. ``VSC_L1VALD``, ``GIP_DARKCU``."""

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,63}$")
VERSION_PATTERN = re.compile(r"^\d{2}\.\d{2}$")
"""Processor versions follow the ICD form ``NN.NN``."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SelectionRule(enum.StrEnum):
    """How the host picks catalog products for an input port when the job order names none.

    The names follow the task-table retrieval modes of the ESA generic-processor ICD.
    """

    VAL_INTERSECT = "ValIntersect"
    """Every product whose validity/sensing period intersects the job's sensing window."""
    LATEST_VAL_INTERSECT = "LatestValIntersect"
    """The most recently created product among those intersecting the window."""
    LATEST_VALIDITY_CLOSEST = "LatestValidityClosest"
    """The product whose sensing start is closest to the window's middle."""
    LATEST_VALIDITY = "LatestValidity"
    """The product with the latest sensing start, whatever the window."""
    EXPLICIT = "Explicit"
    """Only files named in the job order; the host never selects."""


class InputPort(_Frozen):
    """One named input of a processor."""

    name: str = Field(description="Port name used in job orders, e.g. 'dark' or 'reference'.")
    product_types: tuple[str, ...] = Field(
        description="Accepted 10-character product type codes; the first is preferred (alternatives)."
    )
    min_count: int = Field(default=1, ge=0, description="Fewest files the port accepts.")
    max_count: int | None = Field(default=1, ge=1, description="Most files the port accepts; None = unbounded.")
    mandatory: bool = Field(default=True, description="A job order without this port is rejected.")
    selection: SelectionRule = Field(
        default=SelectionRule.EXPLICIT, description="Rule used to pick catalog products for this port."
    )
    description: str = Field(default="", description="What the port is for.")

    @field_validator("product_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("an input port needs at least one product type")
        for code in value:
            if not PRODUCT_TYPE_PATTERN.match(code):
                raise ValueError(f"product type {code!r} is not a 10-character code like 'VSC_L1VALD'")
        return value

    @model_validator(mode="after")
    def _counts(self) -> InputPort:
        if self.max_count is not None and self.max_count < self.min_count:
            raise ValueError(f"port {self.name!r}: max_count {self.max_count} < min_count {self.min_count}")
        if self.mandatory and self.min_count == 0:
            raise ValueError(f"port {self.name!r}: a mandatory port needs min_count >= 1")
        return self


class OutputPort(_Frozen):
    """One named output of a processor."""

    name: str = Field(description="Port name, e.g. 'candidate'.")
    product_type: str = Field(description="10-character product type code of the files written.")
    format: str = Field(default="GTiff", description="File format: GTiff, COG, XML, CSV, JSON, HTML, PNG…")
    min_count: int = Field(default=1, ge=0, description="Fewest files a successful run writes.")
    max_count: int | None = Field(default=1, ge=1, description="Most files; None = unbounded.")
    file_name_pattern: str = Field(
        default="*", description="Glob the files of this port match inside the output directory."
    )
    description: str = Field(default="", description="What the output holds.")

    @field_validator("product_type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not PRODUCT_TYPE_PATTERN.match(value):
            raise ValueError(f"product type {value!r} is not a 10-character code like 'VSC_L1VALD'")
        return value


class GippRequirement(_Frozen):
    """A GIPP type the processor needs in force at run time."""

    gipp_type: str = Field(description="10-character GIPP type code, e.g. 'GIP_DARKCU'.")
    mandatory: bool = Field(default=True, description="The run is refused when none applies.")
    per_band: bool = Field(default=False, description="One GIPP per band is expected.")

    @field_validator("gipp_type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not PRODUCT_TYPE_PATTERN.match(value):
            raise ValueError(f"GIPP type {value!r} is not a 10-character code like 'GIP_DARKCU'")
        return value


class Resources(_Frozen):
    """What one run needs from the executor (mapped to slots, memory and h_rt on Grid Engine)."""

    cores: int = Field(default=1, ge=1, le=256, description="CPU cores.")
    memory_mb: int = Field(default=1024, ge=16, description="Resident memory in MiB.")
    walltime: timedelta = Field(default=timedelta(hours=1), description="Wall-clock limit of one attempt.")
    disk_mb: int = Field(default=1024, ge=0, description="Scratch space in the work directory, MiB.")

    @field_validator("walltime")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("walltime must be positive")
        return value


class RetryPolicy(_Frozen):
    """When the host retries a failed attempt."""

    max_attempts: int = Field(default=1, ge=1, le=20, description="Attempts in all, the first included.")
    retry_on: tuple[int, ...] = Field(
        default=(148, 152, 255),
        description="Exit codes that trigger a retry (walltime kills and crashes by default).",
    )
    rerunnable: bool = Field(
        default=True, description="The run has no side effect outside its work dir and may run again."
    )
    backoff_seconds: float = Field(default=0.0, ge=0.0, description="Delay before a retry.")


class ProcessorDeclaration(_Frozen):
    """The full self-description of a processor, exported as a Task Table."""

    name: str = Field(description="Registered name, lower-case with dashes, e.g. 'dark-signal'.")
    version: str = Field(description="Version in the ICD form NN.NN, e.g. '01.00'.")
    description: str = Field(description="One paragraph: what the processor does.")
    task_name: str = Field(default="", description="ICD task name; defaults to the processor name.")
    inputs: tuple[InputPort, ...] = Field(default=(), description="Input ports.")
    outputs: tuple[OutputPort, ...] = Field(default=(), description="Output ports.")
    gipps: tuple[GippRequirement, ...] = Field(default=(), description="GIPP types needed in force.")
    resources: Resources = Field(default_factory=Resources, description="Resources of one run.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Retry policy.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(f"processor name {value!r} must be lower-case letters, digits and dashes")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not VERSION_PATTERN.match(value):
            raise ValueError(f"processor version {value!r} must have the form NN.NN")
        return value

    @model_validator(mode="after")
    def _unique_ports(self) -> ProcessorDeclaration:
        for kind, names in (("input", [p.name for p in self.inputs]), ("output", [p.name for p in self.outputs])):
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                raise ValueError(f"duplicate {kind} port(s): {sorted(dup)}")
        return self

    def input(self, name: str) -> InputPort:
        """The input port called ``name`` (KeyError if none)."""
        for port in self.inputs:
            if port.name == name:
                return port
        raise KeyError(name)

    def output(self, name: str) -> OutputPort:
        """The output port called ``name`` (KeyError if none)."""
        for port in self.outputs:
            if port.name == name:
                return port
        raise KeyError(name)

    @property
    def key(self) -> str:
        """``name@version``, the registry key."""
        return f"{self.name}@{self.version}"
