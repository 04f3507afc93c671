"""The in-memory form of a job order, whatever its XML dialect (EEGS ``Job_Order`` or MMFI ``Ipf_Job_Order``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Located(_Frozen):
    """Where an element came from, so later validation layers can name file:line."""

    line: int | None = Field(default=None, description="Source line of the element.")
    xpath: str = Field(default="", description="Path of the element in the document.")


class JobInput(_Frozen):
    """Files given for one input port."""

    port: str = Field(description="Input port name (Input_ID).")
    file_type: str = Field(description="10-character product type code (File_Type).")
    file_names: tuple[str, ...] = Field(description="Paths as written in the job order (not yet trusted).")
    name_type: Literal["Physical", "Directory", "Logical", "Stem", "Regexp"] = Field(default="Physical")
    where: Located = Field(default_factory=Located)


class JobOutput(_Frozen):
    """Where the files of one output port go."""

    port: str = Field(description="Output port name (Output_ID, or the port whose type matches).")
    file_type: str = Field(description="10-character product type code.")
    directory: str = Field(default=".", description="Output directory as written (relative to the work dir).")
    where: Located = Field(default_factory=Located)


class JobGipp(_Frozen):
    """A GIPP file named explicitly by the job order (otherwise the host resolves GIPPs in force)."""

    gipp_type: str
    path: str
    where: Located = Field(default_factory=Located)


class JobParameter(_Frozen):
    """One Proc_Parameter as written (a string; the parameter model converts it)."""

    name: str
    value: str
    where: Located = Field(default_factory=Located)


class JobOrder(_Frozen):
    """A parsed job order, before validation against the processor declaration."""

    dialect: Literal["eegs", "mmfi"] = Field(description="XML dialect the order was read from.")
    source: Path | None = Field(default=None, description="File the order was read from.")
    processor: str = Field(description="Processor_Name.")
    version: str = Field(description="Processor_Version (NN.NN).")
    task: str = Field(default="", description="Task_Name.")
    file_class: str = Field(default="OPER", description="File_Class: OPER, TEST…")
    sensing_start: datetime | None = Field(default=None)
    sensing_stop: datetime | None = Field(default=None)
    site: str | None = Field(default=None, description="Site the job is about, when given.")
    parameters: tuple[JobParameter, ...] = Field(default=())
    inputs: tuple[JobInput, ...] = Field(default=())
    outputs: tuple[JobOutput, ...] = Field(default=())
    gipps: tuple[JobGipp, ...] = Field(default=())
    cores: int | None = Field(default=None, description="Number_of_CPU_Cores requested.")
    ram_bytes: int | None = Field(default=None, description="Amount_of_RAM requested.")
    log_levels: tuple[str, ...] = Field(default=("ERROR", "WARNING", "PROGRESS", "INFO"))

    def params_dict(self) -> dict[str, str]:
        """Parameters as ``name → value`` strings."""
        return {p.name: p.value for p in self.parameters}
