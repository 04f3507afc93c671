"""Content models registered by the tests through ``viq_add_gipp_types`` (the VENµS model package has its own).

They follow the ICD Data_Block layout so exports can be checked against the public ICD schemas.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from viq_interfaces import hookimpl
from viq_interfaces.hookspecs import ComponentRegistry

DETECTORS = 5200


class _M(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class DarkCurrentList(_M):
    count: int = Field(alias="@count")
    values: list[float] = Field(alias="Dark_Current", min_length=DETECTORS, max_length=DETECTORS)

    @model_validator(mode="after")
    def _count(self) -> DarkCurrentList:
        if self.count != len(self.values):
            raise ValueError(f"count {self.count} != {len(self.values)} values")
        return self


class DarkCurrents(_M):
    """GIP_DARKCU: 5200 dark currents of one band and TDI set."""

    schema_version: ClassVar[str] = "1.9"
    dark_currents: DarkCurrentList = Field(alias="List_of_Dark_Currents")


class TdiGain(_M):
    sn: int = Field(alias="@sn")
    tdi: str = Field(alias="TDI_Configuration_Values")
    gain: float = Field(alias="Physical_Gain", ge=0)


class TdiGainList(_M):
    count: int = Field(alias="@count")
    items: list[TdiGain] = Field(alias="TDI_Physical_Gain", min_length=1, max_length=5)


class BandGain(_M):
    sn: int = Field(alias="@sn")
    band: str = Field(alias="Band_Code")
    gains: TdiGainList = Field(alias="List_of_TDI_Physical_Gains")


class BandGainList(_M):
    count: int = Field(alias="@count")
    items: list[BandGain] = Field(alias="Band_Physical_Gain", min_length=12, max_length=12)


class PhysicalGains(_M):
    """GIP_PHGAIN: one physical gain per band and TDI configuration."""

    bands: BandGainList = Field(alias="List_of_Band_Physical_Gains")


class TestGippTypes:
    """Plugin object registering the test models."""

    @hookimpl
    def viq_add_gipp_types(self, registry: ComponentRegistry) -> None:
        registry.add("GIP_DARKCU", DarkCurrents)
        registry.add("GIP_PHGAIN", PhysicalGains)
