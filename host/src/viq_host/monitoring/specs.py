"""Limits per measurement and band, from ``$VIQ_HOME/specs.toml`` or the shipped defaults."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from viq_interfaces.errors import ConfigurationError


class Spec(BaseModel):
    """A limit on one measurement (optionally one band, one direction)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    measurement: str = Field(description="Measurement name, e.g. 'mtf50'.")
    band: str | None = Field(default=None, description="Band the limit applies to; None = all bands.")
    direction: str | None = Field(default=None, description="'along'/'across'; None = both.")
    min: float | None = Field(default=None, description="Lowest acceptable value.")
    max: float | None = Field(default=None, description="Highest acceptable value.")
    description: str = Field(default="", description="What the limit guarantees.")

    @model_validator(mode="after")
    def _bounds(self) -> Spec:
        if self.min is None and self.max is None:
            raise ValueError(f"spec for {self.measurement!r} has neither min nor max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"spec for {self.measurement!r}: min {self.min} > max {self.max}")
        return self

    def applies(self, name: str, band: str | None, direction: str | None) -> bool:
        """True when this limit covers a measurement of that name, band and direction."""
        if name != self.measurement:
            return False
        if self.band is not None and band != self.band:
            return False
        return not (self.direction is not None and direction != self.direction)

    def violated_by(self, value: float) -> str | None:
        """'below min' / 'above max' / None."""
        if self.min is not None and value < self.min:
            return "below min"
        if self.max is not None and value > self.max:
            return "above max"
        return None


def _parse(text: str, source: str) -> list[Spec]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigurationError(f"{source}: {err}") from err
    specs = []
    for i, item in enumerate(data.get("spec", [])):
        try:
            specs.append(Spec.model_validate(item))
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "spec"
            raise ConfigurationError(f"{source}: spec #{i + 1}: {loc}: {first['msg']}") from err
    return specs


def load_specs(home: Path | None = None, path: Path | None = None) -> list[Spec]:
    """Specs from ``path``, else ``home/specs.toml``, else the defaults shipped with the host."""
    for candidate in (path, home / "specs.toml" if home else None):
        if candidate is not None and candidate.is_file():
            return _parse(candidate.read_text(encoding="utf-8"), str(candidate))
    text = resources.files("viq_host.defaults").joinpath("specs.toml").read_text(encoding="utf-8")
    return _parse(text, "viq_host/defaults/specs.toml")
